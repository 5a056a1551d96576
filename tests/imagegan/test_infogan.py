"""InfoGAN: the mutual-information loss by hand, Q sharing D's body, the traversal grid, and
G learning to write a code that Q reads."""

import math

import torch
from torch.testing import assert_close

from imagegan.models.infogan import CATEGORIES, CONTINUOUS
from imagegan.regularizers import MutualInformation
from tests.imagegan.helpers import assert_trains, random_batch, tiny_model


def test_mutual_information_loss_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    codes = torch.tensor([0, 2])
    mean = torch.tensor([[0.5, -0.5], [0.0, 1.0]])
    continuous = torch.tensor([[1.0, -1.0], [0.0, -1.0]])
    log_softmax_0 = 2.0 - math.log(math.exp(2.0) + 1.0 + math.exp(-1.0))
    cross_entropy = (-log_softmax_0 + math.log(3.0)) / 2
    gaussian = (0.5 * (0.25 + 0.25) + 0.5 * (0.0 + 4.0)) / 2
    assert_close(MutualInformation(1.0, 1.0)(logits, codes, mean, continuous), torch.tensor(cross_entropy + gaussian))
    assert_close(MutualInformation(2.0, 0.1)(logits, codes, mean, continuous), torch.tensor(2 * cross_entropy + 0.1 * gaussian))


def test_steps_change_every_parameter_and_q_shares_d_body():
    model = tiny_model("infogan", image_size=28, channels=1)
    records = assert_trains(model)
    assert {"d_loss", "d_info_loss", "g_loss", "g_info_loss", "q_accuracy"} <= set(records[0])
    logit, categorical, continuous = model.discriminator(model.generate(4))
    assert logit.shape == (4,) and categorical.shape == (4, CATEGORIES) and continuous.shape == (4, CONTINUOUS)
    # the Q head reads the same body as the D head: its loss alone moves the body's weights
    model.discriminator.zero_grad()
    model.discriminator(model.generate(4))[1].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.discriminator.body.parameters())


def test_traversal_grid_rows_are_codes_and_columns_sweep_a_continuous_code():
    model = tiny_model("infogan", image_size=16, channels=1)
    grid = model.sample_grid(seed=3, columns=5)
    assert grid.images.shape == (CATEGORIES * 5, 1, 16, 16) and grid.nrow == 5 and len(grid.captions) == CATEGORIES
    rows = grid.images.view(CATEGORIES, 5, -1)
    assert not torch.allclose(rows[0, 0], rows[0, -1])  # the sweep changes the image
    assert not torch.allclose(rows[0, 0], rows[1, 0])  # so does the categorical code
    assert torch.equal(grid.images, model.sample_grid(seed=3, columns=5).images)


def test_generator_learns_to_write_the_categorical_code():
    """Q's accuracy on the code of generated images rises from chance (0.1) within 100 steps."""
    model = tiny_model("infogan", width=16)
    accuracies = []
    for step in range(100):
        model.d_step(random_batch(model, 32, seed=step))
        accuracies.append(float(model.g_step(random_batch(model, 32, seed=step))["q_accuracy"]))
    assert sum(accuracies[-10:]) / 10 > 0.4, accuracies[-10:]
