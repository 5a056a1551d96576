"""The batched SeqGAN environment: B sequences at once, state kept as tensors on the device.

A ``gymnasium.vector.VectorEnv`` with both Gymnasium 1.x autoreset modes. Sub-environment ``i``
seeded with ``seed + i`` behaves exactly like a plain ``SeqGANEnv`` seeded with ``seed + i``.
With ``tensors=True`` observations, rewards and flags come back as torch tensors on the env's
device and actions may be a tensor (no host copies: what the trainer uses on a GPU).

On a GPU in tensor mode a step never waits for the device: with ``SAME_STEP`` autoreset,
``info["final_obs"]`` and ``info["final_info"]`` are then present at every step (masked by
``info["_final_obs"]``, like every ``_key`` mask a bool tensor on the device), and an
out-of-range action or a non-finite score is raised by the next ``reset()`` call (or
``check()``) instead of by the step itself (see ``textgan.env.episodes``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from textgan.data.tokenizers import Tokenizer
from textgan.env.data import resolve_env_data
from textgan.env.episodes import EpisodeControls
from textgan.env.seqgan_env import build_episodes
from textgan.env.spaces import leaked_feature_dim, make_observation, observation_space
from textgan.models.sampling import host_to_device

INFO_KEYS = ("length", "d_score", "q_value", "rollouts")


def final_scores(info: dict[str, Any]):
    """D's score of each row's finished sequence at this step (0 where no episode ended).

    Works in both autoreset modes: ``SAME_STEP`` keeps it under ``final_info``.
    """
    return info["final_info"]["d_score"] if "final_info" in info else info["d_score"]


def step_q_values(info: dict[str, Any]):
    """The Monte Carlo action value of each row's last action, in either autoreset mode.

    ``SAME_STEP`` shows an ended row's new episode in ``info``; its last value is in ``final_info``.
    """
    if "final_info" not in info:
        return info["q_value"]
    ended = info["final_info"]["_q_value"]
    ended = torch.as_tensor(ended, device=info["q_value"].device) if torch.is_tensor(info["q_value"]) else ended
    return info["q_value"] + info["final_info"]["q_value"] * ended


def parse_autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    """``NEXT_STEP`` or ``SAME_STEP`` from the enum, its value (``"SameStep"``) or its name."""
    if isinstance(mode, str):
        by_name = {m.name.lower(): m for m in AutoresetMode} | {m.value.lower(): m for m in AutoresetMode}
        mode = by_name.get(mode.lower(), mode)
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        raise ValueError(f"autoreset_mode must be NEXT_STEP or SAME_STEP, got {mode!r}")
    return mode


class SeqGANVectorEnv(EpisodeControls, gym.vector.VectorEnv):
    """B copies of the SeqGAN game stepped as one batch.

    Args:
        num_envs: B.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` (Gymnasium's default: the step after an
            episode ends resets it and its action is ignored) or ``SAME_STEP`` (the ending step
            already returns the new episode's first observation and info; the last ones are in
            ``info["final_obs"]`` and ``info["final_info"]``, masked by ``info["_final_obs"]``).
            A string may name either (``"SameStep"`` or ``"same_step"``).
        tensors: return torch tensors on ``device`` instead of NumPy arrays.
        sync_free: step without reading the device (see the module docstring); None: on a GPU
            (True on the CPU runs the GPU's code path, for tests).
        leaked_features: add ``features (B, F)``, the reward model's features of each prefix.
        The other arguments are those of ``SeqGANEnv`` (``corpus`` or ``real_tokens`` included;
        the data are loaded once for all B sub-environments).

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
        vocab_size: int | None = None,
        max_len: int | None = None,
        reward_mode: str = "direct",
        rollouts: int = 0,
        device: str | torch.device = "cpu",
        observation: str = "dict",
        reward_model=None,
        bos_id: int = 1,
        eos_id: int | None = 2,
        pad_id: int = 0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        tensors: bool = False,
        render_mode: str | None = None,
        corpus: str | None = None,
        real_tokens=None,
        tokenizer: Tokenizer | None = None,
        random_stream: str = "auto",
        sync_free: bool | None = None,
        num_classes: int = 0,
        leaked_features: bool = False,
    ):
        autoreset_mode = parse_autoreset_mode(autoreset_mode)
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs
        data = resolve_env_data(corpus, real_tokens, tokenizer, vocab_size, max_len)
        self.real_tokens, self.tokenizer = data.real_tokens, data.tokenizer
        self.episodes = build_episodes(
            num_envs, data, reward_mode, rollouts, device, bos_id, eos_id, pad_id, reward_model, random_stream, num_classes
        )
        if sync_free is not None:  # None: on a GPU; True on the CPU tests the GPU's code path
            self.episodes.sync_free = bool(sync_free)
        # tensors on a GPU: nothing in step() reads the device (checks wait for reset() or check())
        self._sync_free = tensors and self.episodes.sync_free
        self.episodes.defer_checks = self._sync_free
        self.observation_mode = observation
        self.leaked_features = leaked_features
        feature_dim = leaked_feature_dim(self.episodes.reward_model, leaked_features)
        self.single_observation_space = observation_space(data.vocab_size, data.max_len, observation, num_classes, feature_dim)
        self.single_action_space = gym.spaces.Discrete(data.vocab_size)
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
    def device(self) -> torch.device:
        return self.episodes.device

    def check(self) -> None:
        """Raise a bad action or non-finite score recorded since the last check (GPU tensor mode)."""
        self.episodes.check()

    # -- conversions --------------------------------------------------------------------------

    def _out(self, tensor: torch.Tensor):
        return tensor.clone() if self.tensors else tensor.cpu().numpy().copy()

    def _observation(self, rows: torch.Tensor | None = None):
        tokens, lengths, labels = self.episodes.tokens, self.episodes.lengths, self.episodes.row_labels()
        if rows is not None:
            tokens, lengths = tokens[rows], lengths[rows]
            labels = None if labels is None else labels[rows]
        label = None if labels is None else self._out(labels.unsqueeze(1))
        features = self._out(self.episodes.reward_model.features(tokens, lengths)) if self.leaked_features else None
        return make_observation(self._out(tokens), self._out(lengths.unsqueeze(1)), self.observation_mode, label, features)

    def _info(self, lengths, scores, q_values, rollouts, mask: torch.Tensor | None = None) -> dict[str, Any]:
        info = {
            "length": self._out(lengths), "d_score": self._out(scores), "q_value": self._out(q_values),
            "rollouts": self._out(rollouts),
        }  # fmt: skip
        if mask is None:
            present = np.ones(self.num_envs, dtype=bool)
        else:
            present = mask.clone() if self._sync_free else mask.cpu().numpy()
        for key in INFO_KEYS:
            info[f"_{key}"] = present.clone() if torch.is_tensor(present) else present.copy()
        return info

    # -- the API ---------------------------------------------------------------------------------

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        """Reset every sub-environment, or those where ``options["reset_mask"]`` (bool ``(B,)``) is true.

        With a mask, the other rows keep their episodes; the observation and info are those of
        all rows, as Gymnasium's ``SyncVectorEnv`` returns them. A conditional env
        (``num_classes``) takes each row's class from ``options["labels"]`` (``(B,)``; -1: drawn);
        the episodes that autoreset later draw theirs.
        """
        self.episodes.check()  # what a GPU step recorded instead of raising (one wait per reset call)
        rows, host_rows = self._all, None
        if options and options.get("reset_mask") is not None:
            rows = torch.as_tensor(np.asarray(options["reset_mask"]) if not torch.is_tensor(options["reset_mask"]) else options["reset_mask"])
            if rows.shape != (self.num_envs,) or rows.dtype != torch.bool:
                raise ValueError(f"reset_mask must be a bool array of shape ({self.num_envs},), got {rows.dtype} {tuple(rows.shape)}")
            host_rows = rows.cpu()
            rows = host_to_device(host_rows, self.device)
        if seed is not None:
            seeds = list(seed) if isinstance(seed, (list, tuple)) else [seed + i for i in range(self.num_envs)]
            if len(seeds) != self.num_envs:
                raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} environments")
            super().reset(seed=int(seeds[0]))  # the base class seeds one np_random from an int
            if host_rows is None and not isinstance(seed, (list, tuple)):
                self.episodes.seed_consecutive(seed)  # on the device at once
            else:
                for row, row_seed in enumerate(seeds):
                    if (host_rows is None or bool(host_rows[row])) and row_seed is not None:
                        self.episodes.seed(row, row_seed)
        labels = (options or {}).get("labels")
        if labels is not None:
            labels = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels)
        self.episodes.reset(rows, labels)
        self._needs_reset &= ~rows
        zeros = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        return self._observation(), self._info(self.episodes.lengths.clone(), zeros.float(), zeros.float(), zeros)

    def step(self, actions):
        actions = torch.as_tensor(np.asarray(actions) if not torch.is_tensor(actions) else actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected {self.num_envs} actions, got shape {tuple(actions.shape)}")
        if actions.dtype.is_floating_point or actions.dtype == torch.bool:
            raise ValueError(f"actions must be integer token ids, got dtype {actions.dtype}")
        actions = actions.to(self.device, torch.long)
        resetting = self._needs_reset.clone()  # NEXT_STEP: these rows reset and ignore their action
        stepping = ~resetting
        result = self.episodes.step(actions, stepping)
        rewards, terminated, scores, q_values = result.rewards, result.terminated, result.scores, result.q_values
        rollouts = torch.where(stepping & ~terminated, self.config.rollouts, 0)
        truncated = torch.zeros_like(terminated)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self.episodes.reset(resetting)
            self._needs_reset = terminated.clone()
            info = self._info(self.episodes.lengths.clone(), scores, q_values, rollouts)
            observation = self._observation()
        else:
            # as Gymnasium's SyncVectorEnv: an ended row shows its new episode's observation and
            # info; the last ones are under final_obs / final_info (D's score is there)
            ended = True if self._sync_free else bool(terminated.any())
            final_info = self._info(self.episodes.lengths.clone(), scores, q_values, rollouts, mask=terminated)
            final_obs = self._observation() if ended else None
            self.episodes.reset(terminated)
            zeros = torch.zeros_like(scores)
            info = self._info(self.episodes.lengths.clone(), zeros, torch.where(terminated, zeros, q_values), rollouts)
            if ended:
                mask = terminated.clone() if self._sync_free else terminated.cpu().numpy()
                info.update(final_obs=final_obs, _final_obs=mask, final_info=final_info, _final_info=mask)
            observation = self._observation()
        return observation, self._out(rewards), self._out(terminated), self._out(truncated), info
