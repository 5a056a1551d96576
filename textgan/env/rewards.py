"""Monte Carlo rewards: finish each prefix K times with the rollout policy and ask D.

Everything here is batched: all K rollouts of all B prefixes advance together, one LSTM step per
generated position, from the rollout policy's cached state of each prefix. Prefixes may have
different lengths (sub-environments drift apart after episodes of different lengths); each row
writes at its own position.
"""

from __future__ import annotations

import torch

from textgan.models.generator import Generator, LSTMState


@torch.no_grad()
def complete_prefixes(
    policy: Generator,
    tokens: torch.Tensor,
    lengths: torch.Tensor,
    state: LSTMState,
    uniforms: torch.Tensor,
    eos_id: int | None,
    steps: int | None = None,
) -> torch.Tensor:
    """Finish every prefix ``K`` times.

    Args:
        policy: the rollout policy.
        tokens: ``(B, T)`` prefixes, left-aligned, PAD after ``lengths``; no EOS inside a prefix.
        lengths: ``(B,)`` prefix lengths, each below ``T``.
        state: the policy's state after reading each prefix: the LSTM's ``(h, c)``, each
            ``(B, H)``, or any policy's tuple of ``(B, ...)`` tensors whose first part is what
            ``policy.sample_next`` samples from.
        uniforms: ``(B, K, J)`` with ``J >= T - min(lengths)``; rollout k of row b uses
            ``uniforms[b, k, j]`` for the token at position ``lengths[b] + j``.
        eos_id: the env's end token (a rollout stops there), None: rollouts run to ``T``.
        steps: how many positions to generate, at least ``T - min(lengths)``; None: exactly that,
            read from the device (free on the CPU, a host wait on a GPU). More steps change
            nothing: finished rows are not written.

    Returns:
        ``(B, K, T)`` completed sequences: row ``b`` of the result always extends prefix ``b``.
    """
    batch, max_len = tokens.shape
    k = uniforms.shape[1]
    def repeat(x: torch.Tensor) -> torch.Tensor:  # each row K times in a row (repeat_interleave, as a view)
        return x.unsqueeze(1).expand(x.shape[0], k, *x.shape[1:]).reshape(x.shape[0] * k, *x.shape[1:])

    completed = repeat(tokens).clone()  # row b*K + k extends prefix b
    positions = repeat(lengths).clone()
    state = tuple(repeat(part) for part in state)  # the LSTM's (h, c), or any policy's tuple of (B, ...) parts
    flat_uniforms = uniforms.reshape(batch * k, -1)
    finished = positions >= max_len
    if steps is None:
        steps = int((max_len - lengths).max()) if batch else 0
    for j in range(steps):
        token = policy.sample_next(state[0], flat_uniforms[:, j])
        # write where the row is not finished, as masked ops: no host wait for the rows' count
        at = positions.clamp_max(max_len - 1).unsqueeze(1)
        kept = completed.gather(1, at).squeeze(1)
        completed.scatter_(1, at, torch.where(finished, kept, token).unsqueeze(1))
        if eos_id is not None:
            finished |= token == eos_id
        positions = positions + 1
        finished |= positions >= max_len
        if j + 1 < steps:
            state = policy.cell(token, state)
    return completed.view(batch, k, max_len)
