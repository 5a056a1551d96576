"""Analytic FLOP counts of SeqGAN's benchmark units, from the models' configs.

A FLOP here is one multiply or one add of a matrix product or convolution: a forward pass is
``2 * MACs`` and a training step (forward, then backward for the inputs and the weights) is
``TRAIN = 3`` forwards. Embedding look-ups, biases, activations, pooling, softmax and sampling are
not counted (they are a few percent at the paper's sizes). Counts are the models' own arithmetic
(D: ``textgan/models/discriminator.py``; G: ``textgan/models/generator.py``), whatever kernels
run it, so GFLOP/s compare implementations on the same work.

What ``g_update`` computes (``ReinforceAgent.update`` on a ``SeqGANVectorEnv`` with
``eos_id=None`` and ``AutoresetMode.SAME_STEP``; ``textgan/env/episodes.py``):

- the policy's T steps for B rows (LSTM cell + output projection), trained (x3, less the
  gradient into the first step's zero state);
- the env's rollout policy reads each new token (one cell per row for the T - 1 unfinished
  steps) and reads BOS at the reset and at the autoreset (one cell per row, twice);
- Monte Carlo search after each of the first T - 1 tokens (``Q_T`` is the final reward, no
  rollouts): K completions of each of the B prefixes of length t run ``T - t`` projections
  (one sample per position) and ``T - t - 1`` cells;
- D scores every completion, ``B * K * (T - 1)`` sequences, and the B finished ones.

Examples:
    >>> from textgan.models import DiscriminatorConfig
    >>> discriminator_macs(DiscriminatorConfig(vocab_size=7, max_len=5, embed_dim=3, filter_sizes=(2,), num_filters=(4,)))
    132
"""

from __future__ import annotations

from collections.abc import Mapping

from textgan.models import DiscriminatorConfig, GeneratorConfig

TRAIN = 3
"""a training step costs three forwards: the forward, the input gradients, the weight gradients"""

PAPER_SCHEDULE = {"mle_epochs": 120, "d_pretrain_steps": 50, "rounds": 200, "d_steps_per_round": 5, "d_epochs": 3}
"""LantaoYu/SeqGAN's schedule: 120 MLE epochs; 50 D steps; 200 x (1 g_update + 5 D steps); a D
step is fresh negatives, then 3 epochs over real + negatives"""


def discriminator_macs(config: DiscriminatorConfig) -> int:
    """Multiply-accumulates of D's forward pass for one sequence of ``config.max_len`` tokens.

    Each Conv1d of width w with n maps over E channels does ``n * E * w`` MACs at each of its
    ``T - w + 1`` positions (filters wider than T are left out, as the model does); the highway
    layer is two ``F x F`` linears and the output one ``F x 1``, F the total number of maps.
    """
    t, e = config.max_len, config.embed_dim
    fitting = [(w, n) for w, n in zip(config.filter_sizes, config.num_filters) if w <= t]
    features = sum(n for _, n in fitting)
    return sum(n * e * w * (t - w + 1) for w, n in fitting) + 2 * features * features + features


def lstm_cell_macs(config: GeneratorConfig) -> int:
    """MACs of one LSTM step for one row: the four gates' ``4H x E`` and ``4H x H`` products."""
    return 4 * config.hidden_dim * (config.embed_dim + config.hidden_dim)


def projection_macs(config: GeneratorConfig) -> int:
    """MACs of the output projection ``H x V`` for one row (the next-token logits)."""
    return config.hidden_dim * config.vocab_size


def sample_flops(g: GeneratorConfig, n: int, max_len: int) -> int:
    """``Generator.sample(n, max_len)``: a cell and a projection per token."""
    return 2 * n * max_len * (lstm_cell_macs(g) + projection_macs(g))


def mle_epoch_flops(g: GeneratorConfig, n: int, max_len: int) -> int:
    """One MLE epoch over ``n`` sequences: teacher forcing over every token, trained."""
    return TRAIN * sample_flops(g, n, max_len)


def d_epoch_flops(d: DiscriminatorConfig, n: int) -> int:
    """One D epoch over ``n`` sequences (real + generated), every one in a training step."""
    return TRAIN * 2 * n * discriminator_macs(d)


def d_eval_flops(d: DiscriminatorConfig, n: int) -> int:
    """``P(real)`` of ``n`` sequences (the evaluation after each D step, on ``EVAL_ROWS`` of each
    side in ``textgan.rewards.training``): forward only."""
    return 2 * n * discriminator_macs(d)


def g_update_flops(g: GeneratorConfig, d: DiscriminatorConfig, batch: int, max_len: int, rollouts: int) -> int:
    """One REINFORCE update with Monte Carlo rewards (see the module docstring)."""
    cell, projection = lstm_cell_macs(g), projection_macs(g)
    t, rows = max_len, batch * rollouts
    # no gradient flows into the first step's zero state: its 4H x H input product is not run
    policy = TRAIN * batch * t * (cell + projection) - batch * 4 * g.hidden_dim * g.hidden_dim
    env = batch * (t - 1) * cell + 2 * batch * cell
    search = rows * sum((t - length) * projection + (t - length - 1) * cell for length in range(1, t))
    scored = rows * (t - 1) + batch
    return 2 * (policy + env + search + scored * discriminator_macs(d))


def paper_schedule(units: Mapping[str, float], d_eval: bool = True) -> float:
    """The paper's schedule extrapolated from per-unit seconds (or FLOPs).

    ``units`` holds ``mle_epoch``, ``sample_10k``, ``d_epoch``, ``g_update`` and, with ``d_eval``,
    ``d_eval`` (textgan evaluates D once after each D step; the anchor's formula has no such term).
    """
    s = PAPER_SCHEDULE
    d_step = units["sample_10k"] + s["d_epochs"] * units["d_epoch"] + (units["d_eval"] if d_eval else 0.0)
    return (
        s["mle_epochs"] * units["mle_epoch"]
        + s["d_pretrain_steps"] * d_step
        + s["rounds"] * (units["g_update"] + s["d_steps_per_round"] * d_step)
    )
