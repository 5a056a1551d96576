"""Which models a quality-diversity comparison rules out (Pareto dominance over temperature sweeps).

Each model is a set of points, one per sampling temperature, in a plane of two metrics (e.g.
Self-BLEU-5 and BLEU-5). A point *dominates* another when it is at least as good on both axes and
strictly better on one. A model is *dominated* when every one of its points is dominated by some
point of the other models (not necessarily the same point, nor the same model, for each of its
points): whatever temperature it is sampled at, some other model at some temperature does as
well on both metrics and better on one. Ties dominate nothing, so two models with the same curve
rule out neither. Points with a NaN on either axis neither dominate nor are dominated; a model
with no finite point is never dominated.

This is dominance of the sampled points, not of the curves between them: a point that lies
behind the segment joining two points of another model, and behind neither point, is not
dominated (interpolating between temperatures would claim more than was measured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

Points = Sequence[tuple[float, float]]


def dominated_models(points: Mapping[str, Points], higher_is_better: tuple[bool, bool]) -> dict[str, list[str]]:
    """The dominated models, each with the models whose points dominate some of its points.

    Args:
        points: model name -> its ``(x, y)`` points.
        higher_is_better: per axis, whether a larger value is better.

    Returns:
        ``{name: [dominating model, ...]}`` for each dominated model, in the order of ``points``
        (the dominating models in that order too); models not dominated are absent.
    """
    signs = torch.tensor([1.0 if up else -1.0 for up in higher_is_better], dtype=torch.float64)
    gains = {name: torch.tensor(list(p), dtype=torch.float64).reshape(-1, 2) * signs for name, p in points.items()}
    result = {}
    for name, own in gains.items():
        own = own[torch.isfinite(own).all(1)]
        if len(own) == 0:
            continue
        covered = torch.zeros(len(own), dtype=torch.bool)
        by = []
        for other, theirs in gains.items():
            if other == name:
                continue
            theirs = theirs[torch.isfinite(theirs).all(1)]
            # [i, j]: their point j dominates our point i
            no_worse = (theirs[None, :, :] >= own[:, None, :]).all(-1)
            better = (theirs[None, :, :] > own[:, None, :]).any(-1)
            hits = (no_worse & better).any(1)
            if hits.any():
                by.append(other)
            covered |= hits
        if covered.all():
            result[name] = by
    return result
