"""Image datasets for imagegan, all offline: MNIST, Fashion-MNIST, emoji, shapes, folders, stacked MNIST.

:func:`load_dataset` returns an :class:`ImageDataset` (float32 images in ``[-1, 1]``, optional
labels and captions); :func:`make_grid` and :func:`save_grid` turn samples into PNG grids.
"""

from imagegan.data.dataset import (
    DATASETS,
    DEFAULT_CHANNELS,
    DEFAULT_IMAGE_SIZES,
    SPLITS,
    ImageDataset,
    load_dataset,
)
from imagegan.data.grid import make_grid, save_grid
from imagegan.data.mnist import read_idx
from imagegan.data.shapes import (
    COLOURS,
    POSITIONS,
    SHAPES,
    SIZES,
    caption_attributes,
    class_attributes,
    make_caption,
    shape_class,
)

__all__ = [
    "COLOURS",
    "DATASETS",
    "DEFAULT_CHANNELS",
    "DEFAULT_IMAGE_SIZES",
    "POSITIONS",
    "SHAPES",
    "SIZES",
    "SPLITS",
    "ImageDataset",
    "caption_attributes",
    "class_attributes",
    "load_dataset",
    "make_caption",
    "make_grid",
    "read_idx",
    "save_grid",
    "shape_class",
]
