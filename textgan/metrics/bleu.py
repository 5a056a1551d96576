"""BLEU and Self-BLEU per hypothesis: exactly nltk's ``sentence_bleu``, in time linear in the tokens.

Every hypothesis is scored against one shared reference set, as text-GAN papers do: ``bleu``
against fixed references (e.g. a test set), ``self_bleu`` against all the other hypotheses. Each
score equals ``nltk.translate.bleu_score.sentence_bleu(references, hypothesis,
weights=(1/n,)*n, smoothing_function=getattr(SmoothingFunction(), smoothing))`` to 1e-9, nltk's
quirks included (see ``_scores``); ``tests/test_bleu.py`` checks this against nltk itself.

Why it is fast: nltk rescans every reference for every hypothesis (refs x hyps). But the clipped
count of an n-gram is min(count in the hypothesis, max count in any single reference), and the
brevity penalty needs only the sorted distinct reference lengths. So one pass over all n-grams
(hypotheses and references together, one radix-sort pass per order) gives every hypothesis its
numerators. For Self-BLEU, leaving hypothesis i out changes an n-gram's max only where i is its
sole holder, so the largest and the second-largest count per n-gram suffice. Work grows with the
total number of tokens; orders share their tables (``bleu_multi``), so BLEU-2..5 costs little more
than BLEU-5.

Examples:
    >>> hyps = [["a", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat"]]
    >>> refs = [["a", "cat", "sat", "on", "a", "mat"], ["the", "dog", "sat", "down"]]
    >>> [round(s, 4) for s in bleu(hyps, refs, n=2)]
    [0.7746, 0.7165]
    >>> [round(s, 4) for s in self_bleu(hyps, n=2)]  # each against the other one
    [0.0816, 0.0672]
    >>> round(corpus_mean(bleu(hyps, refs, n=2)), 4)
    0.7456
"""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable, Iterator, Sequence
from itertools import chain

import numpy as np

from runcore.errors import UserError

SMOOTHINGS = tuple(f"method{i}" for i in range(8))
# nltk's SmoothingFunction() defaults (Chen & Cherry 2014), used by methods 1, 4 and 6.
EPSILON = 0.1
K = 5
ALPHA = 5
# Method 5 (and so 7) always averages in the 5-gram precision, whatever n is: nltk's code does.
METHOD5_ORDER = 5

Sentence = Sequence[Hashable]


class BleuInputError(UserError, ValueError):
    """Arguments BLEU cannot score; a ``ValueError`` that the CLI reports in one line."""


def bleu(
    hypotheses: Sequence[Sentence],
    references: Sequence[Sentence],
    n: int = 4,
    smoothing: str = "method1",
) -> list[float]:
    """BLEU-n of each hypothesis against the whole reference set.

    Args:
        hypotheses: token lists (tokens: any hashables, e.g. str or int).
        references: token lists, shared by every hypothesis; at least one.
        n: highest n-gram order, uniform weights 1/n over orders 1..n.
        smoothing: nltk's ``SmoothingFunction`` method name, ``"method0"`` (none) .. ``"method7"``.

    Returns:
        One score per hypothesis, in order; 0.0 for a hypothesis without a matching token.
    """
    return bleu_multi(hypotheses, references, ns=(n,), smoothing=smoothing)[n]


def self_bleu(hypotheses: Sequence[Sentence], n: int = 4, smoothing: str = "method1") -> list[float]:
    """Self-BLEU-n: each hypothesis scored against all the others (a diversity measure).

    Hypothesis i's references are the list without position i; an identical copy elsewhere in the
    list is still a reference, so a non-empty duplicate scores 1.0.

    Args:
        hypotheses: token lists; none or at least two (one would have no references: ValueError).
        n: highest n-gram order.
        smoothing: ``"method0"`` .. ``"method7"``, as in :func:`bleu`.

    Returns:
        One score per hypothesis, in order.
    """
    return self_bleu_multi(hypotheses, ns=(n,), smoothing=smoothing)[n]


def bleu_multi(
    hypotheses: Sequence[Sentence],
    references: Sequence[Sentence],
    ns: Sequence[int] = (2, 3, 4, 5),
    smoothing: str = "method1",
) -> dict[int, list[float]]:
    """BLEU-n for several n at once, sharing the n-gram tables: ``{n: bleu(hyps, refs, n)}``."""
    ns = _check_arguments(hypotheses, ns, smoothing)
    _check_sentences(references, "references")
    if not references:
        raise BleuInputError("BLEU got no references", "pass at least one reference token list")
    n_hyp = len(hypotheses)
    if n_hyp == 0:
        return {n: [] for n in ns}
    tokens, lengths = _encode([hypotheses, references])
    numerators = _clipped_matches(tokens, lengths, n_hyp, _max_order(ns, smoothing), leave_one_out=False)
    hyp_lengths = lengths[:n_hyp]
    closest = _closest_lengths(hyp_lengths, lengths[n_hyp:], leave_one_out=False)
    return {n: _scores(numerators, hyp_lengths, closest, n, smoothing).tolist() for n in ns}


