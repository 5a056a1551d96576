"""SentiGAN's reward model: one discriminator over k real classes plus one for generated text.

Wang & Wan (2018) train a discriminator with ``k + 1`` outputs — the ``k`` classes of real text
and "fake" — and reward the generator of class ``i`` with ``D``'s probability that its text is a
real sentence of class ``i``. Here one conditional generator writes every class (the class is
its initial state, ``textgan.models.conditional``), so the reward of a row asked for class
``y`` is ``D(Y)[y]``, valued by the env's Monte Carlo rollouts as in SeqGAN. It is a class-aware
reward model: ``conditional = True`` and ``score(tokens (G, N, T), labels (N,))``, the env
handing it each scored row's label.

Examples:
    >>> from textgan.models import DiscriminatorConfig
    >>> d = ClassDiscriminator(DiscriminatorConfig(vocab_size=8, max_len=4, filter_sizes=(2,), num_filters=(4,)), 3)
    >>> reward = ClassDiscriminatorReward(d)
    >>> reward.num_classes, reward.score(torch.zeros(2, 3, 4, dtype=torch.long), torch.tensor([0, 1, 0])).shape
    (2, torch.Size([2, 3]))
"""

from __future__ import annotations

import torch

from runcore.optim import adam
from textgan.models.classifier import ClassDiscriminator
from textgan.rewards.base import pad_to


class ClassDiscriminatorReward:
    """``D(Y)[label]`` from a ``k + 1``-way discriminator (output ``k`` is "generated").

    Args:
        discriminator: a ``ClassDiscriminator`` with ``k + 1`` outputs (trained in place).
        optimizer: its optimiser; default Adam at ``learning_rate``.
        learning_rate: the default optimiser's step size.
    """

    dense = False
    conditional = True
    row_independent = True
    reward_range = (0.0, 1.0)

    def __init__(self, discriminator: ClassDiscriminator, optimizer: torch.optim.Optimizer | None = None, learning_rate: float = 1e-4):
        self.discriminator = discriminator
        self.vocab_size = discriminator.config.vocab_size
        self.max_len = discriminator.config.max_len
        self.optimizer = optimizer or adam(discriminator.parameters(), lr=learning_rate)

    @property
    def num_classes(self) -> int:
        """k, the real classes (the discriminator's last output is "generated")."""
        return self.discriminator.num_outputs - 1

    def score(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``(G, N)``: the probability that sequence ``[g, n]`` is real text of class ``labels[n]``."""
        groups, n, width = tokens.shape
        probs = self.discriminator.class_probs(pad_to(tokens.reshape(groups * n, width), self.max_len))
        wanted = labels.to(probs.device).long().repeat(groups)  # group g's row n is of class labels[n]
        return probs.gather(1, wanted.unsqueeze(1)).view(groups, n)

    def targets(self, is_real: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The discriminator's class of each row: its label if real, ``k`` if generated."""
        return torch.where(is_real.bool(), labels.long(), self.num_classes)

    def train_step(self, tokens: torch.Tensor, is_real: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step of cross-entropy over the ``k + 1`` classes (``labels``: each row's class)."""
        self.discriminator.train()
        self.optimizer.zero_grad()
        loss = self.discriminator.loss(tokens, self.targets(is_real, labels))
        loss.backward()
        self.optimizer.step()
        return {"d_loss": loss.detach()}

    @torch.no_grad()
    def evaluate(self, real: torch.Tensor, fake: torch.Tensor, real_labels: torch.Tensor, fake_labels: torch.Tensor) -> dict[str, float]:
        """The share of rows put in their ``k + 1``-way class, the mean probability of a real row's
        own class, and of a generated row's asked-for class."""
        real_probs, fake_probs = self.discriminator.class_probs(real), self.discriminator.class_probs(fake)
        correct = int((real_probs.argmax(1) == real_labels).sum()) + int((fake_probs.argmax(1) == self.num_classes).sum())
        return {
            "d_accuracy": correct / (len(real) + len(fake)),
            "d_real_prob": float(real_probs.gather(1, real_labels.long().unsqueeze(1)).mean()),
            "d_fake_prob": float(fake_probs.gather(1, fake_labels.long().unsqueeze(1)).mean()),
        }

    def checkpoint_items(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {"discriminator": self.discriminator, "d_optimizer": self.optimizer}
