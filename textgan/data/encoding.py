"""Lines of text -> a fixed-width tensor of token ids, and back to lengths.

Layout of a row: the line's ids, then EOS if the line has fewer than ``max_len`` tokens, then PAD.
A line of exactly ``max_len`` tokens has no EOS: its episode ends by length.

Examples:
    >>> from textgan.data.tokenizers import build_tokenizer
    >>> tok = build_tokenizer("char", ["ab", "abc"])
    >>> tokens, report = encode_lines(tok, ["ab", "abc"], max_len=3)
    >>> tokens.tolist()
    [[4, 5, 2], [4, 5, 6]]
    >>> sequence_lengths(tokens).tolist()
    [3, 3]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass

import numpy as np
import torch

from textgan.data.tokenizers import EOS_ID, PAD_ID, Tokenizer
from runcore.errors import UserError

LONG_LINE_POLICIES = ("drop", "cut")
_ENCODE_LINES = 1 << 13  # lines encoded at a time: a chunk's scratch arrays stay a few MB


@dataclass
class EncodeReport:
    """What :func:`encode_lines` did to the lines it was given."""

    n_lines: int
    """Lines given."""
    n_kept: int
    """Rows in the returned tensor."""
    n_dropped: int
    """Lines longer than ``max_len`` left out (policy ``drop``)."""
    n_cut: int
    """Lines longer than ``max_len`` cut to their first ``max_len`` tokens (policy ``cut``)."""
    max_len: int
    """Width of the tensor."""
    longest: int
    """Longest line in tokens, before any cutting."""


def choose_max_len(tokenizer: Tokenizer, lines: Iterable[str], cap: int = 64) -> int:
    """The longest line's length in tokens, capped.

    Args:
        tokenizer: turns each line into ids.
        lines: the samples, read once, a chunk at a time.
        cap: the largest width returned, bounding memory and episode length.

    Returns:
        ``min(longest, cap)``, at least 1.
    """
    longest = max((int(lengths.max()) for _, lengths in _encoded_chunks(tokenizer, lines)), default=1)
    return max(1, min(longest, cap))


def encode_lines(
    tokenizer: Tokenizer,
    lines: Iterable[str],
    max_len: int,
    long_lines: str = "drop",
) -> tuple[torch.Tensor, EncodeReport]:
    """Encode lines into an ``int64`` tensor of shape ``(N, max_len)``.

    The lines are read once, a chunk at a time, each chunk written straight into the tensor, so
    a streamed corpus (:class:`~textgan.data.corpus.CorpusLines`) is never held as text.

    Args:
        tokenizer: turns each line into ids.
        lines: the samples; without ``len()`` they are first gathered into a list.
        max_len: tensor width, in tokens.
        long_lines: what to do with a line longer than ``max_len``: ``"drop"`` it or ``"cut"``
            it to its first ``max_len`` tokens.

    Returns:
        The tensor (one row per kept line, in order) and a report of what was kept, dropped, cut.

    Raises:
        UserError: an unknown ``long_lines`` policy, ``max_len`` below 1, or every line too long.
    """
    if long_lines not in LONG_LINE_POLICIES:
        raise UserError(
            f"unknown long-line policy {long_lines!r}", f"use --long-lines {' or '.join(LONG_LINE_POLICIES)}"
        )
    if max_len < 1:
        raise UserError(f"max length {max_len} is below 1", "pass --max-len 1 or more")
    if not isinstance(lines, Sized):
        lines = list(lines)
    n_lines = len(lines)
    tokens = torch.full((n_lines, max_len), PAD_ID, dtype=torch.int64)
    rows = tokens.numpy()  # the same memory: chunks are written in place
    n_kept = n_long = longest = 0
    for flat, lengths in _encoded_chunks(tokenizer, lines):
        starts = np.cumsum(lengths) - lengths
        longest = max(longest, int(lengths.max()))
        too_long = lengths > max_len
        n_long += int(too_long.sum())
        if long_lines == "drop":
            starts, lengths = starts[~too_long], lengths[~too_long]
        _write_rows(rows[n_kept : n_kept + len(lengths)], flat, starts, lengths)
        n_kept += len(lengths)
    if n_lines and not n_kept:
        raise UserError(
            f"all {n_long} lines are longer than the max length of {max_len} tokens "
            f"(the longest has {longest})",
            f"pass --max-len {longest}, or --long-lines cut",
        )
    # Dropped lines leave rows unused at the end: a view of the kept ones, not a copy (which
    # would hold the tensor twice for a moment).
    tokens = tokens[:n_kept]
    report = EncodeReport(
        n_lines=n_lines,
        n_kept=n_kept,
        n_dropped=n_long if long_lines == "drop" else 0,
        n_cut=n_long if long_lines == "cut" else 0,
        max_len=max_len,
        longest=longest,
    )
    return tokens, report


def _encoded_chunks(tokenizer: Tokenizer, lines: Iterable[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``tokenizer.encode_batch`` of each chunk of lines (never an empty one)."""
    lines = iter(lines)
    while chunk := list(itertools.islice(lines, _ENCODE_LINES)):
        yield tokenizer.encode_batch(chunk)


def _write_rows(rows: np.ndarray, flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> None:
    """Write line ``i`` (``flat[starts[i]:][:lengths[i]]``) into the PAD-filled ``rows[i]``: its
    first ``max_len`` ids, then EOS if it is shorter."""
    max_len = rows.shape[1]
    columns = np.arange(max_len)
    inside = columns < np.minimum(lengths, max_len)[:, None]
    rows[inside] = flat[(starts[:, None] + columns)[inside]]
    short = np.flatnonzero(lengths < max_len)
    rows[short, lengths[short]] = EOS_ID


def sequence_lengths(tokens: torch.Tensor, eos_id: int = EOS_ID, pad_id: int | None = PAD_ID) -> torch.Tensor:
    """Length of each row: the tokens up to and including its first EOS.

    A row without EOS ends just before its first PAD (rows from :func:`encode_lines` never
    hit this: they put EOS before padding) or, with no PAD either, at the full width.
    Pass ``pad_id=None`` to count PAD as an ordinary token.

    Args:
        tokens: integer ids, shape ``(N, max_len)``.
        eos_id: the end-of-sequence id.
        pad_id: the padding id, or ``None``.

    Returns:
        ``int64`` lengths, shape ``(N,)``.
    """
    width = tokens.shape[1]
    positions = torch.arange(width, device=tokens.device)
    # Index of the first match per row, or `width` when there is none (no Python loop).
    no_match = torch.full_like(positions, width)
    first_eos = torch.where(tokens == eos_id, positions, no_match).amin(dim=1)
    lengths = torch.where(first_eos < width, first_eos + 1, width)
    if pad_id is not None:
        first_pad = torch.where(tokens == pad_id, positions, no_match).amin(dim=1)
        lengths = torch.where(first_eos < width, lengths, first_pad)
    return lengths.to(torch.int64)
