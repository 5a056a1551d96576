"""Conditional GAN (Mirza & Osindero 2014): G and D both see the class label.

G reads a one-hot label concatenated to its noise; D, as in the paper, reads the label through
a hidden layer of its own joined with the hidden layer that reads the image, and goes on through
the MLP players of :mod:`imagegan.models.gan`. Concatenating the one-hot label straight to D's
784 pixels is a weak signal (3,000 steps on MNIST: 63% of samples show their label, against 73%
with the label layer); giving G a label layer too made it ignore its noise (one image per
class). Batch norm in G's hidden layers and dropout (0.3) in D's (the paper used dropout; batch
norm keeps the MLP generator from collapsing onto a few label-blind modes). LeakyReLU instead
of the paper's maxout. Sample grids hold one row per class.
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
        width, pixels = spec.width, spec.channels * spec.image_size**2
        self.read_image = nn.Sequential(nn.Linear(pixels, 8 * width), nn.LeakyReLU(0.2), nn.Dropout(0.3))
        self.read_label = nn.Sequential(nn.Embedding(spec.num_classes, 2 * width), nn.LeakyReLU(0.2))
        self.mlp = MLPDiscriminator(10 * width, width, dropout=0.3)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([self.read_image(images.flatten(1)), self.read_label(labels)], dim=1))


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
