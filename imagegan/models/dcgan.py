"""DCGAN (Radford et al. 2016): all-convolutional players for square power-of-two images.

As in the paper: strided (transposed) convolutions and no pooling, batch norm everywhere except
G's output and D's input layers, ReLU in G with tanh at the output, LeakyReLU(0.2) in D, weights
from N(0, 0.02), Adam(2e-4, β₁=0.5). G starts from a 4×4 map of ``w·2ⁿ⁻¹`` channels and doubles
the resolution ``n = log₂(size) - 2`` times (64×64: 512 → 256 → 128 → 64 → C for w = 64).
WGAN and WGAN-GP reuse these players.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from imagegan.losses import NonSaturating
from imagegan.models.base import GANSpec, UnconditionalGAN, init_dcgan_weights
from runcore.errors import UserError

__all__ = ["DCGAN", "DCGANDiscriminator", "DCGANGenerator", "check_power_of_two"]

SIZES = (16, 32, 64, 128)


def check_power_of_two(model: str, size: int, sizes: tuple[int, ...] = SIZES) -> None:
    """``UserError`` unless ``size`` is one the strided architecture can make."""
    if size not in sizes:
        choices = ", ".join(str(s) for s in sizes)
        raise UserError(
            f"model {model} cannot make {size}x{size} images (its strided convolutions need one of {choices})",
            f"pass --image-size {min(sizes, key=lambda s: (abs(s - size), s))} (images are resized to it)",
        )


def _doublings(size: int) -> int:
    return size.bit_length() - 3  # log2(size) - 2: from 4x4 to size x size


class ProjectTo4x4(nn.ConvTranspose2d):
    """``ConvTranspose2d(z_dim, features, 4)`` on a 1×1 input, computed as the matrix product it is.

    Same parameters as the convolution (checkpoints and initialisation unchanged). Why: inductor
    mispredicts the memory layout of a 1×1-input convolution's weight gradient (compiled DCGAN
    failed a stride assertion on an H200, torch 2.11); a matrix product has no layout to guess.
    """

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z_dim, 1, 1) -> (B, features, 4, 4)
        return (z.flatten(1) @ self.weight.flatten(1)).view(len(z), self.out_channels, 4, 4)


class DCGANGenerator(nn.Module):
    """``z (B, z_dim) -> images (B, C, size, size)`` by transposed convolutions from 4×4."""

    def __init__(self, z_dim: int, channels: int, size: int, width: int):
        super().__init__()
        n = _doublings(size)
        features = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            ProjectTo4x4(z_dim, features, 4, 1, 0, bias=False),
            nn.BatchNorm2d(features),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):
            layers += [
                nn.ConvTranspose2d(features, features // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(features // 2),
                nn.ReLU(True),
            ]
            features //= 2
        layers += [nn.ConvTranspose2d(features, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """``images (B, C, size, size) -> logits (B,)`` by strided convolutions down to 4×4.

    Args:
        norm: the normalisation after each strided convolution but the first (batch norm in
            DCGAN and WGAN; WGAN-GP passes layer norm, since its penalty is per sample).
    """

    def __init__(
        self,
        channels: int,
        size: int,
        width: int,
        norm: Callable[[int], nn.Module] = nn.BatchNorm2d,
    ):
        super().__init__()
        n = _doublings(size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        features = width
        for _ in range(n - 1):
            layers += [nn.Conv2d(features, features * 2, 4, 2, 1, bias=False), norm(features * 2), nn.LeakyReLU(0.2, True)]
            features *= 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(features, 1, 4, 1, 0, bias=False)
        self.features = features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(images)).flatten()


class DCGAN(UnconditionalGAN):
    """Deep convolutional GAN with the non-saturating loss.

    WGAN and WGAN-GP subclass it, changing only objects: the objective, the critic's
    normalisation, a penalty or a constraint, the optimisers and the schedule.
    """

    name = "dcgan"
    objective = NonSaturating()
    critic_norm: Callable[[int], nn.Module] = nn.BatchNorm2d

    @classmethod
    def check_image_size(cls, size: int) -> None:
        check_power_of_two(cls.name, size)

    def __init__(self, spec: GANSpec):
        super().__init__(spec)
        self.generator = DCGANGenerator(spec.z_dim, spec.channels, spec.image_size, spec.width)
        self.discriminator = DCGANDiscriminator(spec.channels, spec.image_size, spec.width, norm=type(self).critic_norm)
        init_dcgan_weights(self)
        self.finish_init()
