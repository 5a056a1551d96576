"""Progress bars and consoles (rich), safe in terminals, pipes, subprocesses and CI.

Bars go to stderr so that stdout stays clean for results (samples, tables) that a caller pipes.
When stderr is not a terminal, rich draws nothing while running and prints the final state once
when the progress stops, so logs from CI are not flooded with redraws.

Examples:
    >>> with make_progress(disable=True) as progress:
    ...     task = progress.add_task("mle", total=3)
    ...     for epoch in range(3):
    ...         progress.update(task, advance=1, status=f"nll={2.0 - epoch:.2f}")
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["StatusColumn", "console", "make_progress"]


class StatusColumn(ProgressColumn):
    """The task's ``status`` field (live metrics); empty for tasks added without one."""

    def render(self, task: Task) -> Text:
        return Text(str(task.fields.get("status", "")))


def make_progress(disable: bool = False) -> Progress:
    """A progress display: description, bar, done/total, elapsed, remaining, status.

    Use it as a context manager; pass ``status=...`` to ``add_task``/``update`` to show metrics.

    Args:
        disable: draw nothing (e.g. for ``--quiet`` or non-zero DDP ranks).
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        StatusColumn(),
        console=Console(stderr=True),
        disable=disable,
        transient=False,
    )


def console(stderr: bool = False) -> Console:
    """A new rich Console (stdout by default); a fresh one per call, no shared state."""
    return Console(stderr=stderr)
