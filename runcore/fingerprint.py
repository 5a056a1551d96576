"""Short content hashes: of a module's weights (so a score can name the network that made it) and
of tensors and settings (cache keys)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["content_hash", "weights_hash"]


def _update(digest, key: str, tensor: torch.Tensor) -> None:
    tensor = tensor.detach().to("cpu").contiguous()
    digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
    digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())


def weights_hash(module: nn.Module) -> str:
    """First 16 hex digits of the SHA-256 of a module's state (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        _update(digest, key, tensor)
    return digest.hexdigest()[:16]


def content_hash(tensors: Mapping[str, torch.Tensor], settings: Mapping[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of named tensors and JSON-able settings."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for key, tensor in sorted(tensors.items()):
        _update(digest, key, tensor)
    return digest.hexdigest()[:16]
