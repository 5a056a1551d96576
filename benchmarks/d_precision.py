"""The discriminator in bf16 against fp32: the same training, its speed and what it changes.

SeqGAN's paper D (V=5000, T=20, filters 1..10,15,20) is trained from one initialisation for three
epochs over 10,000 oracle sequences against 10,000 sequences of a briefly MLE-trained generator
(the D pre-training step of the synthetic experiment), once per precision, with the same batch
orders and dropout masks. Printed per precision: seconds per epoch, the loss per epoch, held-out
accuracy, and how far the bf16 model's P(real) lies from the fp32 model's on held-out rows.

    python benchmarks/d_precision.py [--oracle ../shared/data/oracle/seqgan_oracle_lstm.npz] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from rich.console import Console
from rich.table import Table

from runcore import adam
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from textgan.models.oracle import Oracle
from textgan.rewards.discriminator import DiscriminatorReward

V, T, BATCH = 5000, 20, 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", default=None, help="the paper's oracle .npz (default: a seeded random oracle)")
    parser.add_argument("--sequences", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    oracle = Oracle.load(args.oracle) if args.oracle else Oracle.random(seed=0)
    rng = torch.Generator().manual_seed(0)
    real, held_real = oracle.sample(args.sequences, generator=rng), oracle.sample(2_000, generator=rng)
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig(vocab_size=V, bos_id=0, eos_id=None))
    optimizer = adam(generator.parameters(), lr=0.01)
    for batch in real.split(BATCH):  # one MLE epoch: fakes that are not trivially told apart
        loss = generator.mle_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    fake, held_fake = generator.sample(args.sequences, T, generator=rng), generator.sample(2_000, T, generator=rng)
    tokens = torch.cat([real, fake])
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).bool()
    orders = [torch.randperm(len(tokens), generator=rng) for _ in range(args.epochs)]
    torch.manual_seed(1)
    init = Discriminator(DiscriminatorConfig(vocab_size=V, max_len=T)).state_dict()

    results, probs = {}, {}
    for precision in ("fp32", "bf16"):
        d = Discriminator(DiscriminatorConfig(vocab_size=V, max_len=T, precision=precision))
        d.load_state_dict(init)
        reward = DiscriminatorReward(d)
        torch.manual_seed(2)  # the same dropout masks
        seconds, losses = [], []
        for order in orders:
            start = time.perf_counter()
            epoch = [reward.train_step(tokens[i], labels[i])["d_loss"] for i in order.split(BATCH)]
            losses.append(float(torch.stack(epoch).mean()))
            seconds.append(time.perf_counter() - start)
        held = reward.evaluate(held_real, held_fake)
        probs[precision] = d.prob_real(torch.cat([held_real, held_fake]))
        results[precision] = {"seconds_per_epoch": seconds, "d_loss": losses, **held}
    results["bf16_vs_fp32"] = {
        "speed_up": sum(results["fp32"]["seconds_per_epoch"]) / sum(results["bf16"]["seconds_per_epoch"]),
        "max_abs_prob_difference": float((probs["bf16"] - probs["fp32"]).abs().max()),
        "mean_abs_prob_difference": float((probs["bf16"] - probs["fp32"]).abs().mean()),
    }
    results["threads"] = torch.get_num_threads()

    table = Table(title=f"paper D, {args.epochs} epochs over {2 * args.sequences:,} rows, {torch.get_num_threads()} threads")
    for column in ("precision", "s / epoch", "loss per epoch", "held-out accuracy", "P(real) real / fake"):
        table.add_column(column, justify="right")
    for precision in ("fp32", "bf16"):
        r = results[precision]
        table.add_row(precision, " ".join(f"{s:.1f}" for s in r["seconds_per_epoch"]), " ".join(f"{x:.4f}" for x in r["d_loss"]),
                      f"{r['d_accuracy']:.4f}", f"{r['d_real_prob']:.3f} / {r['d_fake_prob']:.3f}")
    console = Console()
    console.print(table)
    diff = results["bf16_vs_fp32"]
    console.print(f"bf16 speed-up {diff['speed_up']:.2f}x; |P_bf16 - P_fp32| on held-out rows: mean {diff['mean_abs_prob_difference']:.4f}, max {diff['max_abs_prob_difference']:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
