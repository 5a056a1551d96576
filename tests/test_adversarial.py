"""train_discriminator: fresh negatives, epochs over real + fake, and what it reports."""

from __future__ import annotations

import doctest

import pytest
import torch
from torch.testing import assert_close

import textgan.adversarial
from textgan.adversarial import train_discriminator
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

VOCAB, WIDTH = 10, 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def models():
    torch.manual_seed(0)
    discriminator = Discriminator(
        DiscriminatorConfig(VOCAB, WIDTH, embed_dim=16, filter_sizes=(2, 3), num_filters=(16, 16))
    )
    generator = Generator(GeneratorConfig(vocab_size=VOCAB))  # near uniform over 10 tokens: the fixed fakes
    return discriminator, generator


def real_tokens(n: int = 256) -> torch.Tensor:
    """Real data: runs of one token that counts up (4 5 6 7 8 9, 5 6 7 8 9 4, ...)."""
    starts = torch.arange(n) % 6
    return 4 + (starts.unsqueeze(1) + torch.arange(WIDTH)) % 6


def test_doctest():
    result = doctest.testmod(textgan.adversarial)
    assert result.failed == 0 and result.attempted > 0


def test_training_separates_real_from_generated_and_lowers_the_loss():
    discriminator, generator = models()
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
    rng = torch.Generator().manual_seed(0)
    real = real_tokens()
    history = [train_discriminator(discriminator, optimizer, real, generator, 256, 2, 64, rng) for _ in range(4)]
    assert history[-1]["d_loss"] < 0.5 * history[0]["d_loss"]
    assert history[-1]["d_real_prob"] > 0.8 and history[-1]["d_fake_prob"] < 0.2
    assert history[-1]["d_accuracy"] > 0.95
    # and on fakes it never saw: fresh samples from the same generator
    unseen = generator.sample(256, WIDTH, generator=torch.Generator().manual_seed(99))
    assert float(discriminator.prob_real(unseen).mean()) < 0.2


def test_generator_is_untouched_mode_restored_and_steps_are_reproducible():
    runs = []
    for _ in range(2):
        discriminator, generator = models()
        before = [p.clone() for p in generator.parameters()]
        discriminator.eval()
        optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
        metrics = train_discriminator(
            discriminator, optimizer, real_tokens(32), generator, 32, 1, 16, torch.Generator().manual_seed(5)
        )
        assert not discriminator.training  # the caller's mode comes back
        for old, new in zip(before, generator.parameters()):
            assert_close(old, new, rtol=0, atol=0)
        runs.append((metrics, discriminator.output.weight.detach().clone()))
    assert runs[0][0] == runs[1][0]
    assert_close(runs[0][1], runs[1][1], rtol=0, atol=0)


def test_bad_arguments_are_rejected():
    discriminator, generator = models()
    optimizer = torch.optim.Adam(discriminator.parameters())
    rng = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="must be >= 1"):
        train_discriminator(discriminator, optimizer, real_tokens(8), generator, 0, 1, 4, rng)
    with pytest.raises(ValueError, match=r"non-empty \(N, T\) tensor"):
        train_discriminator(discriminator, optimizer, torch.zeros(0, WIDTH, dtype=torch.long), generator, 4, 1, 4, rng)
