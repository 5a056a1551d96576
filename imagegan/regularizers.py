"""Regularisers and constraints of the image GANs, as objects a model holds.

- :class:`GradientPenalty` (WGAN-GP): ``λ E[(‖∇f(x̂)‖ - 1)²]`` on random interpolates.
- :class:`WeightClipping` (WGAN): clamp the critic's parameters after each update.
- :class:`MutualInformation` (InfoGAN): the variational bound on I(c; G(z, c)) as a loss.
- :class:`ConditioningKL` (StackGAN): KL of the conditioning augmentation from N(0, I).
- :class:`MismatchedPairs` (StackGAN, GAN-CLS): real images with the wrong text are negatives.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from imagegan.losses import AdversarialLoss

__all__ = ["ConditioningKL", "GradientPenalty", "MismatchedPairs", "MutualInformation", "WeightClipping"]


class GradientPenalty:
    """Gulrajani et al. 2017: ``weight * mean((‖∇ₓ critic(x̂)‖₂ - target)²)``, x̂ = αx + (1-α)x̃.

    Runs in float32 outside autocast and needs a double backward, so pass it the eager critic,
    never a compiled one.

    Args:
        weight: λ (the paper's 10).
        target: the gradient norm aimed at (1 for a 1-Lipschitz critic).

    Examples:
        >>> import torch
        >>> critic = torch.nn.Linear(4, 1, bias=False)
        >>> _ = torch.nn.init.constant_(critic.weight, 1.0)  # ∇ = (1, 1, 1, 1), norm 2
        >>> GradientPenalty(10.0)(critic, torch.zeros(3, 4), torch.ones(3, 4)).item()
        10.0
    """

    def __init__(self, weight: float = 10.0, target: float = 1.0):
        self.weight, self.target = weight, target

    def __call__(
        self,
        critic: Callable[[torch.Tensor], torch.Tensor],
        real: torch.Tensor,
        fake: torch.Tensor,
        alpha: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The penalty (a scalar that keeps the graph for D's backward).

        Args:
            critic: maps images to scores; close over any conditioning (``lambda x: D(x, y)``).
            real, fake: batches of the same shape.
            alpha: interpolation weights broadcastable to ``real`` (default ``U(0, 1)`` per sample).
        """
        if alpha is None:
            shape = (real.shape[0],) + (1,) * (real.dim() - 1)
            alpha = torch.rand(shape, device=real.device)
        mixed = (alpha * real.detach().float() + (1 - alpha) * fake.detach().float()).requires_grad_(True)
        with torch.autocast(device_type=real.device.type, enabled=False):
            scores = critic(mixed).float()
        (grads,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
        # the small constant keeps the norm differentiable where the gradient is exactly zero
        norms = (grads.flatten(1).square().sum(dim=1) + 1e-12).sqrt()
        return self.weight * (norms - self.target).square().mean()

    def __repr__(self) -> str:
        return f"GradientPenalty(weight={self.weight}, target={self.target})"


class WeightClipping:
    """Arjovsky et al. 2017: clamp every parameter of the critic to ``[-limit, limit]``.

    Apply it after each critic update: ``WeightClipping(0.01)(critic)``.
    """

    def __init__(self, limit: float = 0.01):
        self.limit = limit

    @torch.no_grad()
    def __call__(self, module: torch.nn.Module) -> None:
        for parameter in module.parameters():
            parameter.clamp_(-self.limit, self.limit)

    def __repr__(self) -> str:
        return f"WeightClipping(limit={self.limit})"


class MutualInformation:
    """Chen et al. 2016: minus the variational lower bound on I(c; G(z, c)), up to H(c).

    The categorical code costs the cross-entropy of Q's logits; each continuous code the
    negative log-likelihood of a unit-variance Gaussian centred on Q's prediction,
    ``0.5 (c - μ)²`` (the paper's MNIST setting fixes the variance).

    Args:
        categorical_weight, continuous_weight: λ for each kind of code (the paper's 1).
    """

    def __init__(self, categorical_weight: float = 1.0, continuous_weight: float = 1.0):
        self.categorical_weight, self.continuous_weight = categorical_weight, continuous_weight

    def __call__(
        self,
        categorical_logits: torch.Tensor,
        categorical_codes: torch.Tensor,
        continuous_mean: torch.Tensor,
        continuous_codes: torch.Tensor,
    ) -> torch.Tensor:
        """The loss; ``categorical_codes`` are class indices ``(B,)``, the rest ``(B, K)``."""
        categorical = F.cross_entropy(categorical_logits.float(), categorical_codes)
        continuous = 0.5 * (continuous_codes.float() - continuous_mean.float()).square().sum(dim=1).mean()
        return self.categorical_weight * categorical + self.continuous_weight * continuous

    def __repr__(self) -> str:
        return f"MutualInformation({self.categorical_weight}, {self.continuous_weight})"


class ConditioningKL:
    """Zhang et al. 2017: ``weight * KL(N(μ, σ²) ‖ N(0, I))`` of the conditioning augmentation.

    Averaged over all elements, as the authors' code does (their configs use weight 2).
    """

    def __init__(self, weight: float = 2.0):
        self.weight = weight

    def __call__(self, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        mean, log_var = mean.float(), log_var.float()
        return self.weight * 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).mean()

    def __repr__(self) -> str:
        return f"ConditioningKL(weight={self.weight})"


class MismatchedPairs:
    """The matching-aware discriminator's third term (Reed et al. 2016; StackGAN): real images
    paired with the wrong text are scored as fakes, so D must check the text, not only realism.

    With weight 0.5, D's loss is ``real + 0.5 fake + 0.5 mismatched``, as in StackGAN.

    Which text is wrong: the papers take another caption of the batch at random. Most random
    captions differ from the right one in something easy to see (on ``shapes``: the position),
    so D can reject them without ever learning colour or shape, and then G is never asked for
    them. ``hardest_weight`` adds a second such term in which every image gets its hardest
    negative: the *different* caption of the batch whose vector under D's text encoder is
    nearest to its own (cosine), as in VSE++ (Faghri et al. 2018). What the encoder cannot yet
    tell apart is exactly what gets paired, so the hard negatives move on to whatever attribute
    D still ignores, while the random ones keep the easy attributes checked.

    Args:
        weight: the random mismatches' weight in D's loss (0 leaves them out).
        hardest_weight: the hardest negatives' weight (0, the papers' choice, leaves them out).
    """

    def __init__(self, weight: float = 0.5, hardest_weight: float = 0.0):
        if weight < 0 or hardest_weight < 0:
            raise ValueError(f"mismatch weights must be >= 0, got {weight} and {hardest_weight}")
        self.weight = weight
        self.hardest_weight = hardest_weight

    def __call__(self, objective: AdversarialLoss, mismatched_logits: torch.Tensor) -> torch.Tensor:
        """The random mismatches' term."""
        return self.weight * objective.fake_term(mismatched_logits)

    def hardest_term(self, objective: AdversarialLoss, hardest_logits: torch.Tensor) -> torch.Tensor:
        """The hardest negatives' term."""
        return self.hardest_weight * objective.fake_term(hardest_logits)

    @staticmethod
    def shuffle(text: torch.Tensor) -> torch.Tensor:
        """Wrong text for each image: the batch's text shifted by one."""
        return text.roll(1, dims=0)

    @staticmethod
    def hardest(text: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Index of each row's nearest different caption (cosine of ``text``; ``ids`` decide
        which captions are the same). A row whose batch holds no different caption gets the
        previous row, as :meth:`shuffle` would."""
        with torch.no_grad():
            unit = F.normalize(text.float(), dim=1)
            similarity = unit @ unit.T
            same = (ids[:, None, :] == ids[None, :, :]).all(dim=2)  # the diagonal included
            similarity.masked_fill_(same, float("-inf"))
            best, index = similarity.max(dim=1)
            shifted = torch.arange(text.shape[0], device=text.device).roll(1)
            return torch.where(torch.isinf(best), shifted, index)

    def __repr__(self) -> str:
        return f"MismatchedPairs(weight={self.weight}, hardest_weight={self.hardest_weight})"
