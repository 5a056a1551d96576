"""Models: the generator policy, the discriminator and the oracle. No training logic here."""

from textgan.models.conditional import ConditionalGenerator, ConditionalGeneratorConfig
from textgan.models.discriminator import Discriminator, DiscriminatorConfig
from textgan.models.generator import Generator, GeneratorConfig
from textgan.models.sampling import sample_from_logits

__all__ = [
    "ConditionalGenerator", "ConditionalGeneratorConfig","Discriminator", "DiscriminatorConfig", "Generator", "GeneratorConfig", "sample_from_logits"]
