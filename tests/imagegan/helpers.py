"""Helpers shared by the per-model tests: random batches, parameter snapshots, a few steps."""

from __future__ import annotations

import math

import torch

from imagegan.models import Batch, GANSpec, ImageGAN, build_model
from imagegan.models.text import encode_captions

CAPTIONS = ["a small red circle at the top left", "a large blue square in the center"]


def tiny_model(name: str, image_size: int = 16, channels: int = 3, num_classes: int = 5, width: int = 8, seed: int = 0) -> ImageGAN:
    torch.manual_seed(seed)
    z_dim = 62 if name == "infogan" else 16
    return build_model(name, GANSpec(image_size, channels, num_classes, z_dim, width))


def random_batch(model: ImageGAN, n: int = 8, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    spec = model.spec
    images = torch.rand(n, spec.channels, spec.image_size, spec.image_size, generator=g) * 2 - 1
    labels = torch.randint(max(spec.num_classes, 1), (n,), generator=g)
    captions = encode_captions([CAPTIONS[i % 2] for i in range(n)])
    return Batch(images, labels, captions)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def unchanged(before: dict[str, torch.Tensor], module: torch.nn.Module) -> list[str]:
    """Names of the parameters equal to their snapshot."""
    return [name for name, p in module.named_parameters() if torch.equal(before[name], p.detach())]


def train_steps(model: ImageGAN, steps: int = 2, n: int = 8) -> list[dict[str, float]]:
    """``steps`` rounds of one D and one G update on random batches; the metrics as floats."""
    records = []
    for step in range(steps):
        metrics = {**model.d_step(random_batch(model, n, seed=step)), **model.g_step(random_batch(model, n, seed=100 + step))}
        records.append({k: float(v) for k, v in metrics.items()})
    return records


def assert_trains(model: ImageGAN, steps: int = 2, d_may_stay: bool = False) -> list[dict[str, float]]:
    """A few steps change every parameter of both players and give finite metrics."""
    g_before, d_before = snapshot(model.generator), snapshot(model.discriminator)
    records = train_steps(model, steps)
    assert unchanged(g_before, model.generator) == []
    if d_may_stay:
        assert len(unchanged(d_before, model.discriminator)) < len(d_before)
    else:
        assert unchanged(d_before, model.discriminator) == []
    assert all(math.isfinite(v) for r in records for v in r.values()), records
    return records
