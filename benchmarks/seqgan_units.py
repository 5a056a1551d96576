"""SeqGAN's units at the paper's settings, timed, with the schedule extrapolated.

V=5000, T=20, embedding/hidden 32, batch 64, K=16 rollouts, the paper's D (filters 1..10,15,20).
Units as in ../shared/BENCHMARKS.md: g_update (sample 64, MC rewards for every prefix, PG step),
sample_10k, d_epoch (10k real + 10k generated, batch 64), mle_epoch (10k sequences, batch 64).
The anchor column is TextGAN-PyTorch as measured in BENCHMARKS.md on the same kind of machine
(2 CPU cores) or one H200; compare ratios only when both ran on the same machine.

    python benchmarks/seqgan_units.py [--device cuda] [--repeats 1]
"""

from __future__ import annotations

import argparse
import time

import torch
from gymnasium.vector import AutoresetMode
from rich.console import Console
from rich.table import Table

from textgan.adversarial import train_discriminator
from textgan.agents import ReinforceAgent
from runcore import resolve_device
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

ANCHOR = {  # seconds, TextGAN-PyTorch (BENCHMARKS.md)
    "cpu": {"g_update": 34.7, "sample_10k": 23.1, "d_epoch": 21.4, "mle_epoch": 4.1, "schedule": 99_012},
    "cuda": {"g_update": 1.94, "sample_10k": 0.37, "d_epoch": 2.37, "mle_epoch": 0.53, "schedule": 8_318},
}
V, T, BATCH, K = 5000, 20, 64, 16


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up (allocator, kernels)
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    rng = torch.Generator().manual_seed(0)
    generator = Generator(GeneratorConfig(vocab_size=V, bos_id=0, eos_id=None)).to(device)
    discriminator = Discriminator(DiscriminatorConfig(vocab_size=V, max_len=T)).to(device)
    real = generator.sample(10_000, T, generator=rng)  # stands in for the oracle's data
    envs = SeqGANVectorEnv(
        num_envs=BATCH, vocab_size=V, max_len=T, rollouts=K, device=device, bos_id=0, eos_id=None,
        autoreset_mode=AutoresetMode.SAME_STEP, tensors=True,
    )
    envs.set_discriminator(discriminator)
    envs.sync_rollout_policy(generator, 0.0)
    agent = ReinforceAgent(generator)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-4)
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=0.01)

    def mle_epoch():
        for batch in real[torch.randperm(len(real), generator=rng)].split(BATCH):
            loss = generator.mle_loss(batch)
            g_optimizer.zero_grad()
            loss.backward()
            g_optimizer.step()

    def d_epoch_with_sampling():
        train_discriminator(discriminator, d_optimizer, real, generator, 10_000, 1, BATCH, rng)

    units = {
        "g_update": timed(lambda: agent.update(envs), args.repeats, device),
        "sample_10k": timed(lambda: generator.sample(10_000, T, generator=rng), args.repeats, device),
        "mle_epoch": timed(mle_epoch, args.repeats, device),
    }
    units["d_epoch"] = timed(d_epoch_with_sampling, args.repeats, device) - units["sample_10k"]
    d_step = units["sample_10k"] + 3 * units["d_epoch"]
    units["schedule"] = 120 * units["mle_epoch"] + 50 * d_step + 200 * (units["g_update"] + 5 * d_step)

    anchor = ANCHOR["cuda" if device.type == "cuda" else "cpu"]
    table = Table(title=f"SeqGAN units, paper settings, on {device} ({torch.get_num_threads()} threads)")
    for column in ("unit", "textgan (s)", "anchor (s, BENCHMARKS.md)", "speed-up"):
        table.add_column(column, justify="right" if column != "unit" else "left")
    for name, seconds in units.items():
        table.add_row(name, f"{seconds:,.2f}", f"{anchor[name]:,.2f}", f"{anchor[name] / seconds:.1f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
