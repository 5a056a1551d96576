"""Models a freshly made environment starts with, so that ``gymnasium.make`` alone works.

The default rollout policy is uniform over the vocabulary and the default discriminator is
untrained; the adversarial loop replaces both through ``set_discriminator`` and
``sync_rollout_policy``.
"""

from __future__ import annotations

import torch

from textgan.env.episodes import EnvConfig
from textgan.models.discriminator import Discriminator, DiscriminatorConfig
from textgan.models.generator import Generator, GeneratorConfig


def uniform_policy(config: EnvConfig, embed_dim: int = 32, hidden_dim: int = 32) -> Generator:
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


def untrained_discriminator(config: EnvConfig, seed: int = 0) -> Discriminator:
    with torch.random.fork_rng(devices=[]):  # a seeded init that leaves the caller's RNG alone
        torch.manual_seed(seed)
        return Discriminator(DiscriminatorConfig(vocab_size=config.vocab_size, max_len=config.max_len))
