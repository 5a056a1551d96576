"""The image dataset type, the dataset registry and :func:`load_dataset`.

Every loader returns an :class:`ImageDataset` whose images are float32 ``(N, C, H, W)`` in
``[-1, 1]``, the range a ``tanh`` generator produces, so real and fake images compare directly.
The loaders themselves live in one module per source (:mod:`.mnist`, :mod:`.emoji`,
:mod:`.shapes`, :mod:`.folder`); this module holds what they share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from runcore.errors import UserError

__all__ = [
    "DATASETS",
    "DEFAULT_CHANNELS",
    "DEFAULT_IMAGE_SIZES",
    "SPLITS",
    "ImageDataset",
    "finish_images",
    "holdout_indices",
    "load_dataset",
]

DATASETS: dict[str, str] = {
    "mnist": "MNIST digits, 28x28 grey, 10 classes, from the 4 IDX files in --data-dir (60k train, 10k test)",
    "fashion-mnist": "Fashion-MNIST, 28x28 grey, 10 clothing classes, from the 4 IDX files in --data-dir",
    "emoji": "1,911 Noto emoji, 64x64 RGB on white, captioned by name, 10 category labels (--data-dir)",
    "shapes": "procedural coloured shapes with captions ('a small red circle at the top left'), 18 classes",
    "folder": "any directory of PNG/JPEG images; subfolders become classes; optional captions.txt",
    "stacked-mnist": "3 random MNIST digits as the R, G, B channels: 1,000 modes (PacGAN's protocol)",
}

#: Side of the images each dataset gives when ``image_size`` is None.
DEFAULT_IMAGE_SIZES: dict[str, int] = {
    "mnist": 28,
    "fashion-mnist": 28,
    "emoji": 64,
    "shapes": 64,
    "folder": 64,
    "stacked-mnist": 28,
}

#: Channels each dataset gives when ``channels`` is None.
DEFAULT_CHANNELS: dict[str, int] = {
    "mnist": 1,
    "fashion-mnist": 1,
    "emoji": 3,
    "shapes": 3,
    "folder": 3,
    "stacked-mnist": 3,
}

#: ``train`` and ``test`` are disjoint; ``all`` is both. Datasets without an official test split
#: (emoji, folder) hold out a fixed tenth as ``test``; generated ones (shapes) draw ``test`` from
#: another random stream.
SPLITS = ("train", "test", "all")

# Resizing 60k images at once would hold two float copies of the whole set; chunks bound that.
_RESIZE_CHUNK = 4096


@dataclass
class ImageDataset:
    """Images with optional labels and captions, all in memory.

    Attributes:
        images: float32 ``(N, C, H, W)`` in ``[-1, 1]``.
        labels: int64 ``(N,)`` class indices, or None when unlabelled.
        captions: one string per image, or None.
        num_classes: 0 when unlabelled.
        class_names: ``num_classes`` names; ``[]`` when unlabelled.
        name: the dataset's name (``"mnist"``, ``"shapes"``, ...).
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    captions: list[str] | None
    num_classes: int
    class_names: list[str]
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]


def load_dataset(
    name: str,
    data_dir: str | None = None,
    image_size: int | None = None,
    split: str = "train",
    limit: int | None = None,
    seed: int = 0,
    channels: int | None = None,
) -> ImageDataset:
    """Load (or generate) a dataset by name; nothing is downloaded.

    Args:
        name: one of :data:`DATASETS`.
        data_dir: where the files are (``mnist``, ``fashion-mnist``, ``emoji``, ``folder``,
            ``stacked-mnist``); ignored by ``shapes``.
        image_size: side of the square output images (resized with antialiased bilinear
            interpolation); None keeps :data:`DEFAULT_IMAGE_SIZES`.
        split: ``"train"``, ``"test"`` or ``"all"`` (see :data:`SPLITS`).
        limit: read at most this many images (the first ones); for the generated datasets
            (``shapes``, ``stacked-mnist``) the number of images to make.
        seed: drives the generated datasets (``shapes`` images, ``stacked-mnist`` digit draws).
        channels: 1 (grey) or 3 (RGB); None keeps :data:`DEFAULT_CHANNELS`.

    Raises:
        UserError: unknown name or split, bad sizes, or missing/corrupt files (the message says
            which files to put where).

    Examples:
        >>> ds = load_dataset("shapes", limit=4, image_size=32)
        >>> ds.images.shape, ds.num_classes, ds.captions[0].startswith("a ")
        (torch.Size([4, 3, 32, 32]), 18, True)
    """
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}", f"use one of: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}", f"use one of: {', '.join(SPLITS)}")
    if image_size is not None and (not isinstance(image_size, int) or image_size < 4):
        raise UserError(f"image size {image_size!r} is too small", "use a side of at least 4 pixels, e.g. 32 or 64")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise UserError(f"limit {limit!r} is not a positive number of images", "pass a limit of 1 or more, or none")
    if channels not in (None, 1, 3):
        raise UserError(f"{channels!r} channels are not supported", "use 1 (grey) or 3 (RGB)")
    image_size = image_size or DEFAULT_IMAGE_SIZES[name]
    channels = channels or DEFAULT_CHANNELS[name]

    # Imported here so that each loader module may import this one for the shared helpers.
    from imagegan.data import emoji, folder, mnist, shapes

    if name in ("mnist", "fashion-mnist"):
        return mnist.load_mnist(name, data_dir, image_size, split, limit, channels)
    if name == "stacked-mnist":
        return mnist.load_stacked_mnist(data_dir, image_size, split, limit, seed, channels)
    if name == "emoji":
        return emoji.load_emoji(data_dir, image_size, split, limit, channels)
    if name == "shapes":
        return shapes.load_shapes(image_size, split, limit, seed, channels)
    return folder.load_folder(data_dir, image_size, split, limit, channels)


def finish_images(images: torch.Tensor | np.ndarray, image_size: int, channels: int) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` (C in 1, 3) -> float32 ``(N, channels, size, size)`` in ``[-1, 1]``.

    Grey -> RGB repeats the channel; RGB -> grey is ITU-R 601 luma. Resizing is bilinear with
    antialiasing, done in chunks so that peak memory stays near the size of the result.
    """
    images = torch.as_tensor(images)
    n, c, height, width = images.shape
    out = torch.empty((n, channels, image_size, image_size), dtype=torch.float32)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    for start in range(0, n, _RESIZE_CHUNK):
        chunk = images[start : start + _RESIZE_CHUNK].to(torch.float32).div_(127.5).sub_(1.0)
        if c == 3 and channels == 1:
            chunk = (chunk * luma).sum(dim=1, keepdim=True)
        if (height, width) != (image_size, image_size):
            chunk = F.interpolate(chunk, size=(image_size, image_size), mode="bilinear", antialias=True,
                                  align_corners=False).clamp_(-1.0, 1.0)
        if c == 1 and channels == 3:
            chunk = chunk.expand(-1, 3, -1, -1)
        out[start : start + chunk.shape[0]] = chunk
    return out


def holdout_indices(n: int, split: str) -> np.ndarray:
    """Indices of ``split`` for a set without an official test split: a fixed tenth is ``test``.

    The held-out tenth depends only on ``n`` (a fixed permutation), never on a seed, so a test
    image never appears in training under any seed.
    """
    if split == "all":
        return np.arange(n)
    order = np.random.default_rng(20240601).permutation(n)
    n_test = max(1, n // 10)
    chosen = order[:n_test] if split == "test" else order[n_test:]
    return np.sort(chosen)
