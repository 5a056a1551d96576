"""Metrics for generated text: BLEU and Self-BLEU (exact, fast), NLL-test, NLL-oracle, distinct-n,
and the quality–diversity temperature sweep."""

from textgan.metrics.bleu import bleu, bleu_multi, corpus_mean, self_bleu, self_bleu_multi
from textgan.metrics.diversity import distinct_n
from textgan.metrics.nll import nll_oracle, nll_test
from textgan.metrics.sweep import temperature_sweep

__all__ = [
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
