"""Checkpoints that a run goes on from exactly: every module, optimizer, random stream and its place.

One :class:`Checkpointer` per run does what both trainers need, in one way:

- :meth:`~Checkpointer.save` writes each named checkpoint (``after-mle``, ``round-0010``,
  ``final``) and lets the caller write that checkpoint's outputs (samples) *before* it writes
  ``latest``. A run killed anywhere in between resumes from the previous ``latest`` and writes
  the named checkpoint and its outputs again, so none is lost.
- With each checkpoint go the run's *position* (a small JSON dict: phase and steps done), the
  state of each random generator it was given, torch's global stream (dropout; CUDA's too on
  a GPU) and the size of ``metrics.jsonl``; :meth:`~Checkpointer.load` restores them all and
  cuts the log back to that size, so records written after the checkpoint are not doubled.
- Weights are checked before they are written: a NaN stops the run
  (:class:`~runcore.numbers.NonFiniteError`) and the last good checkpoint stays as it was.

Examples:
    >>> import tempfile, torch
    >>> from runcore import RunDir
    >>> run = RunDir.create(tempfile.mkdtemp() + "/demo")
    >>> net, rng = torch.nn.Linear(2, 1), torch.Generator().manual_seed(0)
    >>> books = Checkpointer(run, lambda: {"net": net}, {"rng": rng})
    >>> books.save({"phase": "train", "done": 3}, names=["step-3"])
    >>> sorted(p.name for p in run.checkpoints.iterdir())
    ['latest.safetensors', 'step-3.safetensors']
    >>> books.load()
    ({'phase': 'train', 'done': 3}, [])
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import torch

from runcore.checkpoint import Stateful, decode_rng_state, encode_rng_state, load_modules, save_modules
from runcore.errors import CheckpointError, UserError
from runcore.numbers import require_finite_weights
from runcore.rundir import RunDir

__all__ = ["LATEST", "Checkpointer", "check_resume_flags"]

LATEST = "latest"
"""The checkpoint every save writes last, and that ``--resume`` goes on from."""

_POSITION, _LOG_SIZE, _TORCH_RNG, _CUDA_RNG = "position", "metrics_bytes", "torch_rng", "cuda_rng"


class Checkpointer:
    """Saves and restores one run's whole training state.

    Args:
        run: the run directory (its lock held).
        items: returns what to checkpoint, name -> module or optimizer (called at each save and
            load, so that objects made later, e.g. by a phase, are included).
        generators: the run's own random generators, saved by name.
        device: where the loaded tensors go first.
        read_only: load only, changing no file (e.g. DDP ranks other than 0, which do not write).
        clock: seconds, for :meth:`overdue` (default ``time.monotonic``).
    """

    def __init__(
        self,
        run: RunDir,
        items: Callable[[], Mapping[str, Stateful]],
        generators: Mapping[str, torch.Generator] | None = None,
        device: str | torch.device = "cpu",
        read_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.run, self.items, self.generators, self.device = run, items, dict(generators or {}), torch.device(device)
        self.read_only, self.clock = read_only, clock
        self.saved_at = clock()

    def overdue(self, minutes: float) -> bool:
        """Whether ``minutes`` have passed since the last save or load (or since this Checkpointer
        was made): a trainer checkpoints then whatever its count of steps says, so that a long
        run killed without warning (a machine taken back) loses at most that much work."""
        return self.clock() - self.saved_at >= minutes * 60

    def save(
        self, position: Mapping[str, Any], names: Sequence[str] = (), outputs: Callable[[str], Any] | None = None
    ) -> None:
        """Write each checkpoint of ``names`` then ``outputs(name)``, and ``latest`` last.

        Raises:
            NonFiniteError: a weight is NaN or infinite (nothing is written).
        """
        if self.read_only:
            raise RuntimeError(f"this Checkpointer of {self.run.path} is read-only")
        items = self.items()
        require_finite_weights(items, _describe(position))
        metadata = {_POSITION: json.dumps(dict(position)), _LOG_SIZE: str(self.run.log_size())}
        for key, generator in self.generators.items():
            metadata[key] = encode_rng_state(generator.get_state())
            metadata[f"{key}_device"] = generator.device.type
        metadata[_TORCH_RNG] = encode_rng_state(torch.get_rng_state())
        if self.device.type == "cuda":
            metadata[_CUDA_RNG] = encode_rng_state(torch.cuda.get_rng_state(self.device))
        for name in names:
            save_modules(self.run.checkpoint_path(name), items, metadata)
            if outputs is not None:
                outputs(name)
        save_modules(self.run.checkpoint_path(LATEST), items, metadata)
        self.saved_at = self.clock()

    def load(self, name: str = LATEST, strict: bool = True) -> tuple[dict[str, Any], list[str]]:
        """Restore checkpoint ``name``; returns its position and the generators that could not
        take their saved state (saved on another kind of device: the caller reseeds them).

        ``strict=False`` skips items the checkpoint lacks (e.g. another GAN's checkpoint). The
        metrics log is cut back to its size at that checkpoint, after everything else loaded.

        Raises:
            CheckpointError: the file is missing, corrupt or tampered with, or does not match.
        """
        path = self.run.checkpoint_path(name)
        metadata = load_modules(path, self.items(), device=self.device, strict=strict)
        try:
            position = json.loads(metadata[_POSITION])
            if not isinstance(position, dict):
                raise ValueError("not an object")
            log_size = int(metadata.get(_LOG_SIZE, self.run.log_size()))
            states = {key: decode_rng_state(metadata[key]) for key in (*self.generators, _TORCH_RNG)}
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {path} is corrupt: its position or random state cannot be read ({exc})", _EARLIER) from None
        reseeded = []
        try:
            for key, generator in self.generators.items():
                if metadata.get(f"{key}_device", "cpu") != generator.device.type:
                    reseeded.append(key)
                else:
                    generator.set_state(states[key])
            torch.set_rng_state(states[_TORCH_RNG])
            if self.device.type == "cuda" and _CUDA_RNG in metadata:
                torch.cuda.set_rng_state(decode_rng_state(metadata[_CUDA_RNG]), self.device)
        except (RuntimeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path} is corrupt: a random state does not load ({exc})", _EARLIER) from None
        if not self.read_only:
            self.run.truncate_log(log_size)
        self.saved_at = self.clock()
        return position, reseeded


_EARLIER = "resume from an earlier checkpoint in the same directory, or train again"


def check_resume_flags(given: Mapping[str, Any], resumable: Collection[str], length: str, stored_length: int, also: Sequence[str] = ()) -> None:
    """The rules of ``--resume``, the same for every trainer: only the settings in ``resumable``
    may be given (the others define the run), and the run's length (``rounds``, ``steps``) may
    grow but not shrink.

    Args:
        given: the settings given as flags (name -> value).
        resumable: the settings that may change.
        length: the name of the setting that sets how long the run trains.
        stored_length: its value in the run.
        also: flags given that cannot change either, already spelt (``--out``, ``--ppo.*``).

    Raises:
        UserError: naming every flag that cannot change, or a shorter length.

    Examples:
        >>> check_resume_flags({"rounds": 20}, {"rounds", "device"}, "rounds", 10)
        >>> check_resume_flags({"rounds": 20, "seed": 3}, {"rounds"}, "rounds", 10)
        Traceback (most recent call last):
        ...
        runcore.errors.UserError: --seed cannot change when resuming. Resume with --resume RUN_DIR and only --rounds.
    """
    fixed = sorted({*also, *("--" + name.replace("_", "-") for name in set(given) - set(resumable))})
    if fixed:
        allowed = ", ".join("--" + name.replace("_", "-") for name in sorted(resumable))
        raise UserError(f"{', '.join(fixed)} cannot change when resuming", f"resume with --resume RUN_DIR and only {allowed}")
    if given.get(length, stored_length) < stored_length:
        flag = "--" + length.replace("_", "-")
        raise UserError(f"{flag} {given[length]} is fewer than the run's {stored_length}", "pass a larger number to train longer")


def _describe(position: Mapping[str, Any]) -> str:
    return " ".join(f"{k} {v}" for k, v in position.items()) or "the start"
