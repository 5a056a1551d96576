"""MaliGAN's reward model (Che et al. 2017): D's density ratio, self-normalised within a group.

With ``D(x) = sigmoid(l(x))`` the paper reads ``r_D(x) = D(x) / (1 - D(x)) = exp(l(x))`` as an
estimate of ``p_data(x) / p_theta(x)`` and weights the ``N`` generated sequences of a minibatch by
``w_i = r_D(x_i) / sum_j r_D(x_j) = softmax(l)_i`` (computed in log space: no division by
``1 - D``). Each sequence scores ``N * w_i - 1 = r_D(x_i) / mean(r_D) - 1``: under REINFORCE with
the returns as values, no baseline, and the loss averaged over the ``N`` episodes, the loss
``-sum_i (N w_i - 1) log p(x_i) / N`` is the paper's ``-sum_i (w_i - 1/N) log p(x_i)``
(Algorithm 1 with the baseline ``b = 1/N``). A constant factor on ``r_D`` cancels.

The group is dim 1 of ``score``'s input: the sequences that end at the same env step.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.models.discriminator import Discriminator
from textgan.rewards.base import pad_to
from textgan.rewards.discriminator import DiscriminatorReward


@torch.no_grad()
def eval_logits(model: nn.Module, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """``model(tokens)`` per row of ``(N, T)`` in eval mode (no dropout), in chunks to bound memory."""
    was_training = model.training
    model.eval()
    try:
        if not len(tokens):
            return tokens.new_zeros(0, dtype=torch.float)
        return torch.cat([model(chunk) for chunk in tokens.split(batch_size)])
    finally:
        model.train(was_training)


def maligan_scores(logits: torch.Tensor) -> torch.Tensor:
    """``N * softmax(logits) - 1`` over the last axis: the weights ``r_D / mean(r_D) - 1``.

    Examples:
        >>> [[round(v, 3) for v in row] for row in maligan_scores(torch.tensor([[0.0, 0.0], [0.0, 2.0]])).tolist()]
        [[0.0, 0.0], [-0.762, 0.762]]
    """
    return logits.shape[-1] * torch.softmax(logits, dim=-1) - 1.0


class MaliGANReward(DiscriminatorReward):
    """Scores each sequence by its self-normalised density ratio ``N * w_i - 1`` within its group.

    D is SeqGAN's CNN (any module whose forward gives one logit per row, with ``config.max_len``
    and ``vocab_size``), trained exactly as ``DiscriminatorReward`` trains it (BCE, real = 1).

    Args:
        discriminator: the logit model (trained in place).
        optimizer: its optimiser; default Adam at ``learning_rate``.
        learning_rate: the default optimiser's step size.

    Examples:
        >>> from textgan.models import DiscriminatorConfig
        >>> d = Discriminator(DiscriminatorConfig(vocab_size=8, max_len=4, filter_sizes=(2,), num_filters=(4,)))
        >>> scores = MaliGANReward(d).score(torch.randint(0, 8, (2, 3, 4)))
        >>> scores.shape, bool(scores.sum(dim=1).abs().max() < 1e-5)
        (torch.Size([2, 3]), True)
    """

    def __init__(
        self,
        discriminator: Discriminator,
        optimizer: torch.optim.Optimizer | None = None,
        learning_rate: float = 1e-4,
    ):
        super().__init__(discriminator, optimizer=optimizer, learning_rate=learning_rate)
        # w_i >= 0, so N w_i - 1 >= -1; no finite upper bound (N - 1 grows with the group)
        self.reward_range = (-1.0, float("inf"))

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        groups, n, width = tokens.shape
        logits = eval_logits(self.discriminator, pad_to(tokens.reshape(groups * n, width), self.max_len))
        return maligan_scores(logits.view(groups, n).float())

    @torch.no_grad()
    def evaluate(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        """``DiscriminatorReward``'s numbers, plus the weights' spread over all of ``fake`` as one group:
        the effective sample size ``1 / sum w^2`` as a share of the rows (1: equal weights; near 0:
        D's ratio has collapsed onto a few samples) and the largest weight."""
        metrics = super().evaluate(real, fake)
        weights = torch.softmax(eval_logits(self.discriminator, fake).double(), dim=0)
        metrics["d_ess_share"] = float(1.0 / weights.square().sum()) / len(fake)
        metrics["d_max_weight"] = float(weights.max())
        return metrics
