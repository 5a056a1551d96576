"""Likelihood metrics of text GANs: NLL-test (the model on held-out data) and NLL-oracle.

NLL-test asks how well the generator covers real text (low = diverse enough to explain it);
NLL-oracle asks how real the generator's samples are under the oracle that made the data (low =
high quality). They are the two axes of SeqGAN's synthetic experiment and of Caccia et al.'s
quality–diversity comparison; ``temperature`` shifts a model along that trade-off.

Examples:
    >>> import math
    >>> from textgan.models import Generator, GeneratorConfig
    >>> from textgan.models.oracle import Oracle
    >>> oracle = Oracle.random(seed=0, vocab_size=20, dim=4, seq_len=5)
    >>> g = Generator(GeneratorConfig(vocab_size=20, bos_id=0, eos_id=None))
    >>> test = oracle.sample(8, generator=torch.Generator().manual_seed(1))
    >>> abs(nll_test(g, test) - math.log(20)) < 0.1  # an untrained model is near uniform
    True
    >>> nll_oracle(g, oracle, n=16, seed=0) > 0
    True
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from textgan.models.generator import Generator
from textgan.models.oracle import Oracle


@torch.no_grad()
def nll_test(
    generator: Generator, tokens: torch.Tensor, temperature: float = 1.0, batch_size: int = 512, labels: torch.Tensor | None = None
) -> float:
    """NLL-test: the generator's mean −log p per counted token of held-out ``tokens (N, T)``.

    Counted tokens are those of :meth:`Generator.loss_mask` (up to and including the first EOS;
    every token when the generator has no EOS). With ``temperature`` T the model scored is the
    tempered one, softmax(logits / T), whose samples ``Generator.sample(temperature=T)`` draws.
    A conditional generator scores each row given its class ``labels (N,)``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if tokens.ndim != 2 or tokens.numel() == 0:
        raise ValueError(f"tokens must be a non-empty (N, T) tensor, got shape {tuple(tokens.shape)}")
    was_training = generator.training
    generator.eval()
    device = generator.output.weight.device
    total, count = 0.0, 0
    label_batches = [None] * len(tokens.split(batch_size)) if labels is None else labels.to(device).split(batch_size)
    for batch, batch_labels in zip(tokens.to(device).split(batch_size), label_batches):
        logits = generator(batch, batch_labels) / temperature
        nll = F.cross_entropy(logits.transpose(1, 2), batch, reduction="none")
        mask = generator.loss_mask(batch)
        total += float((nll * mask).double().sum())
        count += int(mask.sum())
    generator.train(was_training)
    return total / max(count, 1)


@torch.no_grad()
def nll_oracle(
    generator: Generator,
    oracle: Oracle,
    n: int = 10_000,
    seed: int = 0,
    temperature: float = 1.0,
    batch_size: int = 2048,
) -> float:
    """NLL-oracle: the oracle's mean −log p per token of ``n`` sequences sampled from ``generator``.

    Samples are ``oracle.seq_len`` tokens long and drawn ``batch_size`` at a time from one CPU
    random stream seeded with ``seed`` (the same samples on any device). The paper uses n ≥ 10,000.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = torch.Generator().manual_seed(seed)
    total = 0.0
    for start in range(0, n, batch_size):
        rows = min(batch_size, n - start)
        samples = generator.sample(rows, oracle.seq_len, generator=rng, temperature=temperature)
        total += float(-oracle.log_prob(samples).double().sum())
    return total / (n * oracle.seq_len)
