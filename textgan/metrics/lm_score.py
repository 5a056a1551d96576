"""LM score and reverse-LM score (Semeniuta et al. 2018, "On accurate evaluation of GANs for
language generation"), with the language model that also embeds sentences for the Fréchet distance.

- **LM score**: a language model trained on the real training text scores the samples: their
  mean negative log-likelihood per token (lower: the samples read more like real text; quality).
- **Reverse-LM score**: a language model trained on the samples scores the real test text (lower:
  the samples cover real text; diversity). A model that writes one good sentence has a fine LM
  score and a terrible reverse-LM score.

Both models are a :class:`ScoringLM`: the generator's LSTM (token embedding, one LSTM layer)
with an adaptive softmax (Grave et al. 2017) in place of the generator's full output layer:
the exact, normalised probability of each token, at a fraction of the cost for large vocabularies
(frequent ids in a small head, rarer ones in clusters of smaller dimension), which is what keeps
scoring 10,000 samples within seconds on two CPU cores. Training is MLE (Adam, clipped
gradients) for a fixed number of steps from a fixed seed (:class:`LMSettings`): the same inputs
and settings give the same model, so it is trained once and cached, keyed by a hash of both
(:func:`cached_lm`).

Scores are nats per token of the run's tokenizer, EOS included (as NLL-test counts them).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from runcore import adam, load_modules, save_modules
from runcore.errors import CheckpointError
from runcore.fingerprint import content_hash, weights_hash
from textgan.models.generator import sequence_mask

CACHE_FORMAT = 1


@dataclass(frozen=True)
class LMSettings:
    """The scoring LM's sizes and its fixed training budget."""

    embed_dim: int = 64
    hidden_dim: int = 64
    epochs: float = 5.0
    """passes over the training rows (the budget), in seeded random orders ..."""
    max_steps: int = 2000
    """... but at most this many Adam steps of ``batch_size`` rows (so a large corpus stays within minutes)"""
    batch_size: int = 64
    lr: float = 0.005
    grad_clip: float = 5.0
    seed: int = 0
    cutoffs: tuple[int, ...] = (128, 512, 2048)
    """adaptive-softmax cluster boundaries over the frequency-ranked ids (those below the vocabulary size are used)"""
    div_value: float = 4.0
    """each cluster's projection is this much narrower than the one before"""


