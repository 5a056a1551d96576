"""WGAN (Arjovsky et al. 2017): a critic estimates the Wasserstein-1 distance.

The paper's Algorithm 1 on DCGAN players: the Wasserstein objective, every critic parameter
clipped to [-0.01, 0.01] after each update, RMSprop(5e-5), and 5 critic updates per generator
update — 100 during the first 25 generator updates and every 500th, so the critic is near
optimal when G follows its gradient.
"""

from __future__ import annotations

import torch

from imagegan.losses import Wasserstein
from imagegan.models.base import GANSpec
from imagegan.models.dcgan import DCGAN
from imagegan.regularizers import WeightClipping
from runcore import AdversarialSchedule

__all__ = ["WGAN"]


class WGAN(DCGAN):
    """WGAN with weight clipping."""

    name = "wgan"
    objective = Wasserstein()
    constraint = WeightClipping(0.01)
    learning_rate = 5e-5

    def __init__(self, spec: GANSpec):
        super().__init__(spec)
        self.constraint(self.discriminator)

    def make_optimizers(self):
        # momentum-free, as the paper found Adam's momentum destabilised the clipped critic
        return (
            torch.optim.RMSprop(self.generator.parameters(), lr=self.learning_rate),
            torch.optim.RMSprop(self.discriminator.parameters(), lr=self.learning_rate),
        )

    def schedule(self, steps: int, d_steps: int | None = None) -> AdversarialSchedule:
        """5 critic steps per G step, 100 in the first 25 and every 500th; ``d_steps`` sets a flat count."""
        if d_steps is not None:
            return AdversarialSchedule(rounds=steps, d_steps=d_steps, d_first=True)
        return AdversarialSchedule(
            rounds=steps, d_steps=5, d_steps_early=100, early_rounds=25, early_every=500, d_first=True
        )
