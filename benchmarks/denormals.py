"""What denormal floats cost SeqGAN's discriminator on the CPU, with the flush-to-zero mode off and on.

A trained discriminator makes tiny numbers: a confident D's gradients scale with 1 - P, and Adam's
first moment of a weight whose gradient stays 0 decays by 0.9 a step into the denormal range
(below 1.2e-38), where x86 arithmetic is tens of times slower. The CLIs therefore set the
flush-to-zero mode first thing (``runcore.denormals``). Each measurement runs in a fresh process
per mode, because the mode must be set before torch starts its threads:

- ``adam``: fused Adam (``runcore.adam``) over the paper D's 7.0M parameters with gradients of
  N(0, 1) x 1e-20, so that their squares are denormal: the median step;
- ``d_step``: the paper D's training step (``DiscriminatorReward.train_step``, batch 64, random
  tokens), median of ``--steps``. Freshly initialised by default: no denormals, so this row shows
  what the mode costs where there are none. With ``--checkpoint`` D and its Adam state come from
  a run's checkpoint (``<run>/checkpoints/latest.safetensors``, of a run at the paper's D sizes and
  V = 5000, length 20), and the row is that D's step; the denormals in its state are counted.

Usage:
    OMP_NUM_THREADS=2 python benchmarks/denormals.py [--checkpoint CKPT] [--steps 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODES = ("off", "on")


def measure(mode: str, checkpoint: str | None, steps: int) -> dict:
    """This process's figures with the mode ``mode`` (set here, before torch starts its threads)."""
    import torch

    from benchmarks.d_step_gemms import median_ms
    from runcore import adam, flush_denormals, load_modules, retain_freed_memory
    from textgan.models import Discriminator, DiscriminatorConfig
    from textgan.rewards.discriminator import DiscriminatorReward

    flushing = flush_denormals() if mode == "on" else False
    retain_freed_memory()
    torch.manual_seed(0)
    config = DiscriminatorConfig(vocab_size=5000, max_len=20)
    params = [torch.nn.Parameter(p.detach().clone()) for p in Discriminator(config).parameters()]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-20
    optimizer = adam(params, lr=1e-4)
    adam_ms = median_ms(optimizer.step, steps)

    d = Discriminator(config)
    reward = DiscriminatorReward(d)
    if checkpoint is not None:
        load_modules(checkpoint, {"discriminator": d, "d_optimizer": reward.optimizer}, strict=False)
    tiny = torch.finfo(torch.float32).tiny
    state = [v for s in reward.optimizer.state.values() for v in s.values() if torch.is_tensor(v) and v.numel() > 1]
    denormal = sum(int(((t != 0) & (t.abs() < tiny)).sum()) for t in [*state, *d.parameters()])
    generator = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, config.vocab_size, (64, config.max_len), generator=generator) for _ in range(8)]
    is_real = torch.arange(64) % 2 == 0
    turn = iter(range(10**9))
    d_step_ms = median_ms(lambda: reward.train_step(batches[next(turn) % len(batches)], is_real), steps)
    return {"mode": mode, "flushing": flushing, "adam_ms": adam_ms, "d_step_ms": d_step_ms, "denormal_at_start": denormal,
            "threads": torch.get_num_threads()}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="a run's checkpoint holding discriminator and d_optimizer")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="5 steps: a smoke test")
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", choices=MODES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    steps = 5 if args.quick else args.steps
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        print(f"error: no checkpoint at {args.checkpoint}; give a run's checkpoints/latest.safetensors", file=sys.stderr)
        raise SystemExit(2)
    if args.child is not None:
        print(json.dumps(measure(args.child, args.checkpoint, steps)))
        return {}
    rows = {}
    for mode in MODES:
        command = [sys.executable, __file__, "--child", mode, "--steps", str(steps)]
        if args.checkpoint is not None:
            command += ["--checkpoint", args.checkpoint]
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        if done.returncode != 0:
            print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"the {mode} run failed", file=sys.stderr)
            raise SystemExit(1)
        rows[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    off, on = rows["off"], rows["on"]
    d_row = "D step (from the checkpoint)" if args.checkpoint else "D step (fresh D)"
    print(f"{off['threads']} threads; denormal entries in D and its Adam state at the start: {off['denormal_at_start']:,}")
    print(f"{'':34} {'flush off':>10} {'flush on':>10} {'off / on':>9}")
    print(f"{'fused Adam, gradients x 1e-20':34} {off['adam_ms']:>8.2f}ms {on['adam_ms']:>8.2f}ms {off['adam_ms'] / on['adam_ms']:>8.2f}x")
    print(f"{d_row:34} {off['d_step_ms']:>8.2f}ms {on['d_step_ms']:>8.2f}ms {off['d_step_ms'] / on['d_step_ms']:>8.2f}x")
    if not on["flushing"]:
        print("(this CPU has no flush-to-zero mode: both columns ran without it)")
    result = {"checkpoint": args.checkpoint, "steps": steps, **{mode: rows[mode] for mode in MODES}}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
