"""SeqGAN's units at the paper's settings: seconds, FLOPs, GFLOP/s against this machine's peak.

V=5000, T=20, embedding/hidden 32, batch 64, K=16 rollouts, the paper's D (filters 1..10,15,20).
Units as in ../shared/BENCHMARKS.md: g_update (sample 64, MC rewards for every prefix, PG step),
sample_10k, mle_epoch (10k sequences, batch 64, clipped as the trainer does), d_epoch (one
training pass over 10k real + 10k generated, batch 64) and d_eval (P(real) of the rows that
fit_reward_model evaluates once after each D step, 2,048 of each side); the paper's schedule is
extrapolated from them. Each unit's FLOPs are counted from the configs (benchmarks/flops.py) and
set against the fp32 and bf16 matrix-multiply GFLOP/s measured in the same run (fp32's before and
after the units, the higher kept). Optimisers are runcore.adam, as the trainer's.

--anchor then runs ../shared/bench/anchor_units.sh (TextGAN-PyTorch's own code on the same
units, on the same device) and adds its seconds and the speed-up per unit; only such same-run
ratios compare. --precision bf16 runs D's and G's forwards under bf16 autocast, outputs cast back
to fp32 (losses, softmax and sampling stay fp32; D through its own ``precision`` setting, the
trainer's d_precision, where it has one). --d-precision sets D's alone: ``--d-precision bf16``
times what ``textgan train --d-precision bf16`` runs (G in fp32, D in bf16). --quick shrinks
everything to a smoke test.

    python benchmarks/seqgan_units.py [--device cuda] [--repeats 1] [--precision bf16] [--d-precision bf16]
    python benchmarks/seqgan_units.py --anchor --json /tmp/units.json
    python benchmarks/seqgan_units.py --quick --json /tmp/quick.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
from gymnasium.vector import AutoresetMode
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks.flops, whatever the working directory

from benchmarks import flops  # noqa: E402
from runcore import adam, autocast, resolve_device  # noqa: E402
from runcore.process import set_up_process  # noqa: E402
from textgan.agents import ReinforceAgent  # noqa: E402
from textgan.env.vector_env import SeqGANVectorEnv  # noqa: E402
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig  # noqa: E402
from textgan.models.discriminator import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS  # noqa: E402
from textgan.rewards.discriminator import DiscriminatorReward  # noqa: E402
from textgan.rewards import training as reward_training  # noqa: E402
from textgan.rewards.training import fit_reward_model  # noqa: E402

ANCHOR_SCRIPT = REPO.parent / "shared" / "bench" / "anchor_units.sh"
UNITS = ("g_update", "sample_10k", "mle_epoch", "d_epoch", "d_eval", "schedule")


@dataclass
class Sizes:
    """What the units run at (defaults: the paper's)."""

    vocab: int = 5000
    max_len: int = 20
    batch: int = 64
    rollouts: int = 16
    sequences: int = 10_000
    """real sequences, generated negatives and MLE sequences (sample_10k draws this many)"""
    g_embed: int = 32
    g_hidden: int = 32
    d_embed: int = 64
    d_filter_sizes: tuple[int, ...] = PAPER_FILTER_SIZES
    d_num_filters: tuple[int, ...] = PAPER_NUM_FILTERS
    peak_size: int = 2048
    """n of the n x n matrix multiplies that measure the peak"""


QUICK = Sizes(vocab=50, max_len=8, batch=64, rollouts=2, sequences=256, g_embed=16, g_hidden=16, d_embed=16,
              d_filter_sizes=(2, 3), d_num_filters=(16, 16), peak_size=512)  # fmt: skip


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, repeats: int, device: torch.device) -> float:
    """Best of ``repeats`` timings after one warm-up call (allocator, kernels, caches)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 5) -> float:
    """The best GFLOP/s of ``n x n @ n x n`` in ``dtype`` at the current thread count."""
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    out = torch.empty(n, n, device=device, dtype=dtype)
    seconds = timed(lambda: torch.mm(a, b, out=out), repeats, device)
    return 2 * n**3 / seconds / 1e9


def bf16_context(device: torch.device):
    """runcore's autocast on CUDA (bf16 there); CPU autocast to bf16 elsewhere (runcore's is CUDA-only)."""
    if device.type == "cuda":
        context = autocast(device)
        if isinstance(context, contextlib.nullcontext):
            raise SystemExit("--precision bf16: this GPU does not support bf16")
        return context
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _fp32(value):
    if torch.is_tensor(value):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, tuple):
        return tuple(_fp32(v) for v in value)
    return value


def forwards_in_bf16(obj, names: tuple[str, ...], device: torch.device) -> None:
    """Run ``obj.<name>(...)`` under bf16 autocast and hand its floating outputs back in fp32."""
    for name in names:
        original = getattr(obj, name)

        def wrapped(*args, _original=original, **kwargs):
            with bf16_context(device):
                out = _original(*args, **kwargs)
            return _fp32(out)

        setattr(obj, name, wrapped)


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.2f}" if x >= 1 else f"{x:.3g}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_units(sizes: Sizes, device: torch.device, repeats: int, precision: str, d_precision: str | None = None) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds (best of ``repeats``) and FLOPs per unit, the schedule extrapolated for both; G at
    ``precision``, D at ``d_precision`` (default: the same)."""
    d_precision = d_precision or precision
    torch.manual_seed(0)
    rng = torch.Generator().manual_seed(0)
    g_config = GeneratorConfig(vocab_size=sizes.vocab, embed_dim=sizes.g_embed, hidden_dim=sizes.g_hidden, bos_id=0, eos_id=None)
    # a D with its own precision setting (the trainer's d_precision) runs it; otherwise its forward is wrapped
    own_precision = "precision" in {f.name for f in fields(DiscriminatorConfig)}
    d_config = DiscriminatorConfig(vocab_size=sizes.vocab, max_len=sizes.max_len, embed_dim=sizes.d_embed,
                                   filter_sizes=sizes.d_filter_sizes, num_filters=sizes.d_num_filters,
                                   **({"precision": d_precision} if own_precision else {}))  # fmt: skip
    generator, discriminator = Generator(g_config).to(device), Discriminator(d_config).to(device)
    n, t, batch = sizes.sequences, sizes.max_len, sizes.batch
    envs = SeqGANVectorEnv(
        num_envs=batch, vocab_size=sizes.vocab, max_len=t, rollouts=sizes.rollouts, device=device, bos_id=0, eos_id=None,
        autoreset_mode=AutoresetMode.SAME_STEP, tensors=True,
    )  # fmt: skip
    envs.set_discriminator(discriminator)
    envs.sync_rollout_policy(generator, 0.0)
    if precision == "bf16":
        for g in (generator, envs.episodes.rollout_policy):
            forwards_in_bf16(g, ("forward", "step", "cell"), device)
            forwards_in_bf16(g.output, ("forward",), device)  # sample_next's projection
    if d_precision == "bf16" and not own_precision:
        forwards_in_bf16(discriminator, ("forward",), device)
    real = generator.sample(n, t, generator=rng)  # stands in for the oracle's data
    fake = generator.sample(n, t, generator=rng)
    agent = ReinforceAgent(generator)  # runcore.adam inside
    g_optimizer = adam(generator.parameters(), lr=0.01)
    d_optimizer = adam(discriminator.parameters(), lr=1e-4)

    class TrainOnly(DiscriminatorReward):
        def evaluate(self, real, fake):  # d_eval is its own unit
            return {}

    train_only, reward = TrainOnly(discriminator, d_optimizer), DiscriminatorReward(discriminator, d_optimizer)
    eval_rows = min(n, getattr(reward_training, "EVAL_ROWS", n))  # what fit_reward_model evaluates, per side

    def mle_epoch():  # as SeqGANTrainer._mle_phase, without its test-split NLL
        generator.train()
        for rows in torch.randperm(n, generator=rng).to(device).split(batch):
            loss = generator.mle_loss(real[rows])
            g_optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(generator.parameters(), 5.0)
            g_optimizer.step()

    units = {
        "g_update": timed(lambda: agent.update(envs), repeats, device),
        "sample_10k": timed(lambda: generator.sample(n, t, generator=rng), repeats, device),
        "mle_epoch": timed(mle_epoch, repeats, device),
        "d_epoch": timed(lambda: fit_reward_model(train_only, real, fake, 1, batch, rng), repeats, device),
        "d_eval": timed(lambda: reward.evaluate(real[:eval_rows], fake[:eval_rows]), repeats, device),
    }
    units["schedule"] = flops.paper_schedule(units)
    counts = {
        "g_update": flops.g_update_flops(g_config, d_config, batch, t, sizes.rollouts),
        "sample_10k": flops.sample_flops(g_config, n, t),
        "mle_epoch": flops.mle_epoch_flops(g_config, n, t),
        "d_epoch": flops.d_epoch_flops(d_config, 2 * n),
        "d_eval": flops.d_eval_flops(d_config, 2 * eval_rows),
    }
    counts["schedule"] = flops.paper_schedule(counts)
    return units, counts


