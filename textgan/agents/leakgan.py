"""LeakGAN's agent (Guo et al. 2018): the manager learns from Monte Carlo values, the worker from
its intrinsic reward, with MLE interleaved.

One ``update``:

1. The policy (``textgan.models.leakgan.LeakGANPolicy``) writes one episode in every
   sub-environment (``collect_rollout``, shared with the other agents).
2. Monte Carlo values every c tokens, as in the authors' code: for each prefix of c, 2c, ... tokens,
   K completions by the policy itself (``complete_prefixes``, the env's batched rollouts) scored
   by the env's reward model, and the finished sequence's own score at its end.
3. Bootstrapped rescaled activation (the paper's training technique): in each column of values (one prefix
   length across the batch) the value of rank r (1 = highest) of B becomes
   ``sigmoid(delta * (1/2 - r / B))``.
4. Manager: ``-mean_t Q_t cos(f_{t+c} - f_t, g_t)``, Q_t the rescaled value of the first
   prefix of at least t + c tokens. Worker: REINFORCE with the intrinsic reward,
   ``-mean_t r_t log pi(x_t)``. Each has its own Adam and gradient clip.
5. Every ``interleave_every`` updates, ``interleave_batches`` MLE steps on real rows (both
   modules' pre-training losses, ``LeakGANPolicy.token_nll``): the paper's interleaved training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from runcore.optim import adam
from runcore.ranges import at_least, check_ranges, positive
from textgan.agents.rollout import Rollout, collect_rollout
from textgan.env.rewards import complete_prefixes
from textgan.models.leakgan import LeakGANPolicy, intrinsic_rewards, manager_loss
from textgan.models.sampling import host_to_device


@dataclass
class LeakGANAgentConfig:
    """Hyper-parameters of LeakGAN's adversarial updates (defaults: the authors' code, length 20)."""

    learning_rate: float = 0.0015
    """Adam step size of the worker and of the interleaved MLE steps"""
    manager_learning_rate: float | None = None
    """Adam step size of the manager; None: learning_rate (the authors' code uses one)"""
    grad_clip: float = 5.0
    """global gradient-norm clip of each module's step"""
    rollouts: int = 4
    """K, Monte Carlo completions of each prefix of c, 2c, ... tokens"""
    delta: float = 16.0
    """the rescaled activation's sharpness (the authors' code: 16)"""
    interleave_every: int = 15
    """an MLE pass every this many updates (0: none)"""
    interleave_batches: int = 8
    """MLE steps of each pass, one batch of real rows each"""

    def __post_init__(self):
        check_ranges(self, LEAKGAN_RANGES, flag_prefix="")


LEAKGAN_RANGES = {
    "learning_rate": positive(),
    "manager_learning_rate": positive(),
    "grad_clip": positive(),
    "rollouts": at_least(1),
    "delta": positive(),
    "interleave_every": at_least(0, "pass 0 to turn it off"),
    "interleave_batches": at_least(1),
}


def rescaled_activation(values: torch.Tensor, valid: torch.Tensor, delta: float) -> torch.Tensor:
    """The paper's bootstrapped rescaled activation, column by column of ``values (B, J)``.

    Among a column's valid rows (``valid (B, J)``, B_j of them) the row ranked r-th from the
    highest value (ties in row order) gets ``sigmoid(delta * (1/2 - r / B_j))``; invalid entries 0.
    """
    out = torch.zeros_like(values)
    for j in range(values.shape[1]):
        rows = valid[:, j].nonzero().squeeze(1)
        if not len(rows):
            continue
        order = torch.argsort(values[rows, j], descending=True, stable=True)
        ranks = torch.empty_like(order)
        ranks[order] = torch.arange(1, len(rows) + 1, device=values.device)
        out[rows, j] = torch.sigmoid(delta * (0.5 - ranks.to(values.dtype) / len(rows)))
    return out


def first_episodes(rollout: Rollout, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each column's first episode: tokens ``(B, T)`` (PAD after its end) and lengths ``(B,)``.

    A column that did not finish within the rollout counts its steps as the episode.
    """
    ends = rollout.ends & rollout.valid
    steps = rollout.num_steps
    first_end = torch.where(ends.any(0), ends.float().argmax(0), torch.full_like(ends[0], steps - 1, dtype=torch.long))
    lengths = first_end + 1
    inside = torch.arange(steps, device=lengths.device).unsqueeze(1) < lengths.unsqueeze(0)
    tokens = torch.where(inside, rollout.actions, pad_id).T.contiguous()
    return tokens, lengths


class _Updates(nn.Module):
    """The count of updates (for the interleaved MLE), a buffer so that checkpoints keep it."""

    def __init__(self):
        super().__init__()
        self.register_buffer("count", torch.zeros((), dtype=torch.long))


class LeakGANAgent:
    """Trains a ``LeakGANPolicy`` (in place) through a batched env made with ``tensors=True``.

    Args:
        policy: the manager and worker.
        config: hyper-parameters.
        seed: seeds the agent's own stream (actions, rollouts, MLE batches).
        real_tokens: ``(N, T)`` real rows for the interleaved MLE (None: no interleaving).
    """

    uses_q_values = False  # the agent runs its own rollouts, every c tokens

    def __init__(
        self, policy: LeakGANPolicy, config: LeakGANAgentConfig | None = None, seed: int = 0, real_tokens: torch.Tensor | None = None
    ):
        self.policy = policy
        self.config = config or LeakGANAgentConfig()
        lr = self.config.learning_rate
        self.worker_optimizer = adam(policy.worker_parameters(), lr=lr)
        self.manager_optimizer = adam(policy.manager_parameters(), lr=self.config.manager_learning_rate or lr)
        self.mle_optimizer = adam(policy.parameters(), lr=lr)
        self.generator = torch.Generator().manual_seed(seed)
        self.real_tokens = real_tokens
        self.updates = _Updates().to(policy.output.weight.device)

    def checkpoint_items(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {
            "worker_optimizer": self.worker_optimizer, "manager_optimizer": self.manager_optimizer,
            "mle_optimizer": self.mle_optimizer, "updates": self.updates,
        }  # fmt: skip

    @torch.no_grad()
    def boundary_values(self, envs, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Monte Carlo values ``(B, J)`` of the prefixes of c, 2c, ... tokens (J = ceil(T / c)) and
        which exist; column j holds the prefix of min(c (j + 1), L) tokens, the last one the
        finished sequence's own score."""
        c, k = self.policy.config.step_size, self.config.rollouts
        batch, max_len = tokens.shape
        columns = math.ceil(max_len / c)
        prefix_len = torch.minimum(c * torch.arange(1, columns + 1, device=tokens.device).unsqueeze(0), lengths.unsqueeze(1))
        valid = c * torch.arange(columns, device=tokens.device).unsqueeze(0) < lengths.unsqueeze(1)
        values = torch.zeros(batch, columns, device=tokens.device)
        finished = envs.episodes.score(tokens.unsqueeze(0))[0]
        values = torch.where(valid & (prefix_len == lengths.unsqueeze(1)), finished.unsqueeze(1), values)
        partial = (valid & (prefix_len < lengths.unsqueeze(1))).nonzero()
        if len(partial):
            rows, cols = partial[:, 0], partial[:, 1]
            starts, starts_len = tokens[rows], prefix_len[rows, cols]
            starts = torch.where(torch.arange(max_len, device=tokens.device) < starts_len.unsqueeze(1), starts, self.policy.config.pad_id)
            _, state = self.policy.prefix_states(starts, starts_len)
            uniforms = host_to_device(torch.rand(len(rows), k, max_len, generator=self.generator), tokens.device)
            completed = complete_prefixes(self.policy, starts, starts_len, state, uniforms, envs.config.eos_id)
            scores = envs.episodes.score(completed.transpose(0, 1))  # (K, n)
            values[rows, cols] = scores.mean(0)
        return values, valid

    def update(self, envs) -> dict[str, float]:
        """One manager and one worker step from fresh episodes (and the interleaved MLE when due)."""
        cfg, policy = self.config, self.policy
        c = policy.config.step_size
        rollout = collect_rollout(envs, policy, self.generator, envs.config.max_len)
        tokens, lengths = first_episodes(rollout, policy.config.pad_id)
        values, valid = self.boundary_values(envs, tokens, lengths)
        rescaled = rescaled_activation(values, valid, cfg.delta)

        policy.train()
        out = policy.hierarchy(tokens)
        steps = tokens.shape[1]
        mask = (torch.arange(steps, device=tokens.device) < lengths.unsqueeze(1)).float()
        log_probs = torch.log_softmax(out.logits, -1).gather(2, tokens.unsqueeze(2)).squeeze(2)
        rewards = intrinsic_rewards(out.goals.detach(), out.features, c)
        worker_loss = -(rewards * log_probs * mask).sum() / mask.sum()
        # goal g_t is judged at f_{t+c}: its value is that of the first prefix of >= t + c tokens
        t = torch.arange(max(steps + 1 - c, 0), device=tokens.device)
        column = (torch.div(t + c + c - 1, c, rounding_mode="floor") - 1).clamp_max(rescaled.shape[1] - 1)
        weights = rescaled[:, column]
        goal_loss = manager_loss(out.goals, out.features, lengths, c, weights=weights)

        self.worker_optimizer.zero_grad()
        self.manager_optimizer.zero_grad()
        (worker_loss + goal_loss).backward()  # disjoint parameters: each loss reaches only its own module
        worker_norm = torch.nn.utils.clip_grad_norm_(policy.worker_parameters(), cfg.grad_clip)
        manager_norm = torch.nn.utils.clip_grad_norm_(policy.manager_parameters(), cfg.grad_clip)
        self.worker_optimizer.step()
        self.manager_optimizer.step()
        self.updates.count += 1
        metrics = {
            "worker_loss": float(worker_loss.detach()), "manager_loss": float(goal_loss.detach()),
            "intrinsic_reward": float((rewards * mask).sum() / mask.sum()), "grad_norm": float(worker_norm),
            "manager_grad_norm": float(manager_norm), **rollout.episode_metrics(),
        }  # fmt: skip
        if cfg.interleave_every and self.real_tokens is not None and int(self.updates.count) % cfg.interleave_every == 0:
            metrics["interleaved_mle_loss"] = self.interleaved_mle(envs.num_envs)
        return metrics

    def interleaved_mle(self, batch_size: int) -> float:
        """``interleave_batches`` MLE steps on random real rows; returns their mean NLL."""
        losses = []
        self.policy.train()
        for _ in range(self.config.interleave_batches):
            rows = torch.randint(0, len(self.real_tokens), (batch_size,), generator=self.generator)
            batch = self.real_tokens[rows.to(self.real_tokens.device)]
            nll, mask = self.policy.token_nll(batch)
            loss = nll.sum() / mask.sum().clamp_min(1)
            self.mle_optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.grad_clip)
            self.mle_optimizer.step()
            losses.append(float(loss.detach()))
        return sum(losses) / len(losses)
