"""GAN (MLP players): training changes the players, shapes, and it learns a simple distribution."""

import torch

from imagegan.models import Batch, GANSpec, build_model
from tests.imagegan.helpers import assert_trains, tiny_model


def test_steps_change_every_parameter_with_finite_losses():
    model = tiny_model("gan")
    records = assert_trains(model)
    assert set(records[0]) == {"d_loss", "d_gap", "g_loss"}
    assert model.generate(5).shape == (5, 3, 16, 16)
    grid = model.sample_grid(seed=1)
    assert grid.images.shape == (64, 3, 16, 16) and grid.nrow == 8
    assert torch.equal(grid.images, model.sample_grid(seed=1).images)  # fixed noise per seed


def test_learns_a_two_valued_image():
    """Real images are 0.5 on the left half and -0.5 on the right; G must move its mean there.

    A wrong sign anywhere in the losses or the steps leaves the error near its starting 0.5.
    """
    torch.manual_seed(0)
    model = build_model("gan", GANSpec(image_size=4, channels=1, z_dim=8, width=8))
    for optimizer in (model.g_optimizer, model.d_optimizer):
        for group in optimizer.param_groups:
            group["lr"] = 1e-3
    real = torch.full((32, 1, 4, 4), 0.5)
    real[..., 2:] = -0.5
    start = (model.generate(256).mean(0) - real[0]).abs().mean()
    for _ in range(300):
        model.d_step(Batch(real))
        model.g_step(Batch(real))
    error = (model.generate(256).mean(0) - real[0]).abs().mean()
    assert start > 0.4 and error < 0.15, (float(start), float(error))
