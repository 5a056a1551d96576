"""Adam, fused: one kernel over every parameter instead of a dozen elementwise passes per tensor.

On the CPU the per-tensor update of ``torch.optim.Adam`` (foreach or not) costs a third of a
SeqGAN discriminator step at the paper's sizes; ``fused=True`` does the same update in one pass
(benchmarks/seqgan_units.py measures it). Parameters on a device the fused kernel does not
support, or of a dtype it does not, get the foreach implementation. A fused Adam is also
capturable (its step count lives on the parameters' device), so that a CUDA graph can record its
step (``runcore.graphs.GraphedStep``); on the CPU that changes no bit of the update.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["adam"]

_FUSED_DEVICES = ("cpu", "cuda")


def adam(parameters: Iterable[torch.nn.Parameter], lr: float, **kwargs: Any) -> torch.optim.Adam:
    """``torch.optim.Adam(parameters, lr, **kwargs)`` with ``fused=True`` where it applies.

    The update is Adam's to rounding: the fused kernel orders its arithmetic differently, so the
    last bits of a step may differ from the foreach implementation's.
    """
    params = list(parameters)
    fusable = bool(params) and all(p.device.type in _FUSED_DEVICES and p.dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16) for p in params)
    if not fusable:
        return torch.optim.Adam(params, lr=lr, **kwargs)
    return torch.optim.Adam(params, lr=lr, fused=True, capturable=True, **kwargs)
