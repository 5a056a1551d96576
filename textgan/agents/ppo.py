"""PPO for the generator: clipped objective, a value head on the LSTM state, GAE.

The policy is recurrent, so experience is stored as whole columns ``(num_steps, B)`` (see
``rollout``); every epoch re-runs the LSTM over the columns of a minibatch (state reset to zero
at each episode start) to get the new log-probs and values. Minibatches split the
sub-environments, never the time axis.

Advantages, by ``advantages``: ``gae`` over the env's rewards (an ordinary MDP, any reward
model), or ``mc``: ``Q_t - V(s_t)`` with the env's Monte Carlo action values, V regressing on Q
(the env must run rollouts). An optional KL penalty to the frozen MLE policy is subtracted from
the rewards (``gae``) or from Q (``mc``) as a per-token cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from runcore.distributed import world_mean
from runcore.optim import adam
from runcore.ranges import at_least, between, check_ranges, positive
from textgan.agents.rollout import Rollout, collect_rollout, replay, rewards_to_go
from textgan.agents.stabilisers import KLPenalty
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models.generator import Generator

ADVANTAGES = ("gae", "mc")


@dataclass
class PPOConfig:
    """Hyper-parameters of the PPO update."""

    learning_rate: float = 3e-3
    """Adam step size for the policy and the value head"""
    num_steps: int | None = None
    """env steps per update in each sub-environment; None = max_len"""
    update_epochs: int = 4
    """passes over the collected experience per update"""
    num_minibatches: int = 4
    """minibatches per epoch; each holds whole columns (sub-environments)"""
    gamma: float = 1.0
    """discount; 1 because an episode's value is D of the whole sequence"""
    gae_lambda: float = 0.95
    """GAE lambda (advantages=gae)"""
    clip_coef: float = 0.2
    """the probability-ratio clip of the surrogate objective"""
    ent_coef: float = 0.0
    """weight of the entropy bonus"""
    vf_coef: float = 0.5
    """weight of the value loss (the value head shares the generator's LSTM)"""
    grad_clip: float = 0.5
    """global gradient-norm clip"""
    norm_adv: bool = True
    """normalise advantages within each minibatch"""
    target_kl: float | None = None
    """stop the epochs early once the approximate KL exceeds this"""
    advantages: str = "gae"
    """gae: GAE over the env's rewards; mc: Q_t - V(s_t) from the env's Monte Carlo action values"""
    kl_coef: float = 0.0
    """KL penalty per nat towards the policy as it was at the first update (0: off)"""
    kl_target: float | None = None
    """KL per token for the adaptive coefficient; None: kl_coef stays fixed"""

    def __post_init__(self):
        if self.advantages not in ADVANTAGES:
            raise ValueError(f"unknown advantages {self.advantages!r}; choose one of {', '.join(ADVANTAGES)}")
        check_ranges(self, PPO_RANGES, flag_prefix="")


PPO_RANGES = {
    "learning_rate": positive(),
    "num_steps": at_least(1),
    "update_epochs": at_least(1),
    "num_minibatches": at_least(1),
    "gamma": between(0, 1),
    "gae_lambda": between(0, 1),
    "clip_coef": positive(),
    "vf_coef": at_least(0),
    "grad_clip": positive(),
    "target_kl": positive(),
    "kl_coef": at_least(0, "pass 0 to turn the penalty off"),
    "kl_target": positive(),
}
"""The allowed values of each numeric setting (``ent_coef`` may be any finite number); every float
must also be finite (a ``SettingError``)."""


