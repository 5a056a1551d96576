"""Observation spaces and the conversion of episode tensors into observations.

Observations are a flat ``Dict`` of int64 ``Box``es (``tokens`` left-aligned and PAD-padded,
``length`` the current prefix length) or the ``tokens`` Box alone. Never ``MultiDiscrete`` or
``Sequence``: Stable-Baselines3 one-hots the first into T x V floats and rejects the second.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

OBSERVATION_MODES = ("dict", "tokens")


def observation_space(
    vocab_size: int, max_len: int, mode: str, num_classes: int = 0, feature_dim: int | None = None
) -> spaces.Space:
    """The observation space. With ``num_classes`` (a class-conditional game) the Dict also holds
    ``label``, the class the episode is asked to write (``textgan.env.episodes``); ``feature_dim``
    adds ``features``, a float32 ``Box`` of that size (the reward model's features of the prefix,
    LeakGAN's leaked information). The ``tokens`` mode has room for neither."""
    if mode not in OBSERVATION_MODES:
        raise ValueError(f"unknown observation mode {mode!r}; choose one of {', '.join(OBSERVATION_MODES)}")
    tokens = spaces.Box(low=0, high=vocab_size - 1, shape=(max_len,), dtype=np.int64)
    if mode == "tokens":
        if num_classes:
            raise ValueError("observation='tokens' cannot carry the class of a conditional env; use observation='dict'")
        if feature_dim is not None:
            raise ValueError("leaked_features needs observation='dict' (the features are a Dict entry)")
        return tokens
    length = spaces.Box(low=0, high=max_len, shape=(1,), dtype=np.int64)
    entries = {"tokens": tokens, "length": length}
    if num_classes:
        entries["label"] = spaces.Box(low=0, high=num_classes - 1, shape=(1,), dtype=np.int64)
    if feature_dim is not None:
        largest = np.finfo(np.float32).max  # finite bounds: Gymnasium's checker warns of infinite ones
        entries["features"] = spaces.Box(low=-largest, high=largest, shape=(feature_dim,), dtype=np.float32)
    return spaces.Dict(entries)


def make_observation(tokens, length, mode: str, label=None, features=None):
    """An observation from ``tokens (..., T)``, ``length (..., 1)`` and, where the env has them,
    ``label (..., 1)`` (a conditional env) and ``features (..., F)`` (leaked features); arrays or
    tensors alike."""
    if mode == "tokens":
        return tokens
    observation = {"tokens": tokens, "length": length}
    if label is not None:
        observation["label"] = label
    if features is not None:
        observation["features"] = features
    return observation


def leaked_feature_dim(reward_model, enabled: bool) -> int | None:
    """F of ``reward_model``'s ``features`` when ``enabled``; None when not asked for.

    Raises:
        ValueError: asked for, but the reward model has no features.
    """
    if not enabled:
        return None
    try:
        return int(reward_model.feature_dim)
    except AttributeError:  # (ProbRealReward has the methods; the model it wraps may not)
        name = type(getattr(reward_model, "model", reward_model)).__name__
        raise ValueError(
            f"leaked_features needs a reward model with features(tokens, lengths), e.g. SeqGAN's discriminator; {name} has none"
        ) from None
