"""Does generated text belong to the class it was asked for? A classifier trained on real text.

As imagegan judges CGAN by a classifier trained on the real labelled images, ``textgan eval``
judges a conditional run by a small CNN text classifier (``ClassDiscriminator`` with one output
per class) trained on the run's own labelled training split, seeded, then asked to classify the
samples generated for each class: the class accuracy is the share put in the class asked for.
Its accuracy on the run's held-out split says how far the judge itself can be trusted.

Training takes seconds on a CPU; the classifier is cached in the run directory
(``classifier.safetensors``) under the hash of what it was trained from (the training rows and
their labels, the vocabulary, the settings below), so a second ``eval`` reuses it and a changed
run or setting trains a new one.

Examples:
    >>> tokens = torch.tensor([[4, 4, 2], [5, 5, 2]] * 20)
    >>> labels = torch.tensor([0, 1] * 20)
    >>> model = train_classifier(tokens, labels, vocab_size=6, num_classes=2, settings=ClassifierSettings(epochs=20))
    >>> class_accuracy(model, tokens, labels)
    1.0
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from runcore import load_tensors, save_tensors
from runcore.errors import CheckpointError, UserError
from textgan.models.classifier import ClassDiscriminator
from textgan.models.discriminator import DiscriminatorConfig

CACHE_FILE = "classifier.safetensors"


@dataclass(frozen=True)
class ClassifierSettings:
    """The judge's sizes and training (fixed: every run is judged alike).

    Width-1 filters with max-over-time pooling detect which words a line holds. On the COCO
    person/no_person corpus (docs/conditional.md) they generalised to the held-out split better
    than wider filters (which fit the training split as perfectly but learn its accidents), and
    train in seconds.
    """

    embed_dim: int = 32
    filter_sizes: tuple[int, ...] = (1,)
    num_filters: tuple[int, ...] = (128,)
    dropout: float = 0.5
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 3e-3
    seed: int = 0


def _model(vocab_size: int, max_len: int, num_classes: int, settings: ClassifierSettings) -> ClassDiscriminator:
    config = DiscriminatorConfig(
        vocab_size=vocab_size, max_len=max_len, embed_dim=settings.embed_dim, filter_sizes=settings.filter_sizes,
        num_filters=settings.num_filters, dropout=settings.dropout, l2_reg=0.0,
    )  # fmt: skip
    return ClassDiscriminator(config, num_classes)


def train_classifier(
    tokens: torch.Tensor, labels: torch.Tensor, vocab_size: int, num_classes: int, settings: ClassifierSettings = ClassifierSettings()
) -> ClassDiscriminator:
    """A classifier of ``tokens (N, T)`` into ``labels (N,)``, trained on the CPU from ``settings.seed``
    (its own random streams: the caller's global stream is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        model = _model(vocab_size, tokens.shape[1], max(num_classes, 2), settings)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        rng = torch.Generator().manual_seed(settings.seed)
        model.train()
        for _ in range(settings.epochs):
            for batch in torch.randperm(len(tokens), generator=rng).split(settings.batch_size):
                loss = model.loss(tokens[batch], labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return model.eval()


@torch.no_grad()
def class_accuracy(model: ClassDiscriminator, tokens: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of ``tokens`` the classifier puts in class ``labels``."""
    if not len(tokens):
        return float("nan")
    return float((model.class_probs(tokens).argmax(1) == labels).float().mean())


def classifier_hash(tokens: torch.Tensor, labels: torch.Tensor, vocab_size: int, num_classes: int, settings: ClassifierSettings) -> str:
    """What a cached classifier was trained from: the rows, their labels, the sizes, the settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"vocab_size": vocab_size, "num_classes": num_classes, "shape": list(tokens.shape), **dataclasses.asdict(settings)}, sort_keys=True).encode())
    digest.update(tokens.to(torch.int64).contiguous().numpy().tobytes())
    digest.update(labels.to(torch.int64).contiguous().numpy().tobytes())
    return digest.hexdigest()


def cached_classifier(
    folder: Path, tokens: torch.Tensor, labels: torch.Tensor, vocab_size: int, num_classes: int,
    settings: ClassifierSettings = ClassifierSettings(),
) -> tuple[ClassDiscriminator, dict[str, str | bool]]:  # fmt: skip
    """The classifier of ``folder``'s cache when its hash matches, else a new one (then cached).

    Returns the model and ``{"hash", "cached"}``. A cache that cannot be written (a read-only run)
    is skipped: the classifier is still returned.
    """
    tokens, labels = tokens.cpu(), labels.cpu()
    wanted = classifier_hash(tokens, labels, vocab_size, num_classes, settings)
    path = Path(folder) / CACHE_FILE
    model = _model(vocab_size, tokens.shape[1], max(num_classes, 2), settings)
    if path.is_file():
        try:
            state, metadata = load_tensors(path)
            if metadata.get("hash") == wanted:
                model.load_state_dict(state)
                return model.eval(), {"hash": wanted, "cached": True}
        except (CheckpointError, RuntimeError, KeyError):  # a damaged cache is only a cache: train again
            pass
    model = train_classifier(tokens, labels, vocab_size, num_classes, settings)
    try:
        save_tensors(path, model.state_dict(), {"hash": wanted})
    except (OSError, UserError):  # a full or read-only disk (runcore's one-line error): go on uncached
        pass
    return model, {"hash": wanted, "cached": False}
