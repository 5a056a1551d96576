"""What may score text: the reward-model protocol, and the one place its outputs are checked.

A reward model turns generated token sequences into rewards. The env calls ``score`` with
``(G, N, T)`` token ids: ``G`` groups of ``N`` sequences that are scored *together*, so a
batch-aware model (MaliGAN) may normalise within each group. What a group is:

- the ``N`` sequences that end at the same env step (the whole batch when every episode runs to
  ``max_len``), scored as one group (``G = 1``);
- in Monte Carlo rollouts, group ``k`` holds rollout ``k`` of every prefix being valued, so each
  group is one batch of sequences sampled from the rollout policy (``G = K``).

``score`` returns ``(G, N)`` for a sequence-level model (one score per finished sequence) or
``(G, N, T)`` for a token-level one (``dense = True``: the reward of each token; it must be
causal, the reward of token ``t`` depending on tokens ``1..t`` only, because the env pays it as
soon as the token is written; positions after a sequence's end are ignored).

Anything that scores text is adapted by :func:`as_reward_model`:

- an object with ``score`` (this protocol) is used as it is;
- an object with ``prob_real(tokens (N, T)) -> (N,)`` (the SeqGAN discriminator, the copy task's
  target) scores ``prob_real`` in ``[0, 1]``;
- a plain callable ``f(tokens (N, T)) -> (N,)`` (or ``(N, T)`` with ``dense=True``) is a fixed
  reward; give its range if it is not ``[0, 1]``: ``CallableReward(f, reward_range=(-1, 1))``.

Examples:
    >>> model = as_reward_model(lambda tokens: (tokens == 3).float().sum(dim=1) / 4, vocab_size=8)
    >>> model.score(torch.tensor([[[3, 3, 0], [1, 3, 0]]])).tolist()
    [[0.5, 0.25]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch

from runcore.errors import UserError


@runtime_checkable
class RewardModel(Protocol):
    """Scores ``(G, N, T)`` groups of sequences; see the module docstring."""

    vocab_size: int | None
    """the vocabulary it scores (checked against the env's); None: any"""
    max_len: int | None
    """the longest sequences it can score; shorter ones are padded to it by the env's caller"""
    dense: bool
    """True: one reward per token ``(G, N, T)``; False: one per sequence ``(G, N)``"""
    reward_range: tuple[float, float]
    """the values ``score`` may return (checked on its first call)"""

    def score(self, tokens: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class TrainableRewardModel(RewardModel, Protocol):
    """A reward model with its own training step (the discriminator's side of the game)."""

    def train_step(self, tokens: torch.Tensor, is_real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimiser step on a minibatch ``(n, T)`` of real (``is_real``) and generated rows.

        Returns 0-d tensors (e.g. ``{"d_loss": ...}``), averaged over the epoch by the caller.
        """
        ...

    def evaluate(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        """Numbers worth logging after training on ``real`` and ``fake`` (e.g. accuracy)."""
        ...

    def checkpoint_items(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        """Everything to save and restore (networks and optimiser)."""
        ...


class CallableReward:
    """A fixed reward from a plain function of ``(N, T)`` token ids.

    Args:
        fn: ``(N, T) -> (N,)`` scores, or ``(N, T) -> (N, T)`` token rewards with ``dense=True``.
        vocab_size: the vocabulary it expects (None: any).
        max_len: the width it expects (None: any).
        reward_range: the values it returns.
        dense: per-token rewards (must be causal).
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        vocab_size: int | None = None,
        max_len: int | None = None,
        reward_range: tuple[float, float] = (0.0, 1.0),
        dense: bool = False,
    ):
        self.fn, self.vocab_size, self.max_len, self.dense = fn, vocab_size, max_len, dense
        self.reward_range = (float(reward_range[0]), float(reward_range[1]))

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        groups, n, width = tokens.shape
        with torch.no_grad():
            out = torch.as_tensor(self.fn(tokens.reshape(groups * n, width)))
        expected = (groups * n, width) if self.dense else (groups * n,)
        if tuple(out.shape) != expected:
            kind = "(N, T) token rewards" if self.dense else "(N,) one score per sequence"
            raise ValueError(
                f"the reward function returned shape {tuple(out.shape)} for {groups * n} sequences of "
                f"{width} tokens; it must return {kind}"
            )
        return out.reshape(groups, n, *out.shape[1:])


class ProbRealReward:
    """``prob_real(tokens)`` of a discriminator-like object as a sequence score in ``[0, 1]``.

    Args:
        model: anything with ``prob_real(tokens (N, T)) -> (N,)`` (and ``config.max_len``).
        log: score ``log P(real)`` instead (range ``[log 1e-8, 0]``).
    """

    dense = False

    def __init__(self, model: Any, log: bool = False):
        self.model, self.log = model, log
        self.vocab_size = getattr(model, "vocab_size", None)
        self.max_len = getattr(getattr(model, "config", None), "max_len", None)
        self.reward_range = (math.log(1e-8), 0.0) if log else (0.0, 1.0)

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        groups, n, width = tokens.shape
        probs = self.model.prob_real(pad_to(tokens.reshape(groups * n, width), self.max_len)).view(groups, n)
        if probs.dtype.is_floating_point:
            probs = probs.float()  # a half-precision model: 1e-8 is 0 in float16, and log(0) = -inf
        return probs.clamp_min(1e-8).log() if self.log else probs

    @property
    def feature_dim(self) -> int:
        """F, the size of :meth:`features` (a model with ``features``, e.g. SeqGAN's D)."""
        return self.model.feature_dim

    @torch.no_grad()
    def features(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The model's features ``(N, F)`` of the prefixes ``tokens[b, :lengths[b]]``, in eval mode
        (no dropout): what LeakGAN's discriminator leaks to its generator."""
        was_training = self.model.training
        self.model.eval()
        try:
            return self.model.features(pad_to(tokens, self.max_len), lengths)
        finally:
            self.model.train(was_training)

    @torch.no_grad()
    def prefix_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(N, T + 1, F)``: :meth:`features` of every prefix ``tokens[:, :t]``, t = 0..T, in one
        call. A model with its own ``prefix_features`` (SeqGAN's D: no convolution per prefix)
        computes them; any other model's ``features`` reads each prefix as a row."""
        own = getattr(self.model, "prefix_features", None)
        if own is None:
            return PerPrefix(self.features).prefix_features(tokens)
        was_training = self.model.training
        self.model.eval()
        try:
            return own(pad_to(tokens, self.max_len), tokens.shape[1])
        finally:
            self.model.train(was_training)

    def _reader(self) -> tuple[Callable, Callable]:
        """(state, read) of a growing prefix: the model's own ``feature_state`` and ``read_token``
        (SeqGAN's D: running sums and maxes of its windows), else :class:`PerPrefix`'s (its tokens)."""
        if hasattr(self.model, "read_token"):
            return self.model.feature_state, self.model.read_token
        per_prefix = PerPrefix(self.features, self.max_len)
        return per_prefix.feature_state, per_prefix.read_feature

    def feature_state(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        """The state of :meth:`read_feature` for ``n`` empty prefixes."""
        return self._reader()[0](n, device)

    @torch.no_grad()
    def read_feature(
        self, state: torch.Tensor, token: torch.Tensor, length: torch.Tensor, advance: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows where ``advance`` read ``token`` as their prefix's ``length``-th token: the
        :meth:`features` ``(N, F)`` of every row's prefix of ``length`` tokens, and the new state."""
        return self._reader()[1](state, token, length, advance)


def as_reward_model(model: Any, vocab_size: int | None = None) -> RewardModel:
    """Adapt whatever scores text to the protocol (see the module docstring)."""
    if isinstance(model, RewardModel):
        return model
    if hasattr(model, "prob_real"):
        return ProbRealReward(model)
    if callable(model):
        return CallableReward(model, vocab_size=vocab_size)
    raise TypeError(
        f"cannot score text with a {type(model).__name__}: give an object with score(tokens) "
        "(textgan.rewards.RewardModel), one with prob_real(tokens), or a function of (N, T) token ids"
    )


class PerPrefix:
    """The leak of any ``features(tokens, lengths)``, one prefix at a time: every prefix as a row
    (:meth:`prefix_features`), or a growing prefix kept as its tokens (:meth:`read_feature`)."""

    def __init__(self, features: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], max_len: int | None = None):
        self.features, self.max_len = features, max_len

    def prefix_features(self, tokens: torch.Tensor) -> torch.Tensor:
        rows, lengths = prefix_rows(tokens)
        return self.features(rows, lengths).view(tokens.shape[0], tokens.shape[1] + 1, -1)

    def feature_state(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        return torch.zeros(n, self.max_len, dtype=torch.long, device=device)

    def read_feature(
        self, state: torch.Tensor, token: torch.Tensor, length: torch.Tensor, advance: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        at = (length - 1).clamp(0, state.shape[1] - 1).unsqueeze(1)
        state = state.scatter(1, at, torch.where(advance, token, state.gather(1, at).squeeze(1)).unsqueeze(1))
        return self.features(state, length), state


def prefix_rows(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every prefix of each row of ``(N, T)`` as rows ``(N (T + 1), T)`` and their lengths 0..T."""
    n, steps = tokens.shape
    rows = tokens.unsqueeze(1).expand(n, steps + 1, steps).reshape(n * (steps + 1), steps)
    return rows, torch.arange(steps + 1, device=tokens.device).repeat(n)


def pad_to(tokens: torch.Tensor, width: int | None, pad_id: int = 0) -> torch.Tensor:
    """Right-pad ``(N, T)`` to ``width`` columns (a model built for longer sequences sees PAD)."""
    if width is None or tokens.shape[-1] >= width:
        return tokens
    return torch.nn.functional.pad(tokens, (0, width - tokens.shape[-1]), value=pad_id)


def check_reward_model(model: RewardModel, vocab_size: int, max_len: int) -> None:
    """Raise ValueError when ``model`` cannot score the env's sequences."""
    for name in ("dense", "reward_range", "score"):
        if not hasattr(model, name):
            raise TypeError(f"the reward model has no {name!r}; see textgan.rewards.RewardModel")
    if model.vocab_size is not None and model.vocab_size != vocab_size:
        raise ValueError(f"the reward model's vocabulary has {model.vocab_size} tokens but the env's has {vocab_size}")
    if model.max_len is not None and model.max_len < max_len:
        raise ValueError(
            f"the reward model scores sequences of at most {model.max_len} tokens but the env's are {max_len} long; "
            f"build it with max_len >= {max_len}"
        )
    low, high = model.reward_range
    if not (low <= high) or math.isnan(low) or math.isnan(high):
        raise ValueError(f"the reward model's reward_range {model.reward_range} is not an interval")


def reward_model_name(model: Any) -> str:
    """How messages name a reward model: its class, and the function a CallableReward wraps."""
    inner = next((getattr(model, name) for name in ("fn", "model") if getattr(model, name, None) is not None), None)
    if inner is None:
        return type(model).__name__
    inner_name = getattr(inner, "__qualname__", None) or type(inner).__name__
    return f"{type(model).__name__}({inner_name})"


class RewardScoresError(UserError, ValueError):
    """A reward model returned scores the env cannot pay: one line at the CLI, a ValueError to
    library callers."""


def checked_scores(model: RewardModel, tokens: torch.Tensor, scores: torch.Tensor, values: bool) -> torch.Tensor:
    """``scores`` of ``tokens (G, N, T)`` as float32 on the tokens' device, after checking them.

    Always: the shape, a floating dtype (float64, float16 and bfloat16 are cast), a real device
    (not ``meta``), and that every score is finite in float32 (one wait for the device: a NaN
    reward would otherwise train the generator on garbage without a word). When ``values``
    (the first scores of a model): also that they lie in the model's ``reward_range``.

    Raises:
        RewardScoresError: naming the reward model and what is wrong with its scores.
    """
    name = reward_model_name(model)
    groups, n, width = tokens.shape
    expected = (groups, n, width) if model.dense else (groups, n)
    if not torch.is_tensor(scores) or tuple(scores.shape) != expected:
        shape = tuple(scores.shape) if torch.is_tensor(scores) else type(scores).__name__
        kind = "one reward per token" if model.dense else "one score per sequence"
        raise RewardScoresError(
            f"the reward model {name} returned {shape} for {groups}x{n} sequences; expected {expected}", f"return {kind}"
        )
    if scores.device.type == "meta":
        raise RewardScoresError(
            f"the reward model {name} returned scores on the meta device, which hold no numbers",
            "load its weights onto the cpu or a GPU (model.to_empty(device=...), then load_state_dict) before scoring",
        )
    if not scores.dtype.is_floating_point:
        raise RewardScoresError(f"the reward model {name} returned {scores.dtype} scores", "return floating-point numbers")
    scores = scores.to(device=tokens.device, dtype=torch.float32)
    if not bool(torch.isfinite(scores).all()):
        raise RewardScoresError(
            f"the reward model {name} returned NaN or infinite scores (as float32)",
            "check its inputs and weights; a diverged discriminator wants a lower --d-lr",
        )
    if values:
        low, high = model.reward_range
        tolerance = 1e-5 * max([1.0] + [abs(v) for v in (low, high) if math.isfinite(v)])
        if bool((scores < low - tolerance).any()) or bool((scores > high + tolerance).any()):
            raise RewardScoresError(
                f"the reward model {name} returned scores in [{float(scores.min()):.4g}, {float(scores.max()):.4g}], "
                f"outside its reward_range {model.reward_range}",
                "fix the model or declare its range",
            )
    return scores
