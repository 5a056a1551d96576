"""Counter-based random streams on the device: uniforms keyed by (seed, draw, index).

``counter_uniforms`` is a pure function of its keys (splitmix64's integer mixing on int64 tensors),
so a row's numbers depend only on its own seed and how many draws it has made, never on which
other rows are drawn beside it, and the same keys give the same numbers on the CPU and on a GPU.
Nothing is read back to the host and no host random stream is touched: what lets the batched
environment's Monte Carlo rollouts run on a GPU without waiting for it.

Examples:
    >>> u = counter_uniforms(torch.tensor([7, 8]), torch.tensor([0, 0]), 2, 3)
    >>> u.shape, bool(((0 <= u) & (u < 1)).all())
    (torch.Size([2, 2, 3]), True)
    >>> torch.equal(counter_uniforms(torch.tensor([8]), torch.tensor([0]), 2, 3)[0], u[1])
    True
"""

from __future__ import annotations

import torch

_MASK64 = (1 << 64) - 1


def as_int64(value: int) -> int:
    """``value`` modulo 2**64 as a signed int64 (how a seed or constant enters the tensors)."""
    value = int(value) & _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


GOLDEN = as_int64(0x9E3779B97F4A7C15)
_M1 = as_int64(0xBF58476D1CE4E5B9)
_M2 = as_int64(0x94D049BB133111EB)
_SEED_SALT = as_int64(0x5DEECE66D2C3F1A7)


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical (unsigned) right shift of int64 ``x``: torch's ``>>`` is arithmetic."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def mix64(x: torch.Tensor) -> torch.Tensor:
    """splitmix64's finaliser on int64 tensors (multiplication wraps modulo 2**64)."""
    x = (x ^ _shift_right(x, 30)) * _M1
    x = (x ^ _shift_right(x, 27)) * _M2
    return x ^ _shift_right(x, 31)


def counter_uniforms(seeds: torch.Tensor, draws: torch.Tensor, k: int, width: int) -> torch.Tensor:
    """Uniforms in [0, 1) ``(n, k, width)`` float32; row ``i`` depends only on ``seeds[i]`` and ``draws[i]``.

    Element ``[i, a, b]`` is ``mix64(key_i + (a * width + b + 1) * GOLDEN)`` with
    ``key_i = mix64(mix64(seed_i ^ salt) + draw_i * GOLDEN)``, its top 24 bits scaled by 2**-24 (every
    float32 value of that grid is exact, so the numbers are the same on every device).
    """
    seeds = seeds.to(torch.long)
    key = mix64(mix64(seeds ^ _SEED_SALT) + draws.to(torch.long) * GOLDEN)
    index = torch.arange(1, k * width + 1, dtype=torch.long, device=seeds.device) * GOLDEN
    bits = _shift_right(mix64(key.unsqueeze(1) + index), 40)
    return (bits.to(torch.float32) * (1.0 / (1 << 24))).view(len(seeds), k, width)
