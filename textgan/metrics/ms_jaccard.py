"""MS-Jaccard (Montahaei et al. 2019, "Jointly measuring diversity and quality in text generation
models"): how alike the n-gram multisets of generated and real text are, quality and diversity in
one number.

For each order k, every k-gram g gets a count in each set, divided by that set's number of
sentences (so sets of different sizes compare): ``c_S(g) = count of g in S / |S|``. The k-th
Jaccard index of the two multisets is ``J_k = Σ_g min(c_A(g), c_B(g)) / Σ_g max(c_A(g), c_B(g))``,
and MS-Jaccard-n is the geometric mean of ``J_1 .. J_n`` (as the authors' code reports it, n = 2..5).
1 means the same normalised n-gram counts; a model that repeats a few good sentences scores low
(its counts are too high on them and zero elsewhere), as does one whose n-grams are not real.

The counts come from the same radix-sorted n-gram runs as BLEU (``bleu._ngram_runs``): linear in
the tokens, 10,000 x 10,000 sentences in a fraction of a second.

Examples:
    >>> a = [["the", "cat", "sat"], ["the", "dog"]]
    >>> round(ms_jaccard(a, a, (2,))[2], 6)
    1.0
    >>> round(ms_jaccard([["a", "b"]], [["a", "c"]], (1, 2))[1], 4)  # J_1 = 1/3, J_2 = 0
    0.3333
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from textgan.metrics.bleu import BleuInputError, Sentence, _check_orders, _check_sentences, _encode, _ngram_runs


def ms_jaccard(
    hypotheses: Sequence[Sentence], references: Sequence[Sentence], orders: Sequence[int] = (2, 3, 4, 5)
) -> dict[int, float]:
    """MS-Jaccard-n of ``hypotheses`` against ``references`` for each n in ``orders``.

    Args:
        hypotheses, references: non-empty lists of token lists (any hashable tokens).
        orders: each n ≥ 1; MS-Jaccard-n is the geometric mean of J_1..J_n.

    Returns:
        ``{n: score}``; a J_k with no k-gram in either set counts as 0 (the geometric mean is 0).
    """
    if not hypotheses or not references:
        raise BleuInputError("MS-Jaccard needs at least one hypothesis and one reference", "give both sets")
    orders = _check_orders(orders)
    _check_sentences(hypotheses, "hypotheses")
    _check_sentences(references, "references")
    jaccards = jaccard_per_order(hypotheses, references, max(orders))
    scores = {}
    for n in orders:
        head = jaccards[:n]
        scores[n] = 0.0 if min(head) <= 0 else math.exp(sum(map(math.log, head)) / n)
    return scores


def jaccard_per_order(hypotheses: Sequence[Sentence], references: Sequence[Sentence], max_order: int) -> list[float]:
    """``[J_1, .., J_max_order]``: the Jaccard index of the sentence-normalised k-gram counts."""
    tokens, lengths = _encode([hypotheses, references])
    n_hyp, n_ref = len(hypotheses), len(references)
    jaccards = []
    for grams, sentences, counts in _ngram_runs(tokens, lengths, max_order):
        if grams.size == 0:
            jaccards.append(0.0)
            continue
        n_grams = int(grams[-1]) + 1
        in_hyp = sentences < n_hyp
        hyp = np.bincount(grams[in_hyp], weights=counts[in_hyp], minlength=n_grams) / n_hyp
        ref = np.bincount(grams[~in_hyp], weights=counts[~in_hyp], minlength=n_grams) / n_ref
        jaccards.append(float(np.minimum(hyp, ref).sum() / np.maximum(hyp, ref).sum()))
    return jaccards
