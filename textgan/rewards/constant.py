"""A constant reward: the no-discriminator ablation, and the simplest reward model."""

from __future__ import annotations

import torch


class ConstantReward:
    """Every finished sequence scores ``value``, whatever it says.

    Under SeqGAN's estimator (Monte Carlo action values) every token's value is then ``value``,
    so the ablation differs from SeqGAN in the reward alone: what the discriminator adds.

    Examples:
        >>> ConstantReward(0.5).score(torch.zeros(1, 2, 3, dtype=torch.long)).tolist()
        [[0.5, 0.5]]
    """

    vocab_size = None
    max_len = None
    dense = False

    def __init__(self, value: float = 1.0):
        self.value = float(value)
        self.reward_range = (self.value, self.value)

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.full(tokens.shape[:2], self.value, device=tokens.device)
