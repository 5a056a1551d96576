"""Any directory of images, optionally with classes (subfolders) and captions (``captions.txt``).

Layouts:

- images directly in the folder (any depth below is also read): unlabelled;
- images only in two or more first-level subfolders, none at the top: one class per subfolder,
  as torchvision's ``ImageFolder`` does;
- ``captions.txt`` in the folder: ``relative/path.png<TAB>caption``, one line per image.

Images are centre-cropped to a square and resized with Pillow's Lanczos filter; transparent
images are composited on white.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from imagegan.data.dataset import ImageDataset, finish_images, holdout_indices
from runcore.errors import UserError

__all__ = ["CAPTIONS_FILE", "IMAGE_EXTENSIONS", "load_folder", "read_captions"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
CAPTIONS_FILE = "captions.txt"


def read_captions(path: Path) -> dict[str, str]:
    """``captions.txt`` -> {relative path: caption}; blank lines are skipped.

    Raises:
        UserError: a line without a tab, an empty caption, or a file named twice.
    """
    fix = f"write one line per image in {path.name}: the file name relative to the folder, a tab, the caption"
    captions: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text", "re-save it as UTF-8") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name, tab, caption = line.partition("\t")
        if not tab or not caption.strip() or not name.strip():
            raise UserError(f"{path} line {number} is not 'filename<TAB>caption': {line[:60]!r}", fix)
        name = Path(name.strip()).as_posix()
        if name in captions:
            raise UserError(f"{path} line {number} captions {name} a second time", fix)
        captions[name] = caption.strip()
    return captions


def _load_image(path: Path, image_size: int, grey: bool) -> np.ndarray:
    """uint8 ``(C, S, S)``: transparency over white, centre crop, Lanczos resize."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image.alpha_composite(rgba)
            image = image.convert("L" if grey else "RGB")
            image = ImageOps.fit(image, (image_size, image_size), method=Image.Resampling.LANCZOS)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise UserError(f"cannot read image {path} ({exc})", "remove or replace the file") from None
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if grey else array.transpose(2, 0, 1)


def load_folder(data_dir, image_size: int, split: str, limit: int | None, channels: int) -> ImageDataset:
    """Images of a folder as an :class:`ImageDataset`; ``test`` is a fixed tenth held out."""
    fix = f"point --data-dir at a folder of images ({', '.join(IMAGE_EXTENSIONS)})"
    if data_dir is None:
        raise UserError("the folder dataset needs --data-dir", fix)
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise UserError(f"image folder {root} does not exist", fix)
    paths = sorted(
        p for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and not p.name.startswith(".")
    )  # fmt: skip
    if not paths:
        raise UserError(f"no images in {root}", fix)
    relative = [p.relative_to(root).as_posix() for p in paths]

    class_names = sorted({Path(r).parts[0] for r in relative})
    labelled = len(class_names) >= 2 and all(len(Path(r).parts) == 2 for r in relative)
    class_names = class_names if labelled else []

    captions_by_name = read_captions(root / CAPTIONS_FILE) if (root / CAPTIONS_FILE).is_file() else None
    if captions_by_name is not None:
        unknown = sorted(set(captions_by_name) - set(relative))
        uncaptioned = [r for r in relative if r not in captions_by_name]
        if unknown or uncaptioned:
            problem = (
                f"{CAPTIONS_FILE} names {len(unknown)} file(s) not in {root}, e.g. {unknown[0]}" if unknown
                else f"{len(uncaptioned)} image(s) in {root} have no line in {CAPTIONS_FILE}, e.g. {uncaptioned[0]}"
            )  # fmt: skip
            raise UserError(problem, "give every image exactly one line 'filename<TAB>caption'")

    if split != "all" and len(paths) < 2:
        raise UserError(f"{root} has 1 image, too few to hold out a test split", "add images, or use split 'all'")
    chosen = holdout_indices(len(paths), split)
    if limit is not None:
        chosen = chosen[:limit]
    grey = channels == 1
    pixels = np.stack([_load_image(paths[i], image_size, grey) for i in chosen])
    labels = None
    if labelled:
        index = {name: k for k, name in enumerate(class_names)}
        labels = torch.tensor([index[Path(relative[i]).parts[0]] for i in chosen], dtype=torch.int64)
    return ImageDataset(
        images=finish_images(pixels, image_size, channels),
        labels=labels,
        captions=[captions_by_name[relative[i]] for i in chosen] if captions_by_name is not None else None,
        num_classes=len(class_names),
        class_names=class_names,
        name="folder",
    )
