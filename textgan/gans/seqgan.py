"""SeqGAN (Yu et al. 2017): D's ``P(real)`` of finished sequences, valued by Monte Carlo search.

The reward model is the paper's CNN + highway discriminator (``--d-*`` flags); REINFORCE uses
each prefix's Monte Carlo action value from the env's rollouts (its defaults).
"""

from __future__ import annotations

from textgan.gans.base import GAN, RewardContext, build_discriminator
from textgan.rewards import ConstantReward, DiscriminatorReward


def seqgan_reward(context: RewardContext) -> DiscriminatorReward:
    discriminator = build_discriminator(context.config, context.vocab_size, context.max_len).to(context.device)
    return DiscriminatorReward(discriminator, learning_rate=context.config.d_lr)


SEQGAN = GAN("seqgan", "SeqGAN: CNN discriminator, Monte Carlo rollouts (Yu et al. 2017)", seqgan_reward)


def constant_reward(context: RewardContext) -> ConstantReward:
    return ConstantReward(1.0)


# The ablation: SeqGAN's estimator with every sequence scored 1, so what differs is D alone.
CONSTANT = GAN("constant", "the ablation: SeqGAN's estimator with a constant reward of 1 (no discriminator)", constant_reward)
