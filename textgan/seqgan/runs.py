"""Creating a run directory for a new run, and reopening one to resume or sample from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from runcore import RunDir, load_modules, load_tensors, save_tensors
from textgan.data import Tokenizer, load_tokenizer
from textgan.data.labels import ClassLabels
from runcore.errors import CheckpointError
from textgan.models import Generator
from textgan.seqgan.config import SeqGANConfig
from textgan.seqgan.prepare import PreparedData

DATA_FILE = "data.safetensors"
TOKENIZER_DIR = "tokenizer"


@dataclass
class OpenedRun:
    run: RunDir
    config: SeqGANConfig
    tokenizer: Tokenizer
    train: torch.Tensor
    test: torch.Tensor
    labels: ClassLabels | None = None
    """the classes of a conditional run"""
    val: torch.Tensor | None = None
    """the validation rows held out of the training split (a run with ``--val-fraction``)"""


def write_run(run: RunDir, config: SeqGANConfig, data: PreparedData) -> None:
    """Write what a new run holds besides checkpoints: the config, the tokenizer and the encoded
    splits (kept so that a resumed run trains on exactly the same data, never preparing it again):
    ``train`` and ``test``, and ``val`` (the validation rows, out of the training split) when the
    run has them; a conditional run's classes as ``train_labels``, ``test_labels``, ``val_labels``."""
    run.write_config(config.to_dict())
    data.tokenizer.save(run.path / TOKENIZER_DIR)
    tensors, metadata = {"train": data.train, "test": data.test}, {"source": data.source}
    if data.val is not None:
        tensors["val"] = data.val
    if data.labels is not None:
        tensors.update(train_labels=data.labels.train, test_labels=data.labels.test)
        if data.labels.val is not None:
            tensors["val_labels"] = data.labels.val
        metadata.update(data.labels.metadata())
    save_tensors(run.path / DATA_FILE, tensors, metadata)


def create_run(path: str | Path, config: SeqGANConfig, data: PreparedData) -> RunDir:
    """A new run directory at ``path`` (made at once, its lock held) holding ``write_run``'s files."""
    run = RunDir.create(path)
    write_run(run, config, data)
    return run


def open_run(path: str | Path) -> OpenedRun:
    run = RunDir.open(path)
    config = SeqGANConfig.from_dict(run.read_config())
    tokenizer = load_tokenizer(run.path / TOKENIZER_DIR)
    if not (run.path / DATA_FILE).is_file():
        raise CheckpointError(f"{run.path} lacks its encoded data ({DATA_FILE})", "restore the file, or start a new run")
    tensors, metadata = load_tensors(run.path / DATA_FILE)
    if "train" not in tensors or "test" not in tensors:
        raise CheckpointError(f"{run.path / DATA_FILE} has no train/test data", "start a new run")
    labels = ClassLabels.from_saved(tensors, metadata) if config.conditional else None
    if config.conditional and labels is None:
        raise CheckpointError(f"{run.path / DATA_FILE} has no class labels but the run is conditional", "start a new run")
    val = tensors.get("val")
    if config.val_fraction and (val is None or (labels is not None and labels.val is None)):
        raise CheckpointError(f"{run.path / DATA_FILE} has no validation rows but the run has --val-fraction", "start a new run")
    return OpenedRun(run, config, tokenizer, tensors["train"], tensors["test"], labels, val)


def best_checkpoint(run: RunDir) -> Path:
    """The final checkpoint if the run finished, else the latest one."""
    for name in ("final", "latest"):
        path = run.checkpoint_path(name)
        if path.exists():
            return path
    raise CheckpointError(f"{run.path} has no checkpoint yet", "train it first, or resume it with textgan train --resume")


def load_generator(opened: OpenedRun, generator: Generator, path: Path | None = None, device="cpu") -> Path:
    path = path or best_checkpoint(opened.run)
    load_modules(path, {"generator": generator}, device=device)
    return path


def run_generator(opened: OpenedRun, checkpoint: str | None = None, device="cpu") -> tuple[Generator, Path]:
    """The run's generator loaded from checkpoint ``checkpoint`` (a name; default final, else latest)."""
    from textgan.gans import GANS  # (they import the trainer, which imports this module)
    from textgan.gans.base import reward_context
    from textgan.seqgan.trainer import build_generator

    path = opened.run.named_checkpoint(checkpoint) if checkpoint else None
    gan = GANS.get(opened.config.gan)
    if gan is None or gan.build_agent is None:
        generator = build_generator(opened.config, opened.tokenizer, opened.train.shape[1], opened.labels).to(device)
        return generator, load_generator(opened, generator, path, device)
    # a generator of the GAN's own (LeakGAN's reads D's features): D comes from the checkpoint too
    context = reward_context(opened.config, opened.tokenizer, opened.train, device)
    reward_model = gan.build_reward(context)
    generator = gan.build_agent(context, reward_model).policy
    path = path or best_checkpoint(opened.run)
    models = {name: item for name, item in reward_model.checkpoint_items().items() if isinstance(item, torch.nn.Module)}
    load_modules(path, {"generator": generator, **models}, device=device)
    return generator, path
