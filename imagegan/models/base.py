"""What every image GAN shares: its spec, a batch, the optimiser step, and the fast paths.

A model is an ``nn.Module`` holding ``generator`` and ``discriminator`` and their optimisers, and
owns its training step: ``d_step(batch)`` and ``g_step(batch)`` each make one update and return
metrics. The trainer only decides when to call them.

Fast paths (:meth:`ImageGAN.accelerate`, kept in ``model.paths``): the forward passes of the
steps go through ``paths.g_fast``/``paths.d_fast`` (compiled when asked) and, for the module
being updated, ``paths.g_train``/``paths.d_train`` (additionally DDP-wrapped under torchrun). The module not being updated is called
without DDP and with its parameters frozen, so DDP only ever sees backward passes that reach all
of its parameters. Whatever needs a double backward (the gradient penalty) calls the eager module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from runcore import AdversarialSchedule, autocast, maybe_compile
from runcore.errors import UserError

__all__ = ["Batch", "FastPaths", "GANSpec", "Grid", "ImageGAN", "UnconditionalGAN", "evaluating", "frozen", "init_dcgan_weights"]


@dataclass
class GANSpec:
    """The shape of the data a model is built for, and its size."""

    image_size: int
    """Height and width of the images (square)."""
    channels: int = 1
    """1 (grey) or 3 (RGB)."""
    num_classes: int = 0
    """Number of labels (conditional models); 0 for unlabelled data."""
    z_dim: int = 100
    """Length of the noise vector."""
    width: int = 64
    """Base channel count (DCGAN's ngf/ndf) or hidden-size unit of the MLPs; small in tests."""


@dataclass
class Batch:
    """One training batch, on the model's device."""

    images: torch.Tensor
    """``(B, C, H, W)`` in ``[-1, 1]``."""
    labels: torch.Tensor | None = None
    """``(B,)`` int64 class indices, for label-conditioned models."""
    captions: torch.Tensor | None = None
    """``(B, L)`` int64 character ids (see :mod:`imagegan.models.text`), for text-conditioned models."""
    z: torch.Tensor | None = None
    """The noise to use; drawn by the model when None (tests pass it to compare runs)."""


@dataclass
class Grid:
    """Images to lay out as a sample grid."""

    images: torch.Tensor
    """``(N, C, H, W)`` in ``[-1, 1]``, row-major."""
    nrow: int
    """Images per row."""
    captions: list[str] | None = None
    """One caption per row, or None."""
    row_classes: list[int] | None = None
    """The class each row shows (conditional grids); turned into captions with the class names."""


@dataclass
class FastPaths:
    """The callables the training steps run the players through (see the module docstring).

    A plain object, not an ``nn.Module``, so that the wrappers are not registered as sub-modules
    (they would duplicate every parameter in ``state_dict``)."""

    g_fast: Any
    g_train: Any
    d_fast: Any
    d_train: Any


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Parameters of ``module`` need no gradient inside the block (the other player's step)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al. 2016: conv weights from N(0, 0.02); batch-norm scales from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class ImageGAN(nn.Module):
    """Base class: generator, discriminator, their optimisers and the fast paths.

    Subclasses set the class attributes, build ``self.generator`` and ``self.discriminator`` in
    ``__init__`` and call :meth:`finish_init`, then define :meth:`d_step`, :meth:`g_step`,
    :meth:`generate` and :meth:`sample_grid`.
    """

    name: ClassVar[str] = ""
    needs: ClassVar[str | None] = None
    """``"labels"`` or ``"captions"`` when the model is conditional."""
    default_z_dim: ClassVar[int] = 100
    convolutional: ClassVar[bool] = True
    """Convolutional models use channels-last memory on CUDA."""

    generator: nn.Module
    discriminator: nn.Module
    trained_steps: int | None = None
    """Generator updates behind the weights, when they were loaded from a checkpoint that says."""

    def __init__(self, spec: GANSpec):
        super().__init__()
        self.check_spec(spec)
        self.spec = spec

    # -- what the model can take --------------------------------------------------------------

    @classmethod
    def check_image_size(cls, size: int) -> None:
        """Raise ``UserError`` if the architecture cannot make images of this size."""
        if size < 4:
            raise UserError(f"--image-size {size} is too small for {cls.name}", "use 16 or more")

    @classmethod
    def check_spec(cls, spec: GANSpec) -> None:
        cls.check_image_size(spec.image_size)
        if cls.needs == "labels" and spec.num_classes < 2:
            raise UserError(
                f"model {cls.name} needs class labels but the dataset has none",
                "use a labelled dataset (mnist, fashion-mnist, shapes, stacked-mnist, emoji) or another model",
            )

    # -- set-up -------------------------------------------------------------------------------

    def finish_init(self) -> None:
        """Make the optimisers and plain (eager, local) fast paths; call at the end of __init__."""
        self.g_optimizer, self.d_optimizer = self.make_optimizers()
        self.paths = FastPaths(self.generator, self.generator, self.discriminator, self.discriminator)
        self.use_autocast = False

    def make_optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """(G's, D's) optimiser; DCGAN's Adam(2e-4, β=(0.5, 0.999)) unless a model says otherwise."""
        return (
            torch.optim.Adam(self.generator.parameters(), lr=2e-4, betas=(0.5, 0.999)),
            torch.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999)),
        )

    def schedule(self, steps: int, d_steps: int | None = None) -> AdversarialSchedule:
        """``steps`` generator updates, each after ``d_steps`` (default 1) discriminator updates."""
        return AdversarialSchedule(rounds=steps, g_steps=1, d_steps=d_steps or 1, d_first=True)

    def accelerate(
        self, device: torch.device, compile: bool = False, ddp: bool = False, precision: str = "auto"
    ) -> ImageGAN:
        """Move to ``device`` and set up the fast paths (call once, before training).

        Args:
            device: where to train.
            compile: ``torch.compile`` G and D (not what needs a double backward).
            ddp: wrap the updated module in ``DistributedDataParallel`` (the process group must
                be initialised).
            precision: ``"auto"`` (bf16 autocast on CUDA) or ``"fp32"``.
        """
        self.to(device)
        if device.type == "cuda" and self.convolutional:
            self.to(memory_format=torch.channels_last)
        self.use_autocast = precision == "auto"
        g_fast = maybe_compile(self.generator, compile)
        d_fast = maybe_compile(self.discriminator, compile)
        self.paths = FastPaths(g_fast, g_fast, d_fast, d_fast)
        if ddp:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [device.index] if device.type == "cuda" else None
            self.paths.g_train = DistributedDataParallel(g_fast, device_ids=device_ids)
            self.paths.d_train = DistributedDataParallel(d_fast, device_ids=device_ids)
        # optimiser state (after a resume) follows the parameters
        for optimizer in (self.g_optimizer, self.d_optimizer):
            for state in optimizer.state.values():
                for key, value in state.items():
                    if isinstance(value, torch.Tensor) and value.device != device and key != "step":
                        state[key] = value.to(device)
        return self

    # -- helpers for steps --------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on CUDA (unless fp32 was asked for); nothing elsewhere."""
        return autocast(self.device, enabled=self.use_autocast)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(n, z_dim)`` standard normal noise on the model's device."""
        return torch.randn(n, self.spec.z_dim, generator=generator, device=_rng_device(generator, self.device)).to(self.device)

    @staticmethod
    def update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def checkpoint_items(self) -> dict[str, Any]:
        """What a checkpoint holds: both networks and both optimisers."""
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "g_optimizer": self.g_optimizer,
            "d_optimizer": self.d_optimizer,
        }

    # -- to be defined by each model ----------------------------------------------------------

    def d_step(self, batch: Batch) -> dict[str, Any]:
        raise NotImplementedError

    def g_step(self, batch: Batch) -> dict[str, Any]:
        raise NotImplementedError

    def generate(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        captions: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` images in ``[-1, 1]`` (eval mode, no gradients)."""
        raise NotImplementedError

    def sample_grid(self, seed: int = 0, **conditioning: Any) -> Grid:
        """The grid written every N steps and by ``imagegan sample``."""
        raise NotImplementedError


class UnconditionalGAN(ImageGAN):
    """The plain adversarial step shared by GAN, DCGAN, WGAN and WGAN-GP.

    What differs between them are objects: the objective, an optional penalty added to D's loss
    (``penalty(critic, real, fake)``) and an optional constraint applied to D after each update
    (``constraint(D)``).
    """

    objective: Any = None
    penalty: Any = None
    constraint: Any = None

    def d_step(self, batch: Batch) -> dict[str, Any]:
        real = batch.images
        z = batch.z if batch.z is not None else self.noise(real.shape[0])
        with torch.no_grad(), self.autocast():
            fake = self.paths.g_fast(z)
        with self.autocast():
            real_logits, fake_logits = self.paths.d_train(real), self.paths.d_train(fake)
        loss = self.objective.d_loss(real_logits, fake_logits)
        metrics: dict[str, Any] = {"d_loss": loss.detach()}
        if self.penalty is not None:
            penalty = self.penalty(self.discriminator, real, fake)
            loss = loss + penalty
            metrics["gradient_penalty"] = penalty.detach()
        self.update(self.d_optimizer, loss)
        if self.constraint is not None:
            self.constraint(self.discriminator)
        # E[D(x)] - E[D(G(z))]: WGAN's estimate of the Wasserstein distance; D's margin otherwise
        metrics["d_gap"] = (real_logits.float().mean() - fake_logits.float().mean()).detach()
        return metrics

    def g_step(self, batch: Batch) -> dict[str, Any]:
        z = batch.z if batch.z is not None else self.noise(batch.images.shape[0])
        with frozen(self.discriminator), self.autocast():
            loss = self.objective.g_loss(self.paths.d_fast(self.paths.g_train(z)))
        self.update(self.g_optimizer, loss)
        return {"g_loss": loss.detach()}

    @torch.no_grad()
    def generate(self, n, labels=None, captions=None, generator=None):
        with evaluating(self.generator), self.autocast():
            return self.generator(self.noise(n, generator)).float().clamp(-1, 1)

    def sample_grid(self, seed: int = 0, **conditioning: Any) -> Grid:
        generator = torch.Generator().manual_seed(seed)
        return Grid(self.generate(64, generator=generator), nrow=8)


@contextlib.contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """``module`` in eval mode inside the block (batch norm uses its running statistics)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _rng_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    """Draw on the generator's device (a CPU generator keeps samples equal across devices)."""
    return generator.device if generator is not None else device
