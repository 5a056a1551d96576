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
    real_labels: torch.Tensor | None = None,
    fake_labels: torch.Tensor | None = None,
) -> dict[str, float]:
    """Train ``model`` for ``epochs`` passes over the shuffled rows of ``real`` and ``fake``.

    Args:
        model: a trainable reward model (``train_step``, ``evaluate``).
        real, fake: ``(N, T)`` and ``(M, T)`` token ids on the model's device.
        epochs: passes over the ``N + M`` rows, each in a fresh order.
        batch_size: rows per ``train_step`` (real and generated mixed, as SeqGAN's code does).
        rng: a CPU generator for the orders (reproducible steps).
        real_labels, fake_labels: ``(N,)`` and ``(M,)`` classes of the rows, for a class-aware
            model (``conditional``): its ``train_step`` and ``evaluate`` are then given them.

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
    conditional = getattr(model, "conditional", False)
    if conditional and (real_labels is None or fake_labels is None):
        raise ValueError("a class-aware reward model trains on labelled rows: pass real_labels and fake_labels")
    labels = torch.cat([real_labels, fake_labels]).to(tokens.device) if conditional else None
    stats: dict[str, list[torch.Tensor]] = {}
    for _ in range(epochs):
        stats = {}
        order = host_to_device(torch.randperm(len(tokens), generator=rng), tokens.device)
        for batch in order.split(batch_size):
            extra = () if labels is None else (labels[batch],)
            for name, value in model.train_step(tokens[batch], is_real[batch], *extra).items():
                stats.setdefault(name, []).append(value.detach())
    metrics = {name: float(torch.stack(values).float().mean()) for name, values in stats.items()}
    extra = () if labels is None else (real_labels[:EVAL_ROWS].to(tokens.device), fake_labels[:EVAL_ROWS].to(tokens.device))
    return {**metrics, **model.evaluate(real[:EVAL_ROWS], fake[:EVAL_ROWS], *extra)}
