"""The machine's memory, and a one-line refusal of settings whose estimate exceeds it.

Each project estimates what its settings ask for (a product of sizes it knows); this module only
compares that with the machine, so that ``--max-len 100000`` is an error line and not a process
killed by the operating system after it allocated everything there was.

Examples:
    >>> format_bytes(3 * 2**30)
    '3.0 GiB'
    >>> require_memory(1024, "one KiB", "ask for less")
"""

from __future__ import annotations

import os

from runcore.errors import UserError

__all__ = ["format_bytes", "memory_limit", "require_memory"]


def memory_limit() -> int | None:
    """This machine's physical memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def require_memory(estimate: int, what: str, fix: str, detail: str = "") -> None:
    """Raise UserError when ``estimate`` bytes exceed the machine's memory.

    Args:
        estimate: the bytes the settings need.
        what: what needs them, starting the message (``"sequences of 100000 tokens"``).
        fix: what to lower.
        detail: where most of it goes, shown in parentheses.
    """
    limit = memory_limit()
    if limit is not None and estimate > limit:
        detail = f" ({detail})" if detail else ""
        raise UserError(
            f"{what} need about {format_bytes(estimate)} of memory{detail}, more than the {format_bytes(limit)} this machine has",
            fix,
        )


def format_bytes(count: float) -> str:
    """``count`` bytes in binary units, one decimal (``'1.5 TiB'``)."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} PiB"
