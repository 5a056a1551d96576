"""The settings of one imagegan training run, as a dataclass (``config.json`` in the run directory).

Each field's docstring is its ``--help`` text; ``imagegan train`` makes one flag per field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from runcore.errors import UserError

__all__ = ["RESUMABLE", "TrainConfig"]


@dataclass
class TrainConfig:
    """What ``imagegan train`` was asked to do."""

    model: str = "dcgan"
    """gan, cgan, dcgan, infogan, stackgan, wgan or wgan-gp"""
    data: str = "mnist"
    """mnist, fashion-mnist, emoji, shapes, folder or stacked-mnist"""
    data_dir: str | None = None
    """where the dataset's files are (not needed for shapes)"""
    image_size: int | None = None
    """side of the square images (default: the dataset's, or the nearest the model can make: 32 for MNIST with dcgan, wgan, wgan-gp)"""
    limit: int | None = None
    """use at most this many training images"""
    steps: int = 10_000
    """generator updates"""
    batch_size: int = 64
    """images per update (per process under torchrun)"""
    d_steps: int | None = None
    """discriminator updates per generator update (default: the model's; WGAN 5, 100 early)"""
    width: int = 64
    """base channel count / MLP width unit (the papers' 64)"""
    z_dim: int | None = None
    """noise dimensions (default: the model's; 62 for infogan, else 100)"""
    seed: int = 0
    """seeds the weights, the noise and the batches"""
    device: str = "auto"
    """auto, cpu, cuda or cuda:N"""
    compile: bool = False
    """torch.compile the players (the gradient penalty stays eager)"""
    precision: str = "auto"
    """auto (bf16 autocast on CUDA) or fp32"""
    sample_every: int = 500
    """write a sample grid and the loss curves every this many steps"""
    checkpoint_every: int = 1000
    """write a checkpoint every this many steps"""
    log_every: int = 10
    """append a metrics line to metrics.jsonl every this many steps"""

    def validate(self) -> None:
        """``UserError`` for settings that cannot work (model/data names are checked where used)."""
        positive = ("steps", "batch_size", "width", "sample_every", "checkpoint_every", "log_every")
        for name in positive + ("d_steps", "z_dim", "limit", "image_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise UserError(f"--{name.replace('_', '-')} {value!r} must be a positive integer", "pass 1 or more")
        if self.precision not in ("auto", "fp32"):
            raise UserError(f"--precision {self.precision!r} is not known", "use auto or fp32")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


#: Settings that may change when a run is resumed; the others define the run.
RESUMABLE = {"steps", "device", "compile", "precision", "sample_every", "checkpoint_every", "log_every"}


