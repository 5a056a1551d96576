"""n-gram diversity of a set of samples: distinct-n (Li et al. 2016).

Examples:
    >>> distinct_n([["a", "b", "a", "b"], ["a", "b", "c"]], n=2)  # ab, ba, ab, ab, bc: 3 of 5
    0.6
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from itertools import chain


def distinct_n(sentences: Sequence[Sequence[Hashable]], n: int) -> float:
    """Distinct n-grams over all n-grams in ``sentences`` (token lists), pooled over the set.

    1.0 when no n-gram repeats anywhere, near 0 for a model that says the same thing every time;
    0.0 when no sentence has ``n`` tokens.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    grams = list(chain.from_iterable(zip(*(s[i:] for i in range(n))) for s in map(list, sentences)))
    return len(set(grams)) / len(grams) if grams else 0.0
