"""Adversarial objectives as objects: each says how D scores real and fake logits, and how G is scored.

A discriminator's loss is ``real_term(real) + fake_term(fake)``; keeping the two terms apart lets
StackGAN's matching-aware discriminator weight its fake and mismatched-text terms. Logits are
cast to float32 so that a bf16 forward pass still gives an fp32 loss.

Examples:
    >>> import torch
    >>> real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    >>> round(float(Wasserstein().d_loss(real, fake)), 3), round(float(Wasserstein().g_loss(fake)), 3)
    (-3.0, 1.0)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "AdversarialLoss", "Hinge", "Minimax", "NonSaturating", "Wasserstein"]


class AdversarialLoss:
    """An adversarial objective; subclasses define the three terms below."""

    name = "loss"

    def real_term(self, real_logits: torch.Tensor) -> torch.Tensor:
        """D's loss on real samples (mean over the batch)."""
        raise NotImplementedError

    def fake_term(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """D's loss on generated (or otherwise negative) samples (mean over the batch)."""
        raise NotImplementedError

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """G's loss on D's logits for generated samples."""
        raise NotImplementedError

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """D's loss: ``real_term(real) + fake_term(fake)``."""
        return self.real_term(real_logits) + self.fake_term(fake_logits)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Minimax(AdversarialLoss):
    """Goodfellow et al. 2014, as in the value function: D maximises log D(x) + log(1 - D(G(z))),
    G minimises log(1 - D(G(z))). G's gradient vanishes while D rejects its samples confidently."""

    name = "minimax"

    def real_term(self, real_logits):
        return F.softplus(-real_logits.float()).mean()  # -log sigmoid(x)

    def fake_term(self, fake_logits):
        return F.softplus(fake_logits.float()).mean()  # -log(1 - sigmoid(x))

    def g_loss(self, fake_logits):
        return -F.softplus(fake_logits.float()).mean()  # log(1 - sigmoid(x))


class NonSaturating(Minimax):
    """The same D; G maximises log D(G(z)) instead (the paper's practical variant, strong early
    gradients)."""

    name = "non-saturating"

    def g_loss(self, fake_logits):
        return F.softplus(-fake_logits.float()).mean()  # -log sigmoid(x)


class Wasserstein(AdversarialLoss):
    """Arjovsky et al. 2017: the critic maximises E[f(x)] - E[f(G(z))]; G maximises E[f(G(z))].
    Needs a Lipschitz constraint (weight clipping or a gradient penalty)."""

    name = "wasserstein"

    def real_term(self, real_logits):
        return -real_logits.float().mean()

    def fake_term(self, fake_logits):
        return fake_logits.float().mean()

    def g_loss(self, fake_logits):
        return -fake_logits.float().mean()


class Hinge(AdversarialLoss):
    """The hinge loss (Lim & Ye 2017; SAGAN, BigGAN): D on max(0, 1 - f(x)) + max(0, 1 + f(G(z)));
    G as for Wasserstein."""

    name = "hinge"

    def real_term(self, real_logits):
        return F.relu(1.0 - real_logits.float()).mean()

    def fake_term(self, fake_logits):
        return F.relu(1.0 + fake_logits.float()).mean()

    def g_loss(self, fake_logits):
        return -fake_logits.float().mean()


LOSSES: dict[str, type[AdversarialLoss]] = {
    cls.name: cls for cls in (NonSaturating, Minimax, Wasserstein, Hinge)
}
