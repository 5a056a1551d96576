"""The copy task: a fixed "discriminator" that rewards one target sequence.

The SeqGAN env's identity task (as Stable-Baselines3 tests agents on identity envs): D scores a
sequence by the (weighted) share of positions that hold the target's token, so an agent whose
gradient is right learns to write the target within seconds, and one fed a constant reward
does not.

Examples:
    >>> d = TargetDiscriminator([5, 3, 6, 4], vocab_size=8)
    >>> d.prob_real(torch.tensor([[5, 3, 6, 4], [5, 0, 0, 0]])).tolist()
    [1.0, 0.25]
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import torch
from torch import nn


class TargetDiscriminator(nn.Module):
    """Scores ``(N, T)`` sequences by their weighted agreement with ``target`` (``T`` tokens).

    Args:
        target: the sequence to copy.
        vocab_size: the env's vocabulary size (the env checks it like a real D's).
        weights: per-position weights (default all 1); unequal weights make the score depend on
            where a token is, not only on how many match.
    """

    def __init__(self, target: Sequence[int], vocab_size: int, weights: Sequence[float] | None = None):
        super().__init__()
        self.register_buffer("target", torch.as_tensor(target, dtype=torch.long))
        weights = torch.ones(len(target)) if weights is None else torch.as_tensor(weights, dtype=torch.float)
        self.register_buffer("weights", weights / weights.sum())
        self.config = SimpleNamespace(vocab_size=vocab_size, max_len=len(target))

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @torch.no_grad()
    def prob_real(self, tokens: torch.Tensor) -> torch.Tensor:
        return ((tokens == self.target).float() * self.weights).sum(dim=1)
