"""From a corpus to token tensors: load, split, build the tokenizer, encode.

The corpus is read in passes (count, fit the tokenizer, measure lengths, encode), a batch at a
time: only the encoded tensors are held, never the text. A large corpus shows a progress bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from runcore import make_progress
from runcore.errors import UserError
from textgan.data import EncodeReport, Tokenizer, build_tokenizer, choose_max_len, encode_lines
from textgan.data.choice import AUTO, TokenizerChoice, choose_tokenizer
from textgan.data.corpus import corpus_bytes, resolve_corpus, stream_corpus
from textgan.data.labels import ClassLabels, LabelledText, read_class_labels, stream_labelled
from textgan.seqgan.config import SeqGANConfig

LARGE_CORPUS_BYTES = 4 << 20
"""Corpus files larger than this show a progress bar while being prepared."""


@dataclass
class PreparedData:
    tokenizer: Tokenizer
    train: torch.Tensor
    test: torch.Tensor
    max_len: int
    train_report: EncodeReport
    test_report: EncodeReport
    source: str
    labels: ClassLabels | None = None
    """the classes of a ``--conditional`` run (``label<TAB>text`` lines or a folder of class files)"""
    tokenizer_reason: str = ""
    """why this tokenizer: the ``auto`` rule's one line, or that ``--tokenizer`` asked for it"""


def prepare_data(config: SeqGANConfig, quiet: bool = False) -> PreparedData:
    """Load the corpus, fit the tokenizer on the training split and encode both splits.

    Args:
        config: the run's settings (corpus, test file or fraction, seed, tokenizer, lengths).
            ``tokenizer: auto`` is resolved here (``textgan.data.choice``); the caller records the
            chosen kind (``data.tokenizer.kind``) in the run's config.
        quiet: no progress bar, however large the corpus.
    """
    large = corpus_bytes(resolve_corpus(config.corpus, folders=config.conditional)) > LARGE_CORPUS_BYTES
    with make_progress(disable=quiet or not large) as progress:

        def watch(description: str, total: int | None):
            task = progress.add_task(description, total=total)
            return lambda lines: progress.update(task, advance=lines)

        read = stream_labelled if config.conditional else stream_corpus  # labelled: a file or a folder of class files
        splits = read(config.corpus, config.test_file, config.test_fraction, config.seed, watch)
        train, test = splits.train, splits.test
        if config.conditional:  # label<TAB>text lines: the tokenizer and the encoding see the texts
            train, test = LabelledText(train, f"corpus {splits.source}"), LabelledText(test, f"test split of {config.test_file or splits.source}")
        choice = _choose(config, train, watch)
        tokenizer = choice.tokenizer or build_tokenizer(
            choice.kind, train.watched(watch, f"fitting the {choice.kind} tokenizer"), vocab_size=config.vocab_size, seed=config.seed
        )
        max_len = config.max_len or choose_max_len(tokenizer, train.watched(watch, "measuring line lengths"))
        train_tokens, train_report = encode_lines(
            tokenizer, train.watched(watch, "encoding the training lines"), max_len, config.long_lines
        )
        test_tokens, test_report = encode_lines(tokenizer, test.watched(watch, "encoding the test lines"), max_len, "cut")
        labels = read_class_labels(tokenizer, train, test, max_len, config.long_lines) if config.conditional else None
    if len(train_tokens) < 2:
        raise UserError(f"the corpus {config.corpus} has {len(train_tokens)} usable training line(s)", "give at least a few lines")
    config.check_sizes(tokenizer.vocab_size, max_len, len(train_tokens) + len(test_tokens))  # before any run file is written
    return PreparedData(
        tokenizer, train_tokens, test_tokens, max_len, train_report, test_report, splits.source, labels=labels,
        tokenizer_reason=choice.reason,
    )  # fmt: skip


def _choose(config: SeqGANConfig, train, watch) -> TokenizerChoice:
    """The tokenizer kind: the one ``--tokenizer`` names, or what ``auto`` picks for the text."""
    if config.tokenizer != AUTO:
        return TokenizerChoice(config.tokenizer, f"--tokenizer {config.tokenizer}")
    fit = lambda: train.watched(watch, "fitting the word tokenizer")  # only for space-separated text
    return choose_tokenizer(train, config.vocab_size, fit_lines=fit)
