"""Captions as character ids, and the trainable character-level GRU that embeds them (StackGAN).

The alphabet is fixed (lower-case letters, digits, a little punctuation), so a run needs no
vocabulary file and any caption typed at ``imagegan sample --caption`` can be encoded; other
characters map to one unknown id.

Examples:
    >>> encode_captions(["A red circle"], max_chars=8).tolist()
    [[3, 2, 20, 7, 6, 2, 5, 11]]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ALPHABET", "MAX_CHARS", "PAD", "UNKNOWN", "CharGRUEncoder", "encode_captions"]

PAD, UNKNOWN = 0, 1
ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789-',.&!?:;()/"
MAX_CHARS = 64
_IDS = {ch: i + 2 for i, ch in enumerate(ALPHABET)}


def encode_captions(captions: Sequence[str], max_chars: int = MAX_CHARS) -> torch.Tensor:
    """``(N, L)`` int64 ids, lower-cased, cut at ``max_chars``, padded with ``PAD`` to the longest
    (``L <= max_chars``: the GRU runs no steps over padding only)."""
    texts = [" ".join(caption.lower().split())[:max_chars] or " " for caption in captions]
    ids = torch.full((len(texts), max((len(t) for t in texts), default=1)), PAD, dtype=torch.long)
    for row, text in enumerate(texts):
        ids[row, : len(text)] = torch.tensor([_IDS.get(ch, UNKNOWN) for ch in text])
    return ids


class CharGRUEncoder(nn.Module):
    """Characters -> embedding -> GRU; the caption's vector is the GRU state after its last character.

    Args:
        embed_dim: size of each character's embedding.
        hidden_dim: size of the caption vector.
    """

    def __init__(self, embed_dim: int = 32, hidden_dim: int = 128):
        super().__init__()
        self.embed = nn.Embedding(len(ALPHABET) + 2, embed_dim, padding_idx=PAD)
        self.gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)
        self.hidden_dim = hidden_dim

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids -> ``(B, hidden_dim)``."""
        lengths = (ids != PAD).sum(dim=1).clamp(min=1)
        outputs, _ = self.gru(self.embed(ids))
        return outputs[torch.arange(ids.shape[0], device=ids.device), lengths - 1]
