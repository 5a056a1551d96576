"""The state of B SeqGAN episodes as tensors, and one step of all of them.

Both the plain environment (B = 1) and the batched one are thin shells over this class, so the
game is written once. Each row has its own random stream (a ``torch.Generator`` seeded at reset)
and draws its own rollout uniforms in the same order whether it runs alone or in a batch; the
batched environment therefore reproduces the plain one step for step.

Rewards come from a reward model (``textgan.rewards``): a sequence-level one is paid when a
sequence ends, a token-level one at every token. With ``rollouts = K > 0`` every step also
estimates the action value ``Q_t = E[sum of rewards from step t on | Y_1..Y_t]`` from K
completions by the rollout policy (SeqGAN's Monte Carlo search; ``Q_T`` is the last reward).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textgan.env.rewards import complete_prefixes
from textgan.models.generator import Generator, sequence_mask
from textgan.rewards.base import RewardModel, as_reward_model, check_reward_model, checked_scores

REWARD_MODES = ("direct", "shaped")


@dataclass
class EnvConfig:
    """What defines the game. The reward model and rollout policy are set separately."""

    vocab_size: int
    max_len: int
    reward_mode: str = "direct"
    """direct: the reward model's rewards as they fall due (a sequence's score when it ends, a
    token's reward when it is written); shaped: Q_t - V(s_{t-1}), dense and with the same optimum"""
    rollouts: int = 0
    """K, Monte Carlo rollouts per prefix for the action values (0: none; SeqGAN uses 16)"""
    bos_id: int = 1
    eos_id: int | None = 2
    pad_id: int = 0

    def __post_init__(self):
        if self.reward_mode not in REWARD_MODES:
            raise ValueError(f"unknown reward_mode {self.reward_mode!r}; choose one of {', '.join(REWARD_MODES)}")
        if self.max_len < 1 or self.vocab_size < 2:
            raise ValueError(f"max_len must be >= 1 and vocab_size >= 2, got {self.max_len} and {self.vocab_size}")
        if self.rollouts < 0:
            raise ValueError(f"rollouts must be >= 0, got {self.rollouts}")
        if self.reward_mode == "shaped" and self.rollouts < 1:
            raise ValueError("reward_mode='shaped' needs rollouts >= 1 (its rewards are differences of action values)")
        for name in ("bos_id", "eos_id", "pad_id"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < self.vocab_size:
                raise ValueError(f"{name}={value} is outside the vocabulary [0, {self.vocab_size})")


@dataclass
class StepResult:
    """One step of every row: ``(B,)`` tensors (0 in rows that did not step)."""

    rewards: torch.Tensor
    terminated: torch.Tensor
    scores: torch.Tensor
    """the finished sequence's score (its return) where an episode ended"""
    q_values: torch.Tensor
    """the Monte Carlo action value of the step (0 without rollouts)"""


class EpisodeBatch:
    """B episodes of token generation, stepped together."""

    def __init__(self, config: EnvConfig, num_rows: int, rollout_policy: Generator, reward_model: RewardModel, device):
        self.config = config
        self.device = torch.device(device)
        self.num_rows = num_rows
        self.rollout_policy = rollout_policy
        self.set_reward_model(reward_model)
        self.tokens = torch.full((num_rows, config.max_len), config.pad_id, dtype=torch.long, device=self.device)
        self.lengths = torch.zeros(num_rows, dtype=torch.long, device=self.device)
        self.finished = torch.ones(num_rows, dtype=torch.bool, device=self.device)  # needs a reset first
        self.future_value = torch.zeros(num_rows, device=self.device)  # V(s_t), for the shaped mode
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
            # V(s_0): the expected return from the empty prefix
            self.future_value[rows] = self._rollout_values(rows.nonzero().squeeze(1))
        else:
            self.future_value[rows] = 0.0

    def set_reward_model(self, reward_model) -> None:
        """Score with ``reward_model`` (anything ``as_reward_model`` adapts) from the next step on."""
        reward_model = as_reward_model(reward_model, self.config.vocab_size)
        check_reward_model(reward_model, self.config.vocab_size, self.config.max_len)
        self.reward_model = reward_model
        self._values_checked = False  # the first scores of a new model are checked in full

    @torch.no_grad()
    def sync_rollout_policy(self, policy: Generator, rate: float) -> None:
        """theta_rollout <- rate * theta_rollout + (1 - rate) * theta_policy, then refresh cached states.

        ``rate=0`` copies the policy; SeqGAN uses 0.8 (the rollout policy lags the generator).
        Rollouts end at the env's EOS id, whatever the policy's config says.
        """
        if policy.vocab_size != self.config.vocab_size:
            raise ValueError(
                f"the policy's vocabulary has {policy.vocab_size} tokens but the env's has {self.config.vocab_size}"
            )
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

    def _rebuild_state(self, rows: torch.Tensor) -> None:
        if not bool(rows.any()):
            return
        _, (h, c) = self.rollout_policy.prefix_states(self.tokens[rows], self.lengths[rows])
        self.state[0][rows], self.state[1][rows] = h, c

    # -- scoring ----------------------------------------------------------------------------

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        """The reward model's scores of ``(G, N, T)`` sequences, checked (values on first use)."""
        scores = self.reward_model.score(tokens)
        scores = checked_scores(self.reward_model, tokens, scores, values=not self._values_checked)
        self._values_checked = True
        return scores

    # -- one step ---------------------------------------------------------------------------

    def validate_actions(self, actions: torch.Tensor, rows: torch.Tensor) -> None:
        bad = rows & ((actions < 0) | (actions >= self.config.vocab_size))
        if bool(bad.any()):
            value = int(actions[bad][0])
            raise ValueError(f"action {value} is outside Discrete({self.config.vocab_size})")
        if bool((rows & self.finished).any()):
            raise RuntimeError("step() called on a finished episode; call reset() first")

    @torch.no_grad()
    def step(self, actions: torch.Tensor, rows: torch.Tensor) -> StepResult:
        """Append ``actions`` in ``rows``; rows outside ``rows`` are left untouched (reward 0)."""
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

        rewards, scores, q = (torch.zeros(self.num_rows, device=self.device) for _ in range(3))
        ended = terminated.nonzero().squeeze(1)
        if self.reward_model.dense:  # each token's reward now; a finished sequence's return is their sum
            if len(index):
                token_rewards = self.score(self.tokens[index].unsqueeze(0))[0]
                rewards[index] = token_rewards.gather(1, (self.lengths[index] - 1).unsqueeze(1)).squeeze(1)
                mask = torch.arange(cfg.max_len, device=self.device) < self.lengths[index].unsqueeze(1)
                scores[index] = torch.where(terminated[index], (token_rewards * mask).sum(1), 0.0)
        elif len(ended):
            scores[ended] = self.score(self.tokens[ended].unsqueeze(0))[0]
            rewards[ended] = scores[ended]
        if cfg.rollouts:
            q[index] = rewards[index]  # Q_T: the last reward
            going = ongoing.nonzero().squeeze(1)
            if len(going):
                q[going] = self._rollout_values(going)
        if cfg.reward_mode == "shaped":  # r_t + V(s_t) - V(s_{t-1}), with V(s_t) = Q_t - r_t and V(end) = 0
            direct = rewards.clone()
            rewards[index] = q[index] - self.future_value[index]
            self.future_value[index] = torch.where(terminated[index], 0.0, q[index] - direct[index])
        return StepResult(rewards, terminated, scores, q)

    def _rollout_values(self, index: torch.Tensor) -> torch.Tensor:
        """Mean return, from the current token on, of K rollouts from each listed row's prefix."""
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
            cfg.eos_id,
        )  # (n, K, T): group k holds rollout k of every prefix
        groups = completed.transpose(0, 1)
        scores = self.score(groups)
        if not self.reward_model.dense:
            return scores.mean(dim=0)
        # the return from the current token on: positions lengths - 1 .. end of each completion
        positions = torch.arange(max_len, device=self.device)
        ends = sequence_mask(groups.reshape(-1, max_len), cfg.eos_id).view_as(groups)
        counted = ends & (positions >= (lengths - 1).clamp_min(0).unsqueeze(1))
        return (scores * counted).sum(dim=2).mean(dim=0)


class EpisodeControls:
    """What the plain and the batched env expose of their ``EpisodeBatch`` (``self.episodes``)."""

    episodes: EpisodeBatch

    @property
    def config(self) -> EnvConfig:
        return self.episodes.config

    @property
    def reward_model(self) -> RewardModel:
        return self.episodes.reward_model

    def set_reward_model(self, reward_model) -> None:
        """Score sequences with ``reward_model`` from the next step on (see ``textgan.rewards``)."""
        self.episodes.set_reward_model(reward_model)

    def set_discriminator(self, discriminator) -> None:
        """``set_reward_model``, under the name SeqGAN's users know."""
        self.episodes.set_reward_model(discriminator)

    def sync_rollout_policy(self, policy: Generator, rate: float = 0.0) -> None:
        """Move the rollout policy towards ``policy``: ``rate * rollout + (1 - rate) * policy``."""
        self.episodes.sync_rollout_policy(policy, rate)