class ScoringLM(nn.Module):
    """An LSTM language model with an adaptive softmax, over a tokenizer's ids.

    Args:
        vocab_size: ids in all.
        settings: sizes and cutoffs.
        frequency_rank: ``(vocab_size,)`` long: id -> its rank by training frequency (0 = most
            frequent), so that frequent ids land in the cheap head.
        bos_id, eos_id: the input at the first step; where a sequence ends (None: never).
    """

    def __init__(self, vocab_size: int, settings: LMSettings, frequency_rank: torch.Tensor, bos_id: int, eos_id: int | None):
        super().__init__()
        self.settings, self.bos_id, self.eos_id = settings, bos_id, eos_id
        self.register_buffer("frequency_rank", frequency_rank.long().clone())
        self.embedding = nn.Embedding(vocab_size, settings.embed_dim)
        self.lstm = nn.LSTM(settings.embed_dim, settings.hidden_dim, batch_first=True)
        cutoffs = [c for c in settings.cutoffs if 0 < c < vocab_size - 1]
        if cutoffs:
            self.head = nn.AdaptiveLogSoftmaxWithLoss(settings.hidden_dim, vocab_size, cutoffs, div_value=settings.div_value)
        else:  # a small vocabulary: one full softmax is as cheap
            self.head = nn.Linear(settings.hidden_dim, vocab_size)

    def states(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LSTM outputs ``(N, T, H)`` whose position t has read BOS and ``tokens[:, :t]``, and the
        mask of counted positions (up to and including the first EOS)."""
        inputs = torch.cat([torch.full_like(tokens[:, :1], self.bos_id), tokens[:, :-1]], dim=1)
        hidden, _ = self.lstm(self.embedding(inputs))
        return hidden, sequence_mask(tokens, self.eos_id)

    def target_log_probs(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log p(target) for rows of ``hidden (M, H)`` and ``targets (M,)``."""
        if isinstance(self.head, nn.Linear):
            return torch.log_softmax(self.head(hidden), -1).gather(1, targets[:, None])[:, 0]
        return self.head(hidden, self.frequency_rank[targets]).output

    def loss(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mean NLL per counted token (the training objective)."""
        hidden, mask = self.states(tokens)
        return -self.target_log_probs(hidden[mask], tokens[mask]).mean()

    @torch.no_grad()
    def score(self, tokens: torch.Tensor, embed: bool = True, batch_size: int = 1024) -> tuple[float, torch.Tensor | None]:
        """The mean NLL per counted token of ``tokens (N, T)`` and, with ``embed``, each row's
        sentence embedding ``(N, H)`` float64 (:meth:`embed`), from one pass over the rows."""
        return self._pass(tokens, True, embed, batch_size)

    @torch.no_grad()
    def embed(self, tokens: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Sentence embeddings ``(N, H)`` float64: the mean of each row's LSTM outputs over its
        counted positions (BOS, then every token read up to its EOS); no softmax computed."""
        return self._pass(tokens, False, True, batch_size)[1]

    def _pass(self, tokens: torch.Tensor, nll: bool, embed: bool, batch_size: int) -> tuple[float, torch.Tensor | None]:
        if tokens.ndim != 2 or len(tokens) == 0:
            raise ValueError(f"tokens must be a non-empty (N, T) tensor, got shape {tuple(tokens.shape)}")
        was_training = self.training
        self.eval()
        total, count, embeddings = 0.0, 0, []
        for batch in tokens.split(batch_size):
            hidden, mask = self.states(batch)
            if nll:
                total -= float(self.target_log_probs(hidden[mask], batch[mask]).double().sum())
                count += int(mask.sum())
            if embed:
                weights = mask.double()
                embeddings.append((hidden.double() * weights[..., None]).sum(1) / weights.sum(1, keepdim=True).clamp_min(1))
        self.train(was_training)
        return (total / max(count, 1) if nll else math.nan), (torch.cat(embeddings) if embed else None)


def frequency_rank(tokens: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """id -> rank by count in ``tokens`` (ties by id), a permutation of ``range(vocab_size)``."""
    counts = torch.bincount(tokens.reshape(-1), minlength=vocab_size)[:vocab_size].double()
    order = torch.argsort(-counts, stable=True)
    rank = torch.empty(vocab_size, dtype=torch.long)
    rank[order] = torch.arange(vocab_size)
    return rank


def train_lm(tokens: torch.Tensor, vocab_size: int, bos_id: int, eos_id: int | None, settings: LMSettings = LMSettings()) -> ScoringLM:
    """Train a :class:`ScoringLM` on ``tokens (N, T)`` by MLE for :func:`training_steps` steps.

    Every random draw (initial weights, batch order) comes from ``settings.seed``: the same
    inputs give the same model.
    """
    if tokens.ndim != 2 or len(tokens) == 0:
        raise ValueError(f"tokens must be a non-empty (N, T) tensor, got shape {tuple(tokens.shape)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        lm = ScoringLM(vocab_size, settings, frequency_rank(tokens, vocab_size), bos_id, eos_id)
    rng = torch.Generator().manual_seed(settings.seed)
    optimizer = adam(lm.parameters(), lr=settings.lr)
    lm.train()
    order, at = torch.randperm(len(tokens), generator=rng), 0
    for _ in range(training_steps(len(tokens), settings)):
        if at + settings.batch_size > len(order) and at > 0:  # a new seeded epoch
            order, at = torch.randperm(len(tokens), generator=rng), 0
        batch = tokens[order[at : at + settings.batch_size]]
        at += settings.batch_size
        loss = lm.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), settings.grad_clip)
        optimizer.step()
    return lm.eval()


def training_steps(rows: int, settings: LMSettings) -> int:
    """``min(max_steps, ceil(epochs * rows / batch_size))``: the fixed budget for ``rows`` rows."""
    return max(1, min(settings.max_steps, math.ceil(settings.epochs * rows / settings.batch_size)))


@dataclass
class TrainedLM:
    """A scoring LM and where it came from."""

    lm: ScoringLM
    key: str
    """hash of the training tokens and settings (the cache file's name)"""
    hash: str
    """hash of its weights (reported beside the scores it gives)"""
    steps: int
    """its training steps (:func:`training_steps`)"""
    seconds: float
    """its training time, measured when it was trained (also when read back from the cache)"""
    cached: bool
    """read from the cache rather than trained now"""


def cached_lm(
    cache_dir: Path | None, tokens: torch.Tensor, vocab_size: int, bos_id: int, eos_id: int | None, settings: LMSettings = LMSettings()
) -> TrainedLM:
    """:func:`train_lm`, or the model it gave before for the same tokens and settings.

    Args:
        cache_dir: where models are kept as ``lm-<key>.safetensors`` (None: no cache).
        tokens, vocab_size, bos_id, eos_id, settings: as :func:`train_lm`; all of them, with a
            format number, make the key.

    A cache file that cannot be read is trained again and replaced; one that cannot be written
    leaves the model uncached.
    """
    tokens = tokens.detach().to("cpu", torch.long).contiguous()
    ids = {"vocab_size": vocab_size, "bos_id": bos_id, "eos_id": eos_id, "format": CACHE_FORMAT}
    key = content_hash({"tokens": tokens}, {**dataclasses.asdict(settings), **ids})
    steps = training_steps(len(tokens), settings)
    path = None if cache_dir is None else Path(cache_dir) / f"lm-{key}.safetensors"
    if path is not None and path.is_file():
        with torch.random.fork_rng(devices=[]):
            lm = ScoringLM(vocab_size, settings, torch.arange(vocab_size), bos_id, eos_id)
        try:
            metadata = load_modules(path, {"lm": lm})
            return TrainedLM(lm.eval(), key, weights_hash(lm), steps, float(metadata.get("seconds", "nan")), True)
        except CheckpointError:
            pass  # trained again below
    start = time.perf_counter()
    lm = train_lm(tokens, vocab_size, bos_id, eos_id, settings)
    seconds = time.perf_counter() - start
    if path is not None:
        try:
            save_modules(path, {"lm": lm}, {"seconds": f"{seconds:.3f}"})
        except OSError:
            pass  # a read-only run directory: scores still come, the model is not kept
    return TrainedLM(lm, key, weights_hash(lm), steps, seconds, False)
