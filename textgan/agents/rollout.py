"""Rollout collection, written once for every agent: the policy acts in the batched env.

``collect_rollout`` runs a recurrent token policy for ``num_steps`` steps in every
sub-environment from a seeded reset and stores what an update needs as ``(num_steps, B)``
columns: the policy's input of each step, where episodes started, the sampled actions and their
log-probabilities, the env's rewards, the Monte Carlo action values (``info["q_value"]``, when
the env runs rollouts), episode ends, and which steps were decisions (in ``NEXT_STEP`` autoreset
mode the step after an episode's end only resets it). ``replay`` re-runs the policy over stored
columns (with its state reset at each episode start), for agents that need fresh log-probs.

Examples:
    >>> from textgan.env.vector_env import SeqGANVectorEnv
    >>> from textgan.models import Generator, GeneratorConfig
    >>> envs = SeqGANVectorEnv(4, vocab_size=8, max_len=3, rollouts=2, tensors=True, autoreset_mode="SameStep")
    >>> policy = Generator(GeneratorConfig(vocab_size=8))
    >>> rollout = collect_rollout(envs, policy, torch.Generator().manual_seed(0))
    >>> rollout.actions.shape, rollout.q_values.shape
    (torch.Size([3, 4]), torch.Size([3, 4]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from gymnasium.vector import AutoresetMode

from textgan.agents.base import observation_labels, policy_inputs
from textgan.env.vector_env import SeqGANVectorEnv, final_scores, step_q_values
from textgan.models.generator import Generator
from textgan.policies.state import State, detach_state, where_rows
from textgan.models.sampling import host_to_device, sample_from_logits


@dataclass
class Rollout:
    """``(num_steps, B)`` columns of experience; see the module docstring."""

    inputs: torch.Tensor
    """the token the policy read at each step (BOS at an episode's start)"""
    starts: torch.Tensor
    """True where the step is the first of an episode (the policy's state starts from its initial state)"""
    actions: torch.Tensor
    log_probs: torch.Tensor
    """log pi(action); with ``grad=True`` these carry the policy's graph"""
    rewards: torch.Tensor
    q_values: torch.Tensor
    """Monte Carlo action values Q(Y_1..Y_t) from the env (zeros when it runs no rollouts)"""
    ends: torch.Tensor
    """True where the step ended its episode"""
    valid: torch.Tensor
    """True where the step was a decision (False: a NEXT_STEP reset step, action ignored)"""
    scores: torch.Tensor
    """the reward model's score of the finished sequence where an episode ended"""
    hidden: torch.Tensor
    """``(num_steps, B, H)`` the policy's features after reading each step's input"""
    next_input: torch.Tensor
    """``(B,)`` the input of the step after the last one"""
    next_state: State
    """the policy's state before reading ``next_input`` (reset rows already at the initial state)"""
    labels: torch.Tensor | None = None
    """``(num_steps, B)`` each step's episode class in a conditional env (None in a plain one)"""

    @property
    def num_steps(self) -> int:
        return len(self.actions)

    def episode_metrics(self) -> dict[str, float]:
        """Mean reward per decision, and the mean final score over finished episodes."""
        finished = self.scores[self.ends]
        return {
            "mean_reward": float(self.rewards[self.valid].mean()),
            "final_reward": float(finished.mean()) if len(finished) else float("nan"),
            "d_score": float(finished.mean()) if len(finished) else float("nan"),
        }


def collect_rollout(
    envs: SeqGANVectorEnv,
    policy: Generator,
    generator: torch.Generator,
    num_steps: int | None = None,
    grad: bool = False,
    needs_q_values: bool = False,
) -> Rollout:
    """Run ``policy`` for ``num_steps`` steps (default ``max_len``) of every sub-environment.

    Args:
        envs: a batched env made with ``tensors=True``.
        policy: a recurrent token policy (``step``, ``initial_state``, ``config.bos_id``).
        generator: the agent's CPU random stream: seeds the reset and draws the action uniforms.
        num_steps: env steps per sub-environment.
        grad: keep the graph of ``log_probs`` (REINFORCE differentiates them directly).
        needs_q_values: the caller uses ``q_values``: the env must run rollouts.
    """
    if not getattr(envs, "tensors", False):
        raise ValueError(f"{type(envs).__name__} must be made with tensors=True for the agents")
    if needs_q_values and not envs.config.rollouts:
        raise ValueError("this agent uses Monte Carlo action values: make the env with rollouts >= 1")
    steps, batch, device = num_steps or envs.config.max_len, envs.num_envs, envs.device
    columns = {
        name: torch.zeros(steps, batch, dtype=dtype, device=device)
        for name, dtype in (
            ("inputs", torch.long), ("starts", torch.bool), ("actions", torch.long), ("rewards", torch.float),
            ("q_values", torch.float), ("ends", torch.bool), ("valid", torch.bool), ("scores", torch.float),
        )
    }  # fmt: skip
    log_probs, hidden, labels = [], [], []
    observation, _ = envs.reset(seed=int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    state = None
    pending_reset = torch.zeros(batch, dtype=torch.bool, device=device)
    next_step = envs.autoreset_mode == AutoresetMode.NEXT_STEP
    with torch.set_grad_enabled(grad):
        for t in range(steps):
            columns["starts"][t] = observation["length"].squeeze(1) == 0
            labels.append(observation_labels(observation))
            previous, state = policy_inputs(policy, observation, state)
            logits, state = policy.step(previous, state)
            uniforms = host_to_device(torch.rand(batch, generator=generator), device)  # no host wait on a GPU
            action = sample_from_logits(logits.detach(), uniforms)
            columns["inputs"][t], columns["actions"][t] = previous, action
            log_probs.append(torch.log_softmax(logits, -1).gather(1, action.unsqueeze(1)).squeeze(1))
            hidden.append(policy.features(state))
            observation, reward, terminated, truncated, info = envs.step(action)
            done = terminated | truncated
            columns["valid"][t] = ~pending_reset
            columns["rewards"][t], columns["ends"][t] = reward, done
            columns["q_values"][t], columns["scores"][t] = step_q_values(info), final_scores(info)
            if next_step:
                pending_reset = done
    with torch.no_grad():
        next_input, next_state = policy_inputs(policy, observation, detach_state(state))
    return Rollout(
        **columns, log_probs=torch.stack(log_probs), hidden=torch.stack(hidden), next_input=next_input, next_state=next_state,
        labels=None if labels[0] is None else torch.stack(labels),
    )


def replay(
    policy: Generator, inputs: torch.Tensor, starts: torch.Tensor, actions: torch.Tensor, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-probs and entropies of ``actions`` and the hidden states, ``(steps, b[, H])``, under
    the policy's current weights, its state reset to the initial state at each episode start (the
    episode's class's, ``labels (steps, b)``, in a conditional env)."""
    n, device = inputs.shape[1], inputs.device
    initial = policy.initial_state(n, device) if labels is None else None
    state = initial if labels is None else policy.initial_state(n, device, labels[0])
    log_probs, entropies, hidden = [], [], []
    for t in range(len(inputs)):
        fresh = initial if labels is None else policy.initial_state(n, device, labels[t])
        logits, state = policy.step(inputs[t], where_rows(starts[t], fresh, state))
        log_prob_all = torch.log_softmax(logits, dim=-1)
        log_probs.append(log_prob_all.gather(1, actions[t].unsqueeze(1)).squeeze(1))
        entropies.append(-(log_prob_all.exp() * log_prob_all).sum(-1))
        hidden.append(policy.features(state))
    return torch.stack(log_probs), torch.stack(entropies), torch.stack(hidden)


def rewards_to_go(rewards: torch.Tensor, ends: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Discounted sum of future rewards within each episode; ``(steps, B)`` in and out.

    A column's last episode may be cut off by the end of the rollout: its sum stops there.
    """
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running * (~ends[t]).to(rewards.dtype)
        out[t] = running
    return out
