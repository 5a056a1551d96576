"""The Fréchet distance between Gaussians fitted to two sets of feature vectors, in float64.

What it means depends on the features: imagegan's FID (classifier or Inception features) and
textgan's Fréchet distance of sentence embeddings both call :func:`frechet_distance`.
"""

from __future__ import annotations

import torch

__all__ = ["frechet_distance", "psd_sqrt"]


def psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0.0).sqrt()) @ vectors.T


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """``|mu_a - mu_b|² + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^½)`` of two ``(N, D)`` feature sets.

    Computed in float64 (inputs are converted); covariances are unbiased (``N - 1``), as
    ``numpy.cov``'s. The trace of the square root uses ``tr((S_a S_b)^½) = tr((S_a^½ S_b S_a^½)^½)``,
    a symmetric PSD matrix, so two ``eigh`` calls suffice (no ``sqrtm``, no complex round-off).

    Args:
        a, b: ``(N, D)`` tensors with N ≥ 2 rows each (N may differ), finite.

    Examples:
        >>> x = torch.randn(500, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> round(frechet_distance(x, x), 9), round(frechet_distance(x, x + 1.0), 6)
        (0.0, 4.0)
    """
    a, b = a.detach().to("cpu", torch.float64), b.detach().to("cpu", torch.float64)
    for name, x in (("first", a), ("second", b)):
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"the {name} feature set must be (N >= 2, D), got shape {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError(f"the {name} feature set contains NaN or infinity")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the feature sets have {a.shape[1]} and {b.shape[1]} dimensions")
    mean_gap = a.mean(0) - b.mean(0)
    cov_a, cov_b = torch.atleast_2d(torch.cov(a.T)), torch.atleast_2d(torch.cov(b.T))
    root_a = psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0.0).sqrt().sum()
    distance = mean_gap @ mean_gap + cov_a.trace() + cov_b.trace() - 2.0 * trace_root
    return max(0.0, float(distance))  # identical sets may round to -1e-12
