"""Denormal floats as zero on the CPU, so that a trained model's tiny numbers do not slow it down.

A float32 below 2^-126 (about 1.2e-38) is *denormal*, and x86 CPUs do arithmetic on one through a
microcode assist that is tens of times slower than on a normal number. Training makes such numbers
as it goes: a weight whose gradient is zero (a feature map ReLU keeps at 0, a token that no batch
holds) keeps Adam's moments decaying by 0.9 and 0.999 each step, and a confident discriminator's
gradients are tiny to begin with. Adam then reads and writes them every step. On a 2-core Intel
Xeon (``benchmarks/denormals.py``, docs/RESULTS.md §5), fused Adam over the paper D's 7.0M
parameters took 56.7 ms instead of 4.2 ms with gradients of 1e-20, and the paper D's training step
16% longer (46.9 against 40.3 ms) from the state a paper-size SeqGAN run had after 8 of its 50
D-pretraining steps: 1.87M denormals, nearly all in Adam's first moment of the highway's transform
weight, whose rows for dead units get no gradient. They grow in number as such a run goes on.

:func:`flush_denormals` sets the CPU's flush-to-zero and denormals-are-zero modes
(``torch.set_flush_denormal``). A result below 2^-126 becomes 0, and a denormal input reads as 0.
That changes numbers only where they are below 1.2e-38: Adam's update there is
``m / (sqrt(v) + 1e-8)`` times the learning rate, and an update near 1e-30 leaves a weight of
normal size unchanged in float32. The mode is per thread, and a thread starts with its creator's:
it must be set before torch starts its pool of threads (its first parallel operation), which is why
the CLIs call it first thing (:func:`runcore.process.set_up_process`), and nothing calls it on
import. It does nothing on a GPU.
"""

from __future__ import annotations

import torch

__all__ = ["flush_denormals"]


def flush_denormals() -> bool:
    """Treat denormal floats as zero in this thread and in every thread started after it; True
    where the CPU supports it (x86 with SSE3), False elsewhere (the mode is then left as it is)."""
    return bool(torch.set_flush_denormal(True))
