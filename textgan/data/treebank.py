"""Treebank words: nltk's Treebank word tokenizer on the lower-cased line, ``<unk>`` kept whole.

The unit of Texygen's COCO and EMNLP News tables, which tokenize with ``nltk.word_tokenize`` to
train and to score. That function first splits sentences with the punkt model, a download this
split does without, so a period inside a line stays on its word, as
``word_tokenize(line, preserve_line=True)`` does. ``--tokenizer treebank`` trains on these words,
``textgan eval --unit treebank`` scores in them.

Examples:
    >>> treebank_words('A man rides a "bike." He\\'s fast.')
    ['a', 'man', 'rides', 'a', '``', 'bike.', "''", 'he', "'s", 'fast', '.']
    >>> treebank_words("a wheel <unk>.")
    ['a', 'wheel', '<unk>', '.']
"""

from __future__ import annotations

from functools import cache

UNK_TEXT = "<unk>"
_UNK_HOLD = "\ue000"  # a private-use character: one word to the Treebank rules, restored as <unk>


@cache
def _treebank():
    # nltk's package import pulls in scipy (about 1.2 s): paid by the first line tokenized, not by
    # every command that imports textgan
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def treebank_words(line: str) -> list[str]:
    """The Treebank words of the lower-cased ``line`` (about 0.6 ms a COCO caption on one core)."""
    text = line.lower().replace(UNK_TEXT, f" {_UNK_HOLD} ")
    return [UNK_TEXT if word == _UNK_HOLD else word for word in _treebank().tokenize(text)]
