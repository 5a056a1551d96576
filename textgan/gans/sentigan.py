"""SentiGAN's reward model for a class-conditional run (Wang & Wan 2018).

One discriminator with ``k + 1`` outputs (the ``k`` classes of real text and "generated"), the
paper's CNN at the run's ``--d-*`` sizes; the reward of a sequence asked for class ``i`` is
``D``'s probability of class ``i`` (``textgan.rewards.classes``), valued by the env's Monte Carlo
rollouts and used by REINFORCE as in SeqGAN. Where this departs from the paper is written in
docs/conditional.md (one conditional generator instead of k, REINFORCE instead of the penalty
form of the same gradient).
"""

from __future__ import annotations

from textgan.gans.base import GAN, RewardContext, discriminator_config
from textgan.models.classifier import ClassDiscriminator
from textgan.rewards.classes import ClassDiscriminatorReward


def sentigan_reward(context: RewardContext) -> ClassDiscriminatorReward:
    d_config = discriminator_config(context.config, context.vocab_size, context.max_len)
    discriminator = ClassDiscriminator(d_config, context.num_classes + 1).to(context.device)
    return ClassDiscriminatorReward(discriminator, learning_rate=context.config.d_lr)


SENTIGAN = GAN(
    "sentigan", "SentiGAN: a (k+1)-class discriminator, class i's text rewarded by P(class i) (Wang & Wan 2018); needs --conditional",
    sentigan_reward, needs_labels=True,
)  # fmt: skip
