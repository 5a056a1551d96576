"""MNIST and Fashion-MNIST from IDX files, and PacGAN's stacked MNIST.

The files are the four of torchvision's ``<data_dir>/MNIST/raw`` (``FashionMNIST/raw`` for
Fashion-MNIST), gzipped or not; they may also lie directly in ``data_dir``. Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from imagegan.data.dataset import ImageDataset, finish_images
from runcore.errors import UserError

__all__ = ["FASHION_CLASSES", "MNIST_FILES", "find_mnist_files", "load_mnist", "load_stacked_mnist", "read_idx"]

#: split -> (images file, labels file), without the optional ``.gz``.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]  # fmt: skip

_SUBDIR = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_SOURCE = {
    "mnist": "the MNIST files (e.g. from https://ossci-datasets.s3.amazonaws.com/mnist/)",
    "fashion-mnist": "the Fashion-MNIST files (https://github.com/zalandoresearch/fashion-mnist, data/fashion)",
}

# IDX type byte -> numpy dtype (multi-byte types are big-endian).
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not, told apart by its first bytes) into a numpy array.

    Raises:
        UserError: the file is not IDX, is truncated, or is a broken gzip.

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
        >>> read_idx(path).tolist()
        [7, 8, 9]
    """
    path = Path(path)
    fix = f"replace {path.name} with an original, complete IDX file"
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise UserError(f"cannot read {path} ({exc})", fix) from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise UserError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'none'})", fix)
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path} is truncated (its header is cut short)", fix)
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise UserError(
            f"{path} holds {len(raw) - header} data bytes but its header {shape} needs {expected} bytes", fix
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def find_mnist_files(name: str, data_dir: str | Path | None, split: str) -> list[tuple[Path, Path]]:
    """The (images, labels) file pairs of ``split`` (two pairs for ``"all"``).

    Looks in ``data_dir/<MNIST|FashionMNIST>/raw``, then ``data_dir/raw``, then ``data_dir``, for
    each file plain or ``.gz``.

    Raises:
        UserError: no ``data_dir``, or files missing, naming the files and where to put them.
    """
    sub = _SUBDIR[name]
    splits = ("train", "test") if split == "all" else (split,)
    wanted = [base for s in splits for base in MNIST_FILES[s]]
    listing = ", ".join(f"{b}.gz" for b in wanted)

    def put(directory: str) -> str:
        return f"put {listing} (gzipped or not) in {directory} or {directory}/{sub}/raw, from {_SOURCE[name]}"

    if data_dir is None:
        raise UserError(f"the {name} dataset needs --data-dir", f"pass --data-dir DIR and {put('DIR')}")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise UserError(f"data directory {root} does not exist", put(str(root)))
    candidates = [root / sub / "raw", root / "raw", root]
    found: dict[str, Path] = {}
    for base in wanted:
        for directory in candidates:
            hit = next((p for p in (directory / base, directory / f"{base}.gz") if p.is_file()), None)
            if hit is not None:
                found[base] = hit
                break
    missing = [b for b in wanted if b not in found]
    if missing:
        raise UserError(
            f"{', '.join(missing)} not found in {root} or {root / sub / 'raw'}",
            put(str(root)),
        )
    return [(found[images], found[labels]) for images, labels in (MNIST_FILES[s] for s in splits)]


def _read_split(name: str, data_dir, split: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``(N, 28, 28)`` and int64 labels ``(N,)`` of a split, checked."""
    all_images, all_labels = [], []
    for images_path, labels_path in find_mnist_files(name, data_dir, split):
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise UserError(
                f"{images_path} holds {images.dtype} of shape {images.shape}, not uint8 (N, H, W) images",
                "check that the images and labels files are not swapped or from another dataset",
            )
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise UserError(
                f"{labels_path} holds {labels.shape} labels for {images.shape[0]} images in {images_path.name}",
                "use the labels file that belongs to these images (same split, same dataset)",
            )
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise UserError(f"{labels_path} has labels outside 0-9", "use the original labels file")
        all_images.append(images)
        all_labels.append(labels.astype(np.int64))
    images, labels = np.concatenate(all_images), np.concatenate(all_labels)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def load_mnist(name: str, data_dir, image_size: int, split: str, limit: int | None, channels: int) -> ImageDataset:
    """MNIST or Fashion-MNIST (``name``) as an :class:`ImageDataset`; see :func:`load_dataset`."""
    images, labels = _read_split(name, data_dir, split, limit)
    class_names = [str(d) for d in range(10)] if name == "mnist" else list(FASHION_CLASSES)
    return ImageDataset(
        images=finish_images(images[:, None], image_size, channels),
        labels=torch.from_numpy(labels),
        captions=None,
        num_classes=10,
        class_names=class_names,
        name=name,
    )


def load_stacked_mnist(
    data_dir, image_size: int, split: str, limit: int | None, seed: int, channels: int
) -> ImageDataset:
    """PacGAN's stacked MNIST: each image stacks 3 random MNIST digits as its R, G, B channels.

    The label is ``100 * d_R + 10 * d_G + d_B``, so there are 1,000 modes. Digits are drawn
    uniformly with replacement from the MNIST ``split``; ``limit`` images are made (default: as
    many as the split has digits), reproducibly from ``seed``.
    """
    if channels != 3:
        raise UserError(f"stacked-mnist has 3 channels (one digit each), not {channels}",
                        "leave channels unset or use 3")  # fmt: skip
    digits, digit_labels = _read_split("mnist", data_dir, split, None)
    n = limit if limit is not None else digits.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence([seed, ("train", "test", "all").index(split)]))
    picks = rng.integers(0, digits.shape[0], size=(n, 3))
    stacked = digits[picks]  # (n, 3, 28, 28): channel c is digit picks[:, c]
    d = digit_labels[picks]
    labels = 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]
    return ImageDataset(
        images=finish_images(stacked, image_size, 3),
        labels=torch.from_numpy(labels),
        captions=None,
        num_classes=1000,
        class_names=[f"{k:03d}" for k in range(1000)],
        name="stacked-mnist",
    )
