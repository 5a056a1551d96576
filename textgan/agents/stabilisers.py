"""Stabilisers any agent may use: a KL penalty to the frozen MLE policy, and batch baselines.

``KLPenalty`` turns ``beta * (log pi(a_t) - log pi_ref(a_t))`` into a per-token cost, with a
fixed ``beta`` or the adaptive controller of Ziegler et al. (2019), as TRL and RL4LMs offer:
``beta <- beta * (1 + clip(KL / target - 1, -0.2, 0.2) * n / horizon)`` after each update over
``n`` tokens. The reference is the policy as it is at the first penalised update (in the trainer:
right after MLE pre-training), frozen from then on and saved with checkpoints.

``subtract_baseline`` removes a per-step baseline from action values over the batch: ``mean``
(the batch mean at that step) or ``rloo`` (leave one out: the mean of the *other* rows at that
step, so each row's baseline is independent of its own sample and the estimator stays unbiased;
Kool et al. 2019, Ahmadian et al. 2024).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from runcore.distributed import world_sum
from textgan.agents.rollout import Rollout, replay
from textgan.models.generator import Generator

BASELINES = ("none", "mean", "rloo")


def subtract_baseline(values: torch.Tensor, valid: torch.Tensor, kind: str) -> torch.Tensor:
    """``values (steps, B)`` minus the ``kind`` baseline over the valid rows of each step."""
    if kind == "none":
        return values
    weights = valid.to(values.dtype)
    total, count = (values * weights).sum(1, keepdim=True), weights.sum(1, keepdim=True)
    if kind == "mean":
        return values - total / count.clamp_min(1)
    if kind == "rloo":
        others = (count - weights).clamp_min(1)
        return values - (total - values * weights) / others
    raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}")


class KLPenalty(nn.Module):
    """A KL penalty towards a frozen copy of ``policy`` (see the module docstring).

    Args:
        policy: the policy to be trained; its copy is the reference (taken at the first use).
        coef: beta, the penalty per nat (0 turns it off).
        target: the KL per token to hold with the adaptive controller; None: fixed beta.
        horizon: the controller's horizon in tokens.
    """

    def __init__(self, policy: Generator, coef: float, target: float | None = None, horizon: int = 10_000):
        super().__init__()
        if coef < 0 or (target is not None and not target > 0) or horizon < 1:
            raise ValueError(f"need coef >= 0, target > 0 (or None) and horizon >= 1, got {coef}, {target}, {horizon}")
        self.policy = [policy]  # not a submodule: its weights are saved with the policy, not here
        self.reference = copy.deepcopy(policy).requires_grad_(False)
        self.target, self.horizon = target, horizon
        self.register_buffer("coef", torch.tensor(float(coef)))
        self.register_buffer("ready", torch.tensor(False))

    @torch.no_grad()
    def costs(self, rollout: Rollout) -> tuple[torch.Tensor, float]:
        """Per-step costs ``beta * (log pi - log pi_ref)`` ``(steps, B)`` and the mean KL per token."""
        policy = self.policy[0]
        if not bool(self.ready):
            self.reference.load_state_dict(policy.state_dict())
            self.ready.fill_(True)
        reference_log_probs, _, _ = replay(self.reference.eval(), rollout.inputs, rollout.starts, rollout.actions, rollout.labels)
        kl = (rollout.log_probs.detach() - reference_log_probs) * rollout.valid
        decisions = world_sum(rollout.valid.sum())  # under torchrun, every rank's: beta stays the same on all
        mean_kl = float(world_sum(kl.sum()) / decisions.clamp_min(1))
        costs = self.coef * kl
        if self.target is not None:
            error = min(max(mean_kl / self.target - 1.0, -0.2), 0.2)
            self.coef.mul_(1.0 + error * int(decisions) / self.horizon)
        return costs, mean_kl
