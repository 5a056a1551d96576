"""The reward model's side of the adversarial game: epochs over real and generated rows.

Written once for every trainable reward model; the model owns its step (``train_step``).
"""

from __future__ import annotations

import torch

from textgan.models.sampling import host_to_device
from textgan.rewards.base import TrainableRewardModel

EVAL_ROWS = 2048
"""rows of each side that ``evaluate`` scores after training: the logged P(real) and accuracy are
means, and at SeqGAN's 10,000 + 10,000 rows scoring them all costs a third of a D epoch"""


def fit_reward_model(
    model: TrainableRewardModel,
    real: torch.Tensor,
    fake: torch.Tensor,
    epochs: int,
    batch_size: int,
    rng: torch.Generator,
) -> dict[str, float]:
    """Train ``model`` for ``epochs`` passes over the shuffled rows of ``real`` and ``fake``.

    Args:
        model: a trainable reward model (``train_step``, ``evaluate``).
        real, fake: ``(N, T)`` and ``(M, T)`` token ids on the model's device.
        epochs: passes over the ``N + M`` rows, each in a fresh order.
        batch_size: rows per ``train_step`` (real and generated mixed, as SeqGAN's code does).
        rng: a CPU generator for the orders (reproducible steps).

    Returns:
        The mean of each ``train_step`` number over the last epoch, and ``model.evaluate``'s on
        the first :data:`EVAL_ROWS` rows of each side (``real`` is drawn at random and ``fake``
        freshly sampled, so the first rows are a random subset).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    if real.ndim != 2 or fake.ndim != 2 or not len(real) or not len(fake):
        raise ValueError(f"real and fake must be non-empty (N, T) tensors, got {tuple(real.shape)} and {tuple(fake.shape)}")
    tokens = torch.cat([real, fake])
    is_real = torch.cat([torch.ones(len(real), dtype=torch.bool, device=tokens.device), torch.zeros(len(fake), dtype=torch.bool, device=tokens.device)])
    stats: dict[str, list[torch.Tensor]] = {}
    for _ in range(epochs):
        stats = {}
        order = host_to_device(torch.randperm(len(tokens), generator=rng), tokens.device)
        for batch in order.split(batch_size):
            for name, value in model.train_step(tokens[batch], is_real[batch]).items():
                stats.setdefault(name, []).append(value.detach())
    metrics = {name: float(torch.stack(values).float().mean()) for name, values in stats.items()}
    return {**metrics, **model.evaluate(real[:EVAL_ROWS], fake[:EVAL_ROWS])}
