"""The image GANs, one small file each; :data:`MODELS` maps a model name to its class.

Examples:
    >>> import torch
    >>> model = build_model("dcgan", GANSpec(image_size=16, channels=1, width=4))
    >>> model.generate(2).shape
    torch.Size([2, 1, 16, 16])
"""

from __future__ import annotations

from imagegan.models.base import Batch, GANSpec, Grid, ImageGAN
from imagegan.models.cgan import CGAN
from imagegan.models.dcgan import DCGAN
from imagegan.models.gan import GAN
from imagegan.models.infogan import InfoGAN
from imagegan.models.stackgan import StackGAN
from imagegan.models.wgan import WGAN
from imagegan.models.wgan_gp import WGANGP
from runcore.errors import UserError

__all__ = ["MODELS", "Batch", "GANSpec", "Grid", "ImageGAN", "build_model", "model_class"]

MODELS: dict[str, type[ImageGAN]] = {cls.name: cls for cls in (GAN, CGAN, DCGAN, InfoGAN, StackGAN, WGAN, WGANGP)}


def model_class(name: str) -> type[ImageGAN]:
    """The class of model ``name``; ``UserError`` listing the choices if there is none."""
    try:
        return MODELS[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}", f"choose one of {', '.join(MODELS)}") from None


def build_model(name: str, spec: GANSpec) -> ImageGAN:
    """A fresh model ``name`` for data of shape ``spec`` (``UserError`` if it cannot take it)."""
    return model_class(name)(spec)
