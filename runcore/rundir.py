"""The run directory: one folder holding everything a training run produces.

Layout::

    <run>/config.json        the resolved configuration (written atomically)
    <run>/metrics.jsonl      one JSON object per line, appended as training goes
    <run>/checkpoints/       <name>.safetensors
    <run>/samples/           generated samples
    <run>/plots/             PNG curves

Examples:
    >>> import tempfile
    >>> run = RunDir.create(tempfile.mkdtemp() + "/demo")
    >>> run.write_config({"seed": 1})
    >>> run.log({"step": 1, "loss": 0.5, "time": 0.0})
    >>> RunDir.open(run.path).read_log()
    [{'step': 1, 'loss': 0.5, 'time': 0.0}]
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from runcore.checkpoint import write_json_atomic
from runcore.errors import CheckpointError, UserError

__all__ = ["RunDir"]

_SUBDIRS = ("checkpoints", "samples", "plots")
_CHECKPOINT_SUFFIX = ".safetensors"


class RunDir:
    """A run directory. Build one with :meth:`create` (new run) or :meth:`open` (existing run).

    Args:
        path: the directory; the constructor checks nothing, prefer the class methods.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike) -> RunDir:
        """Make a new run directory with its sub-directories.

        Raises:
            UserError: ``path`` exists and is a non-empty directory, or is a file. Nothing in it
                is touched.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise UserError(
                f"run directory {path} already exists as a file", "choose another --out"
            )
        if path.is_dir() and any(path.iterdir()):
            raise UserError(
                f"run directory {path} already exists",
                f"choose another --out, or continue it with --resume {path}",
            )
        for sub in _SUBDIRS:
            (path / sub).mkdir(parents=True, exist_ok=True)
        return cls(path)

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
        if not (path / "config.json").is_file():
            raise _not_a_run(path)
        return cls(path)

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
        with open(self.metrics_path, "a+b") as f:
            # A crash mid-write leaves a last line without "\n"; start on a fresh line so the
            # damage stays confined to that one record.
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write((line + "\n").encode("utf-8"))
            f.flush()

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
