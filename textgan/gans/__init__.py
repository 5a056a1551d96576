"""The text GAN family, each a reward model and agent settings on the same env and trainer.

``GANS`` maps ``textgan train --gan NAME`` to its :class:`GAN`. Adding a member takes its own
module, one line here, its test file and its docs.
"""

from textgan.gans.base import GAN, RewardContext, build_agent, build_discriminator, build_reward_model, build_trainer
from textgan.gans.dpgan import DPGAN
from textgan.gans.leakgan import LEAKGAN
from textgan.gans.maligan import MALIGAN
from textgan.gans.rankgan import RANKGAN
from textgan.gans.sentigan import SENTIGAN
from textgan.gans.seqgan import CONSTANT, SEQGAN

GANS: dict[str, GAN] = {gan.name: gan for gan in (SEQGAN, MALIGAN, RANKGAN, DPGAN, LEAKGAN, CONSTANT, SENTIGAN)}

__all__ = ["GAN", "GANS", "RewardContext", "build_agent", "build_discriminator", "build_reward_model", "build_trainer"]
