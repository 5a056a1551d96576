"""The settings of one imagegan training run, as a dataclass (``config.json`` in the run directory).

Each field's docstring is its ``--help`` text; ``imagegan train`` makes one flag per field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from runcore.errors import UserError
from runcore.settings import settings_from_json
from runcore.memory import require_memory
from runcore.ranges import SEED, Range, at_least, check_ranges

__all__ = ["RANGES", "RESUMABLE", "TrainConfig", "check_memory"]


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
    checkpoint_minutes: float = 10.0
    """minutes at most between checkpoints, whatever --checkpoint-every says (0: after every step)"""
    log_every: int = 10
    """append a metrics line to metrics.jsonl every this many steps"""

    def validate(self) -> None:
        """``UserError`` for settings that cannot work (model/data names are checked where used):
        numbers outside :data:`RANGES`, and work that cannot fit in the machine's memory."""
        floats = {f.name for f in dataclasses.fields(self) if f.type in ("float", float)}
        for name in RANGES.keys() - floats:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise UserError(f"--{name.replace('_', '-')} {value!r} must be an integer", "pass a whole number")
        check_ranges(self, RANGES)
        check_memory(self)
        if self.precision not in ("auto", "fp32"):
            raise UserError(f"--precision {self.precision!r} is not known", "use auto or fp32")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        return settings_from_json(cls, values, "the run's config.json", ignore=("dataset",))


RANGES: dict[str, Range] = {
    **{name: at_least(1) for name in ("steps", "batch_size", "width", "sample_every", "checkpoint_every", "log_every")},
    **{name: at_least(1) for name in ("d_steps", "z_dim", "limit", "image_size")},  # None: the model's or data's own
    "checkpoint_minutes": at_least(0, "e.g. 10; 0 checkpoints after every step"),
    "seed": SEED,
}
"""The allowed values of every numeric setting."""

FLOAT = 4  # bytes of an activation


def check_memory(config: TrainConfig) -> None:
    """``UserError`` when one training step would need more memory than the machine has.

    A rough bound, and deliberately high: a batch of images at ``width`` channels and full
    resolution through the generator and the discriminator, forward and backward, and the
    players' weights with their gradients and Adam moments. It catches products that explode
    (``--batch-size 10000000``, ``--width 100000``) before anything is allocated, not runs that
    are merely large.
    """
    size = config.image_size or 8  # not resolved yet: the smallest any dataset has, a lower bound
    z_dim = config.z_dim or 100
    activations = FLOAT * 12 * config.batch_size * config.width * size * size
    parameters = FLOAT * 4 * (2000 * config.width**2 + 128 * config.width * z_dim)
    require_memory(
        activations + parameters,
        f"steps of {config.batch_size} images of {size}x{size} at --width {config.width}",
        "lower --batch-size, --width, --image-size or --z-dim",
    )


#: Settings that may change when a run is resumed; the others define the run.
RESUMABLE = {"steps", "device", "compile", "precision", "sample_every", "checkpoint_every", "checkpoint_minutes", "log_every"}
