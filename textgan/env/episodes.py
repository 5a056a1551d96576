"""The state of B SeqGAN episodes as tensors, and one step of all of them.

Both the plain environment (B = 1) and the batched one are thin shells over this class, so the
game is written once. Each row has its own random stream, seeded at reset, and draws its own
rollout uniforms whether it runs alone or in a batch; the batched environment therefore
reproduces the plain one step for step. The stream (``random_stream``): ``counter``, uniforms
keyed by the row's seed and its count of rollout draws (``textgan.env.streams``), computed on the
env's device; or ``generator``, a CPU ``torch.Generator`` per row (it reads the prefix lengths on
the host at every rollout). ``auto`` (the default) takes ``counter`` on a GPU and ``generator``
on the CPU, where earlier versions' numbers stay as they were; the two are equal in distribution,
not draw for draw, so the same seed gives other (equally valid) Monte Carlo estimates on a GPU.

On a GPU (``sync_free``, the default off the CPU) a step never waits for the device: rows are
selected with masks rather than index lists, rollouts run a fixed number of positions, and with
``defer_checks`` (the batched env in tensor mode) an out-of-range action, a step of a finished
episode or a non-finite score is recorded on the device and raised by ``check()`` (the batched
env calls it at every ``reset()`` call of its own API). Reward models whose scores of a row do not
depend on the other rows of its group (``row_independent``, see ``rows_scored_alone``) are then
scored over all rows and masked; a group-aware one (MaliGAN) still gets exactly the rows that
ended, at the cost of reading their count.

Rewards come from a reward model (``textgan.rewards``): a sequence-level one is paid when a
sequence ends, a token-level one at every token. With ``rollouts = K > 0`` every step also
estimates the action value ``Q_t = E[sum of rewards from step t on | Y_1..Y_t]`` from K
completions by the rollout policy (SeqGAN's Monte Carlo search; ``Q_T`` is the last reward).

A class-conditional game (``num_classes = k > 0``) gives every episode a class ``label`` in
``0..k-1``, shown in the observation: the one asked for at reset, else drawn uniformly from the
row's own counter stream (keyed by its seed and its count of episodes, so a row draws the same
classes alone or in a batch, on any device). The rollout policy starts each episode from its
class (``initial_state(labels=...)``), so every Monte Carlo completion keeps its row's class, and
a class-aware reward model (``conditional = True``) is given each scored row's label:
``score(tokens (G, N, T), labels (N,))``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from textgan.env.rewards import complete_prefixes
from textgan.env.streams import as_int64, counter_uniforms, mix64
from textgan.models.generator import Generator, sequence_mask
from textgan.models.sampling import host_to_device
from textgan.policies.state import assign_rows, select_rows, where_rows
from textgan.rewards.base import (
    ProbRealReward,
    RewardModel,
    RewardScoresError,
    as_reward_model,
    check_reward_model,
    checked_scores,
    reward_model_name,
)
from textgan.rewards.constant import ConstantReward
from textgan.rewards.discriminator import DiscriminatorReward

REWARD_MODES = ("direct", "shaped")
RANDOM_STREAMS = ("auto", "counter", "generator")
_LABEL_SALT = as_int64(0x6C62272E07BB0142)  # the labels' stream: apart from the rollouts' (same seed)
_ROW_INDEPENDENT_TYPES = (ProbRealReward, DiscriminatorReward, ConstantReward)
"""exact types (not subclasses: MaliGAN's reward derives from the discriminator's) known to score rows alone"""


def rows_scored_alone(model: RewardModel) -> bool:
    """Whether ``model`` scores each row independently of the rest of its group.

    A reward model says so with ``row_independent = True`` (or False); otherwise the known
    per-row adapters count (``ProbRealReward``, SeqGAN's ``DiscriminatorReward``, ``ConstantReward``),
    matched by exact type, and anything else (a plain callable too: it may normalise over its
    rows) is treated as group-aware.
    """
    declared = getattr(model, "row_independent", None)
    if declared is not None:
        return bool(declared)
    return type(model) in _ROW_INDEPENDENT_TYPES


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
    num_classes: int = 0
    """k > 0: a class-conditional game, each episode asked for one of k classes (its ``label``)"""

    def __post_init__(self):
        if self.reward_mode not in REWARD_MODES:
            raise ValueError(f"unknown reward_mode {self.reward_mode!r}; choose one of {', '.join(REWARD_MODES)}")
        if self.max_len < 1 or self.vocab_size < 2:
            raise ValueError(f"max_len must be >= 1 and vocab_size >= 2, got {self.max_len} and {self.vocab_size}")
        if self.rollouts < 0:
            raise ValueError(f"rollouts must be >= 0, got {self.rollouts}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")
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

    def __init__(
        self,
        config: EnvConfig,
        num_rows: int,
        rollout_policy: Generator,
        reward_model: RewardModel,
        device,
        random_stream: str = "auto",
        sync_free: bool | None = None,
    ):
        if random_stream not in RANDOM_STREAMS:
            raise ValueError(f"unknown random_stream {random_stream!r}; choose one of {', '.join(RANDOM_STREAMS)}")
        self.config = config
        self.device = torch.device(device)
        if random_stream == "auto":
            random_stream = "generator" if self.device.type == "cpu" else "counter"
        self.num_rows = num_rows
        self.random_stream = random_stream
        self.sync_free = self.device.type != "cpu" if sync_free is None else bool(sync_free)
        """no host waits inside step/reset: masks, fixed rollout lengths (the GPU default)"""
        self.defer_checks = False
        """record bad actions and non-finite scores on the device; ``check()`` raises them"""
        self.rollout_policy = rollout_policy
        self._pending = torch.zeros(4, dtype=torch.long, device=self.device)  # bad action?, its value, finished?, nan?
        self.labels = torch.zeros(num_rows, dtype=torch.long, device=self.device) if config.num_classes else None
        """each row's class in a conditional game (None otherwise)"""
        self.label_draws = torch.zeros(num_rows, dtype=torch.long, device=self.device)
        self.set_reward_model(reward_model)
        self.tokens = torch.full((num_rows, config.max_len), config.pad_id, dtype=torch.long, device=self.device)
        self.lengths = torch.zeros(num_rows, dtype=torch.long, device=self.device)
        self.finished = torch.ones(num_rows, dtype=torch.bool, device=self.device)  # needs a reset first
        self.future_value = torch.zeros(num_rows, device=self.device)  # V(s_t), for the shaped mode
        self.state = rollout_policy.initial_state(num_rows, self.device, labels=self.labels)
        # the counter stream: each row's seed and its number of rollout draws since seeding
        unseeded = int.from_bytes(os.urandom(8), "little")  # leaves every torch stream alone
        self.seeds = host_to_device(torch.arange(num_rows, dtype=torch.long) + as_int64(unseeded >> 1), self.device)
        self.draws = torch.zeros(num_rows, dtype=torch.long, device=self.device)
        self.generators = [torch.Generator() for _ in range(num_rows)] if random_stream == "generator" else []
        for generator in self.generators:
            generator.seed()

    # -- resets and models ------------------------------------------------------------------

    def seed(self, row: int, seed: int) -> None:
        """Restart row ``row``'s random stream from ``seed``."""
        if self.generators:
            self.generators[row].manual_seed(int(seed))
        self.seeds[row] = as_int64(seed)  # a fill on the device: no copy, no wait
        self.draws[row] = 0
        self.label_draws[row] = 0

    def seed_consecutive(self, first: int) -> None:
        """Seed row ``i`` with ``first + i``, every row at once (on the device: no copy)."""
        for row, generator in enumerate(self.generators):
            generator.manual_seed(int(first) + row)
        self.seeds.copy_(torch.arange(self.num_rows, dtype=torch.long, device=self.device) + as_int64(first))
        self.draws.zero_()
        self.label_draws.zero_()

    def _maybe_any(self, rows: torch.Tensor) -> bool:
        """``rows.any()`` where reading it is free (the CPU); True (maybe) when sync-free."""
        return True if self.sync_free else bool(rows.any())

    def reset(self, rows: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """Start new episodes in the rows where ``rows`` (bool ``(B,)``) is true; in a conditional
        game of the classes ``labels`` (``(B,)``; -1 or None: drawn from the row's stream)."""
        if not self._maybe_any(rows):
            return
        cfg = self.config
        self.tokens.masked_fill_(rows.unsqueeze(1), cfg.pad_id)
        self.lengths.masked_fill_(rows, 0)
        self.finished &= ~rows
        if self.labels is not None:
            self._new_labels(rows, labels)
        elif labels is not None:
            raise ValueError("labels were given but the env is not conditional (num_classes=0)")
        # the rollout policy's state after reading BOS (an empty prefix), computed for all rows
        policy = self.rollout_policy
        bos = torch.full((self.num_rows,), cfg.bos_id, dtype=torch.long, device=self.device)
        self.state = where_rows(
            rows, policy.cell(bos, policy.initial_state(self.num_rows, self.device, labels=self.labels)), self.state
        )
        if cfg.reward_mode == "shaped":
            # V(s_0): the expected return from the empty prefix
            self.future_value = torch.where(rows, self._rollout_values(rows, from_empty=True), self.future_value)
        else:
            self.future_value = self.future_value.masked_fill(rows, 0.0)

    def _new_labels(self, rows: torch.Tensor, asked: torch.Tensor | None) -> None:
        """Each resetting row's class: the one ``asked`` (>= 0), else its stream's next draw."""
        k = self.config.num_classes
        u = counter_uniforms(mix64(self.seeds ^ _LABEL_SALT), self.label_draws, 1, 1).view(-1)
        drawn = (u * k).long().clamp_max(k - 1)
        if asked is not None:
            asked = torch.as_tensor(asked, dtype=torch.long).to(self.device).reshape(-1)
            if asked.shape != (self.num_rows,):
                raise ValueError(f"labels must have shape ({self.num_rows},), got {tuple(asked.shape)}")
            if not self.defer_checks and bool((rows & (asked >= k)).any()):
                raise ValueError(f"label {int(asked[rows & (asked >= k)][0])} is outside the env's {k} classes")
            drawn = torch.where(asked >= 0, asked.clamp_max(k - 1), drawn)
        self.labels = torch.where(rows, drawn, self.labels)
        self.label_draws += rows.long()

    def row_labels(self, index: torch.Tensor | None = None) -> torch.Tensor | None:
        """The classes of the rows ``index`` (None: every row); None in a plain game."""
        if self.labels is None or index is None:
            return self.labels
        return self.labels[index]

    def set_reward_model(self, reward_model) -> None:
        """Score with ``reward_model`` (anything ``as_reward_model`` adapts) from the next step on."""
        reward_model = as_reward_model(reward_model, self.config.vocab_size)
        check_reward_model(reward_model, self.config.vocab_size, self.config.max_len)
        if getattr(reward_model, "conditional", False) and self.labels is None:
            raise ValueError(
                f"{reward_model_name(reward_model)} scores text against a class; make the env with num_classes >= 1"
            )
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
        if policy.max_positions is not None and policy.max_positions < self.config.max_len:
            raise ValueError(
                f"the policy reads at most {policy.max_positions} positions but episodes run to {self.config.max_len}"
            )
        if _shapes(policy) != _shapes(self.rollout_policy):  # another kind or size of policy
            if rate != 0.0:
                raise ValueError("the policy's sizes differ from the rollout policy's; sync with rate=0 to replace it")
            # a policy that needs more than its config to be built (LeakGAN's reads D) makes its own copy
            make = getattr(policy, "rollout_copy", None)
            self.rollout_policy = (make() if make is not None else type(policy)(policy.config)).to(self.device)
            self.state = self.rollout_policy.initial_state(self.num_rows, self.device, labels=self.labels)
        target = dict(self.rollout_policy.named_parameters())
        for name, value in policy.named_parameters():
            target[name].mul_(rate).add_(value.detach().to(self.device), alpha=1.0 - rate)
        self.refresh_rollout_states()

    def refresh_rollout_states(self) -> None:
        """Rebuild the rollout policy's cached prefix states, e.g. after loading its weights."""
        self._rebuild_state(~self.finished)

    def _rebuild_state(self, rows: torch.Tensor) -> None:
        if self.sync_free:  # every row, then keep the listed ones: no index list from the device
            _, state = self.rollout_policy.prefix_states(self.tokens, self.lengths, self.row_labels())
            self.state = where_rows(rows, state, self.state)
            return
        if not bool(rows.any()):
            return
        _, state = self.rollout_policy.prefix_states(self.tokens[rows], self.lengths[rows], self.row_labels(rows))
        assign_rows(self.state, rows, state)

    # -- scoring ----------------------------------------------------------------------------

    def score(self, tokens: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """The reward model's scores of ``(G, N, T)`` sequences of the rows ``index`` (None: all),
        checked (values on first use); a class-aware model is also given the rows' labels.

        With ``defer_checks``, after a model's first scores (checked in full, one wait) the
        finiteness check is recorded on the device and raised by ``check()``.
        """
        if getattr(self.reward_model, "conditional", False):
            scores = self.reward_model.score(tokens, self.row_labels(index))
        else:
            scores = self.reward_model.score(tokens)
        if not self.defer_checks or not self._values_checked:
            scores = checked_scores(self.reward_model, tokens, scores, values=not self._values_checked)
            self._values_checked = True
            return scores
        groups, n, width = tokens.shape
        expected = (groups, n, width) if self.reward_model.dense else (groups, n)
        if (
            not torch.is_tensor(scores)
            or tuple(scores.shape) != expected
            or scores.device.type == "meta"
            or not scores.dtype.is_floating_point
        ):
            return checked_scores(self.reward_model, tokens, scores, values=False)  # raises, naming the fault
        scores = scores.to(device=tokens.device, dtype=torch.float32)
        self._pending[3] |= (~torch.isfinite(scores)).any()
        return scores

    def check(self) -> None:
        """Raise what ``defer_checks`` recorded since the last check (one wait for the device)."""
        if not self.defer_checks:
            return
        bad_action, value, stepped_finished, not_finite = self._pending.tolist()
        self._pending.zero_()
        if bad_action:
            raise ValueError(f"action {value} is outside Discrete({self.config.vocab_size})")
        if stepped_finished:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        if not_finite:
            raise RewardScoresError(
                f"the reward model {reward_model_name(self.reward_model)} returned NaN or infinite scores (as float32)",
                "check its inputs and weights; a diverged discriminator wants a lower --d-lr",
            )

    # -- one step ---------------------------------------------------------------------------

    def validate_actions(self, actions: torch.Tensor, rows: torch.Tensor) -> None:
        bad = rows & ((actions < 0) | (actions >= self.config.vocab_size))
        if bool(bad.any()):
            value = int(actions[bad][0])
            raise ValueError(f"action {value} is outside Discrete({self.config.vocab_size})")
        if bool((rows & self.finished).any()):
            raise RuntimeError("step() called on a finished episode; call reset() first")

    def _record_bad_actions(self, actions: torch.Tensor, rows: torch.Tensor) -> None:
        """``validate_actions`` without a host wait: what it would raise is kept for ``check()``."""
        bad = rows & ((actions < 0) | (actions >= self.config.vocab_size))
        any_bad = bad.any()
        first = actions.gather(0, bad.long().argmax().view(1)).squeeze(0)  # the first bad row's action
        new = any_bad & (self._pending[0] == 0)
        self._pending[1] = torch.where(new, first, self._pending[1])
        self._pending[0] |= any_bad
        self._pending[2] |= (rows & self.finished).any()

    def _masked_scoring(self) -> bool:
        """Score and roll out every row under masks (no index lists read from the device)."""
        return self.sync_free and rows_scored_alone(self.reward_model)

    @torch.no_grad()
    def step(self, actions: torch.Tensor, rows: torch.Tensor) -> StepResult:
        """Append ``actions`` in ``rows``; rows outside ``rows`` are left untouched (reward 0)."""
        cfg = self.config
        actions = actions.to(self.device, torch.long)
        if self.defer_checks:
            self._record_bad_actions(actions, rows)
        else:
            self.validate_actions(actions, rows)
        # masked writes: a row outside `rows` (or a bad one, recorded above) is left as it was
        writing = rows & ~self.finished
        safe = actions.clamp(0, cfg.vocab_size - 1)
        at = self.lengths.clamp_max(cfg.max_len - 1).unsqueeze(1)
        self.tokens.scatter_(1, at, torch.where(writing, safe, self.tokens.gather(1, at).squeeze(1)).unsqueeze(1))
        self.lengths += writing.long()
        terminated = writing & (self.lengths >= cfg.max_len)
        if cfg.eos_id is not None:
            terminated |= writing & (safe == cfg.eos_id)
        self.finished |= terminated
        ongoing = writing & ~terminated
        # the rollout policy reads the new token once here, so rollouts start from a cached state
        if self._maybe_any(ongoing):
            self.state = where_rows(ongoing, self.rollout_policy.cell(safe, self.state), self.state)

        zeros = torch.zeros(self.num_rows, device=self.device)
        rewards, scores = zeros, zeros
        if self._masked_scoring():
            if self.reward_model.dense:  # each token's reward now; a finished sequence's return is their sum
                token_rewards = self.score(self.tokens.unsqueeze(0))[0]
                last = token_rewards.gather(1, (self.lengths - 1).clamp_min(0).unsqueeze(1)).squeeze(1)
                rewards = torch.where(writing, last, 0.0)
                mask = torch.arange(cfg.max_len, device=self.device) < self.lengths.unsqueeze(1)
                scores = torch.where(terminated, (token_rewards * mask).sum(1), 0.0)
            else:
                scores = torch.where(terminated, self.score(self.tokens.unsqueeze(0))[0], 0.0)
                rewards = scores
        elif self.reward_model.dense:
            index = writing.nonzero().squeeze(1)
            if len(index):
                token_rewards = self.score(self.tokens[index].unsqueeze(0), index)[0]
                rewards, scores = zeros.clone(), zeros.clone()
                rewards[index] = token_rewards.gather(1, (self.lengths[index] - 1).unsqueeze(1)).squeeze(1)
                mask = torch.arange(cfg.max_len, device=self.device) < self.lengths[index].unsqueeze(1)
                scores[index] = torch.where(terminated[index], (token_rewards * mask).sum(1), 0.0)
        else:  # a group-aware model scores exactly the sequences that ended at this step
            ended = terminated.nonzero().squeeze(1)
            if len(ended):
                scores = zeros.clone()
                scores[ended] = self.score(self.tokens[ended].unsqueeze(0), ended)[0]
                rewards = scores
        q = zeros
        if cfg.rollouts:
            q = torch.where(writing, rewards, 0.0)  # Q_T: the last reward
            if self._maybe_any(ongoing):
                q = torch.where(ongoing, self._rollout_values(ongoing), q)
        if cfg.reward_mode == "shaped":  # r_t + V(s_t) - V(s_{t-1}), with V(s_t) = Q_t - r_t and V(end) = 0
            direct = rewards
            rewards = torch.where(writing, q - self.future_value, rewards)
            self.future_value = torch.where(
                writing, torch.where(terminated, 0.0, q - direct), self.future_value
            )
        return StepResult(rewards.clone(), terminated, scores.clone(), q.clone())

    def _uniforms(self, index: torch.Tensor | None, lengths: torch.Tensor) -> torch.Tensor:
        """``(n, K, J)`` rollout uniforms of the listed rows (None: every row), each from its own stream."""
        cfg = self.config
        if self.random_stream == "counter":
            seeds, draws = (self.seeds, self.draws) if index is None else (self.seeds[index], self.draws[index])
            return counter_uniforms(seeds, draws, cfg.rollouts, cfg.max_len)
        remaining = (cfg.max_len - lengths).tolist()
        uniforms = torch.zeros(len(remaining), cfg.rollouts, max(remaining))
        for i, (row, steps) in enumerate(zip(index.tolist(), remaining)):
            # each row draws from its own stream, the same numbers alone or in a batch
            uniforms[i, :, :steps] = torch.rand((cfg.rollouts, steps), generator=self.generators[row])
        return host_to_device(uniforms, self.device)

    def _rollout_values(self, rows: torch.Tensor, from_empty: bool = False) -> torch.Tensor:
        """``(B,)``: the mean return, from the current token on, of K rollouts from each prefix in
        ``rows`` (bool ``(B,)``), 0 elsewhere. Each such row's stream advances by one draw.

        ``from_empty``: the prefixes are empty (shaped mode's V(s_0)); else each has a token.
        """
        cfg = self.config
        max_len = cfg.max_len
        if self._masked_scoring() and self.random_stream == "counter":
            index, steps = None, max_len if from_empty else max_len - 1  # every row, a fixed length
            tokens, lengths, state = self.tokens, self.lengths, self.state
        else:
            index, steps = rows.nonzero().squeeze(1), None
            if not len(index):
                return torch.zeros(self.num_rows, device=self.device)
            tokens, lengths = self.tokens[index], self.lengths[index]
            state = select_rows(self.state, index)
        uniforms = self._uniforms(index, lengths)
        self.draws += rows.long()
        completed = complete_prefixes(
            self.rollout_policy, tokens, lengths, state, uniforms, cfg.eos_id, steps=steps
        )  # (n, K, T): group k holds rollout k of every prefix
        groups = completed.transpose(0, 1)
        scores = self.score(groups, index)
        if not self.reward_model.dense:
            values = scores.mean(dim=0)
        else:
            # the return from the current token on: positions lengths - 1 .. end of each completion
            positions = torch.arange(max_len, device=self.device)
            ends = sequence_mask(groups.reshape(-1, max_len), cfg.eos_id).view_as(groups)
            counted = ends & (positions >= (lengths - 1).clamp_min(0).unsqueeze(1))
            values = (scores * counted).sum(dim=2).mean(dim=0)
        if index is None:
            return torch.where(rows, values, 0.0)
        return torch.zeros(self.num_rows, device=self.device).index_copy(0, index, values)


def _shapes(policy: Generator) -> tuple[type, dict[str, torch.Size]]:
    return type(policy), {name: value.shape for name, value in policy.named_parameters()}


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
