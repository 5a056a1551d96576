"""Sampling a token from logits with a given uniform number (inverse CDF).

Taking the uniform as an argument, rather than drawing inside, is what lets the batched
environment give each sub-environment its own random stream and still sample all rows at once:
row b's draw depends only on row b's uniform, so batched and one-at-a-time sampling agree.
"""

import torch


def sample_from_logits(logits: torch.Tensor, uniforms: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Draw one token per row of ``logits (N, V)`` using ``uniforms (N,)`` in [0, 1).

    Returns int64 ``(N,)``. Equivalent in distribution to ``torch.multinomial(softmax(logits / T), 1)``.
    """
    if temperature != 1.0:
        logits = logits / temperature
    probs = torch.softmax(logits.float(), dim=-1)
    cdf = probs.cumsum(dim=-1)
    # scale by the row total so that rounding in the cumulative sum never leaves u beyond the end
    targets = uniforms.unsqueeze(-1).to(cdf.dtype) * cdf[:, -1:]
    tokens = torch.searchsorted(cdf, targets, right=True).squeeze(-1)
    return tokens.clamp_max(logits.shape[-1] - 1)


def host_to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """``tensor`` (on the CPU) on ``device``; to a GPU through pinned memory without a host wait.

    A plain ``.to("cuda")`` of pageable memory waits for the device's queue to drain; a
    non-blocking copy from pinned memory is queued like a kernel (the caching host allocator keeps
    the pinned block alive until the copy is done). The values are the same either way.
    """
    device = torch.device(device)
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
