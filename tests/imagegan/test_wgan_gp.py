"""WGAN-GP: the gradient penalty equals its definition; Adam(1e-4, 0.5, 0.9); no batch norm."""

import math

import torch
from torch import nn
from torch.testing import assert_close

from imagegan.regularizers import GradientPenalty
from tests.imagegan.helpers import assert_trains, tiny_model


class QuadraticCritic(nn.Module):
    """f(x) = 0.5 Σ aᵢ xᵢ², so ∇f(x) = a ⊙ x."""

    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x):
        return 0.5 * (self.a * x.flatten(1) ** 2).sum(dim=1)


def test_penalty_equals_its_definition_on_a_tiny_critic():
    a = [1.0, -2.0, 0.5]
    real = [[1.0, 0.0, 2.0], [0.5, 0.5, -1.0]]
    fake = [[0.0, 1.0, 0.0], [-1.0, 2.0, 3.0]]
    alpha = [0.25, 0.8]
    expected = 0.0
    for r, f, t in zip(real, fake, alpha):
        mixed = [t * ri + (1 - t) * fi for ri, fi in zip(r, f)]
        norm = math.sqrt(sum((ai * mi) ** 2 for ai, mi in zip(a, mixed)))
        expected += 10.0 * (norm - 1.0) ** 2 / len(real)
    critic = QuadraticCritic(a)
    penalty = GradientPenalty(10.0)(critic, torch.tensor(real), torch.tensor(fake), alpha=torch.tensor(alpha)[:, None])
    assert_close(penalty, torch.tensor(expected))
    # the penalty's own gradient reaches the critic (double backward): d/da of the definition
    penalty.backward()
    mixed = torch.tensor(alpha)[:, None] * torch.tensor(real) + (1 - torch.tensor(alpha)[:, None]) * torch.tensor(fake)
    norms = (torch.tensor(a) * mixed).norm(dim=1)
    expected_grad = (10.0 * 2 * (norms - 1) / norms / len(real))[:, None] * torch.tensor(a) * mixed**2
    assert_close(critic.a.grad, expected_grad.sum(0))


def test_steps_train_with_a_penalty_and_the_paper_optimiser():
    model = tiny_model("wgan-gp")
    records = assert_trains(model)
    assert records[0]["gradient_penalty"] > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert optimizer.defaults["lr"] == 1e-4 and optimizer.defaults["betas"] == (0.5, 0.9)
    schedule = model.schedule(10)
    assert schedule.d_first and schedule.d_steps_at(0) == 5
