"""Observation spaces and the conversion of episode tensors into observations.

Observations are a flat ``Dict`` of int64 ``Box``es (``tokens`` left-aligned and PAD-padded,
``length`` the current prefix length) or the ``tokens`` Box alone. Never ``MultiDiscrete`` or
``Sequence``: Stable-Baselines3 one-hots the first into T x V floats and rejects the second.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

OBSERVATION_MODES = ("dict", "tokens")


def observation_space(vocab_size: int, max_len: int, mode: str, num_classes: int = 0) -> spaces.Space:
    """With ``num_classes`` (a class-conditional game) the Dict also holds ``label``, the class
    the episode is asked to write (``textgan.env.episodes``); the ``tokens`` mode has no room for it."""
    if mode not in OBSERVATION_MODES:
        raise ValueError(f"unknown observation mode {mode!r}; choose one of {', '.join(OBSERVATION_MODES)}")
    tokens = spaces.Box(low=0, high=vocab_size - 1, shape=(max_len,), dtype=np.int64)
    if mode == "tokens":
        if num_classes:
            raise ValueError("observation='tokens' cannot carry the class of a conditional env; use observation='dict'")
        return tokens
    length = spaces.Box(low=0, high=max_len, shape=(1,), dtype=np.int64)
    if num_classes:
        label = spaces.Box(low=0, high=num_classes - 1, shape=(1,), dtype=np.int64)
        return spaces.Dict({"tokens": tokens, "length": length, "label": label})
    return spaces.Dict({"tokens": tokens, "length": length})


def make_observation(tokens, length, mode: str, label=None):
    """An observation from ``tokens (..., T)``, ``length (..., 1)`` and, in a conditional env,
    ``label (..., 1)``; arrays or tensors alike."""
    if mode == "tokens":
        return tokens
    if label is not None:
        return {"tokens": tokens, "length": length, "label": label}
    return {"tokens": tokens, "length": length}
