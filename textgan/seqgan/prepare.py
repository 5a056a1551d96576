"""From a corpus to token tensors: load, split, build the tokenizer, encode."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textgan.data import EncodeReport, Tokenizer, build_tokenizer, choose_max_len, encode_lines, load_corpus
from runcore.errors import UserError
from textgan.seqgan.config import SeqGANConfig


@dataclass
class PreparedData:
    tokenizer: Tokenizer
    train: torch.Tensor
    test: torch.Tensor
    max_len: int
    train_report: EncodeReport
    test_report: EncodeReport
    source: str


def prepare_data(config: SeqGANConfig) -> PreparedData:
    """Load the corpus, fit the tokenizer on the training split and encode both splits."""
    splits = load_corpus(config.corpus, config.test_file, config.test_fraction, config.seed)
    tokenizer = build_tokenizer(config.tokenizer, splits.train, vocab_size=config.vocab_size, seed=config.seed)
    max_len = config.max_len or choose_max_len(tokenizer, splits.train)
    train, train_report = encode_lines(tokenizer, splits.train, max_len, config.long_lines)
    test, test_report = encode_lines(tokenizer, splits.test, max_len, "cut")
    if len(train) < 2:
        raise UserError(f"the corpus {config.corpus} has {len(train)} usable training line(s)", "give at least a few lines")
    config.check_sizes(tokenizer.vocab_size, max_len, len(train) + len(test))  # before any run file is written
    return PreparedData(tokenizer, train, test, max_len, train_report, test_report, splits.source)
