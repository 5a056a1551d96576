"""Adam, fused: one kernel over every parameter instead of a dozen elementwise passes per tensor.

On the CPU the per-tensor update of ``torch.optim.Adam`` (foreach or not) costs a third of a
SeqGAN discriminator step at the paper's sizes; ``fused=True`` does the same update in one pass
(benchmarks/seqgan_units.py measures it). Parameters on a device the fused kernel does not
support, or of a dtype it does not, get the foreach implementation. A fused Adam is also
capturable (its step count lives on the parameters' device), so that a CUDA graph can record its
step (``runcore.graphs.GraphedStep``); on the CPU that changes no bit of the update.

The fused kernel reads a parameter, its gradient and its state as flat memory, so they must
share one layout. Autograd and Adam's own state follow the parameter's; a loaded state dict's
tensors (a checkpoint's are contiguous) are laid out like their parameters on load, so that a
parameter stored otherwise (a discriminator's taps-major filters) resumes exactly.
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
    optimizer = torch.optim.Adam(params, lr=lr, fused=True, capturable=True, **kwargs)
    optimizer.register_load_state_dict_post_hook(_state_laid_out_like_params)
    return optimizer


def _state_laid_out_like_params(optimizer: torch.optim.Optimizer) -> None:
    """Each state tensor of a parameter's shape with other strides: copied into the parameter's layout."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)
