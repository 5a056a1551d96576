"""REINFORCE for the generator: SeqGAN's policy gradient, and its variants for other rewards.

The loss is ``-sum_t log pi(y_t | Y_1..Y_{t-1}) * value_t`` averaged over episodes, where the
value of each decision is, by ``values``:

- ``mc``: the env's Monte Carlo action value ``Q_t`` (SeqGAN, RankGAN; the env must run
  rollouts). Used directly, without summing, as in the paper.
- ``return``: the (discounted) sum of the env's rewards from step t on (MaliGAN's sequence
  weight, DPGAN's token rewards; no rollouts needed).

Optional stabilisers: a baseline over the batch (``mean``, or leave-one-out ``rloo``) and a KL
penalty to the frozen MLE policy (``kl_coef``), whose per-token cost enters ``value_t`` as its
sum from t on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from runcore.distributed import global_mean
from runcore.optim import adam
from runcore.ranges import at_least, between, check_ranges, positive
from textgan.agents.rollout import Rollout, collect_rollout, rewards_to_go
from textgan.agents.stabilisers import BASELINES, KLPenalty, subtract_baseline
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models.generator import Generator

VALUES = ("mc", "return")


@dataclass
class ReinforceConfig:
    """Hyper-parameters of the policy-gradient update (defaults: SeqGAN's code)."""

    learning_rate: float = 0.01
    """Adam step size (SeqGAN's code uses 0.01)"""
    grad_clip: float = 5.0
    """global gradient-norm clip"""
    values: str = "mc"
    """mc: the env's Monte Carlo action values (SeqGAN); return: the sum of rewards from each step on"""
    gamma: float = 1.0
    """discount of the return (values=return)"""
    baseline: str = "none"
    """none (the paper), mean (the batch mean at each step) or rloo (leave-one-out mean)"""
    num_steps: int | None = None
    """env steps per update; None = max_len, one sequence per sub-environment"""
    kl_coef: float = 0.0
    """KL penalty per nat towards the policy as it was at the first update (0: off)"""
    kl_target: float | None = None
    """KL per token for the adaptive coefficient; None: kl_coef stays fixed"""

    def __post_init__(self):
        if self.values not in VALUES:
            raise ValueError(f"unknown values {self.values!r}; choose one of {', '.join(VALUES)}")
        if self.baseline not in BASELINES:
            raise ValueError(f"unknown baseline {self.baseline!r}; choose one of {', '.join(BASELINES)}")
        check_ranges(self, REINFORCE_RANGES, flag_prefix="")


REINFORCE_RANGES = {
    "learning_rate": positive(),
    "grad_clip": positive(),
    "gamma": between(0, 1),
    "num_steps": at_least(1),
    "kl_coef": at_least(0, "pass 0 to turn the penalty off"),
    "kl_target": positive(),
}
"""The allowed values of each numeric setting; every float must also be finite (a ``SettingError``)."""


class ReinforceAgent:
    """Trains ``policy`` with REINFORCE through a batched SeqGAN environment made with ``tensors=True``.

    Args:
        policy: the generator (updated in place).
        config: hyper-parameters.
        seed: seeds the agent's own action sampling.

    Examples:
        >>> from textgan.models import GeneratorConfig
        >>> envs = SeqGANVectorEnv(num_envs=4, vocab_size=8, max_len=3, rollouts=2, tensors=True,
        ...                        autoreset_mode="SameStep")
        >>> agent = ReinforceAgent(Generator(GeneratorConfig(vocab_size=8)))
        >>> agent.uses_q_values, sorted(agent.update(envs))[:2]
        (True, ['d_score', 'final_reward'])
    """

    def __init__(self, policy: Generator, config: ReinforceConfig | None = None, seed: int = 0):
        self.policy = policy
        self.config = config or ReinforceConfig()
        self.optimizer = adam(policy.parameters(), lr=self.config.learning_rate)
        self.generator = torch.Generator().manual_seed(seed)
        self.kl = KLPenalty(policy, self.config.kl_coef, self.config.kl_target) if self.config.kl_coef > 0 else None

    @property
    def uses_q_values(self) -> bool:
        """Whether the env must run Monte Carlo rollouts for this agent."""
        return self.config.values == "mc"

    def checkpoint_items(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {"optimizer": self.optimizer, **({"kl": self.kl} if self.kl is not None else {})}

    def update(self, envs: SeqGANVectorEnv) -> dict[str, float]:
        """Collect one rollout of every sub-environment and learn from it."""
        rollout = collect_rollout(envs, self.policy, self.generator, self.config.num_steps, grad=True, needs_q_values=self.uses_q_values)
        return self.learn(rollout)

    def learn(self, rollout: Rollout) -> dict[str, float]:
        """One clipped policy-gradient step on ``rollout`` (collected with ``grad=True``)."""
        cfg = self.config
        if cfg.values == "mc":
            values = rollout.q_values
        else:
            values = rewards_to_go(rollout.rewards, rollout.ends, cfg.gamma)
        extra = {}
        if self.kl is not None:
            costs, extra["kl"] = self.kl.costs(rollout)
            values = values - rewards_to_go(costs, rollout.ends, cfg.gamma if cfg.values == "return" else 1.0)
            extra["kl_coef"] = float(self.kl.coef)
        values = subtract_baseline(values, rollout.valid, cfg.baseline)
        valid = rollout.valid.to(values.dtype)
        # per episode of the whole batch (under torchrun, of every rank's episodes)
        loss = global_mean(-(rollout.log_probs * values.detach() * valid).sum(), rollout.ends.sum())
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return {"pg_loss": float(loss.detach()), "grad_norm": float(grad_norm), **rollout.episode_metrics(), **extra}
