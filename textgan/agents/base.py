"""What the adversarial trainer needs from an RL agent: one generator update per call.

An agent owns the generator's optimiser and acts in a batched SeqGAN environment created with
``tensors=True``; ``update`` collects fresh experience with the current policy (through
``textgan.agents.rollout.collect_rollout``, written once) and improves it. Anything with these
members can train the generator (REINFORCE, PPO, your own).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from textgan.models.generator import Generator
from textgan.policies.state import State, where_rows


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
    policy: Generator, observation: dict[str, torch.Tensor], state: State | None
) -> tuple[torch.Tensor, State]:
    """The previous token of each row and the policy's state, reset where a new episode starts.

    The policy keeps its own recurrent state between steps; an observation of length 0 marks
    a fresh episode (after an autoreset), whose input is BOS and whose state is the initial one
    (a conditional env's observation carries each row's ``label``: the state starts from it).
    """
    tokens, lengths = observation["tokens"], observation["length"].squeeze(1)
    rows = torch.arange(len(tokens), device=tokens.device)
    previous = torch.where(
        lengths > 0, tokens[rows, (lengths - 1).clamp_min(0)], torch.full_like(lengths, policy.config.bos_id)
    )
    fresh = policy.initial_state(len(tokens), tokens.device, labels=observation_labels(observation))
    if state is None:
        return previous, fresh
    return previous, where_rows(lengths == 0, fresh, state)


def observation_labels(observation: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """Each row's class ``(B,)`` in a conditional env's observation; None in a plain env's."""
    label = observation.get("label")
    return None if label is None else label.reshape(-1)
