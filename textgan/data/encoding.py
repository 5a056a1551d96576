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

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from textgan.data.tokenizers import EOS_ID, PAD_ID, Tokenizer
from runcore.errors import UserError

LONG_LINE_POLICIES = ("drop", "cut")


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


def choose_max_len(tokenizer: Tokenizer, lines: Sequence[str], cap: int = 64) -> int:
    """The longest line's length in tokens, capped.

    Args:
        tokenizer: turns each line into ids.
        lines: the samples.
        cap: the largest width returned, bounding memory and episode length.

    Returns:
        ``min(longest, cap)``, at least 1.
    """
    longest = max((len(tokenizer.encode(line)) for line in lines), default=1)
    return max(1, min(longest, cap))


def encode_lines(
    tokenizer: Tokenizer,
    lines: Sequence[str],
    max_len: int,
    long_lines: str = "drop",
) -> tuple[torch.Tensor, EncodeReport]:
    """Encode lines into an ``int64`` tensor of shape ``(N, max_len)``.

    Args:
        tokenizer: turns each line into ids.
        lines: the samples.
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
    rows: list[list[int]] = []
    n_long = longest = 0
    for line in lines:
        ids = tokenizer.encode(line)
        longest = max(longest, len(ids))
        if len(ids) > max_len:
            n_long += 1
            if long_lines == "drop":
                continue
            ids = ids[:max_len]
        elif len(ids) < max_len:
            ids = ids + [EOS_ID] + [PAD_ID] * (max_len - len(ids) - 1)
        rows.append(ids)
    if lines and not rows:
        raise UserError(
            f"all {n_long} lines are longer than the max length of {max_len} tokens "
            f"(the longest has {longest})",
            f"pass --max-len {longest}, or --long-lines cut",
        )
    tokens = torch.tensor(rows, dtype=torch.int64).reshape(len(rows), max_len)
    report = EncodeReport(
        n_lines=len(lines),
        n_kept=len(rows),
        n_dropped=n_long if long_lines == "drop" else 0,
        n_cut=n_long if long_lines == "cut" else 0,
        max_len=max_len,
        longest=longest,
    )
    return tokens, report


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
