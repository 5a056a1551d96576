"""Training an image GAN: data in memory, the shared adversarial loop, the books.

The model does the updates (:meth:`~imagegan.models.ImageGAN.d_step`, ``g_step``); the schedule
(how many D steps per G step) comes from the model; the loop is :func:`runcore.run_adversarial`.
What is left here is bookkeeping: batches, the JSONL log, sample grids and loss curves; the
checkpoints with everything ``--resume`` needs are ``runcore.Checkpointer``'s.

One *step* is one generator update (one round of the loop) with its discriminator updates.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from imagegan.config import TrainConfig
from imagegan.data import ImageDataset, load_dataset, save_grid
from imagegan.data.dataset import DEFAULT_IMAGE_SIZES
from imagegan.models import Batch, GANSpec, Grid, ImageGAN, build_model, model_class
from imagegan.models.text import encode_captions
from runcore import (
    LATEST,
    Checkpointer,
    Interrupted,
    RunDir,
    make_progress,
    plot_curves,
    require_finite_metrics,
    run_adversarial,
    stop_requested,
)
from runcore.errors import CheckpointError, UserError
from runcore.settings import settings_from_json

__all__ = ["LATEST", "DataInfo", "Trainer", "TrainingData", "build_for_run", "load_training_data", "recorded_step", "resolve_image_size"]

FINAL = "final"
# Datasets up to this size stay on the GPU for the whole run; bigger ones are copied per batch.
RESIDENT_BYTES = 2 * 2**30
SAMPLE_CAPTIONS = 8
_NOT_PLOTTED = {"step", "time", "seconds", "images_per_s"}


@dataclass
class DataInfo:
    """What a run needs to know about its data without loading it (``config.json["dataset"]``)."""

    name: str
    image_size: int
    channels: int
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    sample_captions: list[str] = field(default_factory=list)
    """Captions for StackGAN's sample grids (the first distinct ones of the training set)."""

    @classmethod
    def of(cls, dataset: ImageDataset) -> DataInfo:
        captions = list(dict.fromkeys(dataset.captions or []))[:SAMPLE_CAPTIONS]
        return cls(dataset.name, dataset.images.shape[-1], dataset.images.shape[1], dataset.num_classes, list(dataset.class_names), captions)


