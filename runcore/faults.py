"""Crash points for the kill-and-resume tests: a process can be made to die at a chosen moment.

The run infrastructure calls :func:`reached` at the moments that matter for a crash (a file
fully written but not yet renamed into place, a metrics line just appended). Nothing happens
unless the environment variable ``RUNCORE_CRASH_AT`` is set to ``"<event>:<text>"``: the first
time ``event`` is reached with ``text`` in its detail, the process kills itself with SIGKILL,
as the kernel's OOM killer or a lost node would, leaving whatever half-done state that moment
holds. Tests use it to kill a run inside a checkpoint write, which a timed ``kill`` cannot aim
at. ``RUNCORE_CRASH_SIGNAL=INT`` (or ``TERM``) sends that signal instead, once: Ctrl-C at that
very moment.

Examples:
    >>> reached("write", "checkpoints/latest.safetensors")  # no RUNCORE_CRASH_AT: nothing happens
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_VARIABLE", "SIGNAL_VARIABLE", "reached"]

CRASH_VARIABLE = "RUNCORE_CRASH_AT"
SIGNAL_VARIABLE = "RUNCORE_CRASH_SIGNAL"


def reached(event: str, detail: str) -> None:
    """Die here if ``RUNCORE_CRASH_AT`` names this event and a text found in ``detail``."""
    spec = os.environ.get(CRASH_VARIABLE)
    if not spec:
        return
    wanted, _, text = spec.partition(":")
    if wanted == event and text in detail:
        name = os.environ.pop(SIGNAL_VARIABLE, "KILL")  # popped: a signal that is survived is sent once
        os.environ.pop(CRASH_VARIABLE, None)
        os.kill(os.getpid(), getattr(signal, f"SIG{name}"))
