"""The unit that n-gram metrics (BLEU, Self-BLEU, MS-Jaccard, distinct-n) count in a line of text.

- ``word``: the line split on whitespace, what ``--tokenizer word`` trains on (punctuation stays
  on its word: ``wheel.``).
- ``char``: the characters of the stripped line.
- ``token``: a run's own tokens (ids; for files, the whitespace-separated tokens as written).
- ``treebank``: nltk's Treebank words of the lower-cased line (``textgan.data.treebank``), the unit
  of Texygen's COCO and EMNLP News tables. A run's text is scored in it by decoding and
  re-splitting, whatever its tokenizer (a ``--tokenizer treebank`` run's own tokens already are);
  a ``<unk>`` stays one unit.

Examples:
    >>> split_units(["a man <unk>."], "treebank")
    [['a', 'man', '<unk>', '.']]
    >>> split_units(["a man <unk>."], "word")
    [['a', 'man', '<unk>.']]
"""

from __future__ import annotations

from collections.abc import Iterable

from textgan.data.treebank import treebank_words

UNITS = ("word", "char", "token", "treebank")
UNIT_NAMES = {"word": "words", "char": "characters", "token": "tokens", "treebank": "Treebank words"}


def split_units(lines: Iterable[str], unit: str) -> list[list[str]]:
    """Lines as lists of ``unit`` (``token``, like ``word``, splits on whitespace)."""
    if unit == "char":
        return [list(line.strip()) for line in lines]
    if unit == "treebank":
        return [treebank_words(line) for line in lines]
    if unit in ("word", "token"):
        return [line.split() for line in lines]
    raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
