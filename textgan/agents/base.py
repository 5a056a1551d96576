"""What the adversarial trainer needs from an RL agent: one generator update per call.

An agent owns the generator's optimiser and acts in a batched SeqGAN environment created with
``tensors=True``; ``update`` collects fresh experience with the current policy (through
``textgan.agents.rollout.collect_rollout``, written once) and improves it. Anything with these
members can train the generator (REINFORCE, PPO, your own).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from textgan.models.generator import Generator, LSTMState


@runtime_checkable
class Agent(Protocol):
    policy: Generator
    """the generator it trains (in place)"""
    generator: torch.Generator
    """the agent's own random stream (saved with checkpoints)"""

    @property
    def uses_q_values(self) -> bool:
        """Whether the env must run Monte Carlo rollouts (``info["q_value"]``) for it."""
        ...

    def update(self, envs) -> dict[str, float]:
        """One generator update from fresh experience; returns metrics (e.g. mean reward)."""
        ...

    def checkpoint_items(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        """Everything of the agent's own to save and restore (optimiser, value head, ...)."""
        ...


GeneratorAgent = Agent  # the name of earlier versions


def policy_inputs(
    policy: Generator, observation: dict[str, torch.Tensor], state: LSTMState | None
) -> tuple[torch.Tensor, LSTMState]:
    """The previous token of each row and its LSTM state, reset where a new episode starts.

    The policy keeps its own recurrent state between steps; an observation of length 0 marks
    a fresh episode (after an autoreset), whose input is BOS and whose state starts at zero.
    """
    tokens, lengths = observation["tokens"], observation["length"].squeeze(1)
    rows = torch.arange(len(tokens), device=tokens.device)
    previous = torch.where(
        lengths > 0, tokens[rows, (lengths - 1).clamp_min(0)], torch.full_like(lengths, policy.config.bos_id)
    )
    fresh = policy.initial_state(len(tokens), tokens.device)
    if state is None:
        return previous, fresh
    starting = (lengths == 0).unsqueeze(1)
    return previous, tuple(torch.where(starting.view(-1, *([1] * (f.dim() - 1))), f, s) for f, s in zip(fresh, state))
