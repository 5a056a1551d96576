"""Data parallelism over ``torch.distributed`` for models trained through methods other than forward.

DDP's module wrapper syncs gradients only for calls of the wrapped module's ``forward``; an RL
agent differentiates other methods (the log-probability of its actions), so it would not sync.
Here the synchronisation is a hook on each trained parameter instead (:func:`sync_gradients`):
as soon as a backward pass has accumulated a parameter's gradient it is averaged over the
ranks, so whatever runs after ``backward()`` — gradient clipping, the optimiser — sees the
average, whoever wrote the step. Each rank's loss is then the mean over its own rows; where
the ranks' row counts may differ (tokens, episodes), :func:`global_mean` scales it so that the
average is the gradient of the mean over all rows, as one process on the whole batch computes.

Without a process group (or with one process) every function here is the plain computation:
the one-process path is unchanged.

Examples:
    >>> import torch
    >>> world_size(), world_mean(0.5), global_mean(torch.tensor(6.0), torch.tensor(3))
    (1, 0.5, tensor(2.))
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import torch

__all__ = ["average_metrics", "global_mean", "rank_seed", "sync_gradients", "world_any", "world_mean", "world_size", "world_sum"]


def world_size() -> int:
    """The number of processes in the default process group; 1 when there is none."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _collective_device() -> torch.device:
    """Where tensors for a collective must be: NCCL reduces only CUDA tensors."""
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def sync_gradients(parameters: Iterable[torch.nn.Parameter]) -> list[Any]:
    """Average every gradient of ``parameters`` over the ranks as soon as backward accumulates it.

    Every rank must run the same backward passes over the same parameters (the hooks are
    collectives, matched in order). A gradient accumulated over several backward passes stays
    the average of the ranks' sums: the part already averaged is the same on every rank.

    Returns:
        the hooks' handles (``handle.remove()`` stops the syncing); none with one process.
    """
    if world_size() == 1:
        return []
    seen: set[int] = set()
    handles = []
    for parameter in parameters:
        if id(parameter) not in seen and parameter.requires_grad:
            seen.add(id(parameter))
            handles.append(parameter.register_post_accumulate_grad_hook(_average_gradient))
    return handles


def _average_gradient(parameter: torch.Tensor) -> None:
    import torch.distributed as dist

    if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
        raise RuntimeError("gradients synced over torch.distributed cannot be captured in a CUDA graph; run the step eagerly")
    dist.all_reduce(parameter.grad)
    parameter.grad.div_(dist.get_world_size())


def world_sum(value: torch.Tensor) -> torch.Tensor:
    """The sum of ``value`` over the ranks (a new tensor, no graph); ``value`` itself with one process."""
    if world_size() == 1:
        return value
    import torch.distributed as dist

    total = value.detach().to(_collective_device(), copy=True)
    dist.all_reduce(total)
    return total.to(value.device)


def global_mean(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """The mean over every rank's rows, ``sum of totals / sum of counts``, as this rank's share.

    ``total`` is this rank's sum (with its graph), ``count`` its number of rows. The result is
    scaled by the number of ranks, so that the average of the ranks' values (and of their
    gradients, which :func:`sync_gradients` takes) is the global mean. One process: ``total /
    count`` (a count of 0 counts as 1).
    """
    world = world_size()
    if world == 1:
        return total / count.clamp_min(1)
    return total * world / world_sum(count).clamp_min(1)


def world_mean(value: float) -> float:
    """The mean of a number over the ranks (e.g. a metric that decides when to stop)."""
    return average_metrics({"value": value})["value"]


def world_any(flag: bool) -> bool:
    """Whether any rank's ``flag`` is set (e.g. a stop asked for on one rank stops all)."""
    if world_size() == 1:
        return bool(flag)
    return bool(world_sum(torch.tensor(float(flag), dtype=torch.float64)) > 0)


def average_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``metrics`` with each float averaged over the ranks, in one collective; other values
    (phase names, step counts) as they are. Every rank must pass the same names."""
    if world_size() == 1:
        return dict(metrics)
    names = sorted(k for k, v in metrics.items() if isinstance(v, float))
    if not names:
        return dict(metrics)
    values = world_sum(torch.tensor([float(metrics[k]) for k in names], dtype=torch.float64)) / world_size()
    return {**metrics, **dict(zip(names, values.tolist()))}


def rank_seed(*parts: int) -> int:
    """A 63-bit seed from integers (e.g. the run's seed, the rank, the phase and the step): each
    combination its own random stream, the same in every process that asks."""
    digest = hashlib.blake2b(",".join(str(int(p)) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1
