"""LeakGAN's leak, D's features of prefixes, at COCO's sizes and the default preset: every prefix at
once (``Discriminator.prefix_features``, teacher forcing: the MLE step) and one token at a time
(``Discriminator.read_token``: sampling), each against D's convolutions run on every prefix.

    OMP_NUM_THREADS=1 python benchmarks/leakgan_features.py [--vocab 6098] [--max-len 25] [--samples 1000]
"""

from __future__ import annotations

import argparse
import time

import torch

from textgan.models.discriminator import Discriminator, DiscriminatorConfig
from textgan.models.leakgan import LeakGANConfig, LeakGANPolicy
from textgan.rewards.base import ProbRealReward, prefix_rows
from textgan.seqgan.config import SeqGANConfig, preset_values


def best_of(repeats: int, fn) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=6098)
    parser.add_argument("--max-len", type=int, default=25)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    preset = SeqGANConfig(**preset_values("default"))
    torch.manual_seed(0)
    d = Discriminator(DiscriminatorConfig(args.vocab, args.max_len, embed_dim=preset.d_embed_dim,
                                          filter_sizes=preset.d_filter_sizes, num_filters=preset.d_num_filters)).eval()  # fmt: skip
    reward = ProbRealReward(d)
    tokens = torch.randint(3, args.vocab, (args.batch, args.max_len))
    with torch.no_grad():
        per_prefix = best_of(args.repeats, lambda: d.features(*prefix_rows(tokens)))
        at_once = best_of(args.repeats, lambda: d.prefix_features(tokens))
    print(f"features of every prefix, batch {args.batch} x {args.max_len}: per-prefix convolutions {per_prefix:.3f} s, "
          f"prefix_features {at_once:.3f} s ({per_prefix / at_once:.1f}x)")  # fmt: skip
    config = LeakGANConfig(args.vocab, args.max_len, d.feature_dim, embed_dim=preset.g_embed_dim, hidden_dim=preset.g_hidden_dim)
    for name, leak in (("per-prefix convolutions", reward.features), ("prefix_features", reward)):
        torch.manual_seed(0)
        policy = LeakGANPolicy(config, leak)
        optimizer = torch.optim.Adam(policy.parameters())

        def step() -> None:
            optimizer.zero_grad()
            policy.mle_loss(tokens).backward()
            optimizer.step()

        print(f"LeakGAN MLE step with {name}: {best_of(args.repeats, step):.3f} s")
    for name, leak in (("per-prefix convolutions", reward.features), ("read_token", reward)):
        torch.manual_seed(0)
        policy = LeakGANPolicy(config, leak)
        seconds = best_of(args.repeats, lambda: policy.sample(args.samples, args.max_len, generator=torch.Generator().manual_seed(0)))
        print(f"LeakGAN sampling {args.samples} sequences with {name}: {seconds:.3f} s")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")


if __name__ == "__main__":
    main()
