"""MaliGAN (Che et al. 2017): D's density ratio ``D / (1 - D)``, normalised over the sequences of a batch.

The reward model is SeqGAN's CNN + highway discriminator (``--d-*`` flags, BCE training); each
finished sequence scores ``N * w_i - 1`` with ``w = softmax(logit_D)`` over the ``N`` sequences
that end at the same env step. REINFORCE sums the rewards (``values=return``, no rollouts), so its
gradient is the paper's Algorithm 1 with the baseline ``1/N``.

Examples:
    >>> MALIGAN.name, MALIGAN.agent_defaults
    ('maligan', {'reinforce': {'values': 'return'}})
"""

from __future__ import annotations

from textgan.gans.base import GAN, RewardContext, build_discriminator
from textgan.rewards.maligan import MaliGANReward


def maligan_reward(context: RewardContext) -> MaliGANReward:
    discriminator = build_discriminator(context.config, context.vocab_size, context.max_len).to(context.device)
    return MaliGANReward(discriminator, learning_rate=context.config.d_lr)


MALIGAN = GAN(
    "maligan",
    "MaliGAN: normalised importance weights D/(1-D) over the batch, REINFORCE on returns (Che et al. 2017)",
    maligan_reward,
    agent_defaults={"reinforce": {"values": "return"}},
)
