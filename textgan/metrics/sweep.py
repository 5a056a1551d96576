"""Quality against diversity over sampling temperatures (Caccia et al. 2018, "falling short").

A GAN often looks better than MLE only because its samples are less diverse; lowering MLE's
temperature buys the same trade. Sweeping the temperature of each model and plotting quality
against diversity shows whether one model's curve lies beyond the other's at equal diversity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from textgan.metrics.nll import nll_test
from textgan.models.generator import Generator

DEFAULT_TEMPERATURES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4)


def temperature_sweep(
    generator: Generator,
    score: Callable[[torch.Tensor], dict[str, float]],
    max_len: int,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    n: int = 10_000,
    test_tokens: torch.Tensor | None = None,
    seed: int = 0,
    on_point: Callable[[dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Score ``n`` samples of ``generator`` at each temperature.

    Args:
        generator: the model; its weights are not changed.
        score: samples ``(n, max_len)`` -> named numbers, e.g. ``{"nll_oracle": ...}`` (synthetic
            data) or ``{"bleu_4": ..., "self_bleu_4": ...}`` (real data).
        max_len: sample length.
        temperatures: each one positive.
        n: samples per temperature.
        test_tokens: held-out data; when given, each point also holds ``nll_test`` of the tempered model.
        seed: the same random stream at every temperature, so points differ by temperature only.
        on_point: called with each point as it is done (progress bars).

    Returns:
        One dict per temperature: ``{"temperature": t, **score(samples), ["nll_test": ...]}``.
    """
    points = []
    for temperature in temperatures:
        if not temperature > 0:
            raise ValueError(f"temperatures must be positive, got {temperature}")
        samples = generator.sample(n, max_len, generator=torch.Generator().manual_seed(seed), temperature=temperature)
        point = {"temperature": float(temperature), **score(samples)}
        if test_tokens is not None:
            point["nll_test"] = nll_test(generator, test_tokens, temperature=temperature)
        points.append(point)
        if on_point is not None:
            on_point(point)
    return points
