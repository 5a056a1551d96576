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
    """Characters -> embedding -> bidirectional GRU -> mean over the caption's characters.

    Averaging both directions' outputs over every character keeps each word within equal reach;
    the last state of a one-way GRU mostly remembers the caption's end (on ``shapes``: the
    position), and a StackGAN trained on it drew the right place in the wrong colour and shape.

    Args:
        embed_dim: size of each character's embedding.
        hidden_dim: size of the caption vector (half per direction).
    """

    def __init__(self, embed_dim: int = 32, hidden_dim: int = 128):
        super().__init__()
        if hidden_dim % 2:
            raise ValueError(f"hidden_dim must be even (half per direction), got {hidden_dim}")
        self.embed = nn.Embedding(len(ALPHABET) + 2, embed_dim, padding_idx=PAD)
        self.gru = nn.GRU(embed_dim, hidden_dim // 2, batch_first=True, bidirectional=True)
        self.hidden_dim = hidden_dim

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids -> ``(B, hidden_dim)``; padding is neither read nor averaged."""
        lengths = (ids != PAD).sum(dim=1).clamp(min=1)
        # packing needs the lengths on the host: free on the CPU, a wait for the GPU elsewhere
        outputs = self.packed_outputs(ids, lengths) if ids.device.type == "cpu" else self.shifted_outputs(ids, lengths)
        return outputs.sum(dim=1) / lengths.unsqueeze(1).to(outputs.dtype)

    def packed_outputs(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, L, hidden_dim)`` GRU outputs over each caption, zeros over its padding."""
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, _ = self.gru(packed)
        return nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True, total_length=ids.shape[1])[0]

    def shifted_outputs(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """What :meth:`packed_outputs` gives, with the lengths left on the device.

        The GRU reads the captions twice: as given (padding after the text), keeping the forward
        direction, whose outputs over the text never see the padding; and shifted so that the
        padding comes first, keeping the backward direction, which then starts at the caption's
        last character. Padding embeds to zeros, so the shift can wrap it around. Outputs stay at
        the positions of the text as given.
        """
        length = ids.shape[1]
        positions = torch.arange(length, device=ids.device)
        shift = (length - lengths).unsqueeze(1)
        embedded = self.embed(ids)
        left_padded = embedded.gather(1, ((positions - shift) % length).unsqueeze(2).expand_as(embedded))
        half = self.hidden_dim // 2
        text = (positions < lengths.unsqueeze(1)).unsqueeze(2)
        forward_out = self.gru(embedded)[0][..., :half] * text
        backward_out = self.gru(left_padded)[0][..., half:]
        backward_out = backward_out.gather(1, ((positions + shift) % length).unsqueeze(2).expand_as(backward_out)) * text
        return torch.cat([forward_out, backward_out], dim=2)
