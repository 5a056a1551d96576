"""Keep freed memory in the process's heap, so a training step does not page-fault its buffers in again.

A training step frees and reallocates the same large buffers every time: ``zero_grad`` frees the
gradients and the next backward pass allocates them again. SeqGAN's discriminator at the paper's
sizes has two 1,720 x 1,720 highway weights, so that is about 24 MB per step. glibc's allocator
hands freed chunks of that size back to the kernel (they were mapped on their own, or they sit at
the top of the heap past the trim threshold), and the next step takes a page fault for every 4 KiB
of them again: 5,100-5,700 minor faults and 15-16 ms of system time per discriminator step on a
2-core AMD EPYC, against about 0 and 0.5 ms with the thresholds fixed (``benchmarks/heap_faults.py``).
The arithmetic is unchanged; only where the bytes come from.

:func:`retain_freed_memory` fixes both thresholds (``mallopt``), so chunks up to 32 MiB come from
the heap and up to 1 GiB of freed memory stays in it. The cost is that the process's resident
memory does not shrink back after a peak. The CLIs call it when a command starts (it is
process-wide, so nothing calls it on import); a script of one's own can call it first thing too.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "glibc_mallopt", "retain_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20
"""allocations up to this size come from the heap: glibc's largest allowed value on 64-bit"""
TRIM_THRESHOLD = 2**30
"""free memory at the top of the heap up to this size stays in the process"""


def retain_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module docstring); True where they took effect.

    A no-op returning False where the C library is not glibc (macOS, Windows, musl).
    """
    mallopt = glibc_mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def glibc_mallopt():
    """glibc's ``mallopt`` as a ctypes function, or None where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only: musl's mallopt accepts nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt
