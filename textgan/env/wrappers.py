"""Gymnasium's vector wrappers for an env that returns torch tensors (``tensors=True``).

Gymnasium's vector ``RecordEpisodeStatistics`` keeps its books in NumPy (``ndarray += rewards``),
which fails on torch tensors. This one keeps the same books from a NumPy copy of the rewards and
flags and passes the env's tensors through unchanged; it is Gymnasium's own class underneath,
so its statistics (``info["episode"]``, ``return_queue``, ...) are exactly Gymnasium's.

Examples:
    >>> import torch
    >>> from textgan.env.vector_env import SeqGANVectorEnv
    >>> envs = RecordEpisodeStatistics(SeqGANVectorEnv(2, vocab_size=6, max_len=2, rollouts=0, tensors=True))
    >>> _ = envs.reset(seed=0)
    >>> _ = envs.step(torch.tensor([4, 5]))
    >>> _, rewards, terminated, _, info = envs.step(torch.tensor([4, 5]))
    >>> torch.is_tensor(rewards), info["episode"]["l"].tolist()
    (True, [2, 2])
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium.vector import VectorEnv, VectorWrapper
from gymnasium.wrappers import vector as gym_vector


def _numpy(value):
    return value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)


class _NumpyFlags(VectorWrapper):
    """Rewards and flags as NumPy for the wrapper above it; the originals kept in ``last``."""

    def step(self, actions):
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        self.last = (observations, rewards, terminations, truncations)
        return observations, _numpy(rewards), _numpy(terminations), _numpy(truncations), infos


class RecordEpisodeStatistics(VectorWrapper):
    """``gymnasium.wrappers.vector.RecordEpisodeStatistics`` that also works with torch outputs.

    Args:
        env: a vector env (torch tensors or NumPy arrays).
        buffer_length, stats_key: as Gymnasium's.
    """

    def __init__(self, env: VectorEnv, buffer_length: int = 100, stats_key: str = "episode"):
        super().__init__(env)
        self._flags = _NumpyFlags(env)
        self.statistics = gym_vector.RecordEpisodeStatistics(self._flags, buffer_length=buffer_length, stats_key=stats_key)

    def reset(self, *, seed=None, options=None):
        return self.statistics.reset(seed=seed, options=options)

    def step(self, actions):
        *_, infos = self.statistics.step(actions)
        observations, rewards, terminations, truncations = self._flags.last
        return observations, rewards, terminations, truncations, infos

    @property
    def return_queue(self):
        return self.statistics.return_queue

    @property
    def length_queue(self):
        return self.statistics.length_queue

    @property
    def episode_count(self):
        return self.statistics.episode_count
