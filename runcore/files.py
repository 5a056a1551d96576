"""Files given by the user are checked to be regular files before anything opens them.

Opening a FIFO for reading waits for a writer, forever; a character device such as
``/dev/zero`` never ends; a directory cannot be read at all. :func:`require_regular_file` looks
with ``stat`` (which never blocks) and refuses anything but a readable regular file in one line.

Examples:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> require_regular_file(folder, "corpus", "give a text file")
    Traceback (most recent call last):
    ...
    runcore.errors.UserError: corpus ... is a directory, not a file. Give a text file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runcore.errors import UserError

__all__ = ["require_regular_file"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def require_regular_file(
    path: str | os.PathLike, what: str, fix: str, error: type[UserError] = UserError
) -> Path:
    """``path`` as a ``Path`` if it is a regular file this process may read (symlinks followed).

    Args:
        path: the file the user named.
        what: what it is meant to be, starting the message: ``"corpus"``, ``"test file"``.
        fix: what to do instead, ending the message (for a missing or non-regular file).
        error: the ``UserError`` subclass to raise (e.g. ``CheckpointError``).

    Raises:
        error: ``path`` does not exist, is a directory, FIFO, device or socket, or is unreadable.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{what} {path} does not exist", f"check the path, or {fix[:1].lower()}{fix[1:]}") from None
    except PermissionError:
        raise error(f"{what} {path} cannot be read (permission denied)", "check the permissions of it and its folders") from None
    except (OSError, ValueError) as exc:  # a name too long, a symlink loop, an embedded NUL
        raise error(f"{what} {path} cannot be read ({getattr(exc, 'strerror', None) or exc})", fix) from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise error(f"{what} {path} is {kind}, not a file", fix)
    if not os.access(path, os.R_OK):
        raise error(f"{what} {path} cannot be read (permission denied)", "check its permissions")
    return path
