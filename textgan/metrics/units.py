"""The unit that n-gram metrics (BLEU, Self-BLEU, MS-Jaccard, distinct-n) count in a line of text.

- ``word``: the line split on whitespace, what ``--tokenizer word`` trains on (punctuation stays
  on its word: ``wheel.``).
- ``char``: the characters of the stripped line.
- ``token``: a run's own tokens (ids; for files, the whitespace-separated tokens as written).
- ``treebank``: nltk's Treebank word tokenizer (``NLTKWordTokenizer``) on the lower-cased line,
  which splits punctuation and clitics off words (``wheel .``, ``he 's``). It is the unit of
  Texygen's COCO and EMNLP News tables, which tokenize with ``nltk.word_tokenize`` to train and
  to score; that function first splits sentences with the punkt model, a download this one does
  without, so a period inside a line stays on its word, as ``word_tokenize(..., preserve_line=True)``
  does. A run's text is scored in it by decoding and re-splitting, whatever its tokenizer; a
  ``<unk>`` stays one unit.

Examples:
    >>> treebank_words('A man rides a "bike." He\\'s fast.')
    ['a', 'man', 'rides', 'a', '``', 'bike.', "''", 'he', "'s", 'fast', '.']
    >>> split_units(["a man <unk>."], "treebank")
    [['a', 'man', '<unk>', '.']]
    >>> split_units(["a man <unk>."], "word")
    [['a', 'man', '<unk>.']]
"""

from __future__ import annotations

from collections.abc import Iterable

from nltk.tokenize import NLTKWordTokenizer

UNITS = ("word", "char", "token", "treebank")
UNIT_NAMES = {"word": "words", "char": "characters", "token": "tokens", "treebank": "Treebank words"}
UNK_TEXT = "<unk>"
_UNK_HOLD = "\ue000"  # a private-use character: one word to the Treebank rules, restored as <unk>
_TREEBANK = NLTKWordTokenizer()


def treebank_words(line: str) -> list[str]:
    """The Treebank words of the lower-cased ``line`` (``<unk>`` kept whole)."""
    text = line.lower().replace(UNK_TEXT, f" {_UNK_HOLD} ")
    return [UNK_TEXT if word == _UNK_HOLD else word for word in _TREEBANK.tokenize(text)]


def split_units(lines: Iterable[str], unit: str) -> list[list[str]]:
    """Lines as lists of ``unit`` (``token``, like ``word``, splits on whitespace)."""
    if unit == "char":
        return [list(line.strip()) for line in lines]
    if unit == "treebank":
        return [treebank_words(line) for line in lines]
    if unit in ("word", "token"):
        return [line.split() for line in lines]
    raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