def run_anchor(repeats: int, device: torch.device) -> dict:
    """TextGAN-PyTorch's seconds on the same units (its JSON line); the GPU hidden for a CPU run."""
    env = dict(os.environ)
    if device.type == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    result = subprocess.run(["bash", str(ANCHOR_SCRIPT), "--reps", str(repeats)], capture_output=True, text=True, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{ANCHOR_SCRIPT} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    anchor = json.loads(lines[-1])
    anchor["schedule"] = anchor["paper_schedule_s"]
    return anchor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=1, help="timings per unit after a warm-up (best kept); the anchor's --reps")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--d-precision", choices=("fp32", "bf16"), default=None, help="D's precision alone (default: --precision)")
    parser.add_argument("--anchor", action="store_true", help="also run ../shared/bench/anchor_units.sh and print the ratios")
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test in seconds")
    args = parser.parse_args()
    set_up_process()  # as the textgan command does: the units time what training runs
    device = resolve_device(args.device)
    sizes = QUICK if args.quick else Sizes()
    args.d_precision = args.d_precision or args.precision
    precisions = args.precision if args.d_precision == args.precision else f"G {args.precision}, D {args.d_precision}"
    any_bf16 = "bf16" in (args.precision, args.d_precision)
    if device.type == "cuda" and not args.quick:
        sizes = replace(sizes, peak_size=8192)  # 2048² does not fill a big GPU

    # fp32's peak is read before and after the units and the higher kept: on a shared machine one
    # reading can fall in a busy moment, which would flatter every unit's share of it (bf16's is
    # read once: without bf16 units a 2048² product takes about a minute)
    fp32_readings = [matmul_gflops(device, torch.float32, sizes.peak_size)]
    peak = {"bf16": matmul_gflops(device, torch.bfloat16, sizes.peak_size)}
    seconds, counts = run_units(sizes, device, args.repeats, args.precision, args.d_precision)
    fp32_readings.append(matmul_gflops(device, torch.float32, sizes.peak_size))
    peak["fp32"] = max(fp32_readings)
    anchor, anchor_error = None, None
    if args.anchor:
        try:
            anchor = run_anchor(args.repeats, device)
        except RuntimeError as error:
            anchor_error = str(error)

    units = {}
    for name in UNITS:
        gflops = counts[name] / seconds[name] / 1e9
        units[name] = {
            "seconds": seconds[name], "flops": counts[name], "gflops": gflops,
            "pct_fp32_peak": 100 * gflops / peak["fp32"], "pct_bf16_peak": 100 * gflops / peak["bf16"],
        }  # fmt: skip
        if anchor is not None and name in anchor:
            units[name]["anchor_seconds"] = anchor[name]
            units[name]["speedup"] = anchor[name] / seconds[name]
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    threads = torch.get_num_threads()

    title = f"SeqGAN units, {'QUICK sizes' if args.quick else 'paper settings'}, {precisions}, on {device_name}"
    readings = " and ".join(f"{value:,.0f}" for value in fp32_readings)
    caption = (f"{cpu_model()}, {threads} threads, torch {torch.__version__}; matmul {sizes.peak_size}²: "
               f"fp32 {peak['fp32']:,.0f} GFLOP/s (the higher of {readings}, before and after the units), bf16 {peak['bf16']:,.0f} GFLOP/s"
               + ("\nspeed-up = anchor s / textgan s; textgan's schedule includes d_eval, the anchor's has no such term" if anchor else ""))  # fmt: skip
    table = Table(title=title, caption=caption)
    columns = ["unit", "textgan (s)", "GFLOP", "GFLOP/s", "% fp32 peak"]
    columns += ["% bf16 peak"] if any_bf16 else []
    columns += ["anchor (s, same run)", "speed-up"] if anchor else []
    for column in columns:
        table.add_column(column, justify="left" if column == "unit" else "right")
    for name, unit in units.items():
        row = [name, _num(unit["seconds"]), _num(unit["flops"] / 1e9), _num(unit["gflops"]), f"{unit['pct_fp32_peak']:.0f}%"]
        row += [f"{unit['pct_bf16_peak']:.0f}%"] if any_bf16 else []
        if anchor:
            row += [_num(unit["anchor_seconds"]), f"{unit['speedup']:.2f}x"] if "speedup" in unit else ["—", "—"]
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 120).print(table)  # a log file gets the whole table

    if args.json:
        record = {
            "sizes": asdict(sizes), "quick": args.quick, "precision": args.precision, "d_precision": args.d_precision, "repeats": args.repeats,
            "device": device_name, "cpu": cpu_model(), "threads": threads, "torch": torch.__version__,
            "peak_gflops": peak, "fp32_peak_readings_gflops": fp32_readings, "peak_size": sizes.peak_size,
            "units": units, "anchor": anchor,
            "ratios": {name: unit["speedup"] for name, unit in units.items() if "speedup" in unit} if anchor else None,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }  # fmt: skip
        if anchor_error:
            record["anchor_error"] = anchor_error
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    if anchor_error:
        raise SystemExit(anchor_error)


if __name__ == "__main__":
    main()
