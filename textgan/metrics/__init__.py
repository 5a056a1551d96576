"""Metrics for generated text: BLEU and Self-BLEU (exact, fast), MS-Jaccard, LM and reverse-LM score,
the Fréchet distance of sentence embeddings (all of them at once: ``RealTextScorer``), NLL-test,
NLL-oracle, distinct-n, and the quality–diversity temperature sweep."""

from textgan.metrics.bleu import bleu, bleu_multi, corpus_mean, self_bleu, self_bleu_multi
from textgan.metrics.diversity import distinct_n
from textgan.metrics.lm_score import LMSettings
from textgan.metrics.ms_jaccard import ms_jaccard
from textgan.metrics.real_text import RealTextScorer, flat_scores
from textgan.metrics.nll import nll_oracle, nll_test
from textgan.metrics.sweep import temperature_sweep

__all__ = [
    "LMSettings",
    "RealTextScorer",
    "flat_scores",
    "ms_jaccard",
    "bleu",
    "bleu_multi",
    "corpus_mean",
    "distinct_n",
    "nll_oracle",
    "nll_test",
    "self_bleu",
    "self_bleu_multi",
    "temperature_sweep",
]
