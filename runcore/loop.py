"""A thin adversarial loop: rounds of generator steps then discriminator steps.

The models and objectives do the work; the loop only counts steps, merges the metrics the steps
return, reports progress and calls back at the end of each round (for logging, samples and
checkpoints).

Examples:
    >>> schedule = AdversarialSchedule(rounds=2, g_steps=1, d_steps=3)
    >>> seen = []
    >>> run_adversarial(schedule, lambda r: {"g_loss": 1.0}, lambda r: {"d_loss": r},
    ...                 on_round_end=lambda r, m: seen.append(m))
    >>> seen
    [{'g_loss': 1.0, 'd_loss': 0.0}, {'g_loss': 1.0, 'd_loss': 1.0}]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from runcore.errors import UserError

__all__ = ["AdversarialSchedule", "format_metrics", "merge_metrics", "run_adversarial"]

StepFn = Callable[[int], Mapping[str, Any] | None]

STATUS_SECONDS = 0.5
"""How often the progress bar's metrics are refreshed: reading a GPU tensor waits for the GPU,
so doing it every round would stop the host from queueing the next round's work early."""


@dataclass
class AdversarialSchedule:
    """How many generator and discriminator steps each adversarial round takes."""

    rounds: int
    """Number of adversarial rounds."""
    g_steps: int = 1
    """Generator updates per round."""
    d_steps: int = 1
    """Discriminator (critic) updates per round, once past the early rounds."""
    d_steps_early: int | None = None
    """Critic updates in early rounds and every ``early_every``-th round (WGAN: 100); None: off."""
    early_rounds: int = 0
    """Rounds at the start that use ``d_steps_early`` (WGAN: 25)."""
    early_every: int = 500
    """Every this many rounds use ``d_steps_early`` again (WGAN: 500); 0 turns that off."""
    d_first: bool = False
    """Run each round's D steps before its G steps (WGAN: the critic is trained before each G update)."""

    def __post_init__(self) -> None:
        for field in ("rounds", "g_steps", "d_steps", "early_rounds", "early_every"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 0:
                raise UserError(
                    f"adversarial schedule {field} must be a non-negative integer, got {value!r}",
                    f"set {field} to 0 or more",
                )
        if self.d_steps_early is not None and (
            not isinstance(self.d_steps_early, int) or self.d_steps_early < 0
        ):
            raise UserError(
                f"adversarial schedule d_steps_early must be a non-negative integer or unset, "
                f"got {self.d_steps_early!r}",
                "set d_steps_early to 0 or more, or leave it unset",
            )

    def d_steps_at(self, round_index: int) -> int:
        """Discriminator steps in round ``round_index`` (0-based).

        Examples:
            >>> s = AdversarialSchedule(rounds=1000, d_steps=5, d_steps_early=100, early_rounds=25)
            >>> [s.d_steps_at(r) for r in (0, 24, 25, 499, 500, 501)]
            [100, 100, 5, 5, 100, 5]
        """
        if self.d_steps_early is None:
            return self.d_steps
        early = round_index < self.early_rounds or (
            self.early_every > 0 and round_index % self.early_every == 0
        )
        return self.d_steps_early if early else self.d_steps


def merge_metrics(dicts: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Merge metric dicts: the mean of each numeric key, the last value of any other key.

    Numbers include one-element tensors and NumPy scalars; bools count as non-numeric. Keys keep
    their first-seen order. Steps should use distinct names (``g_loss``, ``d_loss``), since equal
    keys from different steps are averaged together. One-element tensors are averaged as tensors
    where they are (a 0-d tensor comes out): reading a GPU tensor's value waits for the GPU, so
    that is left to whoever logs or shows it.
    """
    sums: dict[str, Any] = {}
    counts: dict[str, int] = {}
    merged: dict[str, Any] = {}
    for metrics in dicts:
        for key, value in (metrics or {}).items():
            if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
                number: Any = value.detach().reshape(())
            else:
                number = _as_number(value)
            if number is None:
                merged[key] = value
                continue
            merged.setdefault(key, None)
            sums[key] = sums[key] + number if key in sums else number
            counts[key] = counts.get(key, 0) + 1
    for key in sums:
        merged[key] = sums[key] / counts[key]
    return merged


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """``"g_loss=0.693 d_loss=1.39"``: numeric metrics with 3 significant digits."""
    parts = []
    for key, value in metrics.items():
        number = _as_number(value)
        if number is not None:
            parts.append(f"{key}={number:.3g}")
    return " ".join(parts)


def run_adversarial(
    schedule: AdversarialSchedule,
    g_step: StepFn,
    d_step: StepFn,
    on_round_end: Callable[[int, dict[str, Any]], None] | None = None,
    start_round: int = 0,
    progress: Any = None,
    description: str = "adversarial",
) -> None:
    """Run rounds ``start_round .. schedule.rounds - 1``.

    Each round calls ``g_step(r)`` ``schedule.g_steps`` times, then ``d_step(r)``
    ``schedule.d_steps_at(r)`` times (D first with ``schedule.d_first``), merges what they
    return with :func:`merge_metrics` and passes it to ``on_round_end(r, metrics)``.

    Args:
        schedule: step counts.
        g_step: one generator update; returns metrics (or None).
        d_step: one discriminator update; returns metrics (or None).
        on_round_end: called after each round, e.g. to log and checkpoint.
        start_round: first round to run (resuming a run).
        progress: a ``rich.progress.Progress`` (see :func:`make_progress`); a task is added and
            advanced per round, with the latest metrics in its ``status`` field (refreshed every
            :data:`STATUS_SECONDS` and at the last round).
        description: the progress task's label.
    """
    if start_round < 0:
        raise ValueError(f"start_round must be >= 0, got {start_round}")
    task = None
    if progress is not None:
        task = progress.add_task(
            description, total=schedule.rounds, completed=min(start_round, schedule.rounds), status=""
        )
    status_at = float("-inf")
    for r in range(start_round, schedule.rounds):
        if schedule.d_first:
            results = [d_step(r) for _ in range(schedule.d_steps_at(r))]
            results += [g_step(r) for _ in range(schedule.g_steps)]
        else:
            results = [g_step(r) for _ in range(schedule.g_steps)]
            results += [d_step(r) for _ in range(schedule.d_steps_at(r))]
        metrics = merge_metrics(results)
        if on_round_end is not None:
            on_round_end(r, metrics)
        if task is not None:
            now = time.monotonic()
            if now - status_at >= STATUS_SECONDS or r == schedule.rounds - 1:
                status_at = now
                progress.update(task, advance=1, status=format_metrics(metrics))
            else:
                progress.update(task, advance=1)


def _as_number(value: Any) -> float | None:
    """A float for ints, floats and one-element tensors/arrays; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    item = getattr(value, "item", None)
    if not callable(item):
        return None
    try:
        scalar = item()  # raises for tensors and arrays of more than one element
    except (ValueError, RuntimeError, TypeError):
        return None
    if isinstance(scalar, (int, float)) and not isinstance(scalar, bool):
        return float(scalar)
    return None
