"""``imagegan eval``: score a trained run against the real test set.

Every run gets classifier-FID and KID (the dataset's own feature classifier, its hash and the
sample counts reported with the scores). Each model adds its own measure: CGAN the label
accuracy of its samples, InfoGAN the categorical-code accuracy under the best code-to-class
matching, StackGAN on ``shapes`` how often colour and shape match the caption (and, read off
the pixels, position and size) and how much sharper stage II is than stage I, and any model on
``stacked-mnist`` the number of the 1,000 modes it covers. Results go to ``RUN_DIR/eval.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from imagegan.config import TrainConfig
from imagegan.data import POSITIONS, SIZES, caption_attributes, class_attributes, load_dataset
from imagegan.data.shapes import read_layout
from imagegan.metrics import (
    categorical_code_accuracy,
    classifier_for,
    label_accuracy,
    predict_labels,
    score_images,
    stacked_mnist_modes,
)
from imagegan.models import ImageGAN
from imagegan.models.infogan import CATEGORIES, LatentCodes
from imagegan.models.text import encode_captions
from imagegan.trainer import DataInfo
from runcore import RunDir, write_json_atomic

__all__ = ["caption_match", "evaluate_run", "layout_match", "sharpness"]

CHUNK = 500


def sharpness(images: torch.Tensor) -> float:
    """Mean absolute Laplacian of the grey images: higher is sharper (more fine detail)."""
    grey = images.float().mean(dim=1, keepdim=True)
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=grey.device).view(1, 1, 3, 3)
    return float(F.conv2d(grey, kernel).abs().mean())


def caption_match(classifier: torch.nn.Module, images: torch.Tensor, captions: list[str]) -> float:
    """Share of ``shapes`` images whose predicted (colour, shape) class is the caption's."""
    predicted = predict_labels(classifier, images).tolist()
    wanted = [caption_attributes(c) for c in captions]
    hits = [class_attributes(p) == (w["colour"], w["shape"]) for p, w in zip(predicted, wanted)]
    return sum(hits) / len(hits)


def layout_match(images: torch.Tensor, captions: list[str]) -> dict[str, float]:
    """Share of ``shapes`` images whose shape sits where the caption says and has its size
    (:func:`~imagegan.data.shapes.read_layout`)."""
    position, size = read_layout(images)
    wanted = [caption_attributes(c) for c in captions]
    return {
        "position_match": sum(POSITIONS[p] == w["position"] for p, w in zip(position.tolist(), wanted) if p >= 0) / len(wanted),
        "size_match": sum(SIZES[s] == w["size"] for s, w in zip(size.tolist(), wanted) if s >= 0) / len(wanted),
    }


def _cycle(items, n: int):
    return [items[i % len(items)] for i in range(n)]


def evaluate_run(
    run: RunDir,
    config: TrainConfig,
    info: DataInfo,
    model: ImageGAN,
    num: int = 10_000,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    seed: int = 0,
    classifier: torch.nn.Module | None = None,
    extractor: Any = None,
) -> dict[str, Any]:
    """Score ``model`` (trained in ``run``) on ``num`` generated images; write and return the scores.

    ``classifier`` replaces the dataset's cached feature classifier (:func:`classifier_for`),
    e.g. one trained on fewer images where training the full one would take too long.
    ``extractor`` (e.g. an :class:`~imagegan.metrics.InceptionExtractor`) replaces the classifier
    as FID/KID's feature space; label, code and caption scores always use the classifier.
    """
    data_dir = data_dir or config.data_dir
    cache = Path(cache_dir) if cache_dir else run.path.parent / ".classifiers"
    device = model.device
    test = load_dataset(config.data, data_dir, info.image_size, split="test", limit=num, seed=config.seed + 1, channels=info.channels)
    if classifier is None:
        classifier = classifier_for(config.data, data_dir, info.image_size, cache, device, channels=info.channels)
    generator = torch.Generator().manual_seed(seed)
    scores: dict[str, Any] = {"model": config.model, "data": config.data}
    if model.trained_steps is not None:  # a run stopped early is scored where it stopped
        scores["step"] = model.trained_steps
    fakes, low = [], []
    if model.name == "cgan":
        labels = torch.tensor(_cycle(test.labels.tolist(), num))
        for chunk in labels.split(CHUNK):
            fakes.append(model.generate(len(chunk), labels=chunk, generator=generator).cpu())
        scores["label_accuracy"] = label_accuracy(classifier, torch.cat(fakes), labels)
    elif model.name == "infogan":
        codes = []
        for start in range(0, num, CHUNK):
            drawn = LatentCodes.draw(min(CHUNK, num - start), device, generator)
            fakes.append(model.generate(len(drawn.categorical), codes=drawn, generator=generator).cpu())
            codes.append(drawn.categorical.cpu())
        if config.data != "stacked-mnist":
            predicted = predict_labels(classifier, torch.cat(fakes))
            scores["categorical_code_accuracy"] = categorical_code_accuracy(torch.cat(codes), predicted, max(CATEGORIES, info.num_classes))
    elif model.name == "stackgan":
        captions = _cycle(test.captions, num)
        for start in range(0, num, CHUNK):
            stage1, stage2 = model.generate_stages(encode_captions(captions[start : start + CHUNK]), generator)
            fakes.append(stage2.cpu())
            low.append(stage1.cpu())
        fakes = [torch.cat(fakes)]  # joined once: every score below reads all of stage II
        if config.data == "shapes":
            scores["caption_match"] = caption_match(classifier, fakes[0], captions)
            scores["caption_match_real"] = caption_match(classifier, test.images, test.captions)
            scores.update(layout_match(fakes[0], captions))
            scores.update({f"{k}_real": v for k, v in layout_match(test.images, test.captions).items()})
        stage1 = F.interpolate(torch.cat(low), size=info.image_size, mode="bilinear", align_corners=False)
        scores["sharpness_stage1"] = sharpness(stage1)
        scores["sharpness_stage2"] = sharpness(fakes[0])
        scores["sharpness_real"] = sharpness(test.images)
    else:
        for start in range(0, num, CHUNK):
            fakes.append(model.generate(min(CHUNK, num - start), generator=generator).cpu())
    fake = fakes[0] if len(fakes) == 1 else torch.cat(fakes)  # StackGAN's are joined already
    real = test.images
    if config.data == "stacked-mnist":
        # the MNIST classifier reads one digit per channel: modes, and FID over single digits
        scores.update({f"stacked_{k}": v for k, v in stacked_mnist_modes(classifier, fake).items()})
        real, fake = real.flatten(0, 1).unsqueeze(1), fake.flatten(0, 1).unsqueeze(1)
    scores.update(score_images(real, fake, extractor if extractor is not None else classifier))
    scores["classifier_test_accuracy"] = classifier.info.get("test_accuracy")
    write_json_atomic(run.path / "eval.json", scores)
    return scores
