"""What a command sets for its whole process, first thing: :func:`set_up_process`.

Both settings are process-wide and change no result, so the CLIs call this once when they start,
the benchmarks that time training call it to time what training runs, and nothing calls it on
import.
"""

from __future__ import annotations

from runcore.denormals import flush_denormals
from runcore.heap import retain_freed_memory

__all__ = ["set_up_process"]


def set_up_process() -> None:
    """Denormal floats as zero (:mod:`runcore.denormals`; before torch starts its threads, so call
    this before any parallel torch operation) and freed buffers kept in the heap
    (:mod:`runcore.heap`)."""
    flush_denormals()
    retain_freed_memory()
