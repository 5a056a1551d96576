"""Mode counting on stacked MNIST (PacGAN's 1000-mode protocol)."""

from __future__ import annotations

import math

import torch
from torch import nn

from imagegan.metrics.classifier import predict_labels

__all__ = ["count_modes", "stacked_mnist_modes"]

NUM_MODES = 1000


def stacked_mnist_modes(classifier: nn.Module, images: torch.Tensor) -> dict:
    """Classify each channel of stacked-MNIST images as a digit and tally the 1,000 triples.

    Args:
        classifier: an MNIST classifier taking 1-channel images of the same side
            (``classifier_for("stacked-mnist", ...)`` gives it).
        images: ``(N, 3, H, W)`` generated images in ``[-1, 1]``.

    Returns:
        ``{"modes": distinct triples seen, "kl_to_uniform": KL(q || uniform) of the triples'
        distribution q, in nats (0 is perfect, log 1000 ≈ 6.91 is one mode), "n": N}``,
        the two numbers PacGAN reports.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"stacked MNIST images are (N, 3, H, W), got {tuple(images.shape)}")
    n, _, h, w = images.shape
    digits = predict_labels(classifier, images.reshape(n * 3, 1, h, w)).reshape(n, 3)
    triples = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    counts = torch.bincount(triples, minlength=NUM_MODES).double()
    q = counts[counts > 0] / n
    kl = float((q * (q * NUM_MODES).log()).sum()) if n else math.nan
    return {"modes": int((counts > 0).sum()), "kl_to_uniform": kl, "n": n}


def count_modes(classifier: nn.Module, images: torch.Tensor) -> int:
    """Number of the 1,000 stacked-MNIST modes among ``images``; see :func:`stacked_mnist_modes`."""
    return stacked_mnist_modes(classifier, images)["modes"]
