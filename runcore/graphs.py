"""A training step replayed as one CUDA graph: a few hundred kernel launches become one.

At SeqGAN's batch of 64 a discriminator step is launch-bound on a GPU (each of its few hundred
kernels is tiny), so the eager step cannot go much below a few milliseconds; replaying a captured
graph removes the launches and the Python in between. Capture follows PyTorch's whole-network
recipe: warm-up steps on a side stream, gradients set to None, then forward, backward and the
optimiser's step recorded once and replayed with the inputs copied into static tensors. The
optimiser must be capturable (``runcore.adam`` makes Adam so on CUDA). Elsewhere (the CPU, a
batch of another shape, a capture that fails) the same step runs eagerly, with the same result.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from runcore.distributed import world_size

__all__ = ["GraphedStep"]

Step = Callable[..., dict[str, torch.Tensor]]


class GraphedStep:
    """Run ``step(*inputs) -> {name: tensor}`` (forward, backward, optimiser step; no zero_grad).

    Args:
        step: one training step; it must not call ``zero_grad`` (done here) nor read values on
            the host (a capture cannot wait on the device).
        optimizer: the optimiser ``step`` uses; its gradients are set to None before each eager
            step and before the capture, and a loaded state dict drops the captured graphs.
        warmup: eager steps of a shape before it is captured (PyTorch's recipe uses a few, on a
            side stream, so that lazy initialisation happens outside the capture).
        enabled: False runs every step eagerly.

    Each call is one real training step, captured or not: the warm-up steps train too, and the
    step during which a graph is captured is replayed at once.
    """

    def __init__(self, step: Step, optimizer: torch.optim.Optimizer, warmup: int = 3, enabled: bool = True):
        self.step, self.optimizer, self.warmup, self.enabled = step, optimizer, warmup, enabled
        self._seen: dict[tuple, int] = {}
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[torch.Tensor], dict[str, torch.Tensor]]] = {}
        self._failed = False
        optimizer.register_load_state_dict_post_hook(lambda _optimizer: self.reset())

    def reset(self) -> None:
        """Forget the captured graphs (new optimiser state or parameters that moved)."""
        self._graphs.clear()
        self._seen.clear()

    def __call__(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        # under torchrun each parameter's gradient is all-reduced by a hook (runcore.distributed),
        # a collective that a graph would replay without the other ranks: eager there
        if not self.enabled or self._failed or inputs[0].device.type != "cuda" or world_size() > 1:
            return self._eager(*inputs)
        key = tuple((tuple(t.shape), t.dtype) for t in inputs)
        if key in self._graphs:
            graph, static_inputs, static_outputs = self._graphs[key]
            for static, value in zip(static_inputs, inputs):
                static.copy_(value)
            graph.replay()
            return {name: value.clone() for name, value in static_outputs.items()}
        self._seen[key] = self._seen.get(key, 0) + 1
        if self._seen[key] <= self.warmup:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                outputs = self._eager(*inputs)
            torch.cuda.current_stream().wait_stream(side)
            return outputs
        return self._capture(key, inputs)

    def _eager(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        return self.step(*inputs)

    def _capture(self, key: tuple, inputs: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        static_inputs = [t.clone() for t in inputs]
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                static_outputs = self.step(*static_inputs)
        except RuntimeError as error:  # an op that cannot be captured: stay eager, say so once
            self._failed = True
            warnings.warn(f"CUDA graph capture failed, running eagerly: {error}", stacklevel=2)
            torch.cuda.synchronize()
            return self._eager(*inputs)
        self._graphs[key] = (graph, static_inputs, static_outputs)
        graph.replay()  # the capture recorded this step without running it
        return {name: value.clone() for name, value in static_outputs.items()}
