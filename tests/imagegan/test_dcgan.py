"""DCGAN: the paper's architecture rules, sizes 32 and 64, initialisation and optimiser."""

import pytest
import torch
from torch import nn

from imagegan.models import GANSpec, build_model
from runcore.errors import UserError
from tests.imagegan.helpers import assert_trains, tiny_model


def test_steps_change_every_parameter_with_finite_losses():
    assert_trains(tiny_model("dcgan"))


@pytest.mark.parametrize("size", [32, 64])
def test_sizes_32_and_64(size):
    model = build_model("dcgan", GANSpec(image_size=size, channels=3, z_dim=8, width=4))
    images = model.generate(2)
    assert images.shape == (2, 3, size, size)
    assert model.discriminator(images).shape == (2,)
    convs = [m for m in model.discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == size.bit_length() - 2  # stride-2 convs down to 4x4, then the 4x4 head
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in model.modules())


def test_rejects_sizes_the_strided_convs_cannot_make():
    with pytest.raises(UserError, match=r"cannot make 28x28.*--image-size 32"):
        build_model("dcgan", GANSpec(image_size=28, channels=1))


def test_paper_initialisation_and_optimiser():
    torch.manual_seed(0)
    model = build_model("dcgan", GANSpec(image_size=64, channels=3, z_dim=100, width=16))
    weights = torch.cat([m.weight.detach().flatten() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(float(weights.mean())) < 1e-3 and abs(float(weights.std()) - 0.02) < 1e-3
    scales = torch.cat([m.weight.detach() for m in model.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(float(scales.mean()) - 1.0) < 0.01
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert isinstance(optimizer, torch.optim.Adam)
        assert optimizer.defaults["lr"] == 2e-4 and optimizer.defaults["betas"] == (0.5, 0.999)


def test_first_layer_is_the_transposed_convolution_it_replaces():
    """G's 1x1 -> 4x4 projection runs as a matrix product (compiled DCGAN on CUDA needs it) but
    keeps the convolution's parameter, so outputs, gradients and checkpoints are the convolution's."""
    torch.manual_seed(0)
    model = build_model("dcgan", GANSpec(image_size=32, channels=1, z_dim=6, width=4))
    first = model.generator.net[0]
    assert isinstance(first, nn.ConvTranspose2d) and "net.0.weight" in model.generator.state_dict()
    first.double()
    z = torch.randn(5, 6, 1, 1, dtype=torch.float64)
    mine, reference = first(z), torch.nn.functional.conv_transpose2d(z, first.weight)
    torch.testing.assert_close(mine, reference)
    (my_grad,) = torch.autograd.grad(mine.square().sum(), first.weight)
    (reference_grad,) = torch.autograd.grad(reference.square().sum(), first.weight)
    torch.testing.assert_close(my_grad, reference_grad)
