"""D's filters laid out taps-major against Conv1d's own layout: the training step and scoring.

``textgan.models.Discriminator`` keeps each filter's weight ``(F, E, w)`` with its memory in
``(F, w, E)`` order (``textgan.models.discriminator.taps_major``). The training step's products
then read the weight as a view instead of copying it every step, its gradient needs no copy back
into Conv1d's layout, and oneDNN's convolution (scoring, no autograd) gets the weight in the same
channels-last order as its input. This script times both layouts with the same values,
alternating them call by call in one process so that both see the same load on the machine:

- the paper's D training step (``DiscriminatorReward.train_step``: forward, backward, Adam;
  vocabulary 5,000, length 20, batch 64);
- ``prob_real`` of 64, 1,024 and 4,096 rows (what the env's rewards and d_eval call).

It first checks that three training steps leave the same parameters bit for bit in both layouts,
and how far the two layouts' scores differ (oneDNN may pick another algorithm: rounding).

    OMP_NUM_THREADS=2 python benchmarks/filter_layout.py [--steps 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runcore import set_up_process  # noqa: E402
from textgan.models import Discriminator, DiscriminatorConfig  # noqa: E402
from textgan.rewards.discriminator import DiscriminatorReward  # noqa: E402

LAYOUTS = ("taps-major", "Conv1d's")


def discriminators(config: DiscriminatorConfig) -> dict[str, Discriminator]:
    """The same D twice: as textgan lays its filters out, and with each weight made contiguous."""
    torch.manual_seed(0)
    taps = Discriminator(config)
    contiguous = Discriminator(config)
    for conv in contiguous.convs:
        conv.weight = torch.nn.Parameter(conv.weight.detach().contiguous())
    contiguous.load_state_dict(taps.state_dict())
    return dict(zip(LAYOUTS, (taps, contiguous)))


def alternating_ms(calls: dict[str, object], repeats: int) -> dict[str, float]:
    """Median milliseconds of each call, the calls taking turns ``repeats`` times after one warm-up each."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="timed training steps of each layout")
    parser.add_argument("--rows", type=int, nargs="+", default=[64, 1024, 4096], help="rows scored per prob_real call")
    parser.add_argument("--quick", action="store_true", help="a small D and few calls: a smoke test in seconds")
    parser.add_argument("--json", default=None, help="write every number here")
    args = parser.parse_args(argv)
    set_up_process()  # as the textgan command does
    if args.quick:
        config, batch, args.steps, args.rows = DiscriminatorConfig(vocab_size=50, max_len=8, filter_sizes=(1, 3, 6), num_filters=(8, 8, 8)), 8, 4, [16]
    else:
        config, batch = DiscriminatorConfig(vocab_size=5000, max_len=20), 64
    ds = discriminators(config)
    batches = [torch.randint(0, config.vocab_size, (batch, config.max_len)) for _ in range(32)]
    is_real = torch.rand(batch) < 0.5

    check = discriminators(config)
    for d in check.values():
        reward = DiscriminatorReward(d)
        torch.manual_seed(1)  # the same dropout masks
        for tokens in batches[:3]:
            reward.train_step(tokens, is_real)
    same_step = all(torch.equal(a, b) for a, b in zip(*(d.parameters() for d in check.values())))
    scored = [d.prob_real(batches[0]) for d in ds.values()]
    score_difference = float((scored[0] - scored[1]).abs().max())

    rewards = {name: DiscriminatorReward(d) for name, d in ds.items()}
    turn = itertools.count()  # each call its own batch, in turn
    step_ms = alternating_ms({name: (lambda r=r: r.train_step(batches[next(turn) % len(batches)], is_real)) for name, r in rewards.items()}, args.steps)
    scoring_ms = {}
    for rows in args.rows:
        tokens = torch.randint(0, config.vocab_size, (rows, config.max_len))
        scoring_ms[rows] = alternating_ms({name: (lambda d=d: d.prob_real(tokens)) for name, d in ds.items()}, max(5, 20_000 // rows))
    result = {
        "threads": torch.get_num_threads(), "batch": batch, "steps_each": args.steps,
        "same_parameters_after_three_steps": same_step, "largest_score_difference": score_difference,
        "train_step_ms": step_ms, "prob_real_ms": {str(rows): ms for rows, ms in scoring_ms.items()},
    }  # fmt: skip
    print(f"D, {ds[LAYOUTS[0]].feature_dim} maps, {result['threads']} threads; medians, the two layouts alternating "
          f"(three steps: parameters {'the same bit for bit' if same_step else 'DIFFER'}; scores within {score_difference:.1e})")  # fmt: skip
    rows_of = [(f"train step, batch {batch}", step_ms)] + [(f"prob_real, {rows} rows", ms) for rows, ms in scoring_ms.items()]
    for label, ms in rows_of:
        a, b = (ms[name] for name in LAYOUTS)
        print(f"  {label:24s} taps-major {a:8.2f} ms   Conv1d's {b:8.2f} ms   {100 * abs(1 - a / b):4.1f}% {'less' if a <= b else 'more'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