class PPOAgent:
    """Trains ``policy`` with PPO through a batched SeqGAN environment made with ``tensors=True``.

    Args:
        policy: the generator (updated in place).
        config: hyper-parameters.
        seed: seeds the agent's action sampling and the minibatch order.

    Examples:
        >>> from textgan.models import Generator, GeneratorConfig
        >>> envs = SeqGANVectorEnv(num_envs=4, vocab_size=8, max_len=3, rollouts=0,
        ...                        tensors=True, autoreset_mode="SameStep")
        >>> agent = PPOAgent(Generator(GeneratorConfig(vocab_size=8)), PPOConfig(num_minibatches=2))
        >>> sorted(agent.update(envs))[:3]
        ['approx_kl', 'clip_frac', 'd_score']
    """

    def __init__(self, policy: Generator, config: PPOConfig | None = None, seed: int = 0):
        self.policy = policy
        self.config = config or PPOConfig()
        self.value_head = nn.Linear(policy.feature_dim, 1).to(policy.device)
        with torch.no_grad():  # start from V = 0: no opinion before the first return is seen
            self.value_head.weight.mul_(0.01)
            self.value_head.bias.zero_()
        parameters = [*policy.parameters(), *self.value_head.parameters()]
        self.optimizer = adam(parameters, lr=self.config.learning_rate, eps=1e-5)
        self.generator = torch.Generator().manual_seed(seed)
        self.kl = KLPenalty(policy, self.config.kl_coef, self.config.kl_target) if self.config.kl_coef > 0 else None

    @property
    def uses_q_values(self) -> bool:
        """Whether the env must run Monte Carlo rollouts for this agent."""
        return self.config.advantages == "mc"

    def checkpoint_items(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """What a checkpoint must hold besides the policy: the value head and the optimiser."""
        items = {"value_head": self.value_head, "optimizer": self.optimizer}
        return {**items, "kl": self.kl} if self.kl is not None else items

    def state_dict(self) -> dict:
        return {"value_head": self.value_head.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.value_head.load_state_dict(state["value_head"])
        self.optimizer.load_state_dict(state["optimizer"])

    # -- experience ---------------------------------------------------------------------------

    @torch.no_grad()
    def advantages(self, rollout: Rollout, costs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Advantages and value targets ``(num_steps, B)``; ``costs`` are per-token penalties."""
        values = self.value_head(rollout.hidden).squeeze(-1)
        if self.config.advantages == "mc":
            targets = rollout.q_values if costs is None else rollout.q_values - rewards_to_go(costs, rollout.ends)
            return targets - values, targets
        rewards = rollout.rewards if costs is None else rollout.rewards - costs
        hidden = self.policy.features(self.policy.cell(rollout.next_input, rollout.next_state))
        next_value = self.value_head(hidden).squeeze(1)
        return generalized_advantages(rewards, values, rollout.ends, next_value, self.config.gamma, self.config.gae_lambda)

    # -- the update ---------------------------------------------------------------------------

    def evaluate(self, inputs: torch.Tensor, starts: torch.Tensor, actions: torch.Tensor, labels: torch.Tensor | None = None):
        """Log-probs, entropies and values ``(steps, b)`` of ``actions`` under the current weights."""
        log_probs, entropies, hidden = replay(self.policy, inputs, starts, actions, labels)
        return log_probs, entropies, self.value_head(hidden).squeeze(-1)

    def update(self, envs: SeqGANVectorEnv) -> dict[str, float]:
        """Collect ``num_steps`` steps of every sub-environment and run the PPO epochs on them."""
        cfg = self.config
        rollout = collect_rollout(envs, self.policy, self.generator, cfg.num_steps, needs_q_values=self.uses_q_values)
        extra, costs = {}, None
        if self.kl is not None:
            costs, extra["kl"] = self.kl.costs(rollout)
            extra["kl_coef"] = float(self.kl.coef)
        advantages, returns = self.advantages(rollout, costs)
        batch = envs.num_envs
        minibatch = max(1, batch // cfg.num_minibatches)
        stats: dict[str, list[float]] = {"pg_loss": [], "v_loss": [], "entropy": [], "approx_kl": [], "clip_frac": []}
        for _ in range(cfg.update_epochs):
            order = torch.randperm(batch, generator=self.generator).to(envs.device)
            for columns in order.split(minibatch):
                valid = rollout.valid[:, columns]
                new_log_probs, entropy, new_values = self.evaluate(
                    rollout.inputs[:, columns], rollout.starts[:, columns], rollout.actions[:, columns],
                    None if rollout.labels is None else rollout.labels[:, columns],
                )
                log_ratio = (new_log_probs - rollout.log_probs[:, columns])[valid]
                ratio = log_ratio.exp()
                advantage = advantages[:, columns][valid]
                if cfg.norm_adv and advantage.numel() > 1:
                    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
                pg_loss = torch.max(
                    -advantage * ratio, -advantage * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)
                ).mean()
                v_loss = 0.5 * (new_values[valid] - returns[:, columns][valid]).square().mean()
                entropy_mean = entropy[valid].mean()
                loss = pg_loss - cfg.ent_coef * entropy_mean + cfg.vf_coef * v_loss
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_([*self.policy.parameters(), *self.value_head.parameters()], cfg.grad_clip)
                self.optimizer.step()
                with torch.no_grad():
                    stats["pg_loss"].append(float(pg_loss))
                    stats["v_loss"].append(float(v_loss))
                    stats["entropy"].append(float(entropy_mean))
                    stats["approx_kl"].append(float(((ratio - 1) - log_ratio).mean()))  # the k3 estimator
                    stats["clip_frac"].append(float(((ratio - 1).abs() > cfg.clip_coef).float().mean()))
            if cfg.target_kl is not None and world_mean(stats["approx_kl"][-1]) > cfg.target_kl:  # every rank stops together
                break
        return {**{name: sum(v) / len(v) for name, v in stats.items()}, **rollout.episode_metrics(), **extra}


def generalized_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    ends: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over ``(steps, B)`` columns; an episode end cuts the bootstrap.

    Args:
        rewards, values: per step; ``values[t]`` is V of the state the step acted in.
        ends: True where the step ended its episode (terminated or truncated by the env).
        next_value: ``(B,)`` V of the state after the last step (used when it did not end).

    Returns:
        Advantages and returns (advantages + values), both ``(steps, B)``.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(next_value)
    following = next_value
    for t in range(len(rewards) - 1, -1, -1):
        alive = (~ends[t]).to(rewards.dtype)
        delta = rewards[t] + gamma * following * alive - values[t]
        running = delta + gamma * gae_lambda * alive * running
        advantages[t] = running
        following = values[t]
    return advantages, advantages + values
