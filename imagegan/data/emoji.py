"""The Noto emoji set: 64x64 RGBA images with names (captions) and categories (labels)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from imagegan.data.dataset import ImageDataset, finish_images, holdout_indices
from runcore.errors import UserError

__all__ = ["EMOJI_FILE", "composite_on_white", "load_emoji"]

EMOJI_FILE = "noto_emoji_64.npz"
_KEYS = ("images", "names", "categories")
_WHERE = (
    f"point --data-dir at the folder holding {EMOJI_FILE} (arrays images, names, categories; in this "
    "project's checkout it is ../shared/data/emoji)"
)


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """uint8 ``(..., 4)`` straight-alpha RGBA -> uint8 ``(..., 3)`` RGB over a white background."""
    rgb = rgba[..., :3].astype(np.float32)
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    return np.rint(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def load_emoji(data_dir, image_size: int, split: str, limit: int | None, channels: int) -> ImageDataset:
    """The emoji dataset; ``data_dir`` is the folder holding the ``.npz`` (or the file itself).

    Labels are the category index (categories sorted by name), captions the emoji names.
    ``test`` is a fixed tenth held out (see :func:`holdout_indices`).
    """
    if data_dir is None:
        raise UserError("the emoji dataset needs --data-dir", _WHERE)
    path = Path(data_dir).expanduser()
    if path.is_dir():
        path = path / EMOJI_FILE
    if not path.is_file():
        raise UserError(f"{path} not found", _WHERE)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [k for k in _KEYS if k not in arrays.files]
            if missing:
                raise UserError(f"{path} has no {', '.join(missing)} array", _WHERE)
            rgba, names, categories = (arrays[k] for k in _KEYS)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UserError(f"cannot read {path} ({exc})", f"replace it with the original {EMOJI_FILE}") from None
    if rgba.ndim != 4 or rgba.shape[-1] != 4 or not (len(rgba) == len(names) == len(categories)):
        raise UserError(
            f"{path} holds images of shape {rgba.shape} with {len(names)} names and {len(categories)} categories",
            f"replace it with the original {EMOJI_FILE}",
        )
    class_names = sorted({str(c) for c in categories})
    index = {c: i for i, c in enumerate(class_names)}
    chosen = holdout_indices(len(rgba), split)
    if limit is not None:
        chosen = chosen[:limit]
    rgb = composite_on_white(rgba[chosen]).transpose(0, 3, 1, 2)
    return ImageDataset(
        images=finish_images(rgb, image_size, channels),
        labels=torch.tensor([index[str(categories[i])] for i in chosen], dtype=torch.int64),
        captions=[str(names[i]) for i in chosen],
        num_classes=len(class_names),
        class_names=class_names,
        name="emoji",
    )
