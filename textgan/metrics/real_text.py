"""Every real-data metric of generated text at once: BLEU and Self-BLEU, MS-Jaccard, LM and
reverse-LM score, and the Fréchet distance of sentence embeddings.

A :class:`RealTextScorer` is built once per run (its real-text LM trained or read from the cache,
the test set's embeddings computed), then called on sample tensors as often as needed, e.g. once
per temperature (it fits ``temperature_sweep``'s ``score`` after :func:`flat_scores`).

The Fréchet distance (Semeniuta et al. 2018) compares Gaussians fitted to sentence embeddings of
the samples and of the test text. The encoder is the real-text LM itself (trained on the run's
training split, nothing downloaded): a sentence's embedding is the mean of its LSTM outputs.
Scores are comparable only between encoders of the same hash (``encoder_hash``), as imagegan's
classifier-FID; they are not the InferSent/USE distances of papers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from runcore.frechet import frechet_distance
from textgan.metrics.bleu import bleu_multi, corpus_mean, self_bleu_multi
from textgan.metrics.lm_score import LMSettings, TrainedLM, cached_lm
from textgan.metrics.ms_jaccard import ms_jaccard

Units = Callable[[torch.Tensor], list[list]]
"""Token rows ``(N, T)`` -> the unit lists (words, characters or ids) n-gram metrics count."""


def _means(scores: dict[int, list[float]]) -> dict[str, float]:
    return {str(n): corpus_mean(values) for n, values in scores.items()}


@dataclass
class RealTextScorer:
    """Scores samples against one run's real text.

    Build it with :meth:`build`. Calling it on samples ``(N, T)`` returns a dict:
    ``bleu``/``self_bleu``/``ms_jaccard`` (``{"n": score}``), ``lm_score``, ``reverse_lm_score``,
    ``frechet_distance``, and the hashes and training times of the models behind them.
    """

    test_tokens: torch.Tensor
    references: list[list]
    units: Units
    orders: tuple[int, ...]
    real_lm: TrainedLM
    test_embeddings: torch.Tensor
    vocab_size: int
    bos_id: int
    eos_id: int | None
    settings: LMSettings
    cache_dir: Path | None

    @classmethod
    def build(
        cls,
        train_tokens: torch.Tensor,
        test_tokens: torch.Tensor,
        vocab_size: int,
        bos_id: int,
        eos_id: int | None,
        units: Units,
        orders: Sequence[int] = (2, 3, 4, 5),
        cache_dir: Path | None = None,
        settings: LMSettings = LMSettings(),
    ) -> RealTextScorer:
        """Train (or read from ``cache_dir``) the real-text LM on ``train_tokens`` and embed the test set."""
        real_lm = cached_lm(cache_dir, train_tokens, vocab_size, bos_id, eos_id, settings)
        test_embeddings = real_lm.lm.embed(test_tokens)
        return cls(test_tokens, units(test_tokens), units, tuple(orders), real_lm, test_embeddings,
                   vocab_size, bos_id, eos_id, settings, cache_dir)  # fmt: skip

    def reference(self) -> dict[str, float]:
        """What the real test text itself scores where that is defined: its LM score under the
        real-text LM (the floor a perfect generator would reach, up to sampling noise)."""
        return {"test_lm_score": self.real_lm.lm.score(self.test_tokens)[0]}

    def __call__(self, samples: torch.Tensor) -> dict:
        samples = samples.detach().to("cpu", torch.long)
        hypotheses = self.units(samples)
        lm_score, embeddings = self.real_lm.lm.score(samples)
        reverse = cached_lm(self.cache_dir, samples, self.vocab_size, self.bos_id, self.eos_id, self.settings)
        return {
            "bleu": _means(bleu_multi(hypotheses, self.references, self.orders)),
            "self_bleu": _means(self_bleu_multi(hypotheses, self.orders)),
            "ms_jaccard": {str(n): v for n, v in ms_jaccard(hypotheses, self.references, self.orders).items()},
            "lm_score": lm_score,
            "reverse_lm_score": reverse.lm.score(self.test_tokens, embed=False)[0],
            "frechet_distance": frechet_distance(embeddings, self.test_embeddings),
            "encoder_hash": self.real_lm.hash,
            "models": {"real_lm": _model_info(self.real_lm), "reverse_lm": _model_info(reverse)},
        }


def _model_info(trained: TrainedLM) -> dict:
    return {"hash": trained.hash, "key": trained.key, "steps": trained.steps, "train_seconds": round(trained.seconds, 3), "cached": trained.cached}


def flat_scores(scores: dict) -> dict[str, float]:
    """The numbers of a :class:`RealTextScorer` result as flat names (``bleu_4``, ``lm_score``, ...)."""
    flat = {}
    for key, value in scores.items():
        if isinstance(value, dict) and all(isinstance(v, float) for v in value.values()):
            flat.update({f"{key}_{n}": v for n, v in value.items()})
        elif isinstance(value, float):
            flat[key] = value
    return flat
