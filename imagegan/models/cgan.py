"""Conditional GAN (Mirza & Osindero 2014): G and D both see the class label.

The label enters as a one-hot vector concatenated to G's noise and to D's flattened image, on
the MLP players of :mod:`imagegan.models.gan`, with batch norm in G's hidden layers and dropout
(0.3) in D's (the paper used dropout; batch norm keeps the MLP generator from collapsing onto a
few label-blind modes, which it did without it on MNIST). Sample grids hold one row per class.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from imagegan.losses import NonSaturating
from imagegan.models.base import Batch, GANSpec, Grid, ImageGAN, evaluating, frozen
from imagegan.models.gan import MLPDiscriminator, MLPGenerator

__all__ = ["CGAN", "grid_classes"]

GRID_ROWS = 10


class ConditionalGenerator(nn.Module):
    def __init__(self, spec: GANSpec):
        super().__init__()
        self.num_classes = spec.num_classes
        shape = (spec.channels, spec.image_size, spec.image_size)
        self.mlp = MLPGenerator(spec.z_dim + spec.num_classes, shape, spec.width, norm=nn.BatchNorm1d)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1))


class ConditionalDiscriminator(nn.Module):
    def __init__(self, spec: GANSpec):
        super().__init__()
        self.num_classes = spec.num_classes
        self.mlp = MLPDiscriminator(spec.channels * spec.image_size**2 + spec.num_classes, spec.width, dropout=0.3)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(labels, self.num_classes).to(images.dtype)
        return self.mlp(torch.cat([images.flatten(1), one_hot], dim=1))


def grid_classes(num_classes: int, rows: int = GRID_ROWS) -> list[int]:
    """The classes shown in a grid: all of them, or ``rows`` spread evenly across them."""
    if num_classes <= rows:
        return list(range(num_classes))
    return [round(i * (num_classes - 1) / (rows - 1)) for i in range(rows)]


class CGAN(ImageGAN):
    """Label-conditioned MLP GAN; fakes in D's step carry the real batch's labels."""

    name = "cgan"
    needs = "labels"
    convolutional = False

    def __init__(self, spec: GANSpec):
        super().__init__(spec)
        self.generator = ConditionalGenerator(spec)
        self.discriminator = ConditionalDiscriminator(spec)
        self.objective = NonSaturating()
        self.finish_init()

    def d_step(self, batch: Batch) -> dict[str, Any]:
        real, labels = batch.images, batch.labels
        z = batch.z if batch.z is not None else self.noise(real.shape[0])
        with torch.no_grad(), self.autocast():
            fake = self.paths.g_fast(z, labels)
        with self.autocast():
            real_logits, fake_logits = self.paths.d_train(real, labels), self.paths.d_train(fake, labels)
        loss = self.objective.d_loss(real_logits, fake_logits)
        self.update(self.d_optimizer, loss)
        return {"d_loss": loss.detach(), "d_gap": (real_logits.float().mean() - fake_logits.float().mean()).detach()}

    def g_step(self, batch: Batch) -> dict[str, Any]:
        labels = batch.labels
        z = batch.z if batch.z is not None else self.noise(labels.shape[0])
        with frozen(self.discriminator), self.autocast():
            loss = self.objective.g_loss(self.paths.d_fast(self.paths.g_train(z, labels), labels))
        self.update(self.g_optimizer, loss)
        return {"g_loss": loss.detach()}

    @torch.no_grad()
    def generate(self, n, labels=None, captions=None, generator=None):
        if labels is None:
            labels = torch.randint(self.spec.num_classes, (n,), generator=generator)
        labels = labels.to(self.device)
        with evaluating(self.generator), self.autocast():
            return self.generator(self.noise(n, generator), labels).float().clamp(-1, 1)

    def sample_grid(self, seed: int = 0, labels: list[int] | None = None, columns: int = 10, **_: Any) -> Grid:
        """One row per class (``labels``, default up to 10 classes spread over all), ``columns`` samples each."""
        classes = labels if labels is not None else grid_classes(self.spec.num_classes)
        rows = torch.tensor(classes).repeat_interleave(columns)
        images = self.generate(len(rows), labels=rows, generator=torch.Generator().manual_seed(seed))
        return Grid(images, nrow=columns, row_classes=list(classes))
