"""The matrix products of one discriminator training step: inside the step and alone.

``d_epoch`` is SeqGAN's costliest unit, and the speed issue asks it to reach 60% of the machine's
fp32 matrix-multiply peak (a 2048² product, measured in the same run). This script says how much
of that the step's own matrix products allow. For the paper's D (vocabulary 5,000, length 20,
batch 64) it times, in one process:

- the step (``DiscriminatorReward.train_step``: forward, backward, Adam), median of ``--steps``;
- each matrix product of the step inside it (torch.profiler's self time of ``aten::mm``,
  ``aten::addmm`` and ``aten::addmm_``, per input shape), grouped as the highway's and the convolutions' forward,
  input-gradient and weight-gradient products;
- the same products alone, with the step's shapes and layouts (median of ``--repeats``);
- the 2048² fp32 product (``benchmarks/seqgan_units.py``'s ``matmul_gflops``).

The two ceilings it prints are the step's FLOPs (``benchmarks/flops.py``) over the products'
time alone, then over their time in the step, as shares of that peak: what the step would reach
if nothing but its matrix products took time.

``--precision bf16`` builds D at bf16 (``DiscriminatorConfig.precision``) and times the products
alone on bf16 operands, as autocast hands them over.

    OMP_NUM_THREADS=2 python benchmarks/d_step_gemms.py [--precision bf16] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.flops import TRAIN, discriminator_macs  # noqa: E402
from benchmarks.seqgan_units import matmul_gflops  # noqa: E402
from runcore import set_up_process  # noqa: E402
from textgan.models import Discriminator, DiscriminatorConfig  # noqa: E402
from textgan.rewards.discriminator import DiscriminatorReward  # noqa: E402

PARTS = ("highway forward", "highway input grad", "highway weight grad",
         "conv forward", "conv input grad", "conv weight grad")  # fmt: skip


def step_products(config: DiscriminatorConfig, batch: int) -> list[tuple[str, str, tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """``(part, op, a_shape, b_shape, bias_shape)`` of every matrix product of a training step,
    as ``textgan.models.discriminator`` issues them (the output layer's ``F x 1`` left out) and
    as autograd and its windows' backward compute their gradients (each weight gradient laid
    out as its weight; a filter's input gradient one ``addmm_`` per tap where it has no more
    taps than windows, else one product)."""
    e, t = config.embed_dim, config.max_len
    fitting = [(w, n) for w, n in zip(config.filter_sizes, config.num_filters) if w <= t]
    f = sum(n for _, n in fitting)
    products = []
    for w, n in fitting:
        rows = batch * (t - w + 1)
        products += [("conv forward", "addmm", (rows, e * w), (n, e * w), (n,))]  # rows @ weight.t()
        if w <= t - w + 1:  # each tap's product accumulates into the positions it read
            products += [("conv input grad", "addmm_", (rows, n), (n, e), ())] * w
        else:
            products += [("conv input grad", "mm", (rows, n), (n, e * w), ())]
        products += [("conv weight grad", "mm", (n, rows), (rows, e * w), ())]
    for _ in range(2):  # the transform and the gate
        products += [("highway forward", "addmm", (batch, f), (f, f), (f,)),
                     ("highway input grad", "mm", (batch, f), (f, f), ()),
                     ("highway weight grad", "mm", (f, batch), (batch, f), ())]  # fmt: skip
    return products


def median_ms(fn, repeats: int) -> float:
    """Milliseconds per call of ``fn``: the median of ``repeats`` timed calls after one untimed."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def alone_ms(part: str, op: str, a_shape, b_shape, bias_shape, repeats: int, dtype: torch.dtype = torch.float32) -> float:
    """One product alone, its operands laid out as in the step (``.t()`` views where the step has them), in ``dtype``."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(*a_shape, generator=generator).to(dtype)
    b = torch.randn(*b_shape, generator=generator).to(dtype)
    if op == "addmm":  # a @ weight.t(), the weight stored (out, in)
        bias = torch.randn(*bias_shape, generator=generator).to(dtype)
        return median_ms(lambda: torch.addmm(bias, a, b.t()), repeats)
    if op == "addmm_":  # out += a @ b, out a block of the positions' gradient
        out = torch.zeros(a_shape[0], b_shape[1], dtype=dtype)
        return median_ms(lambda: out.addmm_(a, b), repeats)
    if part.endswith("weight grad"):  # grad.t() @ input: the gradient stored (rows, out)
        a = torch.randn(a_shape[1], a_shape[0], generator=generator).to(dtype).t()
    return median_ms(lambda: torch.mm(a, b), repeats)


def in_step_ms(reward: DiscriminatorReward, batches: list[torch.Tensor], is_real: torch.Tensor, config, batch: int) -> tuple[dict[str, float], dict[str, float]]:
    """Per part, the profiler's self time of the step's matrix products and their number, per step."""
    part_of = {}
    for part, op, a_shape, b_shape, bias_shape in step_products(config, batch):
        if op == "addmm":
            shapes = [list(bias_shape), list(a_shape), [b_shape[1], b_shape[0]]]
        elif op == "addmm_":
            shapes = [[a_shape[0], b_shape[1]], list(a_shape), list(b_shape)]
        else:
            shapes = [list(a_shape), list(b_shape)]
        part_of[(f"aten::{op}", json.dumps(shapes))] = part
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for tokens in batches:
            reward.train_step(tokens, is_real)
    totals: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for event in prof.events():
        if event.name in ("aten::mm", "aten::addmm", "aten::addmm_"):
            part = part_of.get((event.name, json.dumps([list(s) for s in event.input_shapes if s])), "other products")
            totals[part] += event.self_cpu_time_total / 1e3 / len(batches)
            nested = event.cpu_parent is not None and event.cpu_parent.name == event.name  # autocast's call of the kernel
            calls[part] += 0 if nested else 1
    return dict(totals), {part: count / len(batches) for part, count in calls.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps (after 10 warm-up steps); as many profiled")
    parser.add_argument("--repeats", type=int, default=30, help="timings of each product alone (median kept)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="D's (and the products alone)")
    parser.add_argument("--quick", action="store_true", help="a small D and few repeats: a smoke test in seconds")
    parser.add_argument("--json", default=None, help="write every number here")
    args = parser.parse_args(argv)
    set_up_process()  # as the textgan command does
    if args.quick:
        config, batch = DiscriminatorConfig(vocab_size=50, max_len=8, filter_sizes=(2, 3, 6), num_filters=(8, 8, 8), precision=args.precision), 8
        args.steps, args.repeats = 3, 3
    else:
        config, batch = DiscriminatorConfig(vocab_size=5000, max_len=20, precision=args.precision), 64
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.precision]
    torch.manual_seed(0)
    reward = DiscriminatorReward(Discriminator(config))
    batches = [torch.randint(0, config.vocab_size, (batch, config.max_len)) for _ in range(10 + args.steps)]
    is_real = torch.rand(batch) < 0.5
    for tokens in batches[:10]:
        reward.train_step(tokens, is_real)
    step_times = []
    for tokens in batches[10:]:
        start = time.perf_counter()
        reward.train_step(tokens, is_real)
        step_times.append(time.perf_counter() - start)
    step_ms = 1e3 * statistics.median(step_times)
    inside, calls = in_step_ms(reward, batches[10:], is_real, config, batch)
    alone: dict[str, float] = defaultdict(float)
    flops: dict[str, float] = defaultdict(float)
    products: dict[str, int] = defaultdict(int)
    for part, op, a_shape, b_shape, bias_shape in step_products(config, batch):
        alone[part] += alone_ms(part, op, a_shape, b_shape, bias_shape, args.repeats, dtype)
        products[part] += 1
        flops[part] += 2 * a_shape[0] * a_shape[1] * (b_shape[0] if op == "addmm" else b_shape[1])
    peak = matmul_gflops(torch.device("cpu"), torch.float32, 2048)  # the units' peak, measured the same way
    step_flops = TRAIN * 2 * discriminator_macs(config) * batch
    inside_total = sum(inside.values())
    alone_total = sum(alone.values())
    result = {
        "threads": torch.get_num_threads(), "batch": batch, "precision": args.precision, "step_ms": step_ms, "step_gflop": step_flops / 1e9,
        "peak_gflops": peak, "step_share_of_peak": step_flops / step_ms / 1e6 / peak,
        "parts": {part: {"gflop": flops[part] / 1e9, "in_step_ms": inside.get(part, 0.0), "alone_ms": alone[part],
                         "products": products[part], "calls_in_step": calls.get(part, 0.0)} for part in PARTS},
        "other_products_in_step_ms": inside.get("other products", 0.0),
        "products_in_step_ms": inside_total, "products_alone_ms": alone_total,
        "ceiling_alone": step_flops / alone_total / 1e6 / peak, "ceiling_in_step": step_flops / inside_total / 1e6 / peak,
    }  # fmt: skip
    print(f"D training step, batch {batch}, {args.precision}, {result['threads']} threads: {step_ms:.1f} ms, {step_flops / 1e9:.2f} GFLOP, "
          f"{step_flops / step_ms / 1e6:.1f} GFLOP/s = {100 * result['step_share_of_peak']:.0f}% of the 2048² fp32 peak ({peak:.0f} GFLOP/s)")  # fmt: skip
    print(f"{'products':22s} {'GFLOP':>7s} {'in step ms':>11s} {'alone ms':>9s} {'in step GFLOP/s':>16s} {'alone GFLOP/s':>14s}")
    for part, row in result["parts"].items():
        gf, ins, alo = row["gflop"], row["in_step_ms"], row["alone_ms"]
        print(f"{part:22s} {gf:7.3f} {ins:11.2f} {alo:9.2f} {gf / ins * 1e3 if ins else float('nan'):16.1f} {gf / alo * 1e3:14.1f}")
    print(f"all products: {inside_total:.1f} ms in the step ({step_ms - inside_total:.1f} ms of the step is something else), {alone_total:.1f} ms alone")
    print(f"ceilings: the products alone and nothing else {100 * result['ceiling_alone']:.0f}% of the peak; "
          f"at their in-step speed {100 * result['ceiling_in_step']:.0f}%")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