def self_bleu_multi(
    hypotheses: Sequence[Sentence],
    ns: Sequence[int] = (2, 3, 4, 5),
    smoothing: str = "method1",
) -> dict[int, list[float]]:
    """Self-BLEU-n for several n at once, sharing the n-gram tables: ``{n: self_bleu(hyps, n)}``."""
    ns = _check_arguments(hypotheses, ns, smoothing)
    n_hyp = len(hypotheses)
    if n_hyp == 0:
        return {n: [] for n in ns}
    if n_hyp == 1:
        raise BleuInputError(
            "self-BLEU needs at least 2 hypotheses (got 1, which has no references)",
            "score more hypotheses, or use bleu() against a reference set",
        )
    tokens, lengths = _encode([hypotheses])
    numerators = _clipped_matches(tokens, lengths, n_hyp, _max_order(ns, smoothing), leave_one_out=True)
    closest = _closest_lengths(lengths, lengths, leave_one_out=True)
    return {n: _scores(numerators, lengths, closest, n, smoothing).tolist() for n in ns}


def corpus_mean(scores: Sequence[float]) -> float:
    """The mean of per-hypothesis scores (what papers report as "BLEU-n"); exact summation."""
    scores = list(scores)
    if not scores:
        raise BleuInputError("corpus_mean got no scores", "score at least one hypothesis")
    return math.fsum(scores) / len(scores)


# ---- checks at the edge -------------------------------------------------------------------------


def _check_arguments(hypotheses: Sequence[Sentence], ns: Sequence[int], smoothing: str) -> tuple[int, ...]:
    ns = _check_orders(ns)
    _check_smoothing(smoothing, ns)
    _check_sentences(hypotheses, "hypotheses")
    return ns


def _check_orders(ns: Sequence[int]) -> tuple[int, ...]:
    ns = tuple(ns)
    if not ns:
        raise BleuInputError("no n-gram orders given", "pass ns such as (2, 3, 4, 5)")
    for n in ns:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise BleuInputError(f"BLEU order n must be an integer >= 1, got {n!r}", "use n in 1..5 as usual")
    return tuple(int(n) for n in ns)


def _check_smoothing(smoothing: str, ns: tuple[int, ...]) -> None:
    if smoothing not in SMOOTHINGS:
        raise BleuInputError(
            f"unknown smoothing {smoothing!r}", f"use one of {', '.join(SMOOTHINGS)} (nltk's SmoothingFunction methods)"
        )
    if smoothing == "method6" and min(ns) < 3:
        # nltk indexes the trigram precision and fails (IndexError) for n < 3.
        raise BleuInputError("smoothing method6 needs n >= 3", "use another smoothing for n < 3")


def _check_sentences(sentences: Sequence[Sentence], name: str) -> None:
    kinds = set(map(type, sentences))  # C-level pass; find the culprit only when there is one
    if str in kinds or bytes in kinds:
        # A plain string would be scored character by character, silently.
        i = next(i for i, s in enumerate(sentences) if isinstance(s, (str, bytes)))
        raise BleuInputError(f"{name}[{i}] is a string, not a token list", "pass token lists, e.g. line.split()")
    if any(kind.__module__.startswith("torch") for kind in kinds):
        # Tensor elements hash by identity, so no two tokens would ever match.
        raise BleuInputError(f"{name} holds torch tensors", "pass lists of ids, e.g. [row.tolist() for row in ids]")


def _max_order(ns: tuple[int, ...], smoothing: str) -> int:
    return max(max(ns), METHOD5_ORDER if smoothing in ("method5", "method7") else 0)


# ---- n-gram tables --------------------------------------------------------------------------------


def _encode(groups: Sequence[Sequence[Sentence]]) -> tuple[np.ndarray, np.ndarray]:
    """All sentences of all groups, in order, as one flat int64 array of token ids and their lengths."""
    sentences = list(chain.from_iterable(groups))
    flat = list(chain.from_iterable(sentences))
    # dict.fromkeys and map run in C: no per-token Python bytecode.
    vocab = dict(zip(dict.fromkeys(flat), range(len(flat))))
    tokens = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    return tokens, lengths


