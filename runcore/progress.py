"""Progress bars and consoles (rich), safe in terminals, pipes, subprocesses and CI.

Bars go to stderr so that stdout stays clean for results (samples, tables) that a caller pipes.
When stderr is not a terminal (nohup, a batch scheduler, CI), there is no bar: each task writes a
plain line with the same figures (done/total, elapsed, remaining, status) when it advances, at
most every :data:`LINE_SECONDS` seconds and always at its first and last step, so a redirected
run can be followed with ``tail -f``.

Examples:
    >>> with make_progress(disable=True) as progress:
    ...     task = progress.add_task("mle", total=3)
    ...     for epoch in range(3):
    ...         progress.update(task, advance=1, status=f"nll={2.0 - epoch:.2f}")
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

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

__all__ = ["LINE_SECONDS", "LineProgress", "StatusColumn", "console", "make_progress"]

LINE_SECONDS = 10.0
"""Least time between two log lines of one task when stderr is not a terminal."""


class StatusColumn(ProgressColumn):
    """The task's ``status`` field (live metrics); empty for tasks added without one."""

    def render(self, task: Task) -> Text:
        return Text(str(task.fields.get("status", "")))


def make_progress(disable: bool = False, line_seconds: float = LINE_SECONDS) -> Progress | LineProgress:
    """A progress display: description, bar, done/total, elapsed, remaining, status.

    Use it as a context manager; pass ``status=...`` to ``add_task``/``update`` to show metrics.
    On a terminal it is a rich bar; otherwise a :class:`LineProgress` writing log lines.

    Args:
        disable: draw nothing (e.g. for ``--quiet`` or non-zero DDP ranks).
        line_seconds: least time between two lines of a task, when not on a terminal.
    """
    stderr = Console(stderr=True)
    if not disable and not stderr.is_terminal:
        return LineProgress(sys.stderr, line_seconds)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        StatusColumn(),
        console=stderr,
        disable=disable,
        transient=False,
    )


class LineProgress:
    """What ``rich.progress.Progress`` offers the trainers (``add_task``, ``update``), as log lines.

    Examples:
        >>> import io
        >>> out = io.StringIO()
        >>> with LineProgress(out, line_seconds=0) as progress:
        ...     task = progress.add_task("mle", total=2, status="")
        ...     progress.update(task, advance=1, status="nll 3.2")
        >>> out.getvalue().split()[1:4]
        ['mle', '1/2', 'elapsed']
    """

    def __init__(self, stream: TextIO, line_seconds: float = LINE_SECONDS, clock=time.monotonic):
        self.stream, self.line_seconds, self.clock = stream, line_seconds, clock
        self.tasks: list[dict[str, Any]] = []

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields: Any) -> int:
        now = self.clock()
        self.tasks.append({"description": description, "total": total, "completed": completed, "start": now,
                           "start_completed": completed, "line_at": None, "status": fields.get("status", "")})
        return len(self.tasks) - 1

    def update(self, task_id: int, advance: float = 0, completed: float | None = None, status: str | None = None, **_: Any) -> None:
        task = self.tasks[task_id]
        task["completed"] = completed if completed is not None else task["completed"] + advance
        if status is not None:
            task["status"] = status
        if not advance and completed is None:
            return
        now = self.clock()
        last = task["total"] is not None and task["completed"] >= task["total"]
        if last or task["line_at"] is None or now - task["line_at"] >= self.line_seconds:
            task["line_at"] = now
            self.stream.write(self._line(task, now) + "\n")
            self.stream.flush()

    def _line(self, task: dict[str, Any], now: float) -> str:
        elapsed = now - task["start"]
        done, total = task["completed"], task["total"]
        parts = [time.strftime("%H:%M:%S"), task["description"], f"{done:g}/{total:g}" if total is not None else f"{done:g}",
                 "elapsed", _clock(elapsed)]
        rate = (done - task["start_completed"]) / elapsed if elapsed > 0 else 0.0
        if total is not None and rate > 0 and done < total:
            parts += ["remaining", _clock((total - done) / rate)]
        if task["status"]:
            parts.append(str(task["status"]))
        return " ".join(parts)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def console(stderr: bool = False) -> Console:
    """A new rich Console (stdout by default); a fresh one per call, no shared state."""
    return Console(stderr=stderr)
