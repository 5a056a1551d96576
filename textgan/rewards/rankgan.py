"""RankGAN's reward model (Lin et al. 2017): how a sentence ranks among real ones.

A ranker maps each sentence ``s`` to features ``y_s`` (SeqGAN's CNN + highway discriminator
without its output layer). Its relevance to a reference ``u`` is ``alpha(s|u) = cos(y_s, y_u)``;
against a comparison set ``C`` it ranks with the softmax (paper Eqs. 2-4)

    P(s|u, C) = exp(gamma alpha(s|u)) / sum_{s' in C + {s}} exp(gamma alpha(s'|u))
    R(s|U, C) = mean_{u in U} P(s|u, C)

``U`` is drawn from the real sentences. A generated sentence is ranked against real ones
(``C+``), and its reward is ``log R(s|U, C+)``: the env's Monte Carlo mean of it is the paper's
action value. The ranker maximises ``E_real log R(s|U, C-) - E_fake log R(s|U, C+)``, with
``C-`` the generated rows and ``C+`` the real rows of its minibatch.

Every score is a function of its own row, the ranker's weights and the sets ``U`` and ``C+``
alone: the sets are drawn by :meth:`RankGANReward.resample` (at construction and after every
``train_step``), never while scoring, so a row scores the same alone or in a batch.

Examples:
    >>> from textgan.models import Discriminator, DiscriminatorConfig
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> d = Discriminator(DiscriminatorConfig(vocab_size=8, max_len=4, filter_sizes=(1, 2), num_filters=(4, 4)))
    >>> real = torch.randint(8, (20, 4))
    >>> reward = RankGANReward(d, real, reference_size=3, comparison_size=5, gamma=4.0)
    >>> scores = reward.score(torch.randint(8, (2, 3, 4)))
    >>> scores.shape, bool((scores <= 0).all()), bool((scores >= reward.reward_range[0]).all())
    (torch.Size([2, 3]), True, True)
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from runcore.optim import adam
from textgan.models.discriminator import Discriminator, trunk
from textgan.rewards.base import pad_to


def discriminator_features(d: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """``Discriminator.forward`` up to its highway features (before dropout and the output layer).

    Works on anything with the discriminator's ``embedding``, ``convs``, ``highway_transform`` and
    ``highway_gate`` (a :class:`Discriminator` or a :class:`Ranker`), so in eval mode
    ``d.output(discriminator_features(d, x)).squeeze(-1) == d(x)``.

    Args:
        d: the network.
        tokens: ``(N, T)`` token ids.

    Returns:
        ``(N, F)`` features, all >= 0 (a highway over ReLU features, with a ReLU transform).

    Examples:
        >>> from textgan.models import DiscriminatorConfig
        >>> d = Discriminator(DiscriminatorConfig(vocab_size=8, max_len=4, filter_sizes=(2,), num_filters=(3,)))
        >>> discriminator_features(d, torch.zeros(5, 4, dtype=torch.long)).shape
        torch.Size([5, 3])
    """
    return trunk(d.embedding(tokens), d)


class Ranker(nn.Module):
    """RankGAN's ranker network: a discriminator's embedding, convolutions, highway and dropout,
    without its output layer (the modules are shared with ``discriminator``, not copied).

    Args:
        discriminator: SeqGAN's CNN discriminator at the run's sizes.

    Examples:
        >>> from textgan.models import DiscriminatorConfig
        >>> d = Discriminator(DiscriminatorConfig(vocab_size=8, max_len=4, filter_sizes=(2,), num_filters=(3,)))
        >>> Ranker(d).features(torch.zeros(5, 4, dtype=torch.long)).shape
        torch.Size([5, 3])
    """

    def __init__(self, discriminator: Discriminator):
        super().__init__()
        self.config = discriminator.config
        self.embedding, self.convs = discriminator.embedding, discriminator.convs
        self.highway_transform, self.highway_gate = discriminator.highway_transform, discriminator.highway_gate
        self.dropout = discriminator.dropout

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Features ``(N, F)``, with dropout in training mode (on inputs and references alike)."""
        return self.dropout(discriminator_features(self, tokens))

    @torch.no_grad()
    def features(self, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Features in eval mode (no dropout, as the authors' code when computing rewards), in chunks."""
        was_training = self.training
        self.eval()
        try:
            if not len(tokens):
                return tokens.new_zeros(0, self.highway_gate.out_features, dtype=torch.float)
            return torch.cat([discriminator_features(self, chunk) for chunk in tokens.split(batch_size)])
        finally:
            self.train(was_training)


def log_denominators(comparison: torch.Tensor, references: torch.Tensor, gamma: float) -> torch.Tensor:
    """``log sum_{c in C} exp(gamma cos(y_c, y_u))`` per reference: ``(|C|, F), (|U|, F) -> (|U|,)``
    (``-inf`` for an empty ``C``)."""
    cosines = F.normalize(comparison, dim=1) @ F.normalize(references, dim=1).T  # (|C|, |U|)
    return torch.logsumexp(gamma * cosines, dim=0)


def log_rank_scores(
    features: torch.Tensor, references: torch.Tensor, log_denominator: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``log R(s|U, C)`` per row: ``(N, F)`` features, ``(|U|, F)`` references and the ``(|U|,)``
    log-denominators of ``C`` (:func:`log_denominators`) give ``(N,)``.

    ``s`` joins its own softmax (``C' = C + {s}``), so each row needs only itself and the sets.
    """
    logits = gamma * (F.normalize(features, dim=1) @ F.normalize(references, dim=1).T)  # (N, |U|)
    log_p = logits - torch.logaddexp(logits, log_denominator)  # log P(s|u, C) per u
    return torch.logsumexp(log_p, dim=1) - math.log(references.shape[0])


class ComparisonSets(nn.Module):
    """Which real rows form ``U`` (with replacement) and ``C+`` (without), and the seeded CPU
    stream they are drawn from; a module so that checkpoints restore both.

    Args:
        num_real: rows of real data to draw from.
        reference_size: ``|U|``.
        comparison_size: ``|C|`` (at most ``num_real``).
        seed: seeds the stream.
    """

    def __init__(self, num_real: int, reference_size: int, comparison_size: int, seed: int):
        super().__init__()
        self.num_real = num_real
        self.generator = torch.Generator().manual_seed(seed)
        self.register_buffer("reference_index", torch.zeros(reference_size, dtype=torch.long))
        self.register_buffer("comparison_index", torch.zeros(comparison_size, dtype=torch.long))

    def draw(self) -> None:
        """Draw new sets from the stream (U first, then C+)."""
        self.reference_index.copy_(torch.randint(self.num_real, (len(self.reference_index),), generator=self.generator))
        self.comparison_index.copy_(torch.randperm(self.num_real, generator=self.generator)[: len(self.comparison_index)])

    def get_extra_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state.cpu())


class RankGANReward:
    """Scores a finished sequence by ``log R(s|U, C+)``, its rank among real sentences; trains the
    ranker with the paper's objective.

    Args:
        discriminator: SeqGAN's CNN discriminator; its trunk (no output layer) is the ranker,
            trained in place.
        real_tokens: ``(N, T)`` real training sequences, on the discriminator's device.
        reference_size: ``|U|`` (the authors' code: 16).
        comparison_size: ``|C|``, real sentences a scored one is ranked against (capped at ``N``).
        gamma: the softmax temperature on cosines.
        seed: seeds the draws of ``U`` and ``C+``.
        optimizer: the ranker's optimiser; default Adam at ``learning_rate``.
        learning_rate: the default optimiser's step size (the authors' code: 1e-4).
        log: score ``log R`` (the paper's reward); False scores ``R``.
    """

    dense = False

    def __init__(
        self,
        discriminator: Discriminator,
        real_tokens: torch.Tensor,
        reference_size: int = 16,
        comparison_size: int = 32,
        gamma: float = 16.0,
        seed: int = 0,
        optimizer: torch.optim.Optimizer | None = None,
        learning_rate: float = 1e-4,
        log: bool = True,
    ):
        if real_tokens.ndim != 2 or not len(real_tokens):
            raise ValueError(f"real_tokens must be a non-empty (N, T) tensor, got {tuple(real_tokens.shape)}")
        if reference_size < 1 or comparison_size < 0:
            raise ValueError(
                f"reference_size must be >= 1 and comparison_size >= 0, got {reference_size} and {comparison_size}"
            )
        if not gamma > 0 or math.isinf(gamma):
            raise ValueError(f"gamma must be positive and finite, got {gamma}")
        self.ranker = Ranker(discriminator)
        self.vocab_size, self.max_len = discriminator.config.vocab_size, discriminator.config.max_len
        if real_tokens.shape[1] > self.max_len:
            raise ValueError(
                f"real_tokens are {real_tokens.shape[1]} tokens long but the ranker scores at most {self.max_len}"
            )
        self.real_tokens = pad_to(real_tokens, self.max_len)
        self.gamma, self.log = float(gamma), log
        self.optimizer = optimizer or adam(self.ranker.parameters(), lr=learning_rate)
        self.sets = ComparisonSets(len(real_tokens), reference_size, min(comparison_size, len(real_tokens)), seed)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None
        for module in (self.ranker, self.sets):  # loaded weights or sets make the cached features stale
            module.register_load_state_dict_post_hook(lambda _module, _keys: self._invalidate())
        # log R >= log(1 / (1 + |C| e^{2 gamma})) when cosines lie in [-1, 1]; the ranker's features
        # are >= 0, so its cosines lie in [0, 1] and the attainable bound is 1 / (1 + |C| e^gamma)
        size = len(self.sets.comparison_index)
        low = -(2 * self.gamma + math.log(math.exp(-2 * self.gamma) + size)) if size else 0.0
        self.reward_range = (low, 0.0) if log else (math.exp(low), 1.0)
        self.resample()

    @property
    def reference_tokens(self) -> torch.Tensor:
        """``(|U|, T)`` the current reference set."""
        return self.real_tokens[self.sets.reference_index.to(self.real_tokens.device)]

    @property
    def comparison_tokens(self) -> torch.Tensor:
        """``(|C|, T)`` the current comparison set ``C+``."""
        return self.real_tokens[self.sets.comparison_index.to(self.real_tokens.device)]

    def resample(self) -> None:
        """Draw new ``U`` and ``C+`` (scores change only here and when the ranker learns)."""
        self.sets.draw()
        self._invalidate()

    def _invalidate(self) -> None:
        self._cache = None

    def _set_features(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The references' features and ``C+``'s log-denominators, computed once per weights and sets."""
        if self._cache is None:
            references = self.ranker.features(self.reference_tokens)
            comparison = self.ranker.features(self.comparison_tokens)
            self._cache = references, log_denominators(comparison, references, self.gamma)
        return self._cache

    @torch.no_grad()
    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(G, N, T)`` sequences -> ``(G, N)`` ``log R(s|U, C+)`` (or ``R``), row by row."""
        groups, n, width = tokens.shape
        references, log_denominator = self._set_features()
        features = self.ranker.features(pad_to(tokens.reshape(groups * n, width), self.max_len))
        log_r = log_rank_scores(features, references, log_denominator, self.gamma)
        return (log_r if self.log else log_r.exp()).view(groups, n)

    def train_step(self, tokens: torch.Tensor, is_real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One Adam step on ``mean_fake log R(s|U, C+) - mean_real log R(s|U, C-)``, with ``C-`` the
        generated and ``C+`` the real rows of the minibatch; then new sets are drawn.

        A minibatch of one kind has an empty comparison set: every ``R`` is 1, the loss 0 and
        its gradient 0, so no step is taken.
        """
        tokens, is_real = pad_to(tokens, self.max_len), is_real.to(tokens.device, torch.bool)
        loss = torch.zeros((), device=tokens.device)
        if bool(is_real.any()) and not bool(is_real.all()):
            self.ranker.train()
            # the inputs and the references go through the same weights (the authors' reuse=True)
            features = self.ranker(torch.cat([tokens, self.reference_tokens]))
            inputs, references = features[: len(tokens)], features[len(tokens) :]
            real, fake = inputs[is_real], inputs[~is_real]
            log_r_real = log_rank_scores(real, references, log_denominators(fake, references, self.gamma), self.gamma)
            log_r_fake = log_rank_scores(fake, references, log_denominators(real, references, self.gamma), self.gamma)
            loss = log_r_fake.mean() - log_r_real.mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.resample()  # a fresh U per minibatch, as the authors' code; also drops the stale cache
        return {"d_loss": loss.detach()}

    @torch.no_grad()
    def evaluate(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        """Mean score of the real and generated rows (against the current ``U`` and ``C+``), and
        ``d_accuracy``: the share of (real, generated) pairs where the real row scores higher
        (ties count one half; 0.5 is chance)."""
        real_score, fake_score = self.score(real.unsqueeze(0))[0], self.score(fake.unsqueeze(0))[0]
        return {
            "d_real_score": float(real_score.mean()),
            "d_fake_score": float(fake_score.mean()),
            "d_accuracy": pairwise_accuracy(real_score, fake_score),
        }

    def checkpoint_items(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {"ranker": self.ranker, "ranker_optimizer": self.optimizer, "ranker_sets": self.sets}


def pairwise_accuracy(higher: torch.Tensor, lower: torch.Tensor) -> float:
    """Share of pairs ``(i, j)`` with ``higher[i] > lower[j]``, ties counting 1/2 (the AUC), in
    ``O(n log n)``.

    Examples:
        >>> pairwise_accuracy(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0, 2.0]))
        0.75
    """
    if not len(higher) or not len(lower):
        return float("nan")
    ordered = lower.sort().values.contiguous()
    below = torch.searchsorted(ordered, higher.contiguous(), right=False)
    at_most = torch.searchsorted(ordered, higher.contiguous(), right=True)
    return float((below + at_most).double().sum() / (2 * len(higher) * len(lower)))
