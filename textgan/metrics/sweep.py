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
# The range searched for a matched temperature (Caccia et al.); no match in it is reported as none.
MATCH_RANGE = (0.5, 2.0)


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


def matched_temperature(
    generator: Generator, test: torch.Tensor, target: float, bounds: tuple[float, float] = MATCH_RANGE, tol: float = 1e-6
) -> float | None:
    """The temperature in ``bounds`` at which ``generator``'s NLL-test is ``target``; None if there is none.

    NLL-test at temperature T (``nll_test(generator, test, temperature=T)``) is convex in b = 1/T
    (per token a log-sum-exp of b * logits minus b * the true token's logit), so it falls to one
    minimum and rises again. The low-temperature side (sharper than the minimum: the side of a
    GAN's lower-entropy samples, Caccia et al.) is searched first, then the high-temperature side;
    on either, Newton's method from the far end of ``bounds`` approaches the crossing monotonically
    (the tangent of a convex function lies below it), a handful of passes over ``test``. Nothing is
    extrapolated beyond ``bounds``.
    """
    low_beta, high_beta = 1 / bounds[1], 1 / bounds[0]
    for start, rising in ((high_beta, True), (low_beta, False)):
        beta = start
        for iteration in range(50):
            value, slope = _tempered_nll(generator, test, beta)
            if abs(value - target) <= tol:
                return 1 / beta
            if value < target:
                if iteration == 0:
                    break  # the far end is below the target: no crossing on this side within bounds
                return 1 / beta  # rounding stepped just past the crossing
            if (slope <= 0) if rising else (slope >= 0):
                return None  # past the minimum with the NLL still above the target: it is never reached
            step = (value - target) / slope
            beta = min(max(beta - step, low_beta), high_beta)
            if abs(step) <= 1e-9:
                return 1 / beta
        else:
            return 1 / beta
    return None


@torch.no_grad()
def _tempered_nll(generator: Generator, tokens: torch.Tensor, beta: float, batch_size: int = 128) -> tuple[float, float]:
    """NLL-test at temperature 1/``beta`` (as :func:`nll_test` counts it) and its derivative in ``beta``."""
    was_training = generator.training
    generator.eval()
    device = generator.output.weight.device
    total, slope, count = 0.0, 0.0, 0
    for batch in tokens.to(device).split(batch_size):
        logits = generator(batch)
        log_p = torch.log_softmax(logits * beta, dim=-1)
        true = logits.gather(-1, batch.unsqueeze(-1)).squeeze(-1)
        nll = -log_p.gather(-1, batch.unsqueeze(-1)).squeeze(-1)
        expected = (log_p.exp() * logits).sum(-1)  # d/d beta of log-sum-exp(beta * logits)
        mask = generator.loss_mask(batch)
        total += float((nll * mask).double().sum())
        slope += float(((expected - true) * mask).double().sum())
        count += int(mask.sum())
    generator.train(was_training)
    return total / max(count, 1), slope / max(count, 1)
