"""A procedural text-to-image set: one coloured shape on a white background, with its caption.

Each image is drawn from four attributes — size, colour, shape, position — and captioned from the
same four, e.g. ``"a small red circle at the top left"``. Labels are the (colour, shape) class, so a
classifier trained on real images can judge whether a generated image shows what its caption
asks for. Shapes are rasterised for the whole batch at once from signed distances (no Python loop
over pixels or images), with one-pixel antialiased edges; positions are jittered slightly so that
no two images are identical.

Examples:
    >>> caption_attributes("a small red circle at the top left")
    {'size': 'small', 'colour': 'red', 'shape': 'circle', 'position': 'top left'}
    >>> CLASS_NAMES[shape_class("red", "circle")]
    'red circle'
"""

from __future__ import annotations

import re

import numpy as np
import torch

from imagegan.data.dataset import ImageDataset

__all__ = [
    "CLASS_NAMES",
    "COLOURS",
    "COLOUR_RGB",
    "POSITIONS",
    "POSITION_CENTRES",
    "SHAPES",
    "SIZES",
    "SIZE_RADII",
    "caption_attributes",
    "class_attributes",
    "load_shapes",
    "make_caption",
    "read_layout",
    "shape_class",
    "shape_coverage",
]

SHAPES = ("circle", "square", "triangle")
COLOUR_RGB = {
    "red": (220, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 90, 220),
    "yellow": (235, 200, 30),
    "purple": (140, 60, 180),
    "orange": (245, 130, 30),
}
COLOURS = tuple(COLOUR_RGB)
#: Radius of a circle of the same area as the shape, as a fraction of the image side.
SIZE_RADII = {"small": 0.10, "large": 0.17}
SIZES = tuple(SIZE_RADII)
#: Centre (x, y) of each position as fractions of the image side; y grows downwards.
POSITION_CENTRES = {
    "top left": (0.27, 0.27), "top": (0.5, 0.27), "top right": (0.73, 0.27),
    "left": (0.27, 0.5), "center": (0.5, 0.5), "right": (0.73, 0.5),
    "bottom left": (0.27, 0.73), "bottom": (0.5, 0.73), "bottom right": (0.73, 0.73),
}  # fmt: skip
POSITIONS = tuple(POSITION_CENTRES)
_PHRASES = {"left": "on the left", "right": "on the right", "center": "in the center"}
BACKGROUND_RGB = (255, 255, 255)
CLASS_NAMES = [f"{colour} {shape}" for colour in COLOURS for shape in SHAPES]

#: Largest jitter of a centre, as a fraction of the image side (less than any shape's inradius).
JITTER = 0.02
DEFAULT_COUNTS = {"train": 10_000, "test": 2_000, "all": 10_000}
_CHUNK = 256  # images per rendering pass: small enough for the allocator to reuse memory

_CAPTION_RE = re.compile(
    rf"a ({'|'.join(SIZES)}) ({'|'.join(COLOURS)}) ({'|'.join(SHAPES)}) "
    rf"(?:at the|on the|in the) ({'|'.join(sorted(POSITIONS, key=len, reverse=True))})"
)


def shape_class(colour: str, shape: str) -> int:
    """Class index of a (colour, shape) pair: ``colour_index * len(SHAPES) + shape_index``."""
    return COLOURS.index(colour) * len(SHAPES) + SHAPES.index(shape)


