"""RankGAN (Lin et al. 2017): a ranker scores generated text by its rank among real sentences.

The reward model is SeqGAN's CNN + highway network without its output layer (``--d-*`` flags,
Adam at ``--d-lr``); a finished sequence scores ``log R(s|U, C+)``, the mean over real references
``u`` of its softmax share among real comparison sentences ``C+`` under ``gamma * cos``. REINFORCE
uses each prefix's Monte Carlo action value (its defaults), the paper's generator update.
"""

from __future__ import annotations

from dataclasses import dataclass

from textgan.gans.base import GAN, RewardContext, build_discriminator
from textgan.rewards.rankgan import RankGANReward


@dataclass
class RankGANSettings:
    """The ranker's sets and temperature (defaults: the authors' code, except gamma)."""

    reference_size: int = 16
    """|U|, real reference sentences drawn with replacement after every ranker step (the authors' code: 16)"""
    comparison_size: int = 32
    """|C|, real sentences a generated one is ranked against (the authors' generator batch: 32)"""
    gamma: float = 16.0
    """softmax temperature on cosines; the authors' gamma=1 summed over |U|=16 cosines is about as sharp"""
    log: bool = True
    """reward log R (the paper's); --rankgan.no-log rewards R itself (the authors' code)"""
    seed_offset: int = 0
    """added to --seed for the draws of U and C"""

    def __post_init__(self):
        if self.reference_size < 1 or self.comparison_size < 1:
            raise ValueError(
                f"reference_size and comparison_size must be >= 1, got {self.reference_size} and {self.comparison_size}"
            )
        if not 0 < self.gamma < float("inf"):
            raise ValueError(f"gamma must be positive, got {self.gamma}")


def rankgan_reward(context: RewardContext) -> RankGANReward:
    settings = context.settings or RankGANSettings()
    discriminator = build_discriminator(context.config, context.vocab_size, context.max_len).to(context.device)
    return RankGANReward(
        discriminator, context.real_tokens, reference_size=settings.reference_size,
        comparison_size=settings.comparison_size, gamma=settings.gamma, seed=context.config.seed + settings.seed_offset,
        learning_rate=context.config.d_lr, log=settings.log,
    )  # fmt: skip


RANKGAN = GAN(
    "rankgan",
    "RankGAN: a CNN ranker scores log R, a sentence's rank among real ones by cosine; Monte Carlo rollouts (Lin et al. 2017)",
    rankgan_reward,
    settings=RankGANSettings,
    data_parallel=False,  # a minibatch of one kind takes no step: the ranks' backward passes would differ
)