def _ngram_runs(tokens: np.ndarray, lengths: np.ndarray, max_order: int) -> Iterator[tuple[np.ndarray, ...]]:
    """For each order k = 1..max_order: every distinct (n-gram, sentence) pair and its count.

    Yields ``(grams, sentences, counts)``, sorted by n-gram then sentence; ``grams`` are dense
    lexicographic ranks 0..D-1 (each rank appears), so arrays indexed by rank are per-n-gram tables.

    An LSD radix sort, one token per order: the k-grams are the (k-1)-grams, already sorted, each
    extended by the token before it, so one stable sort by that token puts them in order. For
    vocabularies up to 2^16 that sort is numpy's radix sort, O(tokens). Ties stay in position
    order, hence in sentence order, which makes the (n-gram, sentence) runs contiguous.
    """
    n_tokens = tokens.size
    empty = np.empty(0, dtype=np.int64)
    if n_tokens == 0:
        for _ in range(max_order):
            yield empty, empty, empty
        return
    sentence_of = np.repeat(np.arange(lengths.size), lengths)
    starts_sentence = np.zeros(n_tokens, dtype=bool)
    starts_sentence[(np.cumsum(lengths) - lengths)[lengths > 0]] = True
    sort_tokens = tokens.astype(np.uint16) if tokens.max() < 2**16 else tokens
    rank = np.empty(n_tokens, dtype=np.int64)  # rank of the (k-1)-gram starting at each position
    order = np.arange(n_tokens)  # k-gram start positions, sorted by (k-gram, position)
    for k in range(1, max_order + 1):
        if k > 1:
            order = order[~starts_sentence[order]] - 1
        if order.size == 0:
            yield empty, empty, empty
            continue
        order = order[np.argsort(sort_tokens[order], kind="stable")]
        first = tokens[order]
        new_gram = np.empty(order.size, dtype=bool)
        new_gram[0] = True
        np.not_equal(first[1:], first[:-1], out=new_gram[1:])
        if k > 1:
            rest = rank[order + 1]
            new_gram[1:] |= rest[1:] != rest[:-1]
        sentences = sentence_of[order]
        new_run = new_gram.copy()
        new_run[1:] |= sentences[1:] != sentences[:-1]
        ranks = np.cumsum(new_gram) - 1
        rank[order] = ranks
        run_starts = np.flatnonzero(new_run)
        yield ranks[run_starts], sentences[run_starts], np.diff(run_starts, append=order.size)


def _clipped_matches(tokens, lengths, n_hyp: int, max_order: int, leave_one_out: bool) -> np.ndarray:
    """(n_hyp, max_order) float array: each hypothesis' clipped n-gram matches, orders 1..max_order.

    The hypotheses are the first ``n_hyp`` sentences; the references are the rest, or with
    ``leave_one_out`` the other hypotheses.
    """
    clip = _clipped_leave_one_out if leave_one_out else _clipped_against_references
    return np.stack([clip(*runs, n_hyp) for runs in _ngram_runs(tokens, lengths, max_order)], axis=1)


def _group_starts(grams: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.diff(grams, prepend=-1))


def _clipped_against_references(grams, sentences, counts, n_hyp: int) -> np.ndarray:
    """Per hypothesis (sentences < n_hyp): sum over its n-grams of min(count, max count in one reference)."""
    if grams.size == 0:
        return np.zeros(n_hyp)
    is_hyp = sentences < n_hyp
    ref_max = np.maximum.reduceat(np.where(is_hyp, 0, counts), _group_starts(grams))
    clipped = np.minimum(counts[is_hyp], ref_max[grams[is_hyp]])
    return np.bincount(sentences[is_hyp], weights=clipped, minlength=n_hyp)


def _clipped_leave_one_out(grams, sentences, counts, n_hyp: int) -> np.ndarray:
    """Per hypothesis: clipped matches against all other hypotheses.

    Without hypothesis i an n-gram's max count drops only if i holds the max alone; then it is the
    largest count among the rest (the second largest overall).
    """
    if grams.size == 0:
        return np.zeros(n_hyp)
    group_starts = _group_starts(grams)
    top = np.maximum.reduceat(counts, group_starts)
    at_top = counts == top[grams]
    n_at_top = np.bincount(grams[at_top], minlength=top.size)
    second = np.maximum.reduceat(np.where(at_top, 0, counts), group_starts)
    sole_top = at_top & (n_at_top[grams] == 1)
    others_max = np.where(sole_top, second[grams], top[grams])
    return np.bincount(sentences, weights=np.minimum(counts, others_max), minlength=n_hyp)


