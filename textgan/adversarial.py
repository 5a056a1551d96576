"""The discriminator's side of the adversarial game, shared by the trainer and user scripts.

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
    if epochs < 1 or batch_size < 1 or num_negatives < 1:
        raise ValueError(
            f"epochs, batch_size and num_negatives must be >= 1, got {epochs}, {batch_size}, {num_negatives}"
        )
    if real_tokens.ndim != 2 or len(real_tokens) == 0:
        raise ValueError(f"real_tokens must be a non-empty (N, T) tensor, got shape {tuple(real_tokens.shape)}")
    device = next(discriminator.parameters()).device
    real = real_tokens.to(device)
    fake = generator.sample(num_negatives, real.shape[1], generator=generator_rng).to(device)
    tokens = torch.cat([real, fake])
    labels = torch.cat([torch.ones(len(real), device=device), torch.zeros(len(fake), device=device)])
    was_training = discriminator.training
    discriminator.train()
    losses: list[float] = []
    for _ in range(epochs):
        losses = []
        order = torch.randperm(len(tokens), generator=generator_rng).to(device)
        for batch in order.split(batch_size):
            loss = discriminator.loss(tokens[batch], labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    discriminator.train(was_training)
    real_prob, fake_prob = discriminator.prob_real(real), discriminator.prob_real(fake)
    correct = int((real_prob > 0.5).sum()) + int((fake_prob <= 0.5).sum())
    return {
        "d_loss": sum(losses) / len(losses),
        "d_real_prob": float(real_prob.mean()),
        "d_fake_prob": float(fake_prob.mean()),
        "d_accuracy": correct / len(tokens),
    }
