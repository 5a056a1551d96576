"""Models a freshly made environment starts with, so that ``gymnasium.make`` alone works.

The default rollout policy is uniform over the vocabulary and the default reward model an
untrained discriminator's ``P(real)``; the adversarial loop replaces both through
``set_reward_model`` and ``sync_rollout_policy``. Both are initialised from their own seeds, so
making an env leaves the caller's global torch random stream where it was.
"""

from __future__ import annotations

import torch

from textgan.env.episodes import EnvConfig
from textgan.models.discriminator import Discriminator, DiscriminatorConfig
from textgan.models.generator import Generator, GeneratorConfig
from textgan.rewards.base import ProbRealReward


def uniform_policy(config: EnvConfig, embed_dim: int = 32, hidden_dim: int = 32) -> Generator:
    with torch.random.fork_rng(devices=[]):
        policy = Generator(
            GeneratorConfig(
                vocab_size=config.vocab_size,
                embed_dim=embed_dim,
                hidden_dim=hidden_dim,
                bos_id=config.bos_id,
                eos_id=config.eos_id,
                pad_id=config.pad_id,
            )
        )
    with torch.no_grad():  # zero output layer: equal logits for every token
        policy.output.weight.zero_()
        policy.output.bias.zero_()
    return policy


def untrained_discriminator(config: EnvConfig, seed: int = 0) -> ProbRealReward:
    with torch.random.fork_rng(devices=[]):  # a seeded init that leaves the caller's RNG alone
        torch.manual_seed(seed)
        return ProbRealReward(Discriminator(DiscriminatorConfig(vocab_size=config.vocab_size, max_len=config.max_len)))
