"""Training curves as PNG files (matplotlib).

Figures are drawn on a ``matplotlib.figure.Figure`` with the Agg canvas inside each function,
never through ``pyplot``: no backend is switched globally (a notebook's stays as it was), no
figure is left registered, and importing this module imports no matplotlib at all.
"""

from __future__ import annotations

import io
import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runcore.checkpoint import write_bytes_atomic

__all__ = ["plot_curves", "plot_panels", "plot_series"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot_curves(
    records: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    path: str | os.PathLike,
    x_key: str = "step",
    title: str = "",
) -> Path:
    """Plot metrics from log records, one subplot per key, and save a PNG atomically.

    Records lacking ``x_key`` or a key (or holding a non-number there) are skipped for that key.
    Records carrying ``"phase"`` are drawn per phase in their own colour and marker, with a
    legend.

    Args:
        records: e.g. :meth:`RunDir.read_log`.
        keys: metric names, one subplot each.
        path: the PNG to write.
        x_key: the record field on the x axis.
        title: the figure title.

    Returns:
        ``path`` as a ``Path``.
    """
    if not keys:
        raise ValueError("plot_curves needs at least one key")
    figure, canvas = _figure(width=7.0, height=2.4 * len(keys) + 0.6)
    axes = figure.subplots(len(keys), 1, sharex=True, squeeze=False)[:, 0]
    phases = _phases(records)
    for ax, key in zip(axes, keys):
        drawn = False
        for i, phase in enumerate(phases):
            xs, ys = [], []
            for record in records:
                if record.get("phase") != phase:
                    continue
                x, y = _number(record.get(x_key)), _number(record.get(key))
                if x is not None and y is not None:
                    xs.append(x)
                    ys.append(y)
            if not xs:
                continue
            ax.plot(
                xs,
                ys,
                marker=_MARKERS[i % len(_MARKERS)],
                markersize=3,
                markevery=max(1, len(xs) // 25),
                linewidth=1.2,
                color=f"C{i % 10}",
                label=str(phase) if phase is not None else "(no phase)",
            )
            drawn = True
        ax.set_ylabel(key)
        ax.grid(True, alpha=0.3)
        if not drawn:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        elif len(phases) > 1 or phases[0] is not None:
            ax.legend(fontsize="small")
    axes[-1].set_xlabel(x_key)
    if title:
        figure.suptitle(title)
    return _save(figure, canvas, path)


def plot_series(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | os.PathLike,
    xlabel: str,
    ylabel: str,
    title: str = "",
) -> Path:
    """Plot several labelled ``(xs, ys)`` lines on one axes and save a PNG atomically.

    Returns:
        ``path`` as a ``Path``.
    """
    figure, canvas = _figure(width=7.0, height=4.5)
    ax = figure.subplots()
    for i, (label, (xs, ys)) in enumerate(series.items()):
        if len(xs) != len(ys):
            raise ValueError(f"series {label!r} has {len(xs)} x values but {len(ys)} y values")
        ax.plot(list(xs), list(ys), label=label, color=f"C{i % 10}", linewidth=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return _save(figure, canvas, path)


def plot_panels(
    panels: Sequence[Mapping[str, Any]],
    path: str | os.PathLike,
    title: str = "",
    columns: int = 2,
) -> Path:
    """Several axes on one PNG, each of labelled lines whose points carry their own text, saved atomically.

    Each panel is a mapping with ``"xlabel"``, ``"ylabel"``, ``"series"`` (``{label: (xs, ys)}``,
    one colour and marker per label, the same in every panel) and optionally ``"point_labels"``
    (``{label: [text per point]}``, written beside each point) and ``"title"``. Non-finite
    points are left out.

    Returns:
        ``path`` as a ``Path``.
    """
    if not panels:
        raise ValueError("plot_panels needs at least one panel")
    columns = max(1, min(columns, len(panels)))
    rows = math.ceil(len(panels) / columns)
    figure, canvas = _figure(width=_PANEL_WIDTH * columns, height=4.2 * rows + 0.4)
    axes = figure.subplots(rows, columns, squeeze=False).reshape(-1)
    labels = list(dict.fromkeys(label for panel in panels for label in panel["series"]))
    for ax, panel in zip(axes, panels):
        for label, (xs, ys) in panel["series"].items():
            if len(xs) != len(ys):
                raise ValueError(f"series {label!r} has {len(xs)} x values but {len(ys)} y values")
            texts = panel.get("point_labels", {}).get(label, [""] * len(xs))
            kept = [(x, y, t) for x, y, t in zip(map(_number, xs), map(_number, ys), texts) if x is not None and y is not None]
            i = labels.index(label)
            ax.plot([x for x, _, _ in kept], [y for _, y, _ in kept], label=_wrapped(label, _PANEL_WIDTH / 2), color=f"C{i % 10}",
                    marker=_MARKERS[i % len(_MARKERS)], markersize=4, linewidth=1.2)  # fmt: skip
            for x, y, text in kept:
                if text:
                    ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="x-small", color=f"C{i % 10}")
        ax.set_xlabel(panel["xlabel"])
        ax.set_ylabel(panel["ylabel"])
        ax.grid(True, alpha=0.3)
        if panel.get("title"):
            ax.set_title(_wrapped(panel["title"], _PANEL_WIDTH), fontsize="medium")
        if panel["series"]:
            ax.legend(fontsize="small")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if title:
        figure.suptitle(_wrapped(title, _PANEL_WIDTH * columns))
    return _save(figure, canvas, path)


_PANEL_WIDTH = 5.2  # inches
_CHARS_PER_INCH = 11  # of a 10-12 pt title in matplotlib's default font, rounded down


def _wrapped(text: str, inches: float) -> str:
    """``text`` broken into lines that fit ``inches``: a title wider than its figure collapses the
    axes under constrained layout (matplotlib then draws them at zero size)."""
    return textwrap.fill(text, width=max(20, int(inches * _CHARS_PER_INCH)), break_long_words=True)


def _figure(width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, FigureCanvasAgg(figure)


def _save(figure: Any, canvas: Any, path: str | os.PathLike) -> Path:
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    path = Path(path)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def _phases(records: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Phases in order of first appearance (None for records without one)."""
    seen: dict[Any, None] = {}
    for record in records:
        seen.setdefault(record.get("phase"), None)
    return list(seen) or [None]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None
