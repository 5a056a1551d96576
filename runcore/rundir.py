"""The run directory: one folder holding everything a training run produces.

Layout::

    <run>/config.json        the resolved configuration (written atomically)
    <run>/metrics.jsonl      one JSON object per line, appended as training goes
    <run>/checkpoints/       <name>.safetensors
    <run>/samples/           generated samples
    <run>/plots/             PNG curves
    <run>/.lock              the writer's lock (see :mod:`runcore.lock`)

A new run is made in a hidden sibling folder and renamed into place once set up
(:meth:`RunDir.creating`), so that a run directory either exists whole or not at all. Every writer
holds the run's lock; opening a run to write it also removes what an interrupted writer left
(temporary files of atomic writes, half-made sibling folders of dead processes).

Examples:
    >>> import tempfile
    >>> run = RunDir.create(tempfile.mkdtemp() + "/demo")
    >>> run.write_config({"seed": 1})
    >>> run.log({"step": 1, "loss": 0.5, "time": 0.0})
    >>> RunDir.open(run.path).read_log()
    [{'step': 1, 'loss': 0.5, 'time': 0.0}]
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runcore import faults
from runcore.checkpoint import disk_error, write_json_atomic
from runcore.errors import CheckpointError, UserError
from runcore.files import require_regular_file
from runcore.lock import RunLock

__all__ = ["RunDir"]

_SUBDIRS = ("checkpoints", "samples", "plots")
_CHECKPOINT_SUFFIX = ".safetensors"
_PARTIAL = ".partial-"  # <parent>/.<name>.partial-<pid>: a run being set up by process <pid>


class RunDir:
    """A run directory. Build one with :meth:`create` (new run) or :meth:`open` (existing run).

    Args:
        path: the directory; the constructor checks nothing, prefer the class methods.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock: RunLock | None = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike) -> RunDir:
        """Make a new run directory with its sub-directories, and take its lock.

        Raises:
            UserError: ``path`` exists and is a non-empty directory, or is not a directory, or
                cannot be made there. Nothing in it is touched.
        """
        path = _check_new(Path(path))
        try:
            for sub in _SUBDIRS:
                (path / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot make run directory {path} ({exc.strerror or exc})", "choose another --out") from None
        return cls(path).lock()

    @classmethod
    @contextlib.contextmanager
    def creating(cls, path: str | os.PathLike) -> Iterator[RunDir]:
        """Set a new run up in a hidden sibling folder; rename it to ``path`` when the block ends.

        Inside the block ``run.path`` is the hidden folder (``.<name>.partial-<pid>``); whatever
        the block writes (config, data, the first checkpoint) appears at ``path`` all at once,
        and the lock taken here stays held. If the block raises or the process dies, nothing
        appears at ``path``: the folder is removed at once, or by the next run made beside it.

        Examples:
            >>> import tempfile
            >>> root = tempfile.mkdtemp()
            >>> with RunDir.creating(root + "/demo") as run:
            ...     run.write_config({"seed": 1})
            >>> run.path.name, RunDir.open(run.path).read_config()
            ('demo', {'seed': 1})
        """
        path = _check_new(Path(path))
        _remove_dead_partials(path)
        try:
            run = cls.create(path.parent / f".{path.name}{_PARTIAL}{os.getpid()}")
        except UserError as exc:
            raise UserError(f"cannot make run directory {path} ({exc.problem.rpartition('(')[2].rstrip(')')})", "choose another --out") from None
        try:
            yield run
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()  # an empty directory given as --out (the rename cannot replace it on every platform)
            elif path.exists():
                raise UserError(f"run directory {path} was made by another process meanwhile", "choose another --out")
            os.replace(run.path, path)
        except BaseException as exc:
            shutil.rmtree(run.path, ignore_errors=True)
            run.unlock()
            problem = disk_error(path, exc)
            if problem is not None:
                raise problem from None
            raise
        run.path = path

    @staticmethod
    def check_new(path: str | os.PathLike) -> Path:
        """``path`` as a Path, if a new run may be made there (absent, or an empty directory).

        Raises:
            UserError: it exists and is not empty, is not a directory, is a dangling link, or
                lies where nothing can be written.
        """
        return _check_new(Path(path))

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """Open an existing run directory (one holding ``config.json``).

        Raises:
            CheckpointError: ``path`` does not exist or is not a run directory.
        """
        path = Path(path)
        if not path.exists():
            raise CheckpointError(
                f"run directory {path} does not exist",
                "check the path, or start a new run without --resume",
            )
        if not path.is_dir() or not (path / "config.json").exists():
            raise _not_a_run(path)
        require_regular_file(path / "config.json", "run configuration", "restore it from a backup, or start a new run", error=CheckpointError)
        return cls(path)

    # -- the writer -----------------------------------------------------------------------------

    def lock(self) -> RunDir:
        """Take the run's write lock (held until :meth:`unlock` or the process ends) and clear
        away what an interrupted writer left: temporary files of its atomic writes.

        Raises:
            UserError: another live process holds the lock (its pid is named).
        """
        if self._lock is None:
            self._lock = RunLock(self.path).acquire()
            for folder in (self.path, *(self.path / sub for sub in _SUBDIRS)):
                for leftover in folder.glob(".*.tmp") if folder.is_dir() else ():
                    leftover.unlink(missing_ok=True)
        return self

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @staticmethod
    def default_path(root: str | os.PathLike = "runs", name: str | None = None) -> Path:
        """A fresh path ``<root>/<name>-YYYYmmdd-HHMMSS`` (local time) that does not exist yet.

        A numeric suffix (``-2``, ``-3``, ...) keeps it unique when two runs start in the same
        second. Nothing is created.

        Args:
            root: the folder holding runs.
            name: what the run is, e.g. ``"seqgan"``; required (keyword or second argument).
        """
        if not name:
            raise TypeError("RunDir.default_path() needs a run name, e.g. name='seqgan'")
        base = Path(root) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        candidate, n = base, 1
        while candidate.exists():
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")
        return candidate

    # -- paths --------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    def checkpoint_path(self, name: str) -> Path:
        """``checkpoints/<name>.safetensors``."""
        if not name or "/" in name or "\\" in name:
            raise ValueError(f"checkpoint name {name!r} must be a plain file name")
        return self.checkpoints / f"{name}{_CHECKPOINT_SUFFIX}"

    def checkpoint_names(self) -> list[str]:
        """The names of the run's checkpoints (``checkpoints/<name>.safetensors``), sorted."""
        if not self.checkpoints.is_dir():
            return []
        return sorted(p.name[: -len(_CHECKPOINT_SUFFIX)] for p in self.checkpoints.glob(f"*{_CHECKPOINT_SUFFIX}") if not p.name.startswith("."))

    def named_checkpoint(self, name: str) -> Path:
        """The checkpoint a user named (``--checkpoint NAME``).

        Raises:
            CheckpointError: ``name`` is a path rather than a name, or the run has no such
                checkpoint; the message lists the names it has.
        """
        names = self.checkpoint_names()
        choices = f"choose one of: {', '.join(names)}" if names else "train the run first; it has no checkpoint yet"
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise CheckpointError(f"--checkpoint {name!r} is not the name of a checkpoint in {self.checkpoints}", choices)
        if name not in names:
            raise CheckpointError(f"no checkpoint {name!r} in {self.path}", choices)
        return self.checkpoint_path(name)

    def latest_checkpoint(self, prefix: str = "") -> Path | None:
        """The newest ``checkpoints/<prefix>*.safetensors``, or None if there is none.

        Newest means last modified; among equal times, the larger number in the name wins
        (``round-10`` after ``round-9``).
        """
        if not self.checkpoints.is_dir():
            return None
        candidates = [
            p
            for p in self.checkpoints.iterdir()
            if p.name.startswith(prefix)
            and p.name.endswith(_CHECKPOINT_SUFFIX)
            and not p.name.startswith(".")  # temp files of an interrupted atomic write
            and p.is_file()
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda p: (p.stat().st_mtime_ns, _natural_key(p.name)))

    # -- config -------------------------------------------------------------------------------

    def write_config(self, config: dict[str, Any]) -> None:
        """Write the resolved configuration to ``config.json`` (atomically)."""
        write_json_atomic(self.config_path, config)

    def read_config(self) -> dict[str, Any]:
        """Read ``config.json``.

        Raises:
            CheckpointError: it is missing, not valid JSON, or not a JSON object.
        """
        try:
            text = self.config_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise _not_a_run(self.path) from None
        try:
            config = json.loads(text)
        except ValueError as exc:
            raise CheckpointError(
                f"{self.config_path} is corrupt ({exc})",
                "restore it from a backup, or start a new run",
            ) from exc
        if not isinstance(config, dict):
            raise CheckpointError(
                f"{self.config_path} is corrupt (it holds a {type(config).__name__}, not an object)",
                "restore it from a backup, or start a new run",
            )
        return config

    # -- metrics log --------------------------------------------------------------------------

    def log(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one JSON line to ``metrics.jsonl`` and flush.

        Adds ``"time"`` (seconds since the epoch) when absent. Tensor and NumPy scalars are
        written as numbers.
        """
        if "time" not in record:
            record = {**record, "time": time.time()}
        line = json.dumps(record, default=_json_scalar)
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._append(line)
        except OSError as exc:
            problem = disk_error(self.metrics_path, exc)
            if problem is None:
                raise
            raise problem from None
        faults.reached("log", line)

    def _append(self, line: str) -> None:
        with open(self.metrics_path, "a+b") as f:
            # A crash mid-write leaves a last line without "\n"; start on a fresh line so the
            # damage stays confined to that one record.
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write((line + "\n").encode("utf-8"))
            f.flush()

    def log_size(self) -> int:
        """Bytes in ``metrics.jsonl`` (0 if there is none): saved with each checkpoint."""
        try:
            return self.metrics_path.stat().st_size
        except FileNotFoundError:
            return 0

    def truncate_log(self, size: int) -> None:
        """Cut ``metrics.jsonl`` back to ``size`` bytes: the records written after the checkpoint
        a run resumes from, which the resumed run writes again."""
        if self.log_size() > size:
            with open(self.metrics_path, "r+b") as f:
                f.truncate(size)
                f.flush()
                os.fsync(f.fileno())

    def read_log(self) -> list[dict[str, Any]]:
        """All records of ``metrics.jsonl`` in order; ``[]`` if there is none yet.

        Lines that are not a JSON object are skipped: the only writer is :meth:`log`, so such a
        line is a record cut short by a crash (the last line, or one before a resume).
        """
        try:
            text = self.metrics_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        records = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


def _check_new(path: Path) -> Path:
    """``path`` if a new run may be made there: absent, or an empty directory."""
    if path.is_symlink() and not path.exists():
        raise UserError(f"run directory {path} is a dangling symbolic link", "choose another --out, or remove the link")
    if path.exists() and not path.is_dir():
        raise UserError(f"run directory {path} already exists and is not a directory", "choose another --out")
    if path.is_dir() and any(path.iterdir()):
        raise UserError(f"run directory {path} already exists", f"choose another --out, or continue it with --resume {path}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot make run directory {path}: {parent} is not a writable directory", "choose another --out")
    return path


def _remove_dead_partials(path: Path) -> None:
    """Remove half-made sibling folders of ``path`` whose process is gone."""
    if not path.parent.is_dir():
        return
    for partial in path.parent.glob(f".{path.name}{_PARTIAL}*"):
        pid = partial.name.rsplit(_PARTIAL, 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _not_a_run(path: Path) -> CheckpointError:
    return CheckpointError(
        f"{path} is not a run directory (no config.json)",
        "pass the directory a training run wrote (it holds config.json and checkpoints/)",
    )


def _json_scalar(value: Any) -> Any:
    """JSON for values metrics often carry: 1-element tensors, NumPy scalars, paths."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            scalar = item()
        except (ValueError, RuntimeError):
            pass
        else:
            if isinstance(scalar, (int, float, bool)):
                return scalar
    raise TypeError(f"metric value {value!r} of type {type(value).__name__} is not JSON")


def _natural_key(name: str) -> list[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]
