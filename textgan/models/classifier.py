"""SeqGAN's CNN + highway discriminator with one logit per class instead of one for "real".

Used twice: as SentiGAN's discriminator (``k`` real classes and one for generated text,
``textgan.rewards.classes``) and as the text classifier that judges generated text in
``textgan eval`` (``textgan.metrics.classifier``, ``k`` outputs).

Examples:
    >>> c = ClassDiscriminator(DiscriminatorConfig(vocab_size=10, max_len=6, filter_sizes=(2,), num_filters=(4,)), 3)
    >>> c(torch.zeros(5, 6, dtype=torch.long)).shape, torch.allclose(c.class_probs(torch.zeros(5, 6, dtype=torch.long)).sum(1), torch.ones(5))
    (torch.Size([5, 3]), True)
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from textgan.models.discriminator import Discriminator, DiscriminatorConfig


class ClassDiscriminator(Discriminator):
    """The CNN over token embeddings with ``num_outputs`` logits ``(N, num_outputs)``."""

    def __init__(self, config: DiscriminatorConfig, num_outputs: int):
        if num_outputs < 2:
            raise ValueError(f"a class discriminator needs at least 2 outputs, got {num_outputs}")
        super().__init__(config)
        self.num_outputs = num_outputs
        self.output = nn.Linear(self.output.in_features, num_outputs)  # forward's squeeze(-1) then keeps (N, k)

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy against class ids ``targets (N,)`` plus the output layer's L2 term."""
        ce = F.cross_entropy(self(tokens), targets.long())
        l2 = (self.output.weight.square().sum() + self.output.bias.square().sum()) / 2
        return ce + self.config.l2_reg * l2

    @torch.no_grad()
    def class_probs(self, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Softmax over the outputs ``(N, num_outputs)`` in eval mode, in chunks."""
        was_training = self.training
        self.eval()
        try:
            if not len(tokens):
                return tokens.new_zeros(0, self.num_outputs, dtype=torch.float)
            return torch.cat([torch.softmax(self(chunk), dim=-1) for chunk in tokens.split(batch_size)])
        finally:
            self.train(was_training)

    def prob_real(self, tokens: torch.Tensor) -> torch.Tensor:  # not a real/fake score: refuse the adapter
        raise TypeError("a ClassDiscriminator scores classes, not P(real); use ClassDiscriminatorReward")
