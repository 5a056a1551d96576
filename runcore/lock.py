"""One writer per run directory: an advisory lock that dies with its process.

The lock is ``fcntl.flock`` on ``<run>/.lock``, which also holds the writer's pid for the
message a second writer gets. The kernel drops an flock when its process ends, however it
ends (SIGKILL included), so a lock left by a dead process is simply taken over; there is no
stale-lock timeout to guess. Where ``fcntl`` is missing (Windows) the lock is a no-op.

Examples:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with RunLock(folder) as lock:
    ...     lock.held
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from runcore.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["LOCK_FILE", "RunLock", "release_all"]

LOCK_FILE = ".lock"
_held: set[RunLock] = set()


def release_all() -> None:
    """Release every run lock this process holds (a command's end: the run objects may live on)."""
    for lock in list(_held):
        lock.release()


class RunLock:
    """The write lock of run directory ``directory`` (taken with :meth:`acquire` or ``with``)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock, or raise a one-line error naming the process that holds it."""
        if self._fd is not None:
            return self
        path = self.directory / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise UserError(
                    f"run directory {self.directory} is in use by process {holder}",
                    f"wait for it to finish, or stop it (kill {holder}) and resume",
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        _held.add(self)
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
            _held.discard(self)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
