"""Checkpoints as safetensors files, written atomically; nothing is ever unpickled.

A checkpoint holds flat tensors plus string metadata. Module and optimizer state dicts are
flattened to ``"<name>/<key>"`` tensors; whatever in them is not a tensor (an optimizer's
``param_groups``, its integer state keys, ``None`` momentum buffers) is stored as JSON in the
metadata, so loading runs no code from the file.

Each tensor's CRC-32 is stored with it and checked when the file is read, so flipped bytes are
named rather than loaded; a module's parameters must be finite to load, and optimizer state must
match its parameters' shapes.

Every write goes to a temporary file in the target's directory, is fsynced and then renamed over
the target with :func:`os.replace`: a crash or a full disk leaves the previous file intact.

Examples:
    >>> import tempfile, torch
    >>> path = tempfile.mkdtemp() + "/weights.safetensors"
    >>> save_tensors(path, {"w": torch.ones(2)}, {"step": "3"})
    >>> tensors, metadata = load_tensors(path)
    >>> tensors["w"].tolist(), metadata["step"]
    ([1.0, 1.0], '3')
"""

from __future__ import annotations

import base64
import errno
import json
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from runcore import faults
from runcore.errors import CheckpointError, UserError
from runcore.files import require_regular_file

__all__ = [
    "decode_rng_state",
    "encode_rng_state",
    "load_modules",
    "load_tensors",
    "save_modules",
    "save_tensors",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

# Metadata keys under this prefix describe the layout of save_modules checkpoints; callers'
# metadata may not use it, and load_modules does not return it.
_RESERVED = "__textgan__/"  # the prefix of the first checkpoints, kept so that they still load
_TENSOR, _TUPLE, _DICT = "__tensor__", "__tuple__", "__dict__"
CHECKSUMS = "__checksums__"
"""Metadata key of the tensors' CRC-32s (JSON name -> hex), written by :func:`save_tensors`."""


# ---------------------------------------------------------------------------------------------
# Atomic writes


_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def disk_error(path: str | os.PathLike, exc: BaseException) -> UserError | None:
    """A one-line error for a write that failed because of the disk (full, read-only, no
    permission), or None for any other failure. safetensors reports these as text
    (``os error 28``), hence the second look."""
    code = getattr(exc, "errno", None)
    if code is None and isinstance(exc, Exception):
        found = re.search(r"os error (\d+)", str(exc))
        code = int(found.group(1)) if found else None
    if code not in _DISK_ERRNOS:
        return None
    return UserError(
        f"cannot write {path}: {os.strerror(code)}",
        "free some space (or fix the permissions), then continue with --resume; the last checkpoint is intact",
    )


def _write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(temp_path)``, fsync the result, then rename it over ``path``.

    Raises:
        UserError: the disk is full, read-only or not writable (the previous file is intact).
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        faults.reached("write", str(path))
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        problem = disk_error(path, exc)
        if problem is not None:
            raise problem from None
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (Windows), hence best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same directory, fsync, rename)."""
    _write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically. ``Path`` values become strings."""
    write_text_atomic(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ---------------------------------------------------------------------------------------------
# Tensors


def save_tensors(
    path: str | os.PathLike,
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Save tensors (moved to CPU, made contiguous) and string metadata to a safetensors file.

    Tensors that share memory (tied weights) are copied, since safetensors stores each once.

    Args:
        path: the file to write; its directory is created if needed.
        tensors: name -> tensor.
        metadata: name -> string; non-string values are a programming error (``TypeError``).
    """
    metadata = dict(metadata or {})
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"checkpoint metadata must map str to str, got {key!r}: {value!r}")
    prepared: dict[str, torch.Tensor] = {}
    seen_storages: set[int] = set()
    for name, tensor in tensors.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"checkpoint entry {name!r} is a {type(tensor).__name__}, not a tensor")
        tensor = tensor.detach().to("cpu")
        storage = tensor.untyped_storage().data_ptr()
        if storage in seen_storages and tensor.numel() > 0:
            tensor = tensor.clone()
        seen_storages.add(tensor.untyped_storage().data_ptr())
        prepared[name] = tensor.contiguous()
    if CHECKSUMS in metadata:
        raise ValueError(f"checkpoint metadata key {CHECKSUMS!r} is reserved")
    metadata[CHECKSUMS] = json.dumps({name: checksum(t) for name, t in prepared.items()})
    _write_atomic(path, lambda tmp: save_file(prepared, str(tmp), metadata=metadata))


def load_tensors(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Load a safetensors file written by :func:`save_tensors`.

    Returns:
        ``(tensors, metadata)``; metadata is ``{}`` when the file has none.

    Raises:
        CheckpointError: the file is missing, not a regular file (a directory, a FIFO), or corrupt
            (e.g. truncated).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"no checkpoint at {path}", "check the path, or list the run's checkpoints/ directory"
        )
    # a FIFO would block the read forever, a directory or device cannot be one
    require_regular_file(path, "checkpoint", "pass a .safetensors file that training wrote", error=CheckpointError)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (OSError, MemoryError):
        raise  # a permissions or resource problem is not corruption; keep its own message
    except Exception as exc:  # safetensors raises its own error types (SafetensorError, ...)
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({_first_line(exc)})",
            "resume from an earlier checkpoint in the same directory, or train again",
        ) from exc
    verify_checksums(path, tensors, metadata)
    device = torch.device(device)
    if device.type != "cpu":
        tensors = {key: t.to(device) for key, t in tensors.items()}
    return tensors, metadata


def checksum(tensor: torch.Tensor) -> str:
    """The CRC-32 of a CPU tensor's bytes, as 8 hex digits."""
    data = tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy()
    return f"{zlib.crc32(data):08x}"


def verify_checksums(path: Path, tensors: Mapping[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Check the CRC-32s :func:`save_tensors` recorded (files without them pass); pops them
    from ``metadata``.

    Raises:
        CheckpointError: a tensor's bytes differ from those saved, naming the tensor.
    """
    recorded = metadata.pop(CHECKSUMS, None)
    if recorded is None:
        return
    try:
        sums = json.loads(recorded)
        if not isinstance(sums, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt: its checksums cannot be read ({exc})", _EARLIER) from None
    missing = sorted(set(sums) - set(tensors))
    if missing:
        raise CheckpointError(f"checkpoint {path} is corrupt: tensor {missing[0]} is missing", _EARLIER)
    for name, tensor in tensors.items():
        if name in sums and checksum(tensor.cpu()) != sums[name]:
            raise CheckpointError(
                f"checkpoint {path} is corrupt: the bytes of tensor {name} differ from those saved "
                f"(CRC-32 {checksum(tensor.cpu())}, saved {sums[name]})",
                _EARLIER,
            )


_EARLIER = "resume from an earlier checkpoint in the same directory, or train again"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Modules and optimizers

Stateful = torch.nn.Module | torch.optim.Optimizer


def save_modules(
    path: str | os.PathLike,
    modules: Mapping[str, Stateful],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Save the state of modules and optimizers in one checkpoint.

    Each state dict is flattened to tensors named ``"<name>/<key>"`` (nested optimizer state
    becomes ``"<name>/state/<param index>/<key>"``); its non-tensor parts go to the metadata as
    JSON.

    Args:
        path: the file to write.
        modules: name -> module or optimizer; names may not contain ``"/"``.
        metadata: extra string metadata returned by :func:`load_modules`.

    Examples:
        >>> import tempfile, torch
        >>> path = tempfile.mkdtemp() + "/state.safetensors"
        >>> net = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.Adam(net.parameters())
        >>> save_modules(path, {"net": net, "opt": opt}, {"round": "7"})
        >>> load_modules(path, {"net": torch.nn.Linear(2, 1), "opt": opt})
        {'round': '7'}
    """
    metadata = dict(metadata or {})
    for key in metadata:
        if key.startswith(_RESERVED):
            raise ValueError(f"checkpoint metadata key {key!r} uses the reserved prefix {_RESERVED!r}")
    tensors: dict[str, torch.Tensor] = {}
    for name, obj in modules.items():
        if not name or "/" in name:
            raise ValueError(f"checkpoint entry name {name!r} must be non-empty and contain no '/'")
        kind = _kind(obj)
        layout = _encode(obj.state_dict(), name, tensors)
        metadata[_RESERVED + name] = json.dumps({"kind": kind, "state": layout})
    save_tensors(path, tensors, metadata)


def load_modules(
    path: str | os.PathLike,
    modules: Mapping[str, Stateful],
    device: str | torch.device = "cpu",
    strict: bool = True,
) -> dict[str, str]:
    """Load a checkpoint written by :func:`save_modules` into ``modules`` in place.

    Every entry is checked before any is loaded, so a mismatch leaves all objects untouched.

    Args:
        path: the checkpoint file.
        modules: name -> module or optimizer to load into.
        device: where tensors are loaded first (modules then copy into their own parameters;
            optimizers move state to their parameters' device).
        strict: if False, names absent from the checkpoint and missing or unexpected module keys
            are skipped; shape mismatches are always an error.

    Returns:
        the caller's metadata given to :func:`save_modules`.

    Raises:
        CheckpointError: missing or corrupt file, or a checkpoint that does not match the
            models (different vocabulary, sizes or optimizer).
    """
    path = Path(path)
    tensors, metadata = load_tensors(path, device)
    states: dict[str, dict] = {}
    for name, obj in modules.items():
        state = _decode_entry(path, name, obj, tensors, metadata)
        if state is None:
            if strict:
                raise CheckpointError(
                    f"checkpoint {path} has no {name!r} entry",
                    "check that it was saved by the same kind of run, or train again",
                )
            continue
        if isinstance(obj, torch.nn.Module):
            _check_module_state(path, name, obj, state, strict)
        else:
            _check_optimizer_state(path, name, obj, state)
        states[name] = state
    for name, state in states.items():
        obj = modules[name]
        try:
            if isinstance(obj, torch.nn.Module):
                obj.load_state_dict(state, strict=strict)
            else:
                obj.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError) as exc:
            raise _mismatch(path, name, _first_line(exc)) from exc
    return {k: v for k, v in metadata.items() if not k.startswith(_RESERVED)}


def _kind(obj: Stateful) -> str:
    if isinstance(obj, torch.nn.Module):
        return "module"
    if isinstance(obj, torch.optim.Optimizer):
        return "optimizer"
    raise TypeError(f"cannot checkpoint a {type(obj).__name__}; expected a Module or Optimizer")


def _mismatch(path: Path, name: str, detail: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {path} does not match the model {name!r}: {detail}",
        "load it with the same vocabulary, model sizes and optimizer it was trained with, "
        "or train again",
    )


def _decode_entry(
    path: Path, name: str, obj: Stateful, tensors: dict[str, torch.Tensor], metadata: dict[str, str]
) -> dict | None:
    """The state dict stored for ``name``, or None if the checkpoint has none."""
    layout_json = metadata.get(_RESERVED + name)
    if layout_json is None:
        # A plain save_tensors file of "<name>/<key>" tensors still loads into a module.
        prefix = name + "/"
        state = {k[len(prefix):]: t for k, t in tensors.items() if k.startswith(prefix)}
        if state and isinstance(obj, torch.nn.Module):
            return state
        return None
    try:
        layout = json.loads(layout_json)
        kind, encoded = layout["kind"], layout["state"]
        state = _decode(encoded, tensors)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt: its layout for {name!r} cannot be read ({exc})",
            "resume from an earlier checkpoint in the same directory, or train again",
        ) from exc
    if kind != _kind(obj):
        raise _mismatch(path, name, f"it holds {kind} state where {_kind(obj)} state was expected")
    return state


def _check_module_state(
    path: Path, name: str, module: torch.nn.Module, state: dict, strict: bool
) -> None:
    """Raise a one-line CheckpointError for missing/unexpected keys or shape mismatches."""
    expected = module.state_dict()
    if strict:
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing keys {_few(missing)}")
            if unexpected:
                parts.append(f"unexpected keys {_few(unexpected)}")
            raise _mismatch(path, name, "; ".join(parts))
    parameters = {key for key, _ in module.named_parameters()}
    for key in sorted(parameters & set(state)):
        value = state[key]
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"checkpoint {path} holds non-finite weights ({name} {key})",
                "resume from an earlier checkpoint in the same directory, or train again",
            )
    for key, value in state.items():
        target = expected.get(key)
        if isinstance(target, torch.Tensor) and isinstance(value, torch.Tensor):
            if target.shape != value.shape:
                raise _mismatch(
                    path,
                    name,
                    f"{key} has shape {list(value.shape)} in the checkpoint "
                    f"but {list(target.shape)} in the model",
                )


def _check_optimizer_state(path: Path, name: str, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Per-parameter state (e.g. Adam's moments) must have its parameter's shape, and the groups
    the same number of parameters: otherwise it loads and the first step fails."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    groups = state.get("param_groups", [])
    saved = [i for group in groups for i in group.get("params", [])] if isinstance(groups, list) else []
    if len(saved) != len(params):
        raise _mismatch(path, name, f"it holds state of {len(saved)} parameters where the optimizer has {len(params)}")
    position = {index: p for index, p in zip(saved, params)}
    for index, entries in (state.get("state") or {}).items():
        param = position.get(index)
        for key, value in (entries.items() if isinstance(entries, dict) else ()):
            if param is not None and isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != param.shape:
                raise _mismatch(
                    path, name, f"state {key} of parameter {index} has shape {list(value.shape)} but the parameter has {list(param.shape)}"
                )


def _few(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _encode(value: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Turn a state dict into JSON, moving tensors into ``tensors`` under path-like names."""
    if isinstance(value, torch.Tensor):
        tensors[key] = value
        return {_TENSOR: key}
    if isinstance(value, Mapping):
        plain = all(isinstance(k, str) for k in value) and not ({_TENSOR, _TUPLE, _DICT} & set(value))
        if plain:
            return {k: _encode(v, f"{key}/{k}", tensors) for k, v in value.items()}
        # Optimizer state is keyed by int parameter indices; JSON objects only have str keys.
        return {_DICT: [[k, _encode(v, f"{key}/{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot checkpoint {key!r}: {type(value).__name__} is neither a tensor nor JSON")


def _decode(value: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if _TENSOR in value:
            return tensors[value[_TENSOR]]
        if _TUPLE in value:
            return tuple(_decode(v, tensors) for v in value[_TUPLE])
        if _DICT in value:
            return {k: _decode(v, tensors) for k, v in value[_DICT]}
        return {k: _decode(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Random number generator states (checkpoint metadata is text)


def encode_rng_state(state: torch.Tensor) -> str:
    """A generator's ``get_state()`` (a uint8 tensor) as base64 text for checkpoint metadata.

    Examples:
        >>> g = torch.Generator().manual_seed(3)
        >>> state = encode_rng_state(g.get_state())
        >>> first = torch.rand(2, generator=g)
        >>> _ = g.set_state(decode_rng_state(state))
        >>> torch.equal(torch.rand(2, generator=g), first)
        True
    """
    return base64.b64encode(state.cpu().numpy().tobytes()).decode()


def decode_rng_state(text: str) -> torch.Tensor:
    """The inverse of :func:`encode_rng_state`."""
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)