def class_attributes(label: int) -> tuple[str, str]:
    """``(colour, shape)`` of a class index; the inverse of :func:`shape_class`."""
    return COLOURS[label // len(SHAPES)], SHAPES[label % len(SHAPES)]


def make_caption(size: str, colour: str, shape: str, position: str) -> str:
    """``"a small red circle at the top left"``; ``"... in the center"``, ``"... on the left"``."""
    return f"a {size} {colour} {shape} {_PHRASES.get(position, 'at the ' + position)}"


def caption_attributes(caption: str) -> dict[str, str]:
    """Parse a caption made by :func:`make_caption` into its size, colour, shape and position.

    Raises:
        ValueError: the caption does not follow the template.
    """
    match = _CAPTION_RE.fullmatch(caption.strip().lower())
    if match is None:
        raise ValueError(f"not a shapes caption: {caption!r}")
    return dict(zip(("size", "colour", "shape", "position"), match.groups()))


def shape_coverage(shape: torch.Tensor, radius: torch.Tensor, centre: torch.Tensor, image_size: int) -> torch.Tensor:
    """The fraction of each pixel a shape covers; float32 ``(N, S, S)`` in ``[0, 1]``.

    Args:
        shape: int64 ``(N,)`` indices into :data:`SHAPES`.
        radius: float ``(N,)`` radius of the equal-area circle, as a fraction of the side.
        centre: float ``(N, 2)`` centre (x, y), as fractions of the side.
        image_size: the side S in pixels.
    """
    grid = (torch.arange(image_size, dtype=torch.float32) + 0.5) / image_size
    distance = torch.empty((shape.shape[0], image_size, image_size))
    # Each image computes only its own shape's signed distance (negative inside): exact inside,
    # near enough outside for a one-pixel antialiased edge.
    for kind, signed_distance in enumerate((_circle, _square, _triangle)):
        chosen = (shape == kind).nonzero().squeeze(1)
        if chosen.numel():
            dx = grid.view(1, 1, -1) - centre[chosen, 0].view(-1, 1, 1)
            dy = grid.view(1, -1, 1) - centre[chosen, 1].view(-1, 1, 1)
            distance.index_copy_(0, chosen, signed_distance(dx, dy, radius[chosen].view(-1, 1, 1)))
    return distance.mul_(-float(image_size)).add_(0.5).clamp_(0.0, 1.0)


def _circle(dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return torch.hypot(dx, dy) - r


def _square(dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    # The equal-area square's half side is r·√π/2.
    return torch.maximum(dx.abs(), dy.abs()) - r * (np.pi**0.5 / 2)


def _triangle(dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    # Upward equilateral triangle with its centroid at the centre: three half-planes at the
    # inradius, half the circumradius; the equal-area triangle's circumradius is r·1.555.
    inradius = r * (4 * np.pi / (3 * 3**0.5)) ** 0.5 / 2
    sin60 = 3**0.5 / 2
    slanted = torch.maximum(sin60 * dx - 0.5 * dy, -sin60 * dx - 0.5 * dy)
    return torch.maximum(dy, slanted) - inradius


def _palette(channels: int) -> torch.Tensor:
    """``(colours + background, channels)`` in output units ([-1, 1]; grey as ITU-R 601 luma),
    so that blending is one pass; the background is the last row."""
    rgb = torch.tensor([COLOUR_RGB[c] for c in COLOURS] + [BACKGROUND_RGB], dtype=torch.float32)
    if channels == 1:
        rgb = rgb @ torch.tensor([[0.299], [0.587], [0.114]])
    return rgb / 127.5 - 1.0


def _ink(images: torch.Tensor) -> torch.Tensor:
    """How far each pixel is from white on its farthest channel: 0 white, 1 black; ``(N, S, S)``."""
    return ((1.0 - images.float()) / 2).amax(dim=1)


def read_layout(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where and how big the shape in each image is: indices into :data:`POSITIONS` and :data:`SIZES`.

    The inverse of the rendering for position and size, so generated images can be checked
    against the caption's layout as the classifier checks colour and shape. The ink is every
    pixel at least half as far from white (on its farthest channel) as the faintest colour is;
    its centroid picks the nearest position, its area (as a share of the image) the nearer of
    the two sizes' areas on a log scale. An image without ink gets position ``-1`` and size
    ``-1``, which match nothing. On real RGB images at 16 to 64 pixels both are always right.

    Args:
        images: ``(N, C, S, S)`` in ``[-1, 1]`` on a white background.
    """
    # Half the faintest colour's ink: in RGB every colour is far from white on some channel,
    # in grey yellow is close to it.
    faintest = float(_ink(_palette(images.shape[1])[:-1].view(len(COLOURS), -1, 1, 1)).min())
    ink = _ink(images) >= faintest / 2
    side = images.shape[-1]
    grid = (torch.arange(side, dtype=torch.float32, device=images.device) + 0.5) / side
    mass = ink.sum(dim=(1, 2)).float()
    x = (ink.sum(dim=1).float() @ grid) / mass.clamp(min=1)
    y = (ink.sum(dim=2).float() @ grid) / mass.clamp(min=1)
    centres = torch.tensor([POSITION_CENTRES[p] for p in POSITIONS], device=images.device)
    position = torch.cdist(torch.stack([x, y], dim=1), centres).argmin(dim=1)
    areas = torch.tensor([np.pi * SIZE_RADII[s] ** 2 for s in SIZES], device=images.device)
    area = (mass / side**2).clamp(min=1e-6)
    size = (area.log()[:, None] - areas.log()[None, :]).abs().argmin(dim=1)
    empty = mass == 0
    return position.masked_fill(empty, -1), size.masked_fill(empty, -1)


def load_shapes(image_size: int, split: str, limit: int | None, seed: int, channels: int) -> ImageDataset:
    """Generate the shapes dataset; the same ``(seed, split)`` gives the same images.

    ``train`` (and ``all``, which is the same stream) and ``test`` are drawn from different
    random streams. ``limit`` is the number of images (default 10,000 train, 2,000 test).
    """
    n = limit if limit is not None else DEFAULT_COUNTS[split]
    stream = np.random.SeedSequence([seed, 1 if split == "test" else 0]).generate_state(1)[0]
    generator = torch.Generator().manual_seed(int(stream))
    shape = torch.randint(len(SHAPES), (n,), generator=generator)
    colour = torch.randint(len(COLOURS), (n,), generator=generator)
    size = torch.randint(len(SIZES), (n,), generator=generator)
    position = torch.randint(len(POSITIONS), (n,), generator=generator)
    jitter = (torch.rand((n, 2), generator=generator) * 2 - 1) * JITTER

    palette = _palette(channels)
    background = palette[-1].view(1, channels, 1, 1)
    ink = (palette[:-1] - palette[-1]).view(-1, channels, 1, 1)  # colour minus background
    radius_table = torch.tensor([SIZE_RADII[s] for s in SIZES])
    centre_table = torch.tensor([POSITION_CENTRES[p] for p in POSITIONS])
    images = torch.empty((n, channels, image_size, image_size), dtype=torch.float32)
    for start in range(0, n, _CHUNK):
        part = slice(start, min(start + _CHUNK, n))
        coverage = shape_coverage(shape[part], radius_table[size[part]], centre_table[position[part]] + jitter[part],
                                  image_size)  # fmt: skip
        torch.addcmul(background, coverage.unsqueeze(1), ink[colour[part]], out=images[part])

    captions = [
        make_caption(SIZES[s], COLOURS[c], SHAPES[h], POSITIONS[p])
        for s, c, h, p in zip(size.tolist(), colour.tolist(), shape.tolist(), position.tolist())
    ]
    return ImageDataset(
        images=images,
        labels=colour * len(SHAPES) + shape,
        captions=captions,
        num_classes=len(CLASS_NAMES),
        class_names=list(CLASS_NAMES),
        name="shapes",
    )
