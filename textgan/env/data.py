"""The real data an environment is made from: a corpus, or token ids the caller encoded.

Giving the env its data fixes the game's sizes (the vocabulary and the longest sequence), keeps
the real sequences at hand for training a discriminator (``env.real_tokens``) and lets
``render`` print text. Without data the env takes ``vocab_size`` and ``max_len`` as given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from textgan.data import build_tokenizer, choose_max_len, encode_lines, load_corpus
from textgan.data.tokenizers import Tokenizer

DEFAULT_VOCAB_SIZE = 5000
DEFAULT_MAX_LEN = 20


@dataclass
class EnvData:
    """Sizes of the game and, when the env was given data, the real sequences and tokenizer."""

    vocab_size: int
    max_len: int
    real_tokens: torch.Tensor | None = None
    """``(N, max_len)`` int64 real sequences (EOS then PAD after each line), or None"""
    tokenizer: Tokenizer | None = None


def resolve_env_data(
    corpus: str | None = None,
    real_tokens=None,
    tokenizer: Tokenizer | None = None,
    vocab_size: int | None = None,
    max_len: int | None = None,
) -> EnvData:
    """Work out the game's sizes from whichever of the arguments were given.

    Args:
        corpus: a built-in corpus name or a text file (one sample per line): its training lines
            are read, a ``char`` tokenizer is built from them (the ``vocab_size`` most frequent
            characters when given) and they are encoded to ``max_len`` tokens (the longest line,
            at most 64, when not given; longer lines are dropped).
        real_tokens: ``(N, T)`` integer token ids already encoded; ``max_len`` defaults to ``T``
            and ``vocab_size`` to the tokenizer's, else to the largest id + 1.
        tokenizer: the tokenizer of ``real_tokens`` (for its vocabulary size and for ``render``).
        vocab_size, max_len: explicit sizes; without data they default to 5000 and 20.

    Raises:
        ValueError: both ``corpus`` and ``real_tokens``, ``real_tokens`` that is not a 2-D integer
            array, whose width differs from ``max_len``, or whose ids do not fit ``vocab_size``.
        UserError: a corpus that cannot be read (from ``load_corpus``).
    """
    if corpus is not None and real_tokens is not None:
        raise ValueError("give either corpus or real_tokens, not both")
    for name, value in (("vocab_size", vocab_size), ("max_len", max_len)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < (2 if name == "vocab_size" else 1)):
            raise ValueError(f"{name} must be an integer >= {2 if name == 'vocab_size' else 1} (or None for the default), got {value!r}")
    if corpus is not None:
        lines = load_corpus(corpus).train
        tokenizer = build_tokenizer("char", lines, vocab_size=vocab_size)
        max_len = choose_max_len(tokenizer, lines) if max_len is None else max_len
        real_tokens, _ = encode_lines(tokenizer, lines, max_len)
        return EnvData(tokenizer.vocab_size, max_len, real_tokens, tokenizer)
    if real_tokens is None:
        if tokenizer is not None and vocab_size is None:
            vocab_size = tokenizer.vocab_size
        vocab_size = DEFAULT_VOCAB_SIZE if vocab_size is None else vocab_size
        return EnvData(vocab_size, DEFAULT_MAX_LEN if max_len is None else max_len, None, tokenizer)
    real_tokens = torch.as_tensor(np.asarray(real_tokens) if not torch.is_tensor(real_tokens) else real_tokens)
    if real_tokens.ndim != 2 or real_tokens.dtype.is_floating_point or real_tokens.dtype == torch.bool:
        raise ValueError(
            f"real_tokens must be a 2-D array of integer token ids, got {real_tokens.dtype} of shape "
            f"{tuple(real_tokens.shape)}"
        )
    real_tokens = real_tokens.to(torch.long)
    width = real_tokens.shape[1]
    if max_len is not None and max_len != width:
        raise ValueError(f"real_tokens are {width} tokens wide but max_len={max_len}; encode them to max_len")
    if vocab_size is None:
        vocab_size = tokenizer.vocab_size if tokenizer is not None else int(real_tokens.max()) + 1
    if tokenizer is not None and tokenizer.vocab_size != vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but vocab_size={vocab_size}")
    if len(real_tokens) and (int(real_tokens.min()) < 0 or int(real_tokens.max()) >= vocab_size):
        raise ValueError(
            f"real_tokens hold ids in [{int(real_tokens.min())}, {int(real_tokens.max())}], "
            f"outside the vocabulary [0, {vocab_size})"
        )
    return EnvData(vocab_size, width, real_tokens, tokenizer)
