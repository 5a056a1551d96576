"""Stable-Baselines3 adapters: an SB3 ``VecEnv`` over the batched env, and token-LSTM and
causal-Transformer feature extractors.

``stable-baselines3`` is an optional extra (``pip install 'textgan[sb3]'``); only this module
imports it.

Examples:
    >>> from stable_baselines3 import PPO
    >>> venv = make_sb3_vec_env(num_envs=4, vocab_size=8, max_len=3, reward_mode="direct")
    >>> model = PPO("MultiInputPolicy", venv, n_steps=6, batch_size=12, n_epochs=1,
    ...             policy_kwargs=token_lstm_policy_kwargs(), seed=0)
    >>> model = model.learn(total_timesteps=24)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from torch import nn

try:
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.vec_env import VecEnv
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "textgan.agents.sb3 needs stable-baselines3; install it with `pip install 'textgan[sb3]'`"
    ) from error

from textgan.env.vector_env import INFO_KEYS, SeqGANVectorEnv
from textgan.policies.transformer import TransformerConfig, TransformerPolicy


class SeqGANSB3VecEnv(VecEnv):
    """The batched SeqGAN env seen through SB3's ``VecEnv`` API.

    SB3 resets a finished sub-environment in the same step and puts its last observation in
    ``info["terminal_observation"]``: exactly ``SeqGANVectorEnv``'s ``SAME_STEP`` mode, so each
    step is one batched call. The B sub-environments share one batched env: ``get_attr`` and
    ``env_method`` act on it and return its answer once per requested index.

    Args:
        envs: a ``SeqGANVectorEnv`` made with ``autoreset_mode=SAME_STEP`` and ``tensors=False``.
    """

    def __init__(self, envs: SeqGANVectorEnv):
        if envs.autoreset_mode != AutoresetMode.SAME_STEP or envs.tensors:
            raise ValueError(
                "SeqGANSB3VecEnv needs a SeqGANVectorEnv with autoreset_mode=SAME_STEP and tensors=False; "
                "make one with make_sb3_vec_env(...)"
            )
        self.envs = envs
        super().__init__(envs.num_envs, envs.single_observation_space, envs.single_action_space)
        self._actions: np.ndarray | None = None

    def set_discriminator(self, discriminator) -> None:
        """See ``SeqGANVectorEnv.set_discriminator``."""
        self.envs.set_discriminator(discriminator)

    def sync_rollout_policy(self, policy, rate: float = 0.0) -> None:
        """See ``SeqGANVectorEnv.sync_rollout_policy``."""
        self.envs.sync_rollout_policy(policy, rate)

    def reset(self):
        seeds = None if self._seeds[0] is None else [int(s) for s in self._seeds]
        observation, info = self.envs.reset(seed=seeds)
        self.reset_infos = self._split_info(info)
        self._reset_seeds()
        self._reset_options()
        return observation

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self):
        observation, rewards, terminated, truncated, info = self.envs.step(self._actions)
        dones = terminated | truncated
        infos = self._split_info(info)
        if "final_info" in info:  # SB3 wants the ending step's info, with the last observation
            final_infos = self._split_info(info["final_info"])
            for i in np.flatnonzero(dones):
                self.reset_infos[i] = infos[i]
                infos[i] = final_infos[i]
                infos[i]["terminal_observation"] = self._row(info["final_obs"], i)
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return observation, rewards.astype(np.float32), dones, infos

    def _split_info(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        return [{key: info[key][i].item() for key in INFO_KEYS} for i in range(self.num_envs)]

    @staticmethod
    def _row(observation, i: int):
        if isinstance(observation, dict):
            return {key: value[i] for key, value in observation.items()}
        return observation[i]

    def close(self) -> None:
        self.envs.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.envs, attr_name)] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.envs, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        result = getattr(self.envs, method_name)(*method_args, **method_kwargs)
        return [result] * len(list(self._get_indices(indices)))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))


def make_sb3_vec_env(num_envs: int = 8, **env_kwargs) -> SeqGANSB3VecEnv:
    """A ``SeqGANVectorEnv(num_envs, **env_kwargs)`` in same-step mode, wrapped for SB3."""
    envs = SeqGANVectorEnv(num_envs, autoreset_mode=AutoresetMode.SAME_STEP, tensors=False, **env_kwargs)
    return SeqGANSB3VecEnv(envs)


class TokenLSTMExtractor(BaseFeaturesExtractor):
    """Features of a prefix: embed BOS and the tokens, run an LSTM, take the output at ``length``.

    Reads the ``dict`` observation (``tokens`` and ``length``) or the ``tokens`` Box alone; then
    the length is taken as the position after the last non-PAD token (a PAD the agent chose
    itself is then not counted).

    Args:
        observation_space: the env's single observation space.
        embed_dim: token embedding size.
        hidden_dim: LSTM size, which is also the features' size.
        bos_id, pad_id: the env's special ids.
    """

    def __init__(
        self, observation_space: spaces.Space, embed_dim: int = 32, hidden_dim: int = 64, bos_id: int = 1, pad_id: int = 0
    ):
        super().__init__(observation_space, features_dim=hidden_dim)
        tokens_space = observation_space["tokens"] if isinstance(observation_space, spaces.Dict) else observation_space
        vocab_size = int(tokens_space.high.max()) + 1
        self.bos_id, self.pad_id = bos_id, pad_id
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)

    def forward(self, observations) -> torch.Tensor:
        inputs, lengths = _inputs_and_lengths(observations, self.bos_id, self.pad_id)
        outputs, _ = self.lstm(self.embedding(inputs))
        # the LSTM is causal: the padding after `length` does not reach the output at `length`
        return outputs[torch.arange(len(inputs), device=inputs.device), lengths]


class TokenTransformerExtractor(BaseFeaturesExtractor):
    """Features of a prefix from textgan's causal Transformer: its features at ``length``.

    Reads observations as :class:`TokenLSTMExtractor` does; the trunk is a
    :class:`textgan.policies.TransformerPolicy`'s (its output layer is not used: SB3 puts its own
    action and value heads on the features).

    Args:
        observation_space: the env's single observation space.
        dim, layers, heads: the Transformer's sizes (``dim`` is the features' size).
        bos_id, pad_id: the env's special ids.
    """

    def __init__(
        self, observation_space: spaces.Space, dim: int = 64, layers: int = 2, heads: int = 4, bos_id: int = 1, pad_id: int = 0
    ):
        super().__init__(observation_space, features_dim=dim)
        tokens_space = observation_space["tokens"] if isinstance(observation_space, spaces.Dict) else observation_space
        vocab_size, width = int(tokens_space.high.max()) + 1, tokens_space.shape[0]
        self.bos_id, self.pad_id = bos_id, pad_id
        config = TransformerConfig(vocab_size, width + 1, dim=dim, layers=layers, heads=heads, bos_id=bos_id, pad_id=pad_id)
        self.transformer = TransformerPolicy(config)

    def forward(self, observations) -> torch.Tensor:
        inputs, lengths = _inputs_and_lengths(observations, self.bos_id, self.pad_id)
        features, _, _ = self.transformer.hidden_states(inputs)  # causal: the padding after `length` is not seen
        return features[torch.arange(len(inputs), device=inputs.device), lengths]


def _inputs_and_lengths(observations, bos_id: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """BOS and the tokens ``(N, T + 1)``, and each prefix's length ``(N,)``, from SB3's float observations."""
    if isinstance(observations, dict):  # SB3 hands Box observations over as floats
        tokens = observations["tokens"].round().long()
        lengths = observations["length"].round().long().reshape(-1)
    else:
        tokens = observations.round().long()
        positions = torch.arange(1, tokens.shape[1] + 1, device=tokens.device)
        lengths = torch.where(tokens != pad_id, positions, 0).amax(dim=1)
    return torch.cat([torch.full_like(tokens[:, :1], bos_id), tokens], dim=1), lengths


def token_lstm_policy_kwargs(embed_dim: int = 32, hidden_dim: int = 64, **extractor_kwargs) -> dict[str, Any]:
    """``policy_kwargs`` for an SB3 policy that reads prefixes with :class:`TokenLSTMExtractor`."""
    return {
        "features_extractor_class": TokenLSTMExtractor,
        "features_extractor_kwargs": {"embed_dim": embed_dim, "hidden_dim": hidden_dim, **extractor_kwargs},
        "net_arch": [],
    }


def token_transformer_policy_kwargs(dim: int = 64, layers: int = 2, heads: int = 4, **extractor_kwargs) -> dict[str, Any]:
    """``policy_kwargs`` for an SB3 policy that reads prefixes with :class:`TokenTransformerExtractor`."""
    return {
        "features_extractor_class": TokenTransformerExtractor,
        "features_extractor_kwargs": {"dim": dim, "layers": layers, "heads": heads, **extractor_kwargs},
        "net_arch": [],
    }
