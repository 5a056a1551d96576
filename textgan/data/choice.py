"""Which tokenizer, and which scoring unit, fits a text: words where lines are words separated by
spaces, characters where they are not (Chinese, Japanese).

The rule (``tokenizer: auto``, the default of ``textgan train``):

1. The text is *space-separated* when at least half of its non-blank lines (judged on the first
   :data:`SAMPLE_LINES`) hold two or more whitespace-separated words. Otherwise: ``char``.
2. Space-separated text gets ``word`` tokens when every distinct word of the training text fits
   the vocabulary (``--vocab-size`` if given, else :data:`WORD_VOCAB_LIMIT` words beside the four
   special tokens); when it does not, a word model would map the tail to ``<unk>`` (and spend its
   output layer on rare words), so it gets ``spm`` (SentencePiece BPE, ``--vocab-size`` or 8000).

The same test picks the unit ``textgan eval`` scores in (:func:`text_unit`): words for
space-separated text, characters otherwise.

Examples:
    >>> choose_tokenizer(["the cat sat", "a dog ran off"]).kind
    'word'
    >>> choose_tokenizer(["春眠不觉晓", "处处闻啼鸟"]).kind
    'char'
    >>> text_unit(["春眠不觉晓", "处处闻啼鸟"])
    'char'
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textgan.data.tokenizers import DEFAULT_SPM_VOCAB_SIZE, SPECIAL_TOKENS, Tokenizer, build_tokenizer

AUTO = "auto"
SAMPLE_LINES = 10_000
"""Lines read to decide whether the text is space-separated."""
WORD_VOCAB_LIMIT = DEFAULT_SPM_VOCAB_SIZE - len(SPECIAL_TOKENS)
"""The most distinct words ``auto`` turns into word tokens without a ``--vocab-size``."""
SPACED_SHARE = 0.5
"""The share of non-blank lines with two or more words that makes a text space-separated."""


@dataclass(frozen=True)
class Spacing:
    """How many of the sampled non-blank lines hold two or more whitespace-separated words."""

    lines: int
    spaced: int

    @property
    def share(self) -> float:
        return self.spaced / self.lines if self.lines else 0.0

    @property
    def space_separated(self) -> bool:
        return self.lines > 0 and self.share >= SPACED_SHARE

    def describe(self) -> str:
        return f"{self.share:.0%} of {self.lines:,} sampled lines have words separated by spaces"


def spacing(lines: Iterable[str], sample: int = SAMPLE_LINES) -> Spacing:
    """Count, among the first ``sample`` non-blank lines, those with two or more words."""
    words = (len(line.split()) for line in lines if line.strip())
    counted = list(itertools.islice(words, sample))
    return Spacing(len(counted), sum(n >= 2 for n in counted))


def text_unit(lines: Iterable[str]) -> str:
    """``"word"`` for space-separated text, ``"char"`` otherwise (the rule's step 1)."""
    return "word" if spacing(lines).space_separated else "char"


@dataclass
class TokenizerChoice:
    """A tokenizer ``auto`` chose (or the one asked for), and the one line that says why."""

    kind: str
    reason: str
    tokenizer: Tokenizer | None = None
    """the fitted tokenizer when choosing needed it built (word), else None"""


def choose_tokenizer(
    lines: Iterable[str],
    vocab_size: int | None = None,
    fit_lines: Callable[[], Iterable[str]] | None = None,
) -> TokenizerChoice:
    """Apply the module's rule to training text.

    Args:
        lines: the training lines (only the first :data:`SAMPLE_LINES` non-blank ones are read).
        vocab_size: ``--vocab-size`` when given (ids in all, the specials included).
        fit_lines: gives all the training lines, read once more to count the words when the text
            is space-separated (default: ``lines`` again, which must then be re-iterable).

    Returns:
        The choice; for ``word`` its fitted tokenizer comes with it (no second fit).
    """
    counted = spacing(lines)
    if not counted.space_separated:
        return TokenizerChoice("char", f"auto: {counted.describe()}")
    words = build_tokenizer("word", lines if fit_lines is None else fit_lines())
    distinct = words.vocab_size - len(SPECIAL_TOKENS)
    limit = WORD_VOCAB_LIMIT if vocab_size is None else vocab_size - len(SPECIAL_TOKENS)
    budget = f"--vocab-size {vocab_size}" if vocab_size is not None else f"the {limit:,}-word limit"
    if distinct <= limit:
        return TokenizerChoice("word", f"auto: {counted.describe()}, and their {distinct:,} distinct words fit {budget}", words)
    spm_size = vocab_size or DEFAULT_SPM_VOCAB_SIZE
    return TokenizerChoice(
        "spm", f"auto: {counted.describe()}, but their {distinct:,} distinct words exceed {budget}: SentencePiece, {spm_size:,} pieces"
    )
