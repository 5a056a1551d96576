"""Metrics for generated text: BLEU and Self-BLEU (exact, fast)."""

from textgan.metrics.bleu import bleu, bleu_multi, corpus_mean, self_bleu, self_bleu_multi

__all__ = ["bleu", "bleu_multi", "corpus_mean", "self_bleu", "self_bleu_multi"]