@dataclass
class TrainingData:
    """The training set as tensors (on the GPU when small enough)."""

    images: torch.Tensor
    labels: torch.Tensor | None
    captions: torch.Tensor | None
    """``(N, L)`` character ids."""

    def __len__(self) -> int:
        return self.images.shape[0]

    channels_last: bool = False
    """Hand out images in channels-last memory (convolutional models on CUDA)."""

    @classmethod
    def of(cls, dataset: ImageDataset, device: torch.device, channels_last: bool = False) -> TrainingData:
        """The dataset's tensors: on ``device`` if it is a GPU and they fit, else pinned for fast copies."""
        tensors = [dataset.images, dataset.labels, encode_captions(dataset.captions) if dataset.captions else None]
        if device.type == "cuda":
            resident = dataset.images.nbytes <= RESIDENT_BYTES
            tensors = [t if t is None else (t.to(device) if resident else t.pin_memory()) for t in tensors]
        return cls(*tensors, channels_last=channels_last and device.type == "cuda")

    def batch(self, indices: torch.Tensor, device: torch.device) -> Batch:
        def take(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            return t[indices.to(t.device)].to(device, non_blocking=True)

        images = take(self.images)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return Batch(images, take(self.labels), take(self.captions))


def resolve_image_size(config: TrainConfig) -> int:
    """``--image-size``, else the dataset's own size if the model can take it, else the
    model's nearest size (MNIST's 28 becomes 32 for DCGAN)."""
    cls = model_class(config.model)
    if config.image_size is not None:
        cls.check_image_size(config.image_size)
        return config.image_size
    native = DEFAULT_IMAGE_SIZES.get(config.data, 64)
    for size in (native, *sorted({16, 28, 32, 64, 128}, key=lambda s: (s < native, abs(s - native)))):
        try:
            cls.check_image_size(size)
        except UserError:
            continue
        return size
    raise AssertionError(f"no image size fits {config.model}")


def load_training_data(config: TrainConfig, image_size: int) -> tuple[ImageDataset, DataInfo]:
    """Load the training split and check that the model can use it (labels, captions)."""
    cls = model_class(config.model)
    dataset = load_dataset(config.data, config.data_dir, image_size, split="train", limit=config.limit, seed=config.seed)
    if cls.needs == "labels" and (dataset.labels is None or dataset.num_classes < 2):
        raise UserError(
            f"model {config.model} needs class labels but dataset {config.data} has none",
            "use mnist, fashion-mnist, shapes, emoji, stacked-mnist or a folder with class subfolders",
        )
    if cls.needs == "captions" and not dataset.captions:
        raise UserError(
            f"model {config.model} needs captions but dataset {config.data} has none",
            "use shapes or emoji, or a folder with a captions.txt",
        )
    return dataset, DataInfo.of(dataset)


def build_for_run(config: TrainConfig, info: DataInfo) -> ImageGAN:
    """The model of a run, freshly initialised (seeded by ``config.seed``)."""
    cls = model_class(config.model)
    torch.manual_seed(config.seed)
    spec = GANSpec(info.image_size, info.channels, info.num_classes, config.z_dim or cls.default_z_dim, config.width)
    return build_model(config.model, spec)


def grid_captions(grid: Grid, info: DataInfo) -> list[str] | None:
    """A grid's captions, with conditional rows named by their class."""
    if grid.row_classes is not None and info.class_names:
        return [info.class_names[c] for c in grid.row_classes]
    return grid.captions


def write_grid(model: ImageGAN, info: DataInfo, path: Path, seed: int = 0, **conditioning: Any) -> Path:
    """Write ``model``'s sample grid (see each model's ``sample_grid``) as a PNG."""
    if model.needs == "captions":
        conditioning.setdefault("captions", info.sample_captions)
    grid = model.sample_grid(seed=seed, **conditioning)
    captions = grid_captions(grid, info)
    save_grid(grid.images, path, nrow=grid.nrow, captions=captions, caption_axis="row" if captions else "auto")
    return path


class Trainer:
    """Runs (or continues) one training run.

    Args:
        config: the run's settings.
        model: the model, already on its device (see :meth:`ImageGAN.accelerate`).
        data: the training set.
        info: what the run knows about its data.
        run: the run directory; None on DDP ranks other than 0, which write nothing.
        rank: this process's DDP rank (0 without DDP); ranks draw different batches and noise.
        world_size: number of DDP processes.
        quiet: no progress bar.
    """

    def __init__(
        self,
        config: TrainConfig,
        model: ImageGAN,
        data: TrainingData,
        info: DataInfo,
        run: RunDir | None,
        rank: int = 0,
        world_size: int = 1,
        quiet: bool = False,
    ):
        self.config, self.model, self.data, self.info, self.run = config, model, data, info, run
        self.rank, self.world_size, self.quiet = rank, world_size, quiet
        self.device = model.device
        self.step = 0
        # batches are drawn where the data lies: indices drawn on the CPU for GPU-resident data
        # would be copied over each step, and that copy waits for the GPU to finish its queue
        self.batches = torch.Generator(device=data.images.device).manual_seed(config.seed * 1000 + rank)
        torch.manual_seed(config.seed * 1000 + rank + 1)  # the models' noise: per rank
        self._window = (time.perf_counter(), 0)
        self.books = None if run is None else Checkpointer(run, model.checkpoint_items, {"batch_rng": self.batches}, self.device)

    # -- batches ------------------------------------------------------------------------------

    def next_batch(self) -> Batch:
        indices = torch.randint(len(self.data), (self.config.batch_size,), generator=self.batches, device=self.batches.device)
        return self.data.batch(indices, self.device)

    # -- checkpoints --------------------------------------------------------------------------

    def save(self, *names: str) -> None:
        """Write the training state under each name (then its grid and curves), and as ``latest``."""
        if self.books is not None:
            self.books.save({"step": self.step}, names, outputs=self.write_outputs)

    def load(self, name: str = LATEST, source: RunDir | None = None) -> None:
        """Restore weights, optimisers, the step and the random streams from checkpoint ``name``
        of the trainer's run, or of ``source`` when it has none (DDP ranks other than 0 read it)."""
        books = self.books or Checkpointer(source, self.model.checkpoint_items, {"batch_rng": self.batches}, self.device, read_only=True)
        position, reseeded = books.load(name)
        if not isinstance(position.get("step"), int) or position["step"] < 0:
            raise CheckpointError(f"checkpoint {name} of {self.run.path} holds no valid step ({position})", "resume from an earlier checkpoint, or train again")
        self.step = position["step"]
        if "batch_rng" in reseeded:  # saved on another kind of device, whose generator state this one cannot take
            self.batches.manual_seed(self.config.seed * 1000 + self.rank + 7919 * self.step)
        if self.world_size > 1:  # rank 0's streams were saved; the others must not repeat them
            self.batches.manual_seed(self.config.seed * 1000 + self.rank + 7919 * self.step)
            torch.manual_seed(self.config.seed * 1000 + self.rank + 1 + 7919 * self.step)

    # -- the run ------------------------------------------------------------------------------

    def train(self) -> None:
        """Train until ``config.steps``; write the final checkpoint, grid and curves."""
        schedule = self.model.schedule(self.config.steps, self.config.d_steps)
        self._window = (time.perf_counter(), self.step)
        with make_progress(disable=self.quiet or self.rank != 0) as progress:
            run_adversarial(
                schedule,
                lambda _r: self.model.g_step(self.next_batch()),
                lambda _r: self.model.d_step(self.next_batch()),
                self._on_step_end,
                start_round=self.step,
                progress=progress,
                description=self.model.name,
            )
        self.save(FINAL)

    def _on_step_end(self, round_index: int, metrics: dict[str, Any]) -> None:
        self.step = round_index + 1
        config = self.config
        if self.step % config.log_every == 0 and self.run is not None:
            start, start_step = self._window
            now = time.perf_counter()
            steps = self.step - start_step
            d_steps = sum(self.model.schedule(config.steps, config.d_steps).d_steps_at(r) for r in range(start_step, self.step))
            images = d_steps * config.batch_size * self.world_size
            self._window = (now, self.step)
            record = {"step": self.step, **metrics, "seconds": (now - start) / max(steps, 1), "images_per_s": images / max(now - start, 1e-9)}
            record = {k: _plain(v) for k, v in record.items()}
            require_finite_metrics(record, f"step {self.step}")
            self.run.log(record)
        if self.step % config.sample_every == 0:
            self.write_outputs(f"step-{self.step:06d}")
        stopping = stop_requested()
        overdue = self.books is not None and self.books.overdue(config.checkpoint_minutes)
        if self.step % config.checkpoint_every == 0 or stopping or overdue:
            self.save()
        if stopping:
            raise Interrupted(self.run.path if self.run is not None else ".", f"after step {self.step}")

    def write_outputs(self, name: str) -> None:
        """The sample grid ``samples/<name>.png`` and the curves ``plots/losses.png``."""
        if self.run is None:
            return
        write_grid(self.model, self.info, self.run.samples / f"{name}.png", seed=self.config.seed)
        records = self.run.read_log()
        keys = list(dict.fromkeys(k for r in records for k, v in r.items() if k not in _NOT_PLOTTED and isinstance(v, (int, float))))
        if keys:
            plot_curves(records, keys, self.run.plots / "losses.png", title=f"{self.config.model} on {self.config.data}")


def _plain(value: Any) -> Any:
    """Metrics as JSON numbers, rounded to 6 significant digits."""
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def recorded_step(metadata: dict[str, str]) -> int | None:
    """The step a checkpoint's metadata records (its position; ``step`` in older checkpoints)."""
    try:
        if "position" in metadata:
            return int(json.loads(metadata["position"])["step"])
        return int(metadata["step"]) if "step" in metadata else None
    except (ValueError, KeyError, TypeError):
        return None


def read_info(config_json: dict[str, Any]) -> DataInfo:
    """The :class:`DataInfo` stored in a run's ``config.json``."""
    return settings_from_json(DataInfo, config_json.get("dataset"), "the run's config.json (its dataset)")


def config_record(config: TrainConfig, info: DataInfo) -> dict[str, Any]:
    """What ``config.json`` holds: the settings plus the data description."""
    return {**config.to_dict(), "dataset": json.loads(json.dumps(info.__dict__))}
