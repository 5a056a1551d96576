"""The state of B SeqGAN episodes as tensors, and one step of all of them.

Both the plain environment (B = 1) and the batched one are thin shells over this class, so the
game is written once. Each row has its own random stream (a ``torch.Generator`` seeded at reset)
and draws its own rollout uniforms in the same order whether it runs alone or in a batch; the
batched environment therefore reproduces the plain one step for step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textgan.env.rewards import complete_prefixes, discriminator_scores
from textgan.models.discriminator import Discriminator
from textgan.models.generator import Generator

REWARD_MODES = ("mc", "terminal", "shaped", "constant")


@dataclass
class EnvConfig:
    """What defines the game. The discriminator and rollout policy are set separately."""

    vocab_size: int
    max_len: int
    reward_mode: str = "mc"
    """mc: Q(prefix) from K rollouts (SeqGAN); terminal: D(Y) at the end only;
    shaped: Q_t - Q_{t-1}; constant: a fixed reward per step (the no-discriminator ablation)"""
    rollouts: int = 16
    """K, rollouts per prefix in the mc and shaped modes"""
    log_d: bool = False
    """use log D(Y) instead of D(Y) as the score"""
    constant_reward: float = 1.0
    bos_id: int = 1
    eos_id: int | None = 2
    pad_id: int = 0

    def __post_init__(self):
        if self.reward_mode not in REWARD_MODES:
            raise ValueError(f"unknown reward_mode {self.reward_mode!r}; choose one of {', '.join(REWARD_MODES)}")
        if self.max_len < 1 or self.vocab_size < 2:
            raise ValueError(f"max_len must be >= 1 and vocab_size >= 2, got {self.max_len} and {self.vocab_size}")
        if self.rollouts < 1:
            raise ValueError(f"rollouts must be >= 1, got {self.rollouts}")
        for name in ("bos_id", "eos_id", "pad_id"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < self.vocab_size:
                raise ValueError(f"{name}={value} is outside the vocabulary [0, {self.vocab_size})")


class EpisodeBatch:
    """B episodes of token generation, stepped together."""

    def __init__(
        self, config: EnvConfig, num_rows: int, rollout_policy: Generator, discriminator: Discriminator, device
    ):
        self.config = config
        self.device = torch.device(device)
        self.num_rows = num_rows
        self.rollout_policy = rollout_policy
        self.discriminator = discriminator
        self.tokens = torch.full((num_rows, config.max_len), config.pad_id, dtype=torch.long, device=self.device)
        self.lengths = torch.zeros(num_rows, dtype=torch.long, device=self.device)
        self.finished = torch.ones(num_rows, dtype=torch.bool, device=self.device)  # needs a reset first
        self.previous_q = torch.zeros(num_rows, device=self.device)
        hidden = rollout_policy.config.hidden_dim
        self.state = (torch.zeros(num_rows, hidden, device=self.device), torch.zeros(num_rows, hidden, device=self.device))
        self.generators = [torch.Generator() for _ in range(num_rows)]
        for generator in self.generators:
            generator.seed()

    # -- resets and models ------------------------------------------------------------------

    def seed(self, row: int, seed: int) -> None:
        self.generators[row].manual_seed(int(seed))

    def reset(self, rows: torch.Tensor) -> None:
        """Start new episodes in the rows where ``rows`` (bool ``(B,)``) is true."""
        if not bool(rows.any()):
            return
        self.tokens[rows] = self.config.pad_id
        self.lengths[rows] = 0
        self.finished[rows] = False
        self._rebuild_state(rows)
        if self.config.reward_mode == "shaped":
            # Q_0: the expected score of a sequence from the empty prefix
            self.previous_q[rows] = self._rollout_values(rows.nonzero().squeeze(1))
        else:
            self.previous_q[rows] = 0.0

    def set_discriminator(self, discriminator: Discriminator) -> None:
        self._check_vocab(discriminator, "discriminator")
        if getattr(discriminator.config, "max_len", self.config.max_len) < self.config.max_len:
            raise ValueError(
                f"discriminator max_len {discriminator.config.max_len} is shorter than the env's {self.config.max_len}"
            )
        self.discriminator = discriminator

    @torch.no_grad()
    def sync_rollout_policy(self, policy: Generator, rate: float) -> None:
        """theta_rollout <- rate * theta_rollout + (1 - rate) * theta_policy, then refresh cached states.

        ``rate=0`` copies the policy; SeqGAN uses 0.8 (the rollout policy lags the generator).
        """
        self._check_vocab(policy, "policy")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        if policy.config.hidden_dim != self.rollout_policy.config.hidden_dim or (
            policy.config.embed_dim != self.rollout_policy.config.embed_dim
        ):
            if rate != 0.0:
                raise ValueError("the policy's sizes differ from the rollout policy's; sync with rate=0 to replace it")
            self.rollout_policy = type(policy)(policy.config).to(self.device)
            hidden = policy.config.hidden_dim
            self.state = tuple(torch.zeros(self.num_rows, hidden, device=self.device) for _ in range(2))
        target = dict(self.rollout_policy.named_parameters())
        for name, value in policy.named_parameters():
            target[name].mul_(rate).add_(value.detach().to(self.device), alpha=1.0 - rate)
        self.refresh_rollout_states()

    def refresh_rollout_states(self) -> None:
        """Rebuild the rollout policy's cached prefix states, e.g. after loading its weights."""
        self._rebuild_state(~self.finished)

    def _check_vocab(self, model, what: str) -> None:
        if model.vocab_size != self.config.vocab_size:
            raise ValueError(
                f"the {what}'s vocabulary has {model.vocab_size} tokens but the env's has {self.config.vocab_size}"
            )

    def _rebuild_state(self, rows: torch.Tensor) -> None:
        if not bool(rows.any()):
            return
        _, (h, c) = self.rollout_policy.prefix_states(self.tokens[rows], self.lengths[rows])
        self.state[0][rows], self.state[1][rows] = h, c

    # -- one step ---------------------------------------------------------------------------

    def validate_actions(self, actions: torch.Tensor, rows: torch.Tensor) -> None:
        bad = rows & ((actions < 0) | (actions >= self.config.vocab_size))
        if bool(bad.any()):
            value = int(actions[bad][0])
            raise ValueError(f"action {value} is outside Discrete({self.config.vocab_size})")
        if bool((rows & self.finished).any()):
            raise RuntimeError("step() called on a finished episode; call reset() first")

    @torch.no_grad()
    def step(self, actions: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Append ``actions`` in ``rows``; returns rewards, terminated and D's final score per row.

        Rows outside ``rows`` are left untouched and get reward 0.
        """
        cfg = self.config
        actions = actions.to(self.device, torch.long)
        self.validate_actions(actions, rows)
        index = rows.nonzero().squeeze(1)
        self.tokens[index, self.lengths[index]] = actions[index]
        self.lengths[index] += 1
        terminated = torch.zeros_like(rows)
        terminated[index] = self.lengths[index] >= cfg.max_len
        if cfg.eos_id is not None:
            terminated[index] |= actions[index] == cfg.eos_id
        self.finished |= terminated
        ongoing = rows & ~terminated
        # the rollout policy reads the new token once here, so rollouts start from a cached state
        if bool(ongoing.any()):
            h, c = self.rollout_policy.cell(actions[ongoing], (self.state[0][ongoing], self.state[1][ongoing]))
            self.state[0][ongoing], self.state[1][ongoing] = h, c

        rewards = torch.zeros(self.num_rows, device=self.device)
        final_scores = torch.zeros(self.num_rows, device=self.device)
        ended = terminated.nonzero().squeeze(1)
        if len(ended):  # also in the constant mode: D's opinion is reported, not rewarded
            final_scores[ended] = discriminator_scores(self.discriminator, self.tokens[ended], cfg.log_d)
        if cfg.reward_mode == "constant":
            rewards[index] = cfg.constant_reward
            return rewards, terminated, final_scores
        q = final_scores.clone()
        if cfg.reward_mode in ("mc", "shaped"):
            going = ongoing.nonzero().squeeze(1)
            if len(going):
                q[going] = self._rollout_values(going)
        if cfg.reward_mode == "mc":
            rewards[index] = q[index]
        elif cfg.reward_mode == "terminal":
            rewards[ended] = final_scores[ended]
        else:  # shaped
            rewards[index] = q[index] - self.previous_q[index]
            self.previous_q[index] = q[index]
        return rewards, terminated, final_scores

    def _rollout_values(self, index: torch.Tensor) -> torch.Tensor:
        """Mean score of K rollouts from each listed row's current prefix."""
        cfg = self.config
        k, max_len = cfg.rollouts, cfg.max_len
        lengths = self.lengths[index]
        remaining = (max_len - lengths).tolist()
        width = max(remaining)
        uniforms = torch.zeros(len(index), k, width)
        for i, (row, steps) in enumerate(zip(index.tolist(), remaining)):
            # each row draws from its own stream, the same numbers alone or in a batch
            uniforms[i, :, :steps] = torch.rand((k, steps), generator=self.generators[row])
        completed = complete_prefixes(
            self.rollout_policy,
            self.tokens[index],
            lengths,
            (self.state[0][index], self.state[1][index]),
            uniforms.to(self.device),
        )
        return discriminator_scores(self.discriminator, completed, cfg.log_d).mean(dim=1)
