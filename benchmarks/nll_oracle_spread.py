"""The per-sequence spread of NLL-oracle: what ``textgan.metrics.verdict.PER_SEQUENCE_STD`` rests on.

NLL-oracle is the mean over sequences of each sequence's mean −log p_oracle per token; its
sampling error over n sequences is that per-sequence value's standard deviation / sqrt(n). This
prints the standard deviation for the oracle's own samples and for an untrained generator's (the
two ends between which every trained model lies), for the seeded random oracle (V=5000, 20 tokens,
the experiment's sizes) or ``--oracle NPZ``.

    OMP_NUM_THREADS=1 python benchmarks/nll_oracle_spread.py          # about 30 s on 2 CPU cores
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from textgan.commands.experiment import OracleExperiment, OracleTokens
from textgan.models.oracle import Oracle
from textgan.seqgan.trainer import build_generator


def per_sequence_std(oracle: Oracle, tokens: torch.Tensor) -> tuple[float, float]:
    """(mean, std over sequences) of each sequence's mean NLL-oracle per token."""
    per_sequence = -oracle.log_prob(tokens).double().mean(dim=1)
    return float(per_sequence.mean()), float(per_sequence.std())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", default=None, help="the paper's oracle (.npz); default: the seeded random one")
    parser.add_argument("-n", type=int, default=10_000, help="sequences per model")
    args = parser.parse_args()
    oracle = Oracle.load(args.oracle) if args.oracle else Oracle.random(seed=0)
    config = dataclasses.replace(OracleExperiment(preset="small").seqgan_config(0), max_len=oracle.seq_len)
    torch.manual_seed(0)
    untrained = build_generator(config, OracleTokens(oracle.vocab_size))
    with torch.no_grad():
        samples = {
            "oracle's own samples": oracle.sample(args.n, generator=torch.Generator().manual_seed(1)),
            "untrained generator": untrained.sample(args.n, oracle.seq_len, generator=torch.Generator().manual_seed(2)),
        }
    for name, tokens in samples.items():
        mean, std = per_sequence_std(oracle, tokens)
        print(f"{name}: NLL-oracle {mean:.4f}, per-sequence std {std:.4f}, sampling error at n={args.n:,}: {std / args.n ** 0.5:.4f}")


if __name__ == "__main__":
    main()
