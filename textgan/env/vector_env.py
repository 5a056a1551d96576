"""The batched SeqGAN environment: B sequences at once, state kept as tensors on the device.

A ``gymnasium.vector.VectorEnv`` with both Gymnasium 1.x autoreset modes. Sub-environment ``i``
seeded with ``seed + i`` behaves exactly like a plain ``SeqGANEnv`` seeded with ``seed + i``.
With ``tensors=True`` observations, rewards and flags come back as torch tensors on the env's
device and actions may be a tensor (no host copies: what the trainer uses on a GPU).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from textgan.env.episodes import EnvConfig
from textgan.env.seqgan_env import build_episodes
from textgan.env.spaces import make_observation, observation_space
from textgan.models.discriminator import Discriminator
from textgan.models.generator import Generator

INFO_KEYS = ("length", "d_score", "rollouts")


class SeqGANVectorEnv(gym.vector.VectorEnv):
    """B copies of the SeqGAN game stepped as one batch.

    Args:
        num_envs: B.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` (Gymnasium's default: the step after an
            episode ends resets it and its action is ignored) or ``SAME_STEP`` (the ending step
            already returns the new episode's first observation; the last one is in
            ``info["final_obs"]``).
        tensors: return torch tensors on ``device`` instead of NumPy arrays.
        The other arguments are those of ``SeqGANEnv``.

    Examples:
        >>> envs = SeqGANVectorEnv(num_envs=3, vocab_size=8, max_len=4, rollouts=2)
        >>> obs, info = envs.reset(seed=0)
        >>> obs["tokens"].shape, obs["length"].shape
        ((3, 4), (3, 1))
        >>> obs, rewards, terminated, truncated, info = envs.step(np.array([5, 6, 7]))
        >>> obs["tokens"][:, 0].tolist(), rewards.shape
        ([5, 6, 7], (3,))
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 64,
        vocab_size: int = 5000,
        max_len: int = 20,
        reward_mode: str = "mc",
        rollouts: int = 16,
        device: str | torch.device = "cpu",
        observation: str = "dict",
        log_d: bool = False,
        constant_reward: float = 1.0,
        bos_id: int = 1,
        eos_id: int | None = 2,
        pad_id: int = 0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        tensors: bool = False,
        render_mode: str | None = None,
    ):
        autoreset_mode = AutoresetMode(autoreset_mode) if isinstance(autoreset_mode, str) else autoreset_mode
        if autoreset_mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode must be NEXT_STEP or SAME_STEP, got {autoreset_mode}")
        self.num_envs = num_envs
        self.episodes = build_episodes(
            num_envs, vocab_size, max_len, reward_mode, rollouts, device, log_d, constant_reward, bos_id, eos_id, pad_id
        )
        self.observation_mode = observation
        self.single_observation_space = observation_space(vocab_size, max_len, observation)
        self.single_action_space = gym.spaces.Discrete(vocab_size)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": autoreset_mode}
        self.autoreset_mode = autoreset_mode
        self.tensors = tensors
        self.render_mode = render_mode
        device = self.episodes.device
        self._all = torch.ones(num_envs, dtype=torch.bool, device=device)
        self._needs_reset = torch.zeros(num_envs, dtype=torch.bool, device=device)

    @property
    def config(self) -> EnvConfig:
        return self.episodes.config

    @property
    def device(self) -> torch.device:
        return self.episodes.device

    def set_discriminator(self, discriminator: Discriminator) -> None:
        """Score sequences with ``discriminator`` from the next step on."""
        self.episodes.set_discriminator(discriminator)

    def sync_rollout_policy(self, policy: Generator, rate: float = 0.0) -> None:
        """Move the rollout policy towards ``policy``: ``rate * rollout + (1 - rate) * policy``."""
        self.episodes.sync_rollout_policy(policy, rate)

    # -- conversions --------------------------------------------------------------------------

    def _out(self, tensor: torch.Tensor):
        return tensor.clone() if self.tensors else tensor.cpu().numpy().copy()

    def _observation(self, rows: torch.Tensor | None = None):
        tokens, lengths = self.episodes.tokens, self.episodes.lengths
        if rows is not None:
            tokens, lengths = tokens[rows], lengths[rows]
        return make_observation(self._out(tokens), self._out(lengths.unsqueeze(1)), self.observation_mode)

    def _info(self, lengths, scores, rollouts) -> dict[str, Any]:
        info = {"length": self._out(lengths), "d_score": self._out(scores), "rollouts": self._out(rollouts)}
        for key in INFO_KEYS:
            info[f"_{key}"] = np.ones(self.num_envs, dtype=bool)
        return info

    # -- the API ---------------------------------------------------------------------------------

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            seeds = seed if isinstance(seed, (list, tuple)) else [seed + i for i in range(self.num_envs)]
            if len(seeds) != self.num_envs:
                raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} environments")
            for row, row_seed in enumerate(seeds):
                self.episodes.seed(row, row_seed)
        self.episodes.reset(self._all)
        self._needs_reset.zero_()
        zeros = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        return self._observation(), self._info(zeros, zeros.float(), zeros)

    def step(self, actions):
        actions = torch.as_tensor(np.asarray(actions) if not torch.is_tensor(actions) else actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected {self.num_envs} actions, got shape {tuple(actions.shape)}")
        if actions.dtype.is_floating_point or actions.dtype == torch.bool:
            raise ValueError(f"actions must be integer token ids, got dtype {actions.dtype}")
        actions = actions.to(self.device, torch.long)
        resetting = self._needs_reset.clone()  # NEXT_STEP: these rows reset and ignore their action
        stepping = ~resetting
        rewards, terminated, scores = self.episodes.step(actions, stepping)
        cfg = self.config
        counts_rollouts = cfg.reward_mode in ("mc", "shaped")
        rollouts = torch.where(stepping & ~terminated & counts_rollouts, cfg.rollouts, 0)
        truncated = torch.zeros_like(terminated)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self.episodes.reset(resetting)
            self._needs_reset = terminated.clone()
            info = self._info(self.episodes.lengths.clone(), scores, rollouts)
            observation = self._observation()
        else:
            info = self._info(self.episodes.lengths.clone(), scores, rollouts)
            if bool(terminated.any()):
                final = self._observation()
                info["final_obs"] = final
                info["_final_obs"] = terminated.cpu().numpy()
                info["final_info"] = {k: info[k] for k in INFO_KEYS}
                info["_final_info"] = terminated.cpu().numpy()
            self.episodes.reset(terminated)
            observation = self._observation()
        return observation, self._out(rewards), self._out(terminated), self._out(truncated), info
