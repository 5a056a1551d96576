"""A small CNN classifier trained on the dataset itself: the default feature extractor for FID/KID
and the judge for label accuracy, code accuracy and mode counts.

Its penultimate layer (128 numbers) is the feature space of the classifier-FID. The classifier is
trained once per (dataset, image size, channels, seed) and cached as a safetensors file; the first
16 hex digits of the SHA-256 of its weights (its ``hash``) go with every score, so two scores are
comparable only when their hashes match.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from imagegan.data import DEFAULT_CHANNELS, DEFAULT_IMAGE_SIZES, ImageDataset, load_dataset
from runcore.checkpoint import load_modules, load_tensors, save_modules
from runcore.fingerprint import weights_hash  # moved to runcore: textgan's encoder hash is the same
from runcore.progress import make_progress
from runcore.errors import CheckpointError, UserError

__all__ = [
    "FeatureClassifier",
    "classifier_for",
    "label_accuracy",
    "load_classifier",
    "predict_labels",
    "save_classifier",
    "train_classifier",
    "weights_hash",
]

_CONFIG_KEYS = ("in_channels", "image_size", "num_classes", "width", "feature_dim", "dataset")


class FeatureClassifier(nn.Module):
    """A small CNN for ``(C, H, W)`` images in ``[-1, 1]``.

    A first convolution (stride 2 above 32 pixels, else 1), then stride-2 convolutions (doubling
    the width, up to 4x) until the side is 8 or less, each with batch norm and ReLU; then a linear layer to ``feature_dim``
    features (ReLU) and one to the logits. Flattening rather than pooling keeps where things are
    in the image, which FID on generated images should see.

    Args:
        in_channels: image channels (1 or 3).
        image_size: image side; images must be square.
        num_classes: outputs of the logits layer.
        width: channels of the first convolution.
        feature_dim: size of the penultimate features.
        dataset: what it was trained on, for its :attr:`name`.

    Examples:
        >>> net = FeatureClassifier(1, 28, 10)
        >>> net.features(torch.zeros(2, 1, 28, 28)).shape, net(torch.zeros(2, 1, 28, 28)).shape
        (torch.Size([2, 128]), torch.Size([2, 10]))
    """

    def __init__(self, in_channels: int, image_size: int, num_classes: int, width: int = 16,
                 feature_dim: int = 128, dataset: str = ""):  # fmt: skip
        super().__init__()
        self.config = dict(in_channels=in_channels, image_size=image_size, num_classes=num_classes, width=width,
                           feature_dim=feature_dim, dataset=dataset)  # fmt: skip
        self.info: dict = {}  # what train_classifier reported (test accuracy, ...); not part of the weights
        # Above 32 pixels the first convolution already halves the side: 64x64 images then cost
        # about what 32x32 ones do, which keeps training on a CPU in minutes.
        stem_stride = 2 if image_size > 32 else 1
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, stride=stem_stride, padding=1, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU(inplace=True)]  # fmt: skip
        channels, side = width, math.ceil(image_size / stem_stride)
        while side > 8:
            out = min(2 * channels, 4 * width)
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True)]  # fmt: skip
            channels, side = out, math.ceil(side / 2)
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(channels * side * side, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(feature_dim, num_classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` the classifier takes."""
        c, s = self.config["in_channels"], self.config["image_size"]
        return c, s, s

    @property
    def name(self) -> str:
        """E.g. ``"classifier-mnist-1x28x28"``."""
        c, h, w = self.input_shape
        return f"classifier-{self.config['dataset'] or 'custom'}-{c}x{h}x{w}"

    @property
    def hash(self) -> str:
        """:func:`weights_hash` of the current weights."""
        return weights_hash(self)

    def _check(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{self.name} takes (N, {', '.join(map(str, self.input_shape))}) images, "
                             f"got {tuple(x.shape)}")  # fmt: skip

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(N, feature_dim)``."""
        self._check(x)
        return self.embed(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)``."""
        return self.head(self.features(x))


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def predict_labels(classifier: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Arg-max class of each image (eval mode, batched, on the classifier's device); int64 CPU ``(N,)``."""
    was_training = classifier.training
    classifier.eval()
    device = _device_of(classifier)
    try:
        out = [classifier(images[i : i + batch_size].to(device)).argmax(dim=1).cpu()
               for i in range(0, images.shape[0], batch_size)]  # fmt: skip
    finally:
        classifier.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)


def label_accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` the classifier assigns to ``labels`` (e.g. CGAN's conditioning labels)."""
    labels = torch.as_tensor(labels).reshape(-1).cpu()
    if labels.shape[0] != images.shape[0] or labels.shape[0] == 0:
        raise ValueError(f"{images.shape[0]} images and {labels.shape[0]} labels: need the same, non-zero number")
    return (predict_labels(classifier, images) == labels).double().mean().item()


def train_classifier(
    dataset: ImageDataset,
    epochs: int = 2,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    test_dataset: ImageDataset | None = None,
    batch_size: int = 128,
    lr: float = 2e-3,
) -> tuple[FeatureClassifier, dict]:
    """Train a :class:`FeatureClassifier` on a labelled dataset.

    Adam with a cosine-decayed learning rate; the whole dataset sits on ``device``.

    Args:
        dataset: labelled training images.
        epochs: passes over ``dataset``.
        seed: initialisation and shuffling (the global RNG is left untouched).
        device: where to train; the returned classifier stays there.
        progress: show a progress bar on stderr.
        test_dataset: held-out images for the reported accuracy; None holds out a tenth of
            ``dataset`` (not trained on).
        batch_size, lr: the optimiser's.

    Returns:
        ``(classifier in eval mode, info)``; info has ``test_accuracy``, ``hash``, ``dataset``,
        ``n_train``, ``n_test``, ``epochs``, ``seconds``. The info is also ``classifier.info``.

    Raises:
        UserError: the dataset has no labels.
    """
    if dataset.labels is None or dataset.num_classes < 2:
        raise UserError(
            f"dataset {dataset.name!r} has no class labels to train a feature classifier on",
            "use a labelled dataset (mnist, fashion-mnist, emoji, shapes, or a folder with one subfolder per class)",
        )
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    train_x, train_y = dataset.images, dataset.labels
    if test_dataset is None:
        order = torch.randperm(len(dataset), generator=generator)
        n_test = max(1, len(dataset) // 10)
        test_x, test_y = train_x[order[:n_test]], train_y[order[:n_test]]
        train_x, train_y = train_x[order[n_test:]], train_y[order[n_test:]]
    else:
        test_x, test_y = test_dataset.images, test_dataset.labels
    train_x, train_y = train_x.to(device), train_y.to(device)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        c, h, _ = dataset.image_shape
        classifier = FeatureClassifier(c, h, dataset.num_classes, dataset=dataset.name).to(device)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    steps_per_epoch = math.ceil(train_x.shape[0] / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs * steps_per_epoch))
    start = time.perf_counter()
    classifier.train()
    with make_progress(disable=not progress) as bar:
        task = bar.add_task(f"classifier {dataset.name}", total=epochs * steps_per_epoch)
        for _ in range(epochs):
            order = torch.randperm(train_x.shape[0], generator=generator).to(device)
            for i in range(0, train_x.shape[0], batch_size):
                batch = order[i : i + batch_size]
                loss = F.cross_entropy(classifier(train_x[batch]), train_y[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update(task, advance=1, status=f"loss={loss.item():.3f}")
    classifier.eval()
    accuracy = label_accuracy(classifier, test_x, test_y) if test_y is not None else float("nan")
    classifier.info = {
        "dataset": dataset.name,
        "test_accuracy": accuracy,
        "n_train": int(train_x.shape[0]),
        "n_test": int(test_x.shape[0]),
        "epochs": epochs,
        "seconds": round(time.perf_counter() - start, 2),
        "hash": classifier.hash,
    }
    return classifier, dict(classifier.info)


def save_classifier(classifier: FeatureClassifier, path: str | os.PathLike) -> None:
    """Save weights, architecture and training info to a safetensors file, atomically."""
    save_modules(path, {"classifier": classifier}, {
        "config": json.dumps(classifier.config),
        "info": json.dumps(classifier.info),
        "hash": classifier.hash,
    })  # fmt: skip


def load_classifier(path: str | os.PathLike, device: str | torch.device = "cpu") -> FeatureClassifier:
    """Load a classifier saved by :func:`save_classifier`, in eval mode on ``device``.

    Raises:
        CheckpointError: missing, corrupt, not a classifier, or weights not matching their hash.
    """
    _, metadata = load_tensors(path)
    try:
        config = json.loads(metadata["config"])
        classifier = FeatureClassifier(**{k: config[k] for k in _CONFIG_KEYS})
        info = json.loads(metadata.get("info", "{}"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a feature classifier ({exc})",
                              "pass a file written by save_classifier, or delete it to train again") from None
    load_modules(path, {"classifier": classifier})
    if classifier.hash != metadata.get("hash"):
        raise CheckpointError(f"the weights in {path} do not match their recorded hash",
                              "delete the file to train the classifier again")  # fmt: skip
    classifier.info = info
    return classifier.to(device).eval()


def classifier_for(
    dataset_name: str,
    data_dir: str | None,
    image_size: int | None,
    cache_dir: str | os.PathLike,
    device: str | torch.device = "cpu",
    *,
    channels: int | None = None,
    epochs: int = 2,
    seed: int = 0,
    progress: bool = True,
    limit: int | None = None,
) -> FeatureClassifier:
    """The feature classifier of a dataset: loaded from ``cache_dir``, or trained once and cached.

    Trained on the dataset's ``train`` split, its accuracy measured on ``test``. For
    ``stacked-mnist`` it is the 1-channel MNIST classifier that :func:`count_modes` applies to
    each channel. The cache file is keyed by dataset, size, channels, seed and limit (and the
    folder's path for ``folder``); a corrupt cache file is trained again, with a warning.

    Args:
        dataset_name, data_dir, image_size, channels: as for :func:`load_dataset` (None sizes and
            channels mean the dataset's defaults).
        cache_dir: folder of cached classifiers (created if needed).
        device: where the classifier runs (and trains, on a cache miss).
        epochs, seed, progress: as for :func:`train_classifier`.
        limit: train and test on at most this many images each (quick runs; part of the key).
    """
    if dataset_name not in DEFAULT_IMAGE_SIZES:
        load_dataset(dataset_name)  # raises the unknown-dataset error
    if dataset_name == "stacked-mnist":
        dataset_name, channels = "mnist", 1
    size = image_size or DEFAULT_IMAGE_SIZES[dataset_name]
    channels = channels or DEFAULT_CHANNELS[dataset_name]
    key = f"{dataset_name}-{size}px-{channels}ch-seed{seed}" + (f"-limit{limit}" if limit else "")
    if dataset_name == "folder":
        key += "-" + hashlib.sha256(str(Path(data_dir or "").resolve()).encode()).hexdigest()[:8]
    path = Path(cache_dir) / f"classifier-{key}.safetensors"
    if path.is_file():
        try:
            classifier = load_classifier(path, device)
            if classifier.input_shape == (channels, size, size):
                return classifier
            warnings.warn(f"cached classifier {path} takes {classifier.input_shape} images; training again",
                          stacklevel=2)  # fmt: skip
        except CheckpointError as exc:
            warnings.warn(f"{exc} Training it again.", stacklevel=2)
    train = load_dataset(dataset_name, data_dir, size, "train", limit=limit, channels=channels)
    test = load_dataset(dataset_name, data_dir, size, "test", limit=limit, channels=channels)
    classifier, _ = train_classifier(train, epochs=epochs, seed=seed, device=device, progress=progress,
                                     test_dataset=test)  # fmt: skip
    save_classifier(classifier, path)
    return classifier
