"""SeqGAN: settings, data preparation and the training loop."""

from textgan.seqgan.config import PRESETS, SeqGANConfig
from textgan.seqgan.prepare import PreparedData, prepare_data

__all__ = ["PRESETS", "PreparedData", "SeqGANConfig", "prepare_data"]
