"""Whether a GAN lies on, beyond or inside MLE's temperature curve (Caccia et al. 2018).

Each seed gives one paired difference: the GAN's NLL-oracle minus MLE's NLL-oracle at the
temperature where MLE's NLL-test is the GAN's (lower is better, so a negative difference means
better samples at equal diversity). Over the seeds the mean difference counts only when it
exceeds twice its standard error: "beyond" MLE's curve (the GAN is better at equal NLL-test),
"inside" it (worse); otherwise the GAN "lies on" it at this budget.

The standard error is the larger of the seeds' (``stdev / sqrt(n)``) and the NLL-oracle's own
sampling error, so that one seed (whose spread is unknown) or two seeds that happen to agree do
not make a difference of noise a verdict. The sampling error of one NLL-oracle over ``samples``
sequences is ``PER_SEQUENCE_STD / sqrt(samples)``; the difference of two (GAN and MLE) is
``sqrt(2)`` times that (conservative: both are drawn with the same random stream), and the mean
of ``n`` seeds' differences is ``1 / sqrt(n)`` times that. With one seed the verdict therefore
says only that the difference is beyond the sampling error, not beyond the variation between
trainings.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

PER_SEQUENCE_STD = 0.57
"""The standard deviation over sequences of a sequence's mean NLL-oracle per token: 0.509 (the
seeded random oracle's own samples) and 0.549 (an untrained generator's) for the random oracle
(V=5000, 20 tokens), 0.531 and 0.568 for the paper's oracle (10,000 samples each; ``python
benchmarks/nll_oracle_spread.py [--oracle NPZ]``, 2-core AMD EPYC CPU; every trained model lies
between its oracle and the untrained generator). Rounded up: at 10,000 samples one NLL-oracle's
sampling error is 0.0057."""

VERDICTS = {
    "beyond": "lies beyond MLE's temperature curve (better NLL-oracle than MLE at equal NLL-test)",
    "inside": "lies inside MLE's temperature curve (worse NLL-oracle than MLE at equal NLL-test)",
    "on": "lies on MLE's temperature curve at this budget (no difference beyond 2 standard errors)",
    "unmatched": "has no matched MLE temperature (its NLL-test is outside MLE's range): no verdict",
}


def sampling_error(samples: int, seeds: int) -> float:
    """The standard error, from NLL-oracle sampling alone, of the mean over ``seeds`` paired
    differences of two NLL-oracles of ``samples`` sequences each.

    Examples:
        >>> round(sampling_error(10_000, 1), 4)
        0.0081
    """
    return math.sqrt(2.0) * PER_SEQUENCE_STD / math.sqrt(samples) / math.sqrt(seeds)


def curve_verdict(differences: Sequence[float], samples: int) -> dict:
    """The verdict for one GAN from its seeds' paired differences at matched temperature
    (GAN's NLL-oracle − MLE's; none: no seed matched).

    Returns:
        ``{"verdict": "beyond" | "inside" | "on" | "unmatched", "text": ..., "seeds": n,
        "mean_difference", "standard_error", "threshold"}`` (the numbers None when unmatched);
        ``threshold`` = 2 × the standard error, the larger of the seeds' and the sampling one.

    Examples:
        >>> curve_verdict([-0.20, -0.25, -0.22], samples=10_000)["verdict"]
        'beyond'
        >>> curve_verdict([-0.20, 0.25, 0.02], samples=10_000)["verdict"]
        'on'
        >>> curve_verdict([0.01], samples=10_000)["verdict"]  # within one seed's sampling error
        'on'
    """
    n = len(differences)
    if n == 0:
        return {"verdict": "unmatched", "text": VERDICTS["unmatched"], "seeds": 0, "mean_difference": None,
                "standard_error": None, "threshold": None}  # fmt: skip
    mean = statistics.fmean(differences)
    spread = statistics.stdev(differences) / math.sqrt(n) if n > 1 else 0.0
    error = max(spread, sampling_error(samples, n))
    threshold = 2.0 * error
    verdict = "beyond" if mean < -threshold else "inside" if mean > threshold else "on"
    return {"verdict": verdict, "text": VERDICTS[verdict], "seeds": n, "mean_difference": mean, "standard_error": error,
            "threshold": threshold}  # fmt: skip
