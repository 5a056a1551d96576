"""The plain SeqGAN environment: one episode writes one sequence, token by token.

Action: ``Discrete(V)``, the next token. Observation: the prefix so far (see ``spaces``).
The episode terminates at EOS or at ``max_len`` tokens; it is never truncated by the env itself.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from textgan.data.tokenizers import Tokenizer
from textgan.env.data import EnvData, resolve_env_data
from textgan.env.defaults import uniform_policy, untrained_discriminator
from textgan.env.episodes import EnvConfig, EpisodeBatch, EpisodeControls
from textgan.env.spaces import leaked_feature_dim, make_observation, observation_space


def build_episodes(
    num_rows: int,
    data: EnvData,
    reward_mode: str,
    rollouts: int,
    device: str | torch.device,
    bos_id: int,
    eos_id: int | None,
    pad_id: int,
    reward_model=None,
    random_stream: str = "auto",
    num_classes: int = 0,
) -> EpisodeBatch:
    config = EnvConfig(
        vocab_size=data.vocab_size,
        max_len=data.max_len,
        reward_mode=reward_mode,
        rollouts=rollouts,
        bos_id=bos_id,
        eos_id=eos_id,
        pad_id=pad_id,
        num_classes=num_classes,
    )
    device = torch.device(device)
    if reward_model is None:
        reward_model = untrained_discriminator(config)
        reward_model.model.to(device)
    return EpisodeBatch(
        config, num_rows, uniform_policy(config).to(device), reward_model, device, random_stream=random_stream
    )


class SeqGANEnv(EpisodeControls, gym.Env):
    """SeqGAN's generation game for one sequence.

    Args:
        vocab_size: V, the number of tokens (actions); default: from the data, else 5000.
        max_len: T, the most tokens in a sequence; default: from the data, else 20.
        reward_mode: ``direct`` (the reward model's rewards as they fall due) or ``shaped``
            (see ``EnvConfig``).
        rollouts: K, Monte Carlo rollouts per prefix for ``info["q_value"]`` (0: none).
        device: where the rollouts and the reward model run.
        observation: ``dict`` (tokens and length) or ``tokens``.
        reward_model: what scores text (``textgan.rewards``; a discriminator with ``prob_real``
            or a plain function also works); default: an untrained discriminator.
        bos_id, eos_id, pad_id: special ids; ``eos_id=None`` runs every episode to ``max_len``.
        corpus: a built-in corpus name or a text file; sets V (a ``char`` tokenizer) and T from it.
        real_tokens: ``(N, T)`` token ids already encoded, instead of ``corpus``.
        tokenizer: the tokenizer of ``real_tokens`` (its V; ``render`` prints text with it).
        random_stream: the rollouts' random numbers: ``counter`` (keyed by seed and draw, made on
            ``device``: no host wait), ``generator`` (a CPU ``torch.Generator`` per row) or ``auto``
            (``counter`` on a GPU, ``generator`` on the CPU); see ``textgan.env.episodes``.
        num_classes: k > 0 makes the game class-conditional: each episode writes text of one
            class, ``observation["label"]``, asked for with ``reset(options={"label": L})`` or
            drawn uniformly from the env's seeded stream (``docs/conditional.md``).
        leaked_features: add ``features`` to the observation: the reward model's feature vector
            ``(F,)`` of the prefix so far (``reward_model.features``, e.g. the discriminator's
            highway features; LeakGAN's leaked information). ``dict`` observations only.

    The real sequences and tokenizer are kept as ``real_tokens`` and ``tokenizer`` (None without
    data), for training a discriminator. The rollout policy starts uniform; replace it and the
    reward model with ``sync_rollout_policy`` and ``set_reward_model``. ``gymnasium.make`` wraps
    the env: reach these through ``env.unwrapped``.

    Examples:
        >>> env = SeqGANEnv(vocab_size=8, max_len=4, rollouts=2)
        >>> obs, info = env.reset(seed=0)
        >>> obs["tokens"].tolist(), obs["length"].tolist()
        ([0, 0, 0, 0], [0])
        >>> obs, reward, terminated, truncated, info = env.step(5)
        >>> obs["tokens"].tolist(), terminated, reward, 0.0 < info["q_value"] < 1.0
        ([5, 0, 0, 0], False, 0.0, True)
        >>> sorted(info)
        ['d_score', 'length', 'q_value', 'rollouts']
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # fps only to satisfy the checkers; text has none

    def __init__(
        self,
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
        render_mode: str | None = None,
        corpus: str | None = None,
        real_tokens=None,
        tokenizer: Tokenizer | None = None,
        random_stream: str = "auto",
        num_classes: int = 0,
        leaked_features: bool = False,
    ):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; choose one of {self.metadata['render_modes']}")
        data = resolve_env_data(corpus, real_tokens, tokenizer, vocab_size, max_len)
        self.real_tokens, self.tokenizer = data.real_tokens, data.tokenizer
        self.episodes = build_episodes(
            1, data, reward_mode, rollouts, device, bos_id, eos_id, pad_id, reward_model, random_stream, num_classes
        )
        self.observation_mode = observation
        self.leaked_features = leaked_features
        feature_dim = leaked_feature_dim(self.episodes.reward_model, leaked_features)
        self.observation_space = observation_space(data.vocab_size, data.max_len, observation, num_classes, feature_dim)
        self.action_space = gym.spaces.Discrete(data.vocab_size)
        self.render_mode = render_mode
        self._all = torch.ones(1, dtype=torch.bool, device=self.episodes.device)

    def _observation(self):
        tokens = self.episodes.tokens[0].cpu().numpy().copy()  # users keep what we return
        length = self.episodes.lengths[:1].cpu().numpy().copy()
        labels = self.episodes.row_labels()
        label = None if labels is None else labels.cpu().numpy().copy()
        features = None
        if self.leaked_features:
            features = self.episodes.reward_model.features(self.episodes.tokens[:1], self.episodes.lengths[:1])[0].cpu().numpy()
        return make_observation(tokens, length, self.observation_mode, label, features)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.episodes.seed(0, seed)
        label = (options or {}).get("label")
        self.episodes.reset(self._all, None if label is None else torch.tensor([int(label)]))
        return self._observation(), {"length": 0, "d_score": 0.0, "q_value": 0.0, "rollouts": 0}

    def step(self, action):
        action = np.asarray(action)
        if action.shape != () or not np.issubdtype(action.dtype, np.integer):
            raise ValueError(f"action must be one integer token id, got {action!r}")
        result = self.episodes.step(torch.tensor([int(action)]), self._all)
        done = bool(result.terminated[0])
        length = int(self.episodes.lengths[0])
        rollouts = 0 if done else self.config.rollouts
        info = {"length": length, "d_score": float(result.scores[0]), "q_value": float(result.q_values[0]), "rollouts": rollouts}
        return self._observation(), float(result.rewards[0]), done, False, info

    def render(self):
        if self.render_mode == "ansi":
            ids = self.episodes.tokens[0, : int(self.episodes.lengths[0])].tolist()
            return self.tokenizer.decode(ids) if self.tokenizer is not None else " ".join(map(str, ids))
        return None
