"""CGAN: label-conditioned players, per-class grids, and a clear error without labels."""

import pytest
import torch

from imagegan.models import Batch, GANSpec, build_model
from imagegan.models.cgan import grid_classes
from runcore.errors import UserError
from tests.imagegan.helpers import assert_trains, tiny_model


def test_steps_change_every_parameter_with_finite_losses():
    assert_trains(tiny_model("cgan"))


def test_the_label_changes_the_image_for_the_same_noise():
    model = tiny_model("cgan")
    images = [model.generate(4, labels=torch.full((4,), c), generator=torch.Generator().manual_seed(0)) for c in (0, 3)]
    assert images[0].shape == (4, 3, 16, 16)
    assert not torch.allclose(images[0], images[1])


def test_grid_has_one_row_per_class():
    grid = tiny_model("cgan", num_classes=5).sample_grid(columns=6)
    assert grid.images.shape == (30, 3, 16, 16) and grid.nrow == 6 and grid.row_classes == [0, 1, 2, 3, 4]
    assert grid_classes(100) == [0, 11, 22, 33, 44, 55, 66, 77, 88, 99]


def test_needs_labels():
    with pytest.raises(UserError, match="needs class labels"):
        build_model("cgan", GANSpec(image_size=16, channels=1, num_classes=0))


def test_learns_to_draw_what_the_label_asks_for():
    """Label 0 means an all -0.5 image, label 1 all +0.5; a G that ignored the label (or a D that
    did) would draw both at the same mean."""
    torch.manual_seed(0)
    model = build_model("cgan", GANSpec(image_size=4, channels=1, num_classes=2, z_dim=8, width=8))
    for optimizer in (model.g_optimizer, model.d_optimizer):
        for group in optimizer.param_groups:
            group["lr"] = 1e-3
    labels = torch.arange(32) % 2
    real = (labels.float() - 0.5).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)
    for _ in range(300):
        model.d_step(Batch(real, labels))
        model.g_step(Batch(real, labels))
    means = [float(model.generate(256, labels=torch.full((256,), c)).mean()) for c in (0, 1)]
    assert means[0] < -0.3 and means[1] > 0.3, means