def _closest_lengths(hyp_lengths: np.ndarray, ref_lengths: np.ndarray, leave_one_out: bool) -> np.ndarray:
    """nltk's closest_ref_length for each hypothesis: the nearest reference length, the shorter on a tie.

    With ``leave_one_out`` (Self-BLEU) the references are ``ref_lengths`` minus one copy of the
    hypothesis' own length.
    """
    values, multiplicity = np.unique(ref_lengths, return_counts=True)
    idx = np.searchsorted(values, hyp_lengths)  # first value >= length
    last = np.minimum(idx, values.size - 1)
    present = (idx < values.size) & (values[last] == hyp_lengths)
    exact = present & (multiplicity[last] >= 2) if leave_one_out else present
    values = values.astype(np.float64)
    below = np.concatenate([[-np.inf], values])[idx]  # last value < length
    above = np.concatenate([values, [np.inf]])[idx + present]  # first value > length
    nearest = np.where(hyp_lengths - below <= above - hyp_lengths, below, above)
    return np.where(exact, hyp_lengths, nearest)


# ---- scores ---------------------------------------------------------------------------------------


def _scores(numerators: np.ndarray, lengths: np.ndarray, closest: np.ndarray, n: int, smoothing: str) -> np.ndarray:
    """nltk's sentence_bleu from clipped counts, for all hypotheses at once, in float64.

    Mirrors nltk (3.8-3.10) step by step:
    - precision p_k = clipped_k / max(1, len - k + 1), orders 1..n only;
    - no unigram match (incl. the empty hypothesis): score 0, before any smoothing;
    - smoothing as ``SmoothingFunction().method*`` with its defaults, incl. method5's 5-gram term;
    - BLEU = BP * exp(sum over p_k > 0 of log(p_k) / n); zero precisions are dropped, which is
      why method0 gives a tiny non-zero score (nltk's sys.float_info.min stand-in) with a warning
      in nltk and none here;
    - BP = 1 if len > r, 0 if len == 0, else exp(1 - r / len), r the closest reference length.
    """
    lengths = lengths.astype(np.float64)
    orders = np.arange(1, n + 1)
    matches = numerators[:, :n]
    denominators = np.maximum(1.0, lengths[:, None] - orders + 1)
    zero = matches == 0
    p = matches / denominators
    if smoothing == "method0":
        p = np.where(zero, sys.float_info.min, p)
    elif smoothing == "method1":
        p = np.where(zero, EPSILON / denominators, p)
    elif smoothing == "method2":
        p[:, 1:] = (matches[:, 1:] + 1) / (denominators[:, 1:] + 1)
    elif smoothing == "method3":
        p = np.where(zero, 1 / (2.0 ** np.cumsum(zero, axis=1) * denominators), p)
    if smoothing in ("method4", "method7"):
        smooth = zero & (lengths[:, None] > 1)
        log_length = np.log(np.maximum(lengths, 2.0))[:, None]
        p = np.where(smooth, 1 / (2.0 ** np.cumsum(smooth, axis=1) * K / log_length) / denominators, p)
    if smoothing in ("method5", "method7"):
        # nltk appends the unsmoothed 5-gram precision, then averages each order with its neighbours.
        next_p = np.concatenate(
            [p, (numerators[:, METHOD5_ORDER - 1] / np.maximum(1.0, lengths - METHOD5_ORDER + 1))[:, None]], axis=1
        )
        previous = p[:, 0] + 1
        for i in range(n):
            p[:, i] = previous = (previous + p[:, i] + next_p[:, i + 1]) / 3
    if smoothing == "method6":
        p = _method6(p, matches, lengths, n)
    positive = p > 0
    log_p = np.log(np.where(positive, p, 1.0))  # zero precisions drop out of the sum, as in nltk
    brevity = np.ones_like(lengths)
    short = lengths <= closest
    with np.errstate(divide="ignore", invalid="ignore"):
        brevity[short] = np.exp(1 - closest[short] / lengths[short])
    brevity[lengths == 0] = 0.0
    scores = brevity * np.exp((log_p * (1 / n)).sum(axis=1))
    scores[matches[:, 0] == 0] = 0.0
    return scores


def _method6(p: np.ndarray, matches: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """nltk's method6: interpolate p_k with the prior p_{k-1}^2 / p_{k-2} (Gao & He 2013)."""
    # nltk asserts a non-zero trigram precision once a hypothesis has a unigram match.
    failing = np.flatnonzero((matches[:, 0] > 0) & (matches[:, 2] == 0))
    if failing.size:
        raise BleuInputError(
            f"smoothing method6 needs a trigram match in every hypothesis; hypothesis {failing[0]} has none",
            "use another smoothing (method1 is the usual one)",
        )
    for i in range(2, n):
        prior = np.where(p[:, i - 2] == 0, 0.0, p[:, i - 1] ** 2 / np.where(p[:, i - 2] == 0, 1.0, p[:, i - 2]))
        n_grams = np.maximum(0.0, lengths - i)
        p[:, i] = (matches[:, i] + ALPHA * prior) / (n_grams + ALPHA)
    return p
