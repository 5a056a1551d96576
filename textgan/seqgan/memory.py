"""How much memory a run's settings ask for, estimated before anything is allocated.

A run holds its models (weights, gradients, Adam moments, the rollout copy) and its token tensors
throughout, plus one working set at a time: an MLE batch, the discriminator scoring a chunk or
taking a step, the env's rollouts, a batch of samples. Each is a product of the settings
(float32 activations, int64 token ids), so the estimate is their sum at the largest working set.
It is rough, within a small factor, and errs high: its job is to refuse settings that cannot fit
(``--max-len 100000`` asks for terabytes) in one line, rather than be killed by the operating
system halfway through allocating them.

Examples:
    >>> from textgan.seqgan.config import SeqGANConfig, preset_values
    >>> config = SeqGANConfig(**preset_values("default"))
    >>> estimate_memory(config, vocab_size=5000, max_len=24, sequences=15_000).total < 2**30
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from runcore.memory import require_memory
from textgan.policies.registry import POLICIES

if TYPE_CHECKING:
    from textgan.seqgan.config import SeqGANConfig

FLOAT, TOKEN = 4, 8  # bytes of an activation and of a token id
SCORING_CHUNK = 4096  # rows Discriminator.prob_real scores at once
NLL_CHUNK = 512  # rows the trainer's NLL-test scores at once
SAMPLE_FILE_ROWS = 100  # samples the trainer writes after each phase
NEGATIVES_CAP = 10_000  # the default --num-negatives: as many as training sequences, at most this


@dataclass(frozen=True)
class Estimate:
    """Bytes a run needs, and the part that dominates them."""

    total: int
    largest: str
    """the dominant part, in words"""
    knobs: str
    """the flags that shrink it"""


def estimate_memory(config: SeqGANConfig, vocab_size: int, max_len: int, sequences: int) -> Estimate:
    """The memory a run with these settings needs (see the module docstring).

    Args:
        config: the run's settings.
        vocab_size: tokens in the vocabulary.
        max_len: the sequences' width in tokens.
        sequences: training plus test sequences (0 when not yet known: the estimate is then a
            lower bound).
    """
    V, T, B, K = vocab_size, max_len, config.batch_size, config.rollouts
    E, H, DE = config.g_embed_dim, config.g_hidden_dim, config.d_embed_dim
    F = sum(config.d_num_filters)
    negatives = config.num_negatives or min(sequences, NEGATIVES_CAP)
    g_params = V * E + 4 * H * (E + H + 2) + H * V + V
    d_params = V * DE + sum(n * w * DE for w, n in zip(config.d_filter_sizes, config.d_num_filters)) + 2 * F * F + 3 * F + 1
    d_row = FLOAT * T * (2 * DE + F)  # the embedding, its transpose and the feature maps of one row
    g_row = FLOAT * T * (E + 10 * H + 3 * V)  # embedding, LSTM gates and states, logits and softmax
    g_state = POLICIES[config.policy].state_floats(config.policy_sizes(V, T))  # per row: (h, c), or a key/value cache
    samples = max(config.eval_samples, SAMPLE_FILE_ROWS)
    resident = [
        (
            FLOAT * (6 * g_params + 4 * d_params),  # weights, gradients, Adam moments, the rollout copy
            "the models' weights and optimiser state",
            "--g-hidden-dim, --g-embed-dim, --d-num-filters, --d-embed-dim or --vocab-size",
        ),
        (TOKEN * T * (sequences + 2 * negatives), f"{sequences + 2 * negatives} encoded sequences", "--max-len or --num-negatives"),
    ]
    working = [
        (2 * B * g_row, f"an MLE batch of {B} sequences", "--batch-size, --max-len, --g-hidden-dim or --vocab-size"),
        (
            min(SCORING_CHUNK, max(negatives, B * K, 1)) * d_row,
            f"the discriminator scoring up to {SCORING_CHUNK} sequences at once",
            "--max-len, --d-num-filters, --d-embed-dim or --num-negatives",
        ),
        (3 * B * d_row, f"a discriminator step on {B} sequences", "--batch-size, --max-len or --d-num-filters"),
        (B * (K + 1) * (TOKEN * T + FLOAT * (g_state + 2 * V)), f"{B} x {K + 1} env rows with rollouts", "--batch-size or --rollouts"),
        (samples * (12 * T + FLOAT * (g_state + 3 * V)), f"sampling {samples} sequences", "--eval-samples or --max-len"),
        (min(NLL_CHUNK, max(sequences, 1)) * FLOAT * T * 3 * V, f"NLL-test over {NLL_CHUNK} sequences at once", "--max-len or --vocab-size"),
    ]
    parts = [*resident, max(working)]
    _, what, knobs = max(parts)
    return Estimate(total=sum(size for size, _, _ in parts), largest=what, knobs=knobs)


def check_memory(config: SeqGANConfig, vocab_size: int, max_len: int | None, sequences: int) -> None:
    """Raise UserError when the run would need more memory than the machine has (``max_len``
    None: not known yet, the check uses 1, a lower bound)."""
    estimate = estimate_memory(config, vocab_size, max_len or 1, sequences)
    require_memory(
        estimate.total,
        f"sequences of {max_len} tokens with these settings" if max_len else "these settings",
        f"lower {estimate.knobs}",
        detail=f"most of it for {estimate.largest}",
    )
