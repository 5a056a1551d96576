"""What scores text: the reward-model protocol and its implementations.

``RewardModel`` is the protocol the env calls (``score`` on groups of sequences); anything with
``prob_real`` or a plain function is adapted by ``as_reward_model``. The paper's CNN + highway
discriminator is ``DiscriminatorReward``; ``fit_reward_model`` is the one training loop.
"""

from textgan.rewards.base import (
    CallableReward,
    ProbRealReward,
    RewardModel,
    TrainableRewardModel,
    as_reward_model,
)
from textgan.rewards.classes import ClassDiscriminatorReward
from textgan.rewards.constant import ConstantReward
from textgan.rewards.discriminator import DiscriminatorReward
from textgan.rewards.dpgan import DPGANReward
from textgan.rewards.maligan import MaliGANReward
from textgan.rewards.rankgan import RankGANReward
from textgan.rewards.training import fit_reward_model

__all__ = [
    "CallableReward",
    "ClassDiscriminatorReward",
    "ConstantReward",
    "DiscriminatorReward",
    "DPGANReward",
    "MaliGANReward",
    "RankGANReward",
    "ProbRealReward",
    "RewardModel",
    "TrainableRewardModel",
    "as_reward_model",
    "fit_reward_model",
]
