"""The four adversarial objectives against their definitions, computed by hand."""

import math

import pytest
import torch
from torch.testing import assert_close

from imagegan.losses import LOSSES, Hinge, Minimax, NonSaturating, Wasserstein

REAL = [2.0, -1.0]
FAKE = [0.5, -3.0]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_minimax_and_non_saturating_match_the_value_function():
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d_expected = -mean(math.log(sigmoid(x)) for x in REAL) - mean(math.log(1 - sigmoid(x)) for x in FAKE)
    for objective in (Minimax(), NonSaturating()):
        assert_close(objective.d_loss(real, fake), torch.tensor(d_expected))
    assert_close(Minimax().g_loss(fake), torch.tensor(mean(math.log(1 - sigmoid(x)) for x in FAKE)))
    assert_close(NonSaturating().g_loss(fake), torch.tensor(-mean(math.log(sigmoid(x)) for x in FAKE)))


def test_wasserstein_and_hinge():
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    assert_close(Wasserstein().d_loss(real, fake), torch.tensor(mean(FAKE) - mean(REAL)))  # -0.75 - 0.5
    assert_close(Wasserstein().g_loss(fake), torch.tensor(1.25))
    # relu(1 - [2, -1]) = [0, 2]; relu(1 + [0.5, -3]) = [1.5, 0]
    assert_close(Hinge().d_loss(real, fake), torch.tensor(1.0 + 0.75))
    assert_close(Hinge().g_loss(fake), torch.tensor(1.25))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_bf16_logits_give_float32_losses_split_into_real_and_fake_terms(name):
    objective = LOSSES[name]()
    real, fake = torch.tensor(REAL, dtype=torch.bfloat16), torch.tensor(FAKE, dtype=torch.bfloat16)
    loss = objective.d_loss(real, fake)
    assert loss.dtype == torch.float32 and objective.g_loss(fake).dtype == torch.float32
    assert_close(loss, objective.real_term(real) + objective.fake_term(fake))
