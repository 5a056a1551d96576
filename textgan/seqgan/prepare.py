"""From a corpus to token tensors: load, split, build the tokenizer, encode.

The corpus is read in passes (count, fit the tokenizer, measure lengths, encode), a batch at a
time: only the encoded tensors are held, never the text. A large corpus shows a progress bar.
"""

from __future__ import annotations

import dataclasses
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
    val: torch.Tensor | None = None
    """the validation rows, held out of the training split (``--val-fraction``; None: none)"""


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
    train_tokens, val_tokens, labels = hold_out_validation(train_tokens, labels, config.val_fraction, config.seed)
    return PreparedData(
        tokenizer, train_tokens, test_tokens, max_len, train_report, test_report, splits.source, labels=labels,
        tokenizer_reason=choice.reason, val=val_tokens,
    )  # fmt: skip


def hold_out_validation(
    train: torch.Tensor, labels: ClassLabels | None, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor | None, ClassLabels | None]:
    """Take ``round(fraction * N)`` seeded rows out of the ``N`` encoded training rows (and their
    classes): returns (the rows left, in their order; the validation rows; the labels with
    ``train`` and ``val`` split the same way). ``fraction`` 0: the rows as they are, no validation.

    The tokenizer was fitted on the whole training split (the validation lines' words are in its
    vocabulary); no training step sees the validation rows.

    Raises:
        UserError: the fraction leaves no validation row, or fewer than two training rows.

    Examples:
        >>> rows = torch.arange(10).unsqueeze(1)
        >>> kept, val, _ = hold_out_validation(rows, None, 0.2, seed=0)
        >>> len(kept), len(val), sorted(set(kept[:, 0].tolist()) | set(val[:, 0].tolist())) == list(range(10))
        (8, 2, True)
    """
    if not fraction:
        return train, None, labels
    count = round(fraction * len(train))
    if count < 1 or len(train) - count < 2:
        raise UserError(
            f"--val-fraction {fraction:g} of {len(train)} training lines leaves {count} validation and {len(train) - count} training lines",
            "give a fraction that leaves at least one validation line and two training lines, or --val-fraction 0",
        )
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    held = torch.zeros(len(train), dtype=torch.bool)
    held[order[:count]] = True
    if labels is not None:
        labels = dataclasses.replace(labels, train=labels.train[~held], val=labels.train[held])
    return train[~held], train[held], labels


def _choose(config: SeqGANConfig, train, watch) -> TokenizerChoice:
    """The tokenizer kind: the one ``--tokenizer`` names, or what ``auto`` picks for the text."""
    if config.tokenizer != AUTO:
        return TokenizerChoice(config.tokenizer, f"--tokenizer {config.tokenizer}")
    fit = lambda: train.watched(watch, "fitting the word tokenizer")  # only for space-separated text
    return choose_tokenizer(train, config.vocab_size, fit_lines=fit)
