"""A policy's recurrent state as rows: select, repeat, merge and reset them.

Every token policy (the LSTM ``(h, c)``, the Transformer's key/value cache) keeps its state as a
tuple of tensors whose first dimension is the row; a ``NamedTuple`` keeps its type through these
operations. The environment and the agents handle states only through these functions, so they
work unchanged with any policy.

Examples:
    >>> h, c = torch.zeros(3, 2), torch.ones(3, 2)
    >>> merged = where_rows(torch.tensor([True, False, True]), (h, c), (c, h))
    >>> merged[0][:, 0].tolist(), repeat_rows(merged, 2)[0].shape
    ([0.0, 1.0, 0.0], torch.Size([6, 2]))
"""

from __future__ import annotations

import torch

State = tuple[torch.Tensor, ...]


def _like(state: State, parts) -> State:
    parts = tuple(parts)
    return type(state)(*parts) if hasattr(state, "_fields") else parts


def where_rows(rows: torch.Tensor, new: State, old: State) -> State:
    """Row ``b`` of ``new`` where ``rows[b]`` (bool ``(N,)``), else of ``old`` (one masked op per part)."""
    return _like(old, (torch.where(rows.view(-1, *[1] * (a.dim() - 1)), a, b) for a, b in zip(new, old)))


def select_rows(state: State, index: torch.Tensor) -> State:
    """The rows ``index`` (a long index or a bool mask) of every part."""
    return _like(state, (part[index] for part in state))


def assign_rows(state: State, index: torch.Tensor, value: State) -> None:
    """``state[index] = value`` in every part, in place."""
    for part, new in zip(state, value):
        part[index] = new


def repeat_rows(state: State, k: int) -> State:
    """Each row ``k`` times in a row: row ``b * k + j`` is row ``b`` (``repeat_interleave``).

    The parts are new tensors (for ``k = 1`` too): writing into them leaves ``state`` alone.
    """
    return _like(state, (part.repeat_interleave(k, dim=0) for part in state))


def detach_state(state: State) -> State:
    return _like(state, (part.detach() for part in state))
