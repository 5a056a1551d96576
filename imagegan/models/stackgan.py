"""StackGAN (Zhang et al. 2017): text to image in two stages, with its own text encoder.

- Text: a bidirectional character GRU (:class:`~imagegan.models.text.CharGRUEncoder`) trained with the
  discriminators — the matching-aware loss is what teaches it to tell captions apart; the
  generator reads its output without gradient. No precomputed embeddings.
- Conditioning augmentation: each stage draws ``c ~ N(μ(t), σ(t)²)`` and pays
  :class:`~imagegan.regularizers.ConditioningKL` for straying from N(0, I).
- Stage I: ``(z, c₁)`` → a low-resolution image (half the final size) by upsample-and-convolve.
- Stage II: encodes the stage-I image down to a quarter of the final size, joins ``c₂``, refines
  through residual blocks and upsamples to the final size. Stage I's output is detached, so
  stage I learns only from its own discriminator (the paper trains the stages one after the
  other; here they train side by side, each on its own losses).
- Matching-aware discriminators, one per stage: real image with its caption → real; fake image
  → fake; real image with a mismatched caption → fake (:class:`~imagegan.regularizers.MismatchedPairs`).
  The mismatched caption is each image's hardest negative in the batch (the different caption
  D's text encoder finds nearest), not a random one as in the paper: on ``shapes`` a random
  caption almost always names another position, D rejected those by position alone and G
  drew the right place in the wrong colour and shape (32 px, width 32, seed 0: caption match
  0.305 after 4k steps with random mismatches, 0.740 with hardest negatives; docs/imagegan.md).
Adam(2e-4, 0.5) for both players, as in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from imagegan.losses import NonSaturating
from imagegan.models.base import Batch, GANSpec, Grid, ImageGAN, evaluating, frozen, init_dcgan_weights
from imagegan.models.dcgan import check_power_of_two
from imagegan.models.text import CharGRUEncoder, encode_captions
from imagegan.regularizers import ConditioningKL, MismatchedPairs

__all__ = ["StackGAN"]

TEXT_DIM = 128
CONDITION_DIM = 64
SIZES = (32, 64, 128)


def _up(in_channels: int, out_channels: int) -> nn.Sequential:
    """Double the resolution: nearest upsampling, 3×3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(True),
    )


class ConditioningAugmentation(nn.Module):
    """Text vector -> ``(c, μ, log σ²)`` with ``c = μ + σ ε``."""

    def __init__(self, text_dim: int, condition_dim: int):
        super().__init__()
        self.fc = nn.Linear(text_dim, 2 * condition_dim)

    def forward(self, text: torch.Tensor, generator: torch.Generator | None = None):
        mean, log_var = F.leaky_relu(self.fc(text), 0.2).chunk(2, dim=1)
        rng_device = generator.device if generator is not None else mean.device
        eps = torch.randn(mean.shape, generator=generator, device=rng_device).to(mean.device, mean.dtype)
        return mean + eps * (0.5 * log_var).exp(), mean, log_var


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.net(x))


class StageIGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, low_size: int, width: int):
        super().__init__()
        self.ca = ConditioningAugmentation(TEXT_DIM, CONDITION_DIM)
        self.width = width
        self.fc = nn.Sequential(nn.Linear(z_dim + CONDITION_DIM, 8 * width * 16, bias=False), nn.BatchNorm1d(8 * width * 16), nn.ReLU(True))
        layers, features = [], 8 * width
        for _ in range(low_size.bit_length() - 3):  # 4x4 -> low_size
            layers.append(_up(features, max(features // 2, width)))
            features = max(features // 2, width)
        self.up = nn.Sequential(*layers, nn.Conv2d(features, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z, text, generator=None):
        c, mean, log_var = self.ca(text, generator)
        hidden = self.fc(torch.cat([z, c.to(z.dtype)], dim=1)).view(z.shape[0], 8 * self.width, 4, 4)
        return self.up(hidden), mean, log_var


class StageIIGenerator(nn.Module):
    def __init__(self, channels: int, width: int):
        super().__init__()
        self.ca = ConditioningAugmentation(TEXT_DIM, CONDITION_DIM)
        self.encode = nn.Sequential(
            nn.Conv2d(channels, width, 3, 1, 1),
            nn.ReLU(True),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(True),
        )
        self.join = nn.Sequential(
            nn.Conv2d(2 * width + CONDITION_DIM, 2 * width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(True),
        )
        self.residual = nn.Sequential(ResidualBlock(2 * width), ResidualBlock(2 * width))
        self.up = nn.Sequential(_up(2 * width, width), _up(width, width), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def forward(self, low, text, generator=None):
        c, mean, log_var = self.ca(text, generator)
        hidden = self.encode(low)
        condition = c.to(hidden.dtype)[:, :, None, None].expand(-1, -1, *hidden.shape[2:])
        hidden = self.residual(self.join(torch.cat([hidden, condition], dim=1)))
        return self.up(hidden), mean, log_var


class StackGANGenerator(nn.Module):
    """``(z, text vectors) -> (stage-I image, stage-II image, [(μ, log σ²) per stage])``."""

    def __init__(self, spec: GANSpec):
        super().__init__()
        self.stage1 = StageIGenerator(spec.z_dim, spec.channels, spec.image_size // 2, spec.width)
        self.stage2 = StageIIGenerator(spec.channels, spec.width)

    def forward(self, z, text, generator=None):
        low, mean1, log_var1 = self.stage1(z, text, generator)
        high, mean2, log_var2 = self.stage2(low.detach(), text, generator)
        return low, high, [(mean1, log_var1), (mean2, log_var2)]


class MatchingDiscriminator(nn.Module):
    """``(images, text vectors) -> logits``: strided convs to 4×4, then the compressed text
    replicated over the 4×4 map, a 1×1 and a 4×4 convolution."""

    def __init__(self, channels: int, size: int, width: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        features = width
        for _ in range(size.bit_length() - 4):  # size/2 -> 4
            out = min(features * 2, 8 * width)
            layers += [nn.Conv2d(features, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), nn.LeakyReLU(0.2, True)]
            features = out
        self.image = nn.Sequential(*layers)
        self.text = nn.Sequential(nn.Linear(TEXT_DIM, CONDITION_DIM), nn.LeakyReLU(0.2, True))
        self.joint = nn.Sequential(
            nn.Conv2d(features + CONDITION_DIM, features, 1, 1, 0, bias=False),
            nn.BatchNorm2d(features),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(features, 1, 4, 1, 0),
        )

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        hidden = self.image(images)
        condition = self.text(text).to(hidden.dtype)[:, :, None, None].expand(-1, -1, *hidden.shape[2:])
        return self.joint(torch.cat([hidden, condition], dim=1)).flatten()


class StackGANDiscriminator(nn.Module):
    """The text encoder and both stages' matching-aware discriminators.

    One ``forward`` call scores everything D's step needs (so DDP sees one forward per backward).
    """

    def __init__(self, spec: GANSpec, mismatch: MismatchedPairs):
        super().__init__()
        self.mismatch = mismatch
        self.text = CharGRUEncoder(hidden_dim=TEXT_DIM)
        self.stage1 = MatchingDiscriminator(spec.channels, spec.image_size // 2, spec.width)
        self.stage2 = MatchingDiscriminator(spec.channels, spec.image_size, spec.width)

    def forward(self, real_high, fake_low, fake_high, captions) -> dict[str, torch.Tensor]:
        text = self.text(captions)
        real_low = F.avg_pool2d(real_high, 2)
        logits = {
            "real1": self.stage1(real_low, text),
            "fake1": self.stage1(fake_low, text),
            "real2": self.stage2(real_high, text),
            "fake2": self.stage2(fake_high, text),
        }
        if self.mismatch.weight:
            wrong = self.mismatch.shuffle(text)
            logits.update(wrong1=self.stage1(real_low, wrong), wrong2=self.stage2(real_high, wrong))
        if self.mismatch.hardest_weight:
            hard = text[self.mismatch.hardest(text, captions)]
            logits.update(hard1=self.stage1(real_low, hard), hard2=self.stage2(real_high, hard))
        return logits

    def score(self, low, high, text):
        """Stage I and stage II logits of generated images for given text vectors."""
        return self.stage1(low, text), self.stage2(high, text)


class StackGAN(ImageGAN):
    """Two-stage text-to-image GAN; ``image_size`` is stage II's (stage I makes half of it)."""

    name = "stackgan"
    needs = "captions"

    @classmethod
    def check_image_size(cls, size: int) -> None:
        check_power_of_two(cls.name, size, SIZES)

    def __init__(self, spec: GANSpec):
        super().__init__(spec)
        self.generator = StackGANGenerator(spec)
        # Hardest negatives only: adding the paper's random ones as well changed nothing at 2k
        # steps (caption match 0.452 vs 0.443, position 0.607 vs 0.617) for a third more D work.
        self.mismatch = MismatchedPairs(weight=0.0, hardest_weight=0.5)
        self.discriminator = StackGANDiscriminator(spec, self.mismatch)
        init_dcgan_weights(self.generator)
        init_dcgan_weights(self.discriminator.stage1)
        init_dcgan_weights(self.discriminator.stage2)
        self.objective = NonSaturating()
        self.kl = ConditioningKL(weight=2.0)
        self.finish_init()

    def _text(self, captions: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.discriminator.text(captions)

    def d_step(self, batch: Batch) -> dict[str, Any]:
        real, captions = batch.images, batch.captions
        z = batch.z if batch.z is not None else self.noise(real.shape[0])
        with torch.no_grad(), self.autocast():
            fake_low, fake_high, _ = self.paths.g_fast(z, self._text(captions))
        with self.autocast():
            logits = self.paths.d_train(real, fake_low, fake_high, captions)
        losses = {}
        for stage in ("1", "2"):
            losses[stage] = self.objective.real_term(logits["real" + stage]) + 0.5 * self.objective.fake_term(logits["fake" + stage])
            if "wrong" + stage in logits:
                losses[stage] = losses[stage] + self.mismatch(self.objective, logits["wrong" + stage])
            if "hard" + stage in logits:
                losses[stage] = losses[stage] + self.mismatch.hardest_term(self.objective, logits["hard" + stage])
        self.update(self.d_optimizer, losses["1"] + losses["2"])
        records = {"d_loss_stage1": losses["1"].detach(), "d_loss_stage2": losses["2"].detach()}
        # how often D scores a real image above it with the wrong caption (random, hardest)
        for kind, name in (("wrong2", "d_text_match"), ("hard2", "d_text_match_hardest")):
            if kind in logits:
                records[name] = (logits["real2"].float() > logits[kind].float()).float().mean().detach()
        return records

    def g_step(self, batch: Batch) -> dict[str, Any]:
        captions = batch.captions
        z = batch.z if batch.z is not None else self.noise(captions.shape[0])
        text = self._text(captions)
        with frozen(self.discriminator), self.autocast():
            low, high, conditions = self.paths.g_train(z, text)
            logits1, logits2 = self.discriminator.score(low, high, text)
        adversarial1, adversarial2 = self.objective.g_loss(logits1), self.objective.g_loss(logits2)
        kl = sum(self.kl(mean, log_var) for mean, log_var in conditions)
        self.update(self.g_optimizer, adversarial1 + adversarial2 + kl)
        return {"g_loss_stage1": adversarial1.detach(), "g_loss_stage2": adversarial2.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def generate_stages(self, captions: torch.Tensor, generator: torch.Generator | None = None):
        """``(stage I, stage II)`` images for ``(N, L)`` caption ids."""
        captions = captions.to(self.device)
        with evaluating(self.generator), evaluating(self.discriminator), self.autocast():
            low, high, _ = self.generator(self.noise(captions.shape[0], generator), self.discriminator.text(captions), generator)
        return low.float().clamp(-1, 1), high.float().clamp(-1, 1)

    @torch.no_grad()
    def generate(self, n, labels=None, captions=None, generator=None):
        if captions is None:
            raise ValueError("stackgan generates from captions")
        return self.generate_stages(captions[:n], generator)[1]

    def sample_grid(self, seed: int = 0, captions: Sequence[str] = (), per_caption: int = 2, **_: Any) -> Grid:
        """One row per caption: ``per_caption`` pairs of (stage I upsampled, stage II)."""
        if not captions:
            raise ValueError("a StackGAN grid needs captions")
        ids = encode_captions(list(captions)).repeat_interleave(per_caption, dim=0)
        low, high = self.generate_stages(ids, torch.Generator().manual_seed(seed))
        low = F.interpolate(low, size=high.shape[-1], mode="nearest")
        pairs = torch.stack([low, high], dim=1).flatten(0, 1)
        return Grid(pairs, nrow=2 * per_caption, captions=list(captions))
