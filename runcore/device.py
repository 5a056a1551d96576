"""Device, precision, compile, seeding and DDP: each a few lines, not a framework.

Nothing here runs at import: no GPU probing until a function is called.
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import warnings
from typing import Any

import torch

from runcore.errors import UserError

__all__ = ["autocast", "ddp_info", "leave_process_group", "maybe_compile", "resolve_device", "seed_everything"]

_DEVICE_FIX = "use --device auto, cpu, cuda or cuda:N"


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn a device name into a ``torch.device`` that exists on this machine.

    ``"auto"`` picks CUDA when available, else the CPU. Under ``torchrun`` (``WORLD_SIZE > 1``),
    ``"auto"`` and a bare ``"cuda"`` pick ``cuda:LOCAL_RANK``.

    Raises:
        UserError: the name is not a device, or names a GPU this machine does not have.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    text = str(name).strip().lower()
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise UserError(f"unknown device {str(name)!r}", _DEVICE_FIX) from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this PyTorch is built without CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise UserError(
                f"device {str(name)!r} requested but CUDA is not available ({why})",
                "use --device cpu (or auto)",
            )
        count = torch.cuda.device_count()
        if device.index is None:
            _, local_rank, world_size = ddp_info()
            return torch.device("cuda", local_rank if world_size > 1 else 0)
        if device.index >= count:
            raise UserError(
                f"device {str(name)!r} requested but this machine has {count} GPU(s)",
                f"use cuda:0 to cuda:{count - 1}, or --device auto",
            )
        return device
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise UserError(f"device {str(name)!r} requested but MPS is not available", _DEVICE_FIX)
        return device
    raise UserError(f"unsupported device {str(name)!r}", _DEVICE_FIX)


def autocast(device: torch.device | str, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (where the GPU supports bf16); a no-op context elsewhere.

    bf16 needs no loss scaling, which is why it is the only mixed precision offered.
    """
    device = torch.device(device)
    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def maybe_compile(module: Any, enabled: bool) -> Any:
    """``torch.compile(module)`` when ``enabled`` and this platform supports it, else ``module``.

    Keep double-backward paths (gradient penalty) eager: compiled graphs do not support them.
    """
    if not enabled:
        return module
    dynamo = getattr(torch, "_dynamo", None)
    supported = hasattr(torch, "compile") and (
        dynamo is None or not hasattr(dynamo, "is_dynamo_supported") or dynamo.is_dynamo_supported()
    )
    if not supported:
        warnings.warn("torch.compile is not supported on this platform; running eagerly", stacklevel=2)
        return module
    return torch.compile(module)


def seed_everything(seed: int) -> torch.Generator:
    """Seed ``random``, NumPy (if installed) and torch (all devices); call once per process.

    Returns:
        a CPU ``torch.Generator`` seeded with ``seed``, to pass to code that draws explicitly.
    """
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:  # numpy is optional for the core
        pass
    else:
        np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def ddp_info() -> tuple[int, int, int]:
    """``(rank, local_rank, world_size)`` as set by ``torchrun``; ``(0, 0, 1)`` otherwise.

    Raises:
        UserError: one of ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` is set but not an integer.
    """
    values = []
    for var, default in (("RANK", 0), ("LOCAL_RANK", 0), ("WORLD_SIZE", 1)):
        raw = os.environ.get(var)
        if raw is None or raw.strip() == "":
            values.append(default)
            continue
        try:
            values.append(int(raw))
        except ValueError:
            raise UserError(
                f"environment variable {var}={raw!r} is not an integer",
                "launch with torchrun, or unset RANK, LOCAL_RANK and WORLD_SIZE",
            ) from None
    rank, local_rank, world_size = values
    return rank, local_rank, world_size


def leave_process_group() -> None:
    """Wait for every rank, then tear the default process group down, here and not at exit.

    DDP modules hold the group; the caller drops its references to them first. The barrier keeps
    one rank from closing its connections while another still uses them, and the collection runs
    the group's destructor now: left to interpreter exit, gloo's threads can be destroyed
    unjoined ("terminate called without an active exception", SIGABRT).
    """
    import torch.distributed as dist

    dist.barrier()
    gc.collect()
    dist.destroy_process_group()
