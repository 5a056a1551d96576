"""Sample grids: images in ``[-1, 1]`` tiled into one picture, saved as PNG with optional captions.

Examples:
    >>> import torch
    >>> make_grid(torch.zeros(5, 3, 8, 8), nrow=4).shape   # 2 rows of 4, 2-px padding
    (22, 42, 3)
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from runcore.checkpoint import write_bytes_atomic

__all__ = ["make_grid", "save_grid"]

# Captions under cells narrower than this are unreadable, so captioned grids are enlarged
# (nearest neighbour, by a whole factor) until each cell is at least this wide.
_MIN_CAPTIONED_CELL = 96
_TEXT_MARGIN = 2


def make_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 0.0) -> np.ndarray:
    """Tile images into one uint8 ``(H, W, C)`` array.

    Args:
        images: ``(N, C, H, W)`` or ``(N, H, W)`` in ``[-1, 1]`` (clamped), on any device.
        nrow: images per row (as in torchvision); the last row may be partly empty.
        padding: pixels between images and around the border.
        pad_value: colour of the padding in image units (``0.0`` is mid grey, ``1.0`` white).
    """
    x = torch.as_tensor(images).detach().to("cpu", torch.float32)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"make_grid needs a non-empty (N, C, H, W) batch, got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    cols = max(1, min(nrow, n))
    rows = math.ceil(n / cols)
    pixels = ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    fill = round((max(-1.0, min(1.0, pad_value)) + 1.0) * 127.5)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, c), fill, dtype=np.uint8)
    for k in range(n):
        top, left = padding + (k // cols) * (h + padding), padding + (k % cols) * (w + padding)
        grid[top : top + h, left : left + w] = pixels[k]
    return grid


def save_grid(
    images: torch.Tensor,
    path: str | os.PathLike,
    nrow: int = 8,
    captions: Sequence[str] | None = None,
    padding: int = 2,
    caption_axis: str = "auto",
) -> None:
    """Save images as a PNG grid, atomically, with optional captions in PIL's default font.

    Args:
        images: ``(N, C, H, W)`` in ``[-1, 1]``.
        path: the PNG to write (its folder is created).
        nrow: images per row.
        captions: text drawn under the grid's images, rows or columns, as ``caption_axis`` says.
        padding: pixels between images.
        caption_axis: ``"image"`` (one caption per image, under it), ``"row"`` (one per row, under
            the row), ``"column"`` (one per column, under the grid) or ``"auto"``: whichever of
            these the number of captions matches, in that order of preference.

    Captioned grids are enlarged by a whole factor (nearest neighbour) until each cell is at
    least 96 pixels wide, so that the text fits.
    """
    x = torch.as_tensor(images).detach().to("cpu", torch.float32)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if captions is None:
        picture = _to_rgb(make_grid(x, nrow, padding))
    else:
        axis = _caption_axis(len(captions), x.shape[0], nrow, caption_axis)
        scale = max(1, math.ceil(_MIN_CAPTIONED_CELL / x.shape[-1]))
        if scale > 1:
            x = F.interpolate(x, scale_factor=scale, mode="nearest")
        picture = _captioned(x, nrow, padding, [str(c) for c in captions], axis)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    write_bytes_atomic(path, buffer.getvalue())


def _to_rgb(grid: np.ndarray) -> np.ndarray:
    return np.repeat(grid, 3, axis=2) if grid.shape[2] == 1 else grid


def _caption_axis(count: int, n: int, nrow: int, axis: str) -> str:
    cols = max(1, min(nrow, n))
    sizes = {"image": n, "row": math.ceil(n / cols), "column": cols}
    if axis == "auto":
        matching = [name for name, size in sizes.items() if size == count]
        if not matching:
            raise ValueError(f"{count} captions match neither the {n} images, {sizes['row']} rows nor {cols} columns")
        return matching[0]
    if axis not in sizes:
        raise ValueError(f"caption_axis must be auto, image, row or column, not {axis!r}")
    if sizes[axis] != count:
        raise ValueError(f"{count} captions for {sizes[axis]} {axis}s")
    return axis


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; a word longer than a line is cut by characters."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for char in word:
            if line and draw.textlength(line + char, font=font) > width:
                lines.append(line)
                line = ""
            line += char
    if line:
        lines.append(line)
    return lines or [""]


def _captioned(x: torch.Tensor, nrow: int, padding: int, captions: list[str], axis: str) -> np.ndarray:
    """The grid with white text strips: under each row (image/row captions) or under the grid."""
    grid = _to_rgb(make_grid(x, nrow, padding))
    n, _, h, w = x.shape
    cols = max(1, min(nrow, n))
    rows = math.ceil(n / cols)
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    _, top, _, bottom = measure.textbbox((0, 0), "Ag", font=font)
    line_height = bottom - top + 2

    def strip(blocks: list[tuple[int, int, str]]) -> np.ndarray:
        """A white strip holding each (x, width, text) block, wrapped to its width."""
        wrapped = [(x0 + _TEXT_MARGIN, _wrap(measure, text, font, width - 2 * _TEXT_MARGIN))
                   for x0, width, text in blocks]  # fmt: skip
        height = max(len(lines) for _, lines in wrapped) * line_height + 2 * _TEXT_MARGIN
        canvas = Image.new("RGB", (grid.shape[1], height), (255, 255, 255))
        draw = ImageDraw.Draw(canvas)
        for x0, lines in wrapped:
            for k, line in enumerate(lines):
                draw.text((x0, _TEXT_MARGIN + k * line_height - top), line, fill=(0, 0, 0), font=font)
        return np.asarray(canvas)

    def cell_blocks(texts: list[str]) -> list[tuple[int, int, str]]:
        return [(padding + j * (w + padding), w, text) for j, text in enumerate(texts)]

    parts = []
    for r in range(rows):
        parts.append(grid[r * (h + padding) : (r + 1) * (h + padding)])  # top padding + the row
        if axis == "row":
            parts.append(strip([(padding, grid.shape[1] - 2 * padding, captions[r])]))
        elif axis == "image":
            parts.append(strip(cell_blocks(captions[r * cols : (r + 1) * cols])))
    parts.append(grid[rows * (h + padding) :])  # the bottom padding
    if axis == "column":
        parts.append(strip(cell_blocks(captions)))
    return np.concatenate(parts, axis=0)
