"""imagegan.data: IDX parsing, MNIST / stacked MNIST / emoji / shapes / folder loaders, grids."""

from __future__ import annotations

import gzip
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.testing import assert_close

from imagegan.data import (
    COLOURS,
    DATASETS,
    POSITIONS,
    SHAPES,
    SIZES,
    ImageDataset,
    caption_attributes,
    class_attributes,
    load_dataset,
    make_caption,
    make_grid,
    read_idx,
    save_grid,
    shape_class,
)
from imagegan.data.dataset import holdout_indices
from imagegan.data.shapes import COLOUR_RGB, POSITION_CENTRES, read_layout
from runcore.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text, f"a user error must print as one line: {text!r}"
    return text


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of a uint8 array, as MNIST's files are laid out."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(directory: Path, n_train: int = 6, n_test: int = 4, gz: bool = True) -> dict[str, np.ndarray]:
    """Tiny MNIST files: image k of a split is the constant 25 * label (labels cycle 0..9)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) + (3 if prefix == "t10k" else 0)) % 10
        images = np.repeat((labels * 25).astype(np.uint8)[:, None, None], 28, 1).repeat(28, 2)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            data = idx_bytes(array)
            name = f"{prefix}-{kind}-ubyte"
            (directory / (name + ".gz" if gz else name)).write_bytes(gzip.compress(data) if gz else data)
            arrays[name] = array
    return arrays


# --------------------------------------------------------------------------------------------
# IDX and MNIST


def test_read_idx_parses_types_and_shapes_plain_and_gzipped(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a-ubyte").write_bytes(idx_bytes(array))
    (tmp_path / "a-ubyte.gz").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a-ubyte"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-ubyte.gz"), array)
    # A big-endian int32 IDX (type 0x0C).
    values = np.array([-5, 70000, 3], dtype=">i4")
    (tmp_path / "b").write_bytes(bytes([0, 0, 0x0C, 1]) + (3).to_bytes(4, "big") + values.tobytes())
    assert read_idx(tmp_path / "b").tolist() == [-5, 70000, 3]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"<html>not found</html>", "not an IDX file"),
        (bytes([0, 0, 8, 3, 0, 0]), "truncated"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "needs 5 bytes"),
        (b"\x1f\x8b\x08\x00broken gzip", "cannot read"),
    ],
)
def test_read_idx_rejects_broken_files_with_the_fix(tmp_path, data, message):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(UserError) as error:
        read_idx(path)
    text = one_line(error)
    assert message in text and str(path) in text and "Replace train-images-idx3-ubyte with an original" in text


@pytest.mark.parametrize("layout, gz", [("MNIST/raw", True), (".", False)])
def test_mnist_loads_torchvision_layout_and_flat_folder(tmp_path, layout, gz):
    arrays = write_mnist(tmp_path / layout, gz=gz)
    train = load_dataset("mnist", str(tmp_path))
    assert isinstance(train, ImageDataset) and train.name == "mnist"
    assert train.images.shape == (6, 1, 28, 28) and train.images.dtype == torch.float32
    assert train.labels.dtype == torch.int64
    assert train.labels.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert_close(train.images[:, 0, 5, 5], torch.tensor(arrays["train-labels-idx1-ubyte"] * 25 / 127.5 - 1.0,
                                                         dtype=torch.float32))  # fmt: skip
    assert train.num_classes == 10 and train.class_names == [str(d) for d in range(10)] and train.captions is None
    test = load_dataset("mnist", str(tmp_path), split="test")
    assert test.labels.tolist() == [3, 4, 5, 6]
    both = load_dataset("mnist", str(tmp_path), split="all", limit=8)
    assert both.labels.tolist() == [0, 1, 2, 3, 4, 5, 3, 4]


def test_mnist_resizes_and_converts_channels(tmp_path):
    write_mnist(tmp_path)
    ds = load_dataset("mnist", str(tmp_path), image_size=32, channels=3, limit=3)
    assert ds.images.shape == (3, 3, 32, 32)
    # Constant images stay constant through antialiased resizing; grey repeats to RGB.
    assert_close(ds.images[1], torch.full((3, 32, 32), 25 / 127.5 - 1.0))


def test_fashion_mnist_uses_its_own_folder_and_class_names(tmp_path):
    write_mnist(tmp_path / "FashionMNIST" / "raw")
    ds = load_dataset("fashion-mnist", str(tmp_path), split="test")
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot" and len(ds) == 4
    with pytest.raises(UserError, match="MNIST/raw"):
        load_dataset("mnist", str(tmp_path))  # the Fashion files are not MNIST's


def test_mnist_missing_dir_or_files_says_what_to_put_where(tmp_path):
    with pytest.raises(UserError) as error:
        load_dataset("mnist")
    text = one_line(error)
    assert "--data-dir" in text and "train-images-idx3-ubyte.gz" in text and "MNIST/raw" in text

    with pytest.raises(UserError) as error:
        load_dataset("mnist", str(tmp_path / "nowhere"))
    assert "does not exist" in one_line(error)

    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    load_dataset("mnist", str(tmp_path))  # the train split is complete
    with pytest.raises(UserError) as error:
        load_dataset("mnist", str(tmp_path), split="test")
    text = one_line(error)
    assert text.startswith("t10k-labels-idx1-ubyte not found in") and f"in {tmp_path}" in text
    assert "t10k-images-idx3-ubyte.gz" in text  # the fix lists every file of the split


def test_mnist_wrong_files_are_user_errors(tmp_path):
    arrays = write_mnist(tmp_path, gz=False)
    # Images and labels swapped.
    images, labels = tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte"
    images_bytes, labels_bytes = images.read_bytes(), labels.read_bytes()
    images.write_bytes(labels_bytes)
    labels.write_bytes(images_bytes)
    with pytest.raises(UserError, match="swapped"):
        load_dataset("mnist", str(tmp_path))
    # Labels from another split (wrong count).
    images.write_bytes(images_bytes)
    labels.write_bytes(idx_bytes(arrays["t10k-labels-idx1-ubyte"]))
    with pytest.raises(UserError, match="4 labels|\\(4,\\) labels for 6 images"):
        load_dataset("mnist", str(tmp_path))


@pytest.fixture(scope="module")
def real_mnist_dir():
    directory = SHARED / "mnist"
    if not (directory / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST not found under {directory} (the shared data checkout)")
    return str(directory)


def test_real_mnist(real_mnist_dir):
    test = load_dataset("mnist", real_mnist_dir, split="test")
    assert test.images.shape == (10_000, 1, 28, 28)
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert torch.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert test.images.min().item() == -1.0 and test.images.max().item() == 1.0
    train = load_dataset("mnist", real_mnist_dir, limit=5, image_size=64)
    assert train.labels.tolist() == [5, 0, 4, 1, 9] and train.images.shape == (5, 1, 64, 64)


def test_stacked_mnist_channels_are_the_labelled_digits(tmp_path):
    write_mnist(tmp_path, n_train=10)
    ds = load_dataset("stacked-mnist", str(tmp_path), limit=50, seed=3)
    assert ds.images.shape == (50, 3, 28, 28) and ds.num_classes == 1000 and ds.class_names[42] == "042"
    # Each tiny digit is the constant 25 * digit, so the channels give the digits back.
    digits = ((ds.images[:, :, 0, 0] + 1.0) * 127.5 / 25).round().long()
    assert ds.labels.tolist() == (digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]).tolist()
    assert len(set(ds.labels.tolist())) > 30  # random draws, not one repeated triple
    again = load_dataset("stacked-mnist", str(tmp_path), limit=50, seed=3)
    other = load_dataset("stacked-mnist", str(tmp_path), limit=50, seed=4)
    assert torch.equal(again.labels, ds.labels) and not torch.equal(other.labels, ds.labels)
    with pytest.raises(UserError, match="3 channels"):
        load_dataset("stacked-mnist", str(tmp_path), channels=1)


# --------------------------------------------------------------------------------------------
# Shapes


def test_shapes_are_deterministic_per_seed_and_split():
    a = load_dataset("shapes", limit=40, image_size=32, seed=7)
    b = load_dataset("shapes", limit=40, image_size=32, seed=7)
    assert torch.equal(a.images, b.images) and a.captions == b.captions and torch.equal(a.labels, b.labels)
    assert not torch.equal(load_dataset("shapes", limit=40, image_size=32, seed=8).images, a.images)
    assert not torch.equal(load_dataset("shapes", limit=40, image_size=32, seed=7, split="test").images, a.images)
    assert a.images.shape == (40, 3, 32, 32) and a.images.min() >= -1 and a.images.max() <= 1
    assert a.num_classes == len(COLOURS) * len(SHAPES) == len(a.class_names)


def test_shapes_captions_match_the_pixels():
    ds = load_dataset("shapes", limit=300, image_size=64, seed=1)
    palette = torch.tensor([COLOUR_RGB[c] for c in COLOURS], dtype=torch.float32)
    areas = {"small": [], "large": []}
    for image, caption, label in zip(ds.images, ds.captions, ds.labels.tolist()):
        attributes = caption_attributes(caption)
        x, y = (int(v * 64) for v in POSITION_CENTRES[attributes["position"]])
        pixel = (image[:, y, x] + 1.0) * 127.5
        nearest = COLOURS[int(((palette - pixel) ** 2).sum(dim=1).argmin())]
        assert nearest == attributes["colour"], caption
        assert_close(pixel, palette[COLOURS.index(nearest)], atol=1.0, rtol=0)  # fully inside the shape
        assert class_attributes(label) == (attributes["colour"], attributes["shape"])
        areas[attributes["size"]].append(int((image < 0.99).any(dim=0).sum()))  # pixels not white
    assert min(areas["large"]) > max(areas["small"])


def test_shape_attributes_round_trip():
    for size, colour, shape, position in itertools.product(SIZES, COLOURS, SHAPES, POSITIONS):
        caption = make_caption(size, colour, shape, position)
        assert caption_attributes(caption) == {"size": size, "colour": colour, "shape": shape, "position": position}
        assert class_attributes(shape_class(colour, shape)) == (colour, shape)
    assert make_caption("small", "red", "circle", "top left") == "a small red circle at the top left"
    assert make_caption("large", "blue", "square", "center") == "a large blue square in the center"
    with pytest.raises(ValueError):
        caption_attributes("a small pink circle at the top left")


@pytest.mark.parametrize("image_size", [16, 32, 64])
def test_read_layout_recovers_every_real_caption_position_and_size(image_size):
    ds = load_dataset("shapes", limit=400, image_size=image_size, seed=3)
    position, size = read_layout(ds.images)
    wanted = [caption_attributes(c) for c in ds.captions]
    assert [POSITIONS[p] for p in position.tolist()] == [w["position"] for w in wanted]
    assert [SIZES[s] for s in size.tolist()] == [w["size"] for w in wanted]


def test_read_layout_by_hand():
    images = torch.ones(3, 3, 20, 20)  # white
    images[0, 0, 1:5, 1:5] = -1.0  # a 4x4 cyan square (no red): centre (0.15, 0.15), area 0.04
    images[1, 2, 8:14, 12:18] = 0.0  # half-way to white on blue: centre (0.75, 0.55), area 0.09
    images[1, :, 0, 0] = 0.9  # too faint to count as ink
    position, size = read_layout(images)
    assert [POSITIONS[p] for p in position[:2].tolist()] == ["top left", "right"]
    # areas on a log scale: 0.04 is nearer small (0.0314) than large (0.0908); 0.09 is large
    assert [SIZES[s] for s in size[:2].tolist()] == ["small", "large"]
    assert position[2].item() == size[2].item() == -1  # no ink: matches nothing


def test_shapes_in_grey():
    grey = load_dataset("shapes", limit=8, image_size=16, channels=1)
    colour = load_dataset("shapes", limit=8, image_size=16)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert grey.images.shape == (8, 1, 16, 16)
    assert_close(grey.images, ((colour.images + 1) * luma).sum(1, keepdim=True) - 1)


# --------------------------------------------------------------------------------------------
# Emoji, folder, registry


def test_emoji_from_a_tiny_file_composites_on_white(tmp_path):
    rgba = np.zeros((3, 8, 8, 4), dtype=np.uint8)
    rgba[:, 2:6, 2:6] = (200, 0, 0, 255)  # opaque red square
    rgba[:, 0, 0] = (0, 0, 255, 128)  # half-transparent blue corner
    np.savez(tmp_path / "noto_emoji_64.npz", images=rgba, names=np.array(["a", "b", "c"]),
             categories=np.array(["Symbols", "Flags", "Symbols"]))  # fmt: skip
    ds = load_dataset("emoji", str(tmp_path), image_size=8, split="all")
    assert ds.captions == ["a", "b", "c"] and ds.class_names == ["Flags", "Symbols"]
    assert ds.labels.tolist() == [1, 0, 1]
    assert_close(ds.images[0, :, 1, 1], torch.ones(3))  # transparent -> white
    assert_close(ds.images[0, :, 3, 3], torch.tensor([200 / 127.5 - 1, -1.0, -1.0]))
    assert_close(ds.images[0, :, 0, 0], torch.tensor([127, 127, 255]) / 127.5 - 1.0)


def test_emoji_needs_data_dir():
    with pytest.raises(UserError) as error:
        load_dataset("emoji")
    text = one_line(error)
    assert "--data-dir" in text and "noto_emoji_64.npz" in text


def test_real_emoji():
    if not (SHARED / "emoji" / "noto_emoji_64.npz").is_file():
        pytest.skip(f"emoji not found under {SHARED / 'emoji'} (the shared data checkout)")
    train = load_dataset("emoji", str(SHARED / "emoji"), image_size=32)
    test = load_dataset("emoji", str(SHARED / "emoji"), image_size=32, split="test")
    assert len(train) + len(test) == 1911 and len(test) == 191
    assert train.images.shape[1:] == (3, 32, 32) and train.num_classes == 10
    everything = load_dataset("emoji", str(SHARED / "emoji"), image_size=8, split="all")
    assert sorted(train.captions + test.captions) == sorted(everything.captions)  # disjoint, complete
    corner_is_white = (train.images[:, :, 0, 0] == 1.0).all(dim=1).double().mean()
    assert corner_is_white > 0.8  # the background (a few emoji, e.g. flags, reach the corner)


def test_holdout_split_is_disjoint_and_complete():
    train, test = holdout_indices(57, "train"), holdout_indices(57, "test")
    assert len(test) == 5 and not set(train) & set(test) and sorted([*train, *test]) == list(range(57))


def make_folder(root: Path, names: list[str], size=(20, 12)) -> None:
    for k, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (10 * k, 100, 200)).save(path)


def test_folder_with_captions(tmp_path):
    make_folder(tmp_path, ["b.png", "a.jpg", "c.png"])
    rgba = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    rgba.save(tmp_path / "d.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "captions.txt").write_text("a.jpg\ta photo\nb.png\tbee\n\nc.png\tsea\nd.png\tnothing at all\n")
    ds = load_dataset("folder", str(tmp_path), image_size=16, split="all")
    assert ds.images.shape == (4, 3, 16, 16) and ds.labels is None and ds.num_classes == 0
    assert ds.captions == ["a photo", "bee", "sea", "nothing at all"]  # sorted by file name
    assert_close(ds.images[1, :, 8, 8], torch.tensor([0, 100, 200]) / 127.5 - 1.0)  # b.png, k = 0
    assert_close(ds.images[3], torch.ones(3, 16, 16))  # fully transparent -> white
    grey = load_dataset("folder", str(tmp_path), image_size=8, split="all", channels=1)
    assert grey.images.shape == (4, 1, 8, 8)


def test_folder_subfolders_are_classes(tmp_path):
    make_folder(tmp_path, ["cats/1.png", "cats/2.png", "dogs/1.png"])
    ds = load_dataset("folder", str(tmp_path), image_size=8, split="all")
    assert ds.class_names == ["cats", "dogs"] and ds.labels.tolist() == [0, 0, 1] and ds.captions is None


@pytest.mark.parametrize(
    "files, captions, message",
    [
        ([], None, "no images in"),
        (["a.png", "b.png"], "a.png\tone\n", r"1 image\(s\) in .* have no line in captions.txt, e.g. b.png"),
        (["a.png"], "a.png\tone\nz.png\tzed\n", r"names 1 file\(s\) not in .*, e.g. z.png"),
        (["a.png"], "a.png one\n", "line 1 is not 'filename<TAB>caption'"),
    ],
)
def test_folder_bad_inputs(tmp_path, files, captions, message):
    make_folder(tmp_path, files)
    if captions is not None:
        (tmp_path / "captions.txt").write_text(captions)
    with pytest.raises(UserError) as error:
        load_dataset("folder", str(tmp_path), split="all")
    assert re.search(message, one_line(error))


def test_folder_unreadable_image_names_the_file(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="broken.png"):
        load_dataset("folder", str(tmp_path), split="all")
    with pytest.raises(UserError, match="does not exist"):
        load_dataset("folder", str(tmp_path / "missing"))


def test_unknown_names_list_the_choices():
    with pytest.raises(UserError) as error:
        load_dataset("cifar10")
    assert all(name in one_line(error) for name in DATASETS)
    with pytest.raises(UserError, match="train, test, all"):
        load_dataset("shapes", split="valid")
    with pytest.raises(UserError, match="channels"):
        load_dataset("shapes", channels=4)
    with pytest.raises(UserError, match="too small"):
        load_dataset("shapes", image_size=2)


# --------------------------------------------------------------------------------------------
# Grids


def test_make_grid_places_images_row_by_row():
    images = torch.stack([torch.full((3, 4, 5), v) for v in (-1.0, 0.0, 1.0)])
    grid = make_grid(images, nrow=2, padding=1, pad_value=1.0)
    assert grid.shape == (2 * 5 + 1, 2 * 6 + 1, 3) and grid.dtype == np.uint8
    assert (grid[1:5, 1:6] == 0).all() and (grid[1:5, 7:12] == 128).all() and (grid[6:10, 1:6] == 255).all()
    assert (grid[0] == 255).all() and (grid[6:10, 7:12] == 255).all()  # padding and the empty cell
    assert make_grid(torch.zeros(2, 28, 28), nrow=8).shape == (32, 62, 1)  # (N, H, W), fewer than nrow


def test_save_grid_writes_png_with_captions(tmp_path):
    images = load_dataset("shapes", limit=6, image_size=32).images
    save_grid(images, tmp_path / "plain.png", nrow=3)
    with Image.open(tmp_path / "plain.png") as plain:
        assert plain.size == (3 * 34 + 2, 2 * 34 + 2) and plain.mode == "RGB"
    save_grid(images, tmp_path / "rows.png", nrow=3, captions=["first row", "second row"])
    save_grid(images, tmp_path / "cells.png", nrow=3, captions=[f"image {k}" for k in range(6)])
    save_grid(images, tmp_path / "cols.png", nrow=3, captions=["a", "b", "c"])
    for name in ("rows", "cells", "cols"):
        with Image.open(tmp_path / f"{name}.png") as picture:
            assert picture.size[0] == 3 * (32 * 3 + 2) + 2  # enlarged 3x for legible captions
            assert picture.size[1] > 2 * (32 * 3 + 2) + 2  # plus text strips
            # Some text pixels are dark in the strip below the first row (not for column captions).
            strip = np.asarray(picture)[32 * 3 + 4 : 32 * 3 + 14]
            assert (strip.min() < 100) == (name != "cols")
    assert (tmp_path / "rows.png").read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.png", "cols.png", "plain.png", "rows.png"]
    with pytest.raises(ValueError, match="5 captions"):
        save_grid(images, tmp_path / "bad.png", nrow=3, captions=list("abcde"))
