"""Ctrl-C (and SIGTERM) as a request to stop at the next step boundary, with a checkpoint.

Inside :func:`graceful_stop`, the first SIGINT or SIGTERM only sets a flag; a training loop asks
:func:`stop_requested` after each step, saves its state and raises :class:`Interrupted`, which
the command line turns into a line saying how to resume and exit status 130. A second signal
stops at once (``KeyboardInterrupt``), keeping the last checkpoint written. Outside the context
(a library caller), Ctrl-C raises ``KeyboardInterrupt`` as usual and nothing is asked.

Examples:
    >>> with graceful_stop():
    ...     stop_requested()
    False
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["EXIT_INTERRUPTED", "Interrupted", "graceful_stop", "stop_requested"]

EXIT_INTERRUPTED = 130
"""The exit status of a command stopped by Ctrl-C (128 + SIGINT), in every command."""

_requested = threading.Event()


class Interrupted(Exception):
    """A run stopped on request after saving its state (``where``: e.g. ``"after mle epoch 3"``)."""

    def __init__(self, run: Path | str, where: str):
        self.run, self.where = Path(run), where
        super().__init__(f"interrupted {where}; the run directory {run} holds a checkpoint of that point")


def stop_requested() -> bool:
    """Whether a stop was asked for (first Ctrl-C or SIGTERM inside :func:`graceful_stop`)."""
    return _requested.is_set()


@contextlib.contextmanager
def graceful_stop() -> Iterator[None]:
    """Turn the first SIGINT/SIGTERM into :func:`stop_requested`; a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handle(signum, frame):
        if _requested.is_set():
            raise KeyboardInterrupt
        _requested.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    _requested.clear()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _requested.clear()
