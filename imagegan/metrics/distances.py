"""Fréchet distance (FID) and kernel distance (KID) between two sets of features, in float64.

Both are distances between feature distributions; what they mean depends on the features. With
the Inception network's pool features they are the FID/KID of the literature; with imagegan's
default :class:`FeatureClassifier` they are a *classifier-FID* on the dataset's own classifier,
which ranks models on that dataset but is on another scale: never compare it with published
Inception-FID numbers, nor across classifiers with different hashes.
"""

from __future__ import annotations

import numpy as np
import torch

from runcore.frechet import frechet_distance

__all__ = ["fid", "kid"]


def _as_features(features, what: str) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(f"{what} features must be (N >= 2, D), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} features contain NaN or infinity")
    return array


def _pair(real_features, fake_features) -> tuple[np.ndarray, np.ndarray]:
    real, fake = _as_features(real_features, "real"), _as_features(fake_features, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real features have {real.shape[1]} dimensions, fake ones {fake.shape[1]}")
    return real, fake


def fid(real_features, fake_features) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (``runcore.frechet``).

    ``|mu_r - mu_f|² + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^½)``, in float64, with two ``eigh``
    calls (no scipy ``sqrtm``, no complex round-off).

    Args:
        real_features, fake_features: ``(N, D)`` arrays or tensors; N may differ.

    Examples:
        >>> x = np.random.default_rng(0).normal(size=(500, 4))
        >>> round(fid(x, x), 9), round(fid(x, x + 1.0), 6)
        (0.0, 4.0)
    """
    real, fake = _pair(real_features, fake_features)
    return frechet_distance(torch.from_numpy(real), torch.from_numpy(fake))


def kid(
    real_features, fake_features, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance: the unbiased MMD² with the kernel ``k(x, y) = (x·y / D + 1)³``.

    Averaged over ``subsets`` random subsets of ``m = min(subset_size, N_real, N_fake)`` samples
    from each set (drawn without replacement), as Bińkowski et al. (2018) compute it.

    Returns:
        ``(mean, std)`` over the subsets (``std`` is the population standard deviation).
    """
    real, fake = _pair(real_features, fake_features)
    m = min(subset_size, real.shape[0], fake.shape[0])
    if m < 2 or subsets < 1:
        raise ValueError(f"KID needs subsets >= 1 of at least 2 samples, got {subsets} of {m}")
    dim = real.shape[1]
    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets)
    for k in range(subsets):
        x = real[rng.choice(real.shape[0], m, replace=False)]
        y = fake[rng.choice(fake.shape[0], m, replace=False)]
        k_xx = (x @ x.T / dim + 1.0) ** 3
        k_yy = (y @ y.T / dim + 1.0) ** 3
        k_xy = (x @ y.T / dim + 1.0) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        estimates[k] = within - 2.0 * k_xy.mean()
    return float(estimates.mean()), float(estimates.std())
