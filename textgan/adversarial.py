"""The discriminator's side of SeqGAN's game for user scripts: sample negatives, then fit D.

The trainer does the same through the reward model it is given (``fit_reward_model``); this
function is that step for a bare ``Discriminator`` and its optimiser.

Examples:
    >>> from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
    >>> d = Discriminator(DiscriminatorConfig(vocab_size=8, max_len=4, filter_sizes=(2,), num_filters=(4,)))
    >>> g = Generator(GeneratorConfig(vocab_size=8))
    >>> real = torch.tensor([[5, 6, 7, 2]] * 8)
    >>> metrics = train_discriminator(d, torch.optim.Adam(d.parameters()), real, g, num_negatives=8,
    ...                               epochs=1, batch_size=4, generator_rng=torch.Generator().manual_seed(0))
    >>> sorted(metrics)
    ['d_accuracy', 'd_fake_prob', 'd_loss', 'd_real_prob']
"""

from __future__ import annotations

import torch

from textgan.models.discriminator import Discriminator
from textgan.models.generator import Generator
from textgan.rewards.discriminator import DiscriminatorReward
from textgan.rewards.training import fit_reward_model


def train_discriminator(
    discriminator: Discriminator,
    optimizer: torch.optim.Optimizer,
    real_tokens: torch.Tensor,
    generator: Generator,
    num_negatives: int,
    epochs: int,
    batch_size: int,
    generator_rng: torch.Generator,
) -> dict[str, float]:
    """One discriminator step of SeqGAN: fresh negatives, then ``epochs`` passes over real + fake.

    Args:
        discriminator: trained in place with ``discriminator.loss`` (BCE, real = 1).
        optimizer: the discriminator's optimiser.
        real_tokens: ``(N, T)`` real sequences (all of them are used; subsample before calling
            to balance them against ``num_negatives``).
        generator: samples ``num_negatives`` sequences of width ``T`` (not updated).
        num_negatives: generated sequences to draw.
        epochs: passes over the shuffled real + generated rows.
        batch_size: rows per optimiser step.
        generator_rng: a CPU ``torch.Generator`` for sampling and shuffling (reproducible steps).

    Returns:
        ``d_loss``: mean loss of the last epoch; ``d_real_prob``/``d_fake_prob``: mean P(real)
        after training on the real and generated rows; ``d_accuracy``: the share of rows on the
        right side of 0.5.
    """
    if num_negatives < 1:
        raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
    if real_tokens.ndim != 2 or len(real_tokens) == 0:
        raise ValueError(f"real_tokens must be a non-empty (N, T) tensor, got shape {tuple(real_tokens.shape)}")
    device = next(discriminator.parameters()).device
    real = real_tokens.to(device)
    fake = generator.sample(num_negatives, real.shape[1], generator=generator_rng).to(device)
    was_training = discriminator.training
    metrics = fit_reward_model(DiscriminatorReward(discriminator, optimizer), real, fake, epochs, batch_size, generator_rng)
    discriminator.train(was_training)
    return metrics
