"""WGAN-GP (Gulrajani et al. 2017): the Wasserstein critic kept 1-Lipschitz by a gradient penalty.

The paper's Algorithm 1 on DCGAN players: λ = 10 on random interpolates of real and fake images,
5 critic steps per generator step, Adam(1e-4, β=(0.5, 0.9)), and no batch norm in the critic
(the penalty is per sample); layer norm takes its place, as the paper suggests.
"""

from __future__ import annotations

import torch
from torch import nn

from imagegan.losses import Wasserstein
from imagegan.models.dcgan import DCGAN
from imagegan.regularizers import GradientPenalty
from runcore import AdversarialSchedule

__all__ = ["WGANGP", "layer_norm"]


def layer_norm(channels: int) -> nn.Module:
    """Layer norm over (C, H, W) for any map size: a group norm with a single group."""
    return nn.GroupNorm(1, channels)


class WGANGP(DCGAN):
    """WGAN with a gradient penalty; the penalty runs on the eager critic (double backward)."""

    name = "wgan-gp"
    objective = Wasserstein()
    penalty = GradientPenalty(weight=10.0)
    critic_norm = staticmethod(layer_norm)

    def make_optimizers(self):
        return (
            torch.optim.Adam(self.generator.parameters(), lr=1e-4, betas=(0.5, 0.9)),
            torch.optim.Adam(self.discriminator.parameters(), lr=1e-4, betas=(0.5, 0.9)),
        )

    def schedule(self, steps: int, d_steps: int | None = None) -> AdversarialSchedule:
        """5 critic steps per generator step (``d_steps`` overrides)."""
        return AdversarialSchedule(rounds=steps, d_steps=d_steps or 5, d_first=True)
