"""SeqGAN's reward model: the CNN + highway discriminator's ``P(real)``, trained with BCE."""

from __future__ import annotations

import torch

from runcore.graphs import GraphedStep
from runcore.optim import adam

from textgan.models.discriminator import Discriminator
from textgan.rewards.base import ProbRealReward


class DiscriminatorReward(ProbRealReward):
    """Scores a finished sequence by ``D(Y) = P(real)``; trains D on real (1) and generated (0) rows.

    Args:
        discriminator: the CNN discriminator (trained in place).
        optimizer: its optimiser; default Adam at ``learning_rate`` (fused, capturable).
        learning_rate: the default optimiser's step size (the paper's code: 1e-4).
        log: score ``log D(Y)`` instead of ``D(Y)``.
        cuda_graphs: on a GPU, replay each training step of the usual batch shape as one CUDA
            graph (``runcore.GraphedStep``; the step is launch-bound at SeqGAN's batch of 64).
            The same update as the eager step; off for an optimiser that is not capturable.

    Examples:
        >>> from textgan.models import DiscriminatorConfig
        >>> d = Discriminator(DiscriminatorConfig(vocab_size=8, max_len=4, filter_sizes=(2,), num_filters=(4,)))
        >>> reward = DiscriminatorReward(d)
        >>> reward.score(torch.zeros(2, 3, 4, dtype=torch.long)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        discriminator: Discriminator,
        optimizer: torch.optim.Optimizer | None = None,
        learning_rate: float = 1e-4,
        log: bool = False,
        cuda_graphs: bool = True,
    ):
        super().__init__(discriminator, log=log)
        self.discriminator = discriminator
        self.optimizer = optimizer or adam(discriminator.parameters(), lr=learning_rate)
        capturable = all(group.get("capturable", False) for group in self.optimizer.param_groups)
        self._step = GraphedStep(self._forward_backward_step, self.optimizer, enabled=cuda_graphs and capturable)

    def train_step(self, tokens: torch.Tensor, is_real: torch.Tensor) -> dict[str, torch.Tensor]:
        self.discriminator.train()
        return self._step(tokens, is_real)

    def _forward_backward_step(self, tokens: torch.Tensor, is_real: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = self.discriminator.loss(tokens, is_real.float())
        loss.backward()
        self.optimizer.step()
        return {"d_loss": loss.detach()}

    @torch.no_grad()
    def evaluate(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        """Mean ``P(real)`` of the real and generated rows, and the share on the right side of 0.5."""
        real_prob, fake_prob = self.discriminator.prob_real(real), self.discriminator.prob_real(fake)
        correct = int((real_prob > 0.5).sum()) + int((fake_prob <= 0.5).sum())
        return {
            "d_real_prob": float(real_prob.mean()),
            "d_fake_prob": float(fake_prob.mean()),
            "d_accuracy": correct / (len(real) + len(fake)),
        }

    def checkpoint_items(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {"discriminator": self.discriminator, "d_optimizer": self.optimizer}
