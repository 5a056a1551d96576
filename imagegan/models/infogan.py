"""InfoGAN (Chen et al. 2016): latent codes the generator must make recoverable from its images.

G's input is noise ``z`` (62), a 10-way categorical code and 2 continuous codes in U(-1, 1).
A head Q on D's shared body predicts the codes from an image; the mutual-information term
(:class:`~imagegan.regularizers.MutualInformation`) is added to both players' losses, so D's body
and Q learn to read the codes and G learns to write them. Architecture of the paper's MNIST
experiment (Table 1), scaled by ``width`` (64) and by the image size (any multiple of 4):
G: FC 1024 → FC 128·(s/4)² → deconv 64 → deconv C; D: conv 64 → conv 128 → FC 1024 → D head / Q
head (FC 128 → codes). Adam: 2e-4 for D and Q, 1e-3 for G.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from imagegan.losses import NonSaturating
from imagegan.models.base import Batch, GANSpec, Grid, ImageGAN, evaluating, frozen, init_dcgan_weights
from imagegan.regularizers import MutualInformation
from runcore.errors import UserError

__all__ = ["CATEGORIES", "CONTINUOUS", "InfoGAN", "LatentCodes"]

CATEGORIES = 10
CONTINUOUS = 2
TRAVERSAL = (-2.0, 2.0)  # the paper sweeps each continuous code beyond its training range


class LatentCodes:
    """A batch of InfoGAN codes: ``categorical`` (B,) indices, ``continuous`` (B, 2) in U(-1, 1)."""

    def __init__(self, categorical: torch.Tensor, continuous: torch.Tensor):
        self.categorical, self.continuous = categorical, continuous

    @classmethod
    def draw(cls, n: int, device: torch.device, generator: torch.Generator | None = None) -> LatentCodes:
        rng_device = generator.device if generator is not None else device
        categorical = torch.randint(CATEGORIES, (n,), generator=generator, device=rng_device).to(device)
        continuous = (torch.rand(n, CONTINUOUS, generator=generator, device=rng_device) * 2 - 1).to(device)
        return cls(categorical, continuous)

    def vector(self, dtype: torch.dtype) -> torch.Tensor:
        return torch.cat([F.one_hot(self.categorical, CATEGORIES).to(dtype), self.continuous.to(dtype)], dim=1)


class InfoGenerator(nn.Module):
    def __init__(self, in_dim: int, channels: int, size: int, width: int):
        super().__init__()
        self.base = size // 4
        self.fc = nn.Sequential(
            nn.Linear(in_dim, 16 * width),
            nn.BatchNorm1d(16 * width),
            nn.ReLU(True),
            nn.Linear(16 * width, 2 * width * self.base**2),
            nn.BatchNorm1d(2 * width * self.base**2),
            nn.ReLU(True),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(latent).view(latent.shape[0], -1, self.base, self.base))


class InfoDiscriminator(nn.Module):
    """Shared body, then ``(logit (B,), categorical logits (B, 10), continuous means (B, 2))``."""

    def __init__(self, channels: int, size: int, width: int):
        super().__init__()
        base = size // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.LeakyReLU(0.1, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.1, True),
            nn.Flatten(),
            nn.Linear(2 * width * base**2, 16 * width),
            nn.BatchNorm1d(16 * width),
            nn.LeakyReLU(0.1, True),
        )
        self.d_head = nn.Linear(16 * width, 1)
        self.q_head = nn.Sequential(
            nn.Linear(16 * width, 2 * width),
            nn.BatchNorm1d(2 * width),
            nn.LeakyReLU(0.1, True),
            nn.Linear(2 * width, CATEGORIES + CONTINUOUS),
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = self.body(images)
        q = self.q_head(hidden)
        return self.d_head(hidden).squeeze(1), q[:, :CATEGORIES], q[:, CATEGORIES:]


class InfoGAN(ImageGAN):
    """InfoGAN with one 10-way categorical and two continuous codes; ``z_dim`` counts the noise only (62)."""

    name = "infogan"
    default_z_dim = 62

    @classmethod
    def check_image_size(cls, size: int) -> None:
        if size % 4 or not 8 <= size <= 64:
            raise UserError(
                f"model infogan cannot make {size}x{size} images (it needs a multiple of 4 from 8 to 64)",
                "pass --image-size 28 or 32",
            )

    def __init__(self, spec: GANSpec):
        super().__init__(spec)
        self.generator = InfoGenerator(spec.z_dim + CATEGORIES + CONTINUOUS, spec.channels, spec.image_size, spec.width)
        self.discriminator = InfoDiscriminator(spec.channels, spec.image_size, spec.width)
        init_dcgan_weights(self)
        self.objective = NonSaturating()
        # The paper: λ = 1 for discrete codes, "a smaller λ" for continuous ones. At 1.0 the
        # continuous codes took over class changes (sweeping one turned 9s into 4s on MNIST).
        self.information = MutualInformation(categorical_weight=1.0, continuous_weight=0.1)
        self.finish_init()

    def make_optimizers(self):
        return (
            torch.optim.Adam(self.generator.parameters(), lr=1e-3, betas=(0.5, 0.999)),
            torch.optim.Adam(self.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999)),
        )

    def latent(self, z: torch.Tensor, codes: LatentCodes) -> torch.Tensor:
        return torch.cat([z, codes.vector(z.dtype)], dim=1)

    def _draw(self, batch: Batch) -> tuple[torch.Tensor, LatentCodes]:
        n = batch.images.shape[0]
        z = batch.z if batch.z is not None else self.noise(n)
        return z, LatentCodes.draw(n, self.device)

    def d_step(self, batch: Batch) -> dict[str, Any]:
        real = batch.images
        z, codes = self._draw(batch)
        with torch.no_grad(), self.autocast():
            fake = self.paths.g_fast(self.latent(z, codes))
        with self.autocast():
            real_logits, _, _ = self.paths.d_train(real)
            fake_logits, cat_logits, cont_mean = self.paths.d_train(fake)
        adversarial = self.objective.d_loss(real_logits, fake_logits)
        information = self.information(cat_logits, codes.categorical, cont_mean, codes.continuous)
        self.update(self.d_optimizer, adversarial + information)
        return {"d_loss": adversarial.detach(), "d_info_loss": information.detach()}

    def g_step(self, batch: Batch) -> dict[str, Any]:
        z, codes = self._draw(batch)
        with frozen(self.discriminator), self.autocast():
            fake_logits, cat_logits, cont_mean = self.paths.d_fast(self.paths.g_train(self.latent(z, codes)))
        adversarial = self.objective.g_loss(fake_logits)
        information = self.information(cat_logits, codes.categorical, cont_mean, codes.continuous)
        self.update(self.g_optimizer, adversarial + information)
        code_accuracy = (cat_logits.argmax(1) == codes.categorical).float().mean()
        return {"g_loss": adversarial.detach(), "g_info_loss": information.detach(), "q_accuracy": code_accuracy.detach()}

    @torch.no_grad()
    def generate(self, n, labels=None, captions=None, generator=None, codes: LatentCodes | None = None):
        """``labels`` (optional) set the categorical code; ``codes`` set all codes."""
        if codes is None:
            codes = LatentCodes.draw(n, self.device, generator)
            if labels is not None:
                codes.categorical = labels.to(self.device)
        with evaluating(self.generator), self.autocast():
            return self.generator(self.latent(self.noise(n, generator), codes)).float().clamp(-1, 1)

    def sample_grid(self, seed: int = 0, columns: int = 10, code: int = 0, **_: Any) -> Grid:
        """The code traversal: rows = categorical code, columns = continuous code ``code`` swept
        over [-2, 2] with the other continuous code at 0 and one noise vector for the whole grid."""
        generator = torch.Generator().manual_seed(seed)
        n = CATEGORIES * columns
        z = self.noise(1, generator).expand(n, -1)
        continuous = torch.zeros(n, CONTINUOUS, device=self.device)
        continuous[:, code] = torch.linspace(*TRAVERSAL, columns, device=self.device).repeat(CATEGORIES)
        codes = LatentCodes(torch.arange(CATEGORIES, device=self.device).repeat_interleave(columns), continuous)
        with evaluating(self.generator), self.autocast(), torch.no_grad():
            images = self.generator(self.latent(z, codes)).float().clamp(-1, 1)
        return Grid(images, nrow=columns, captions=[f"c{i}" for i in range(CATEGORIES)])
