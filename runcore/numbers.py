"""Non-finite numbers stop a run loudly: losses, rewards and weights are checked where they are read."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from runcore.errors import UserError

__all__ = ["NonFiniteError", "require_finite_metrics", "require_finite_weights"]

_FIX = "lower the learning rates or clip gradients harder; the run's last good checkpoint is kept, so --resume goes on from it"


class NonFiniteError(UserError):
    """A loss, reward or weight became NaN or infinite; the run stops without saving it."""


def require_finite_metrics(metrics: Mapping[str, Any], where: str) -> None:
    """Raise :class:`NonFiniteError` naming each metric of ``metrics`` that is NaN or infinite.

    Reads one-element tensors (on a GPU this waits for it: call it where the values are read
    anyway, e.g. when they are logged).

    Examples:
        >>> require_finite_metrics({"g_loss": 0.5, "phase": "mle"}, "mle epoch 1")
        >>> require_finite_metrics({"g_loss": float("nan")}, "mle epoch 2")
        Traceback (most recent call last):
        ...
        runcore.numbers.NonFiniteError: g_loss is nan at mle epoch 2. Lower the learning rates ...
    """
    bad = []
    for key, value in metrics.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
            value = float(value)
        if isinstance(value, float) and not math.isfinite(value):
            bad.append(f"{key} is {value}")
    if bad:
        raise NonFiniteError(f"{', '.join(bad)} at {where}", _FIX)


def require_finite_weights(items: Mapping[str, Any], where: str) -> None:
    """Raise :class:`NonFiniteError` if a module's parameters or an optimizer's state hold a NaN
    or an infinity (checked before a checkpoint is written, so that the last one stays good)."""
    for name, obj in items.items():
        for key, tensor in _float_tensors(obj):
            if not bool(torch.isfinite(tensor).all()):
                raise NonFiniteError(f"{name} {key} holds non-finite values at {where}", _FIX)


def _float_tensors(obj: Any) -> Iterable[tuple[str, torch.Tensor]]:
    if isinstance(obj, torch.nn.Module):
        yield from ((k, p.detach()) for k, p in obj.named_parameters())
    elif isinstance(obj, torch.optim.Optimizer):
        for index, state in enumerate(obj.state.values()):
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    yield f"state {index} {key}", value
