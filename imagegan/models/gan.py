"""GAN (Goodfellow et al. 2014): a multilayer-perceptron generator and discriminator.

The paper's objective with its non-saturating generator loss. Differences from the paper, for
stability on any image size: LeakyReLU instead of maxout, no dropout, Adam(2e-4, 0.5) instead
of SGD with momentum.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from imagegan.losses import NonSaturating
from imagegan.models.base import GANSpec, UnconditionalGAN

__all__ = ["GAN", "MLPDiscriminator", "MLPGenerator"]


class MLPGenerator(nn.Module):
    """``z (B, in_dim) -> images (B, C, H, W)`` through hidden layers of 4w, 8w, 16w units.

    Args:
        norm: normalisation after the second and third hidden layers (CGAN: batch norm); None
            for none (GAN, as in the paper).
    """

    def __init__(self, in_dim: int, image_shape: tuple[int, int, int], width: int, norm: Callable[[int], nn.Module] | None = None):
        super().__init__()
        self.image_shape = image_shape
        layers: list[nn.Module] = [nn.Linear(in_dim, 4 * width), nn.LeakyReLU(0.2)]
        for units in (8 * width, 16 * width):
            layers += [nn.Linear(units // 2, units), *([norm(units)] if norm else []), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Linear(16 * width, math.prod(image_shape)), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.image_shape)


class MLPDiscriminator(nn.Module):
    """``flattened input (B, in_dim) -> logits (B,)`` through hidden layers of 8w and 4w units.

    Args:
        dropout: dropout after each hidden layer (CGAN, as in Mirza & Osindero); 0 for none.
    """

    def __init__(self, in_dim: int, width: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, 8 * width),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(8 * width, 4 * width),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(4 * width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


class GAN(UnconditionalGAN):
    """The original GAN with MLP players (``width`` 64: hidden layers of 256 to 1024 units)."""

    name = "gan"
    convolutional = False
    objective = NonSaturating()

    def __init__(self, spec: GANSpec):
        super().__init__(spec)
        shape = (spec.channels, spec.image_size, spec.image_size)
        self.generator = MLPGenerator(spec.z_dim, shape, spec.width)
        self.discriminator = MLPDiscriminator(math.prod(shape), spec.width)
        self.finish_init()
