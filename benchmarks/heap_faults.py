"""Page faults and system time per discriminator training step, with and without runcore.heap.

Each measurement is a fresh process (the allocator's thresholds are process-wide): the paper's
discriminator (vocabulary 5,000, length 20, batch 64), ``--warmup`` steps, then ``--steps``
timed steps of DiscriminatorReward.train_step. The two settings alternate ``--pairs`` times, so
a neighbour's load falls on both. Minor faults and system time are the robust figures on a
shared machine; wall time is printed beside them.

    OMP_NUM_THREADS=2 python benchmarks/heap_faults.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time, torch
from runcore.heap import retain_freed_memory
from textgan.models import Discriminator, DiscriminatorConfig
from textgan.rewards.discriminator import DiscriminatorReward
retained = retain_freed_memory() if sys.argv[1] == "1" else False
warmup, steps = int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
reward = DiscriminatorReward(Discriminator(DiscriminatorConfig(vocab_size=5000, max_len=20)))
batches = [torch.randint(0, 5000, (64, 20)) for _ in range(warmup + steps)]
is_real = torch.rand(64) < 0.5
for tokens in batches[:warmup]:
    reward.train_step(tokens, is_real)
start, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for tokens in batches[warmup:]:
    reward.train_step(tokens, is_real)
wall, end = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"retained": retained, "faults": (end.ru_minflt - start.ru_minflt) / steps,
                  "sys_ms": 1e3 * (end.ru_stime - start.ru_stime) / steps,
                  "user_ms": 1e3 * (end.ru_utime - start.ru_utime) / steps, "wall_ms": 1e3 * wall / steps}))
"""


def measure(retain: bool, warmup: int, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(int(retain)), str(warmup), str(steps)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--json", type=Path, help="write every measurement here")
    args = parser.parse_args()
    runs = {"default": [], "retained": []}
    for _ in range(args.pairs):
        runs["default"].append(measure(False, args.warmup, args.steps))
        runs["retained"].append(measure(True, args.warmup, args.steps))
    print(f"{'allocator':10s} {'faults/step':>12s} {'sys ms/step':>12s} {'user ms/step':>13s} {'wall ms/step':>13s}  (medians of {args.pairs})")
    for name, rows in runs.items():
        med = {key: statistics.median(row[key] for row in rows) for key in ("faults", "sys_ms", "user_ms", "wall_ms")}
        print(f"{name:10s} {med['faults']:12,.0f} {med['sys_ms']:12.1f} {med['user_ms']:13.1f} {med['wall_ms']:13.1f}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
