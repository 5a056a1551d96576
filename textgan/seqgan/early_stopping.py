"""Early stopping of MLE pre-training: the best validation epoch's weights, kept across resumes.

With validation rows (``--val-fraction``, or the oracle experiment's own draw) the trainer scores
every MLE epoch by its validation NLL, keeps a copy of the best epoch's weights in a
:class:`BestWeights` (checkpointed with the run like any module, so a resumed run knows them) and
its epoch and NLL in the run's position (``position["mle_best"]``), and at the end of the phase
puts the best epoch's weights back into the generator (:func:`patience_spent` says when to stop
early).
"""

from __future__ import annotations

import torch


class BestWeights(torch.nn.Module):
    """A copy of ``module``'s state: its tensors as buffers ``w0, w1, ...`` in ``state_dict`` order.

    Examples:
        >>> net = torch.nn.Linear(2, 1)
        >>> best = BestWeights(net)
        >>> _ = net.weight.data.add_(1.0)
        >>> best.restore(net)
        >>> torch.equal(net.weight, best.w0)
        True
    """

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.keys = list(module.state_dict())
        for index, value in enumerate(module.state_dict().values()):
            self.register_buffer(f"w{index}", value.detach().clone())

    def keep(self, module: torch.nn.Module) -> None:
        """Copy ``module``'s current state in."""
        for mine, value in zip(self.buffers(), module.state_dict().values()):
            mine.copy_(value.detach())

    def restore(self, module: torch.nn.Module) -> None:
        """Put the kept state back into ``module``."""
        module.load_state_dict(dict(zip(self.keys, self.buffers())))


def patience_spent(best: dict | None, done: int, patience: int) -> bool:
    """Whether MLE stops early: ``patience`` > 0 epochs have passed since the best one
    (``best`` = ``{"epoch", "nll_val"}``, None before the first epoch).

    Examples:
        >>> patience_spent({"epoch": 3, "nll_val": 2.0}, done=5, patience=2)
        True
        >>> patience_spent({"epoch": 3, "nll_val": 2.0}, done=5, patience=0)
        False
    """
    return patience > 0 and best is not None and done - best["epoch"] >= patience
