"""D's training step at two revisions of its module, taking turns in one process.

On a shared CPU the same code's D step reads 10-20% apart from one minute to the next, more than
most changes to it are worth, so two runs of ``seqgan_units.py`` cannot tell such a change from
the host's load. This script loads ``textgan/models/discriminator.py`` as it is at two git
revisions (or in the working tree) side by side, builds the paper's D from each with the same
weights, and

- checks how far three training steps (the same batches and dropout masks) leave the two D's
  parameters apart: 0 for a change that only moves time;
- times their training steps (``DiscriminatorReward.train_step``: forward, backward, Adam; batch
  64), the two taking turns step by step (``filter_layout.alternating_ms``).

    OMP_NUM_THREADS=2 python benchmarks/d_step_ab.py --before e1ca628 [--after 48bf443] [--precision bf16] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import types
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.filter_layout import alternating_ms  # noqa: E402
from runcore import set_up_process  # noqa: E402
from textgan.models import discriminator as working_tree  # noqa: E402
from textgan.rewards.discriminator import DiscriminatorReward  # noqa: E402

MODULE = "textgan/models/discriminator.py"


def module_at(revision: str | None) -> types.ModuleType:
    """The discriminator module at a git ``revision`` as a module of its own (None: the working tree's)."""
    if revision is None:
        return working_tree
    shown = subprocess.run(["git", "show", f"{revision}:{MODULE}"], cwd=REPO, capture_output=True, text=True)
    if shown.returncode != 0:
        print(f"error: no {MODULE} at revision {revision!r} ({shown.stderr.strip().splitlines()[-1]}): name a commit of this repository", file=sys.stderr)
        raise SystemExit(2)
    module = types.ModuleType(f"discriminator_at_{revision}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(shown.stdout, f"{revision}:{MODULE}", "exec"), module.__dict__)
    return module


def build(module: types.ModuleType, sizes: dict, precision: str, state: dict | None = None):
    config = module.DiscriminatorConfig(**sizes, **({"precision": precision} if precision != "fp32" else {}))
    torch.manual_seed(0)
    d = module.Discriminator(config)
    if state is not None:
        d.load_state_dict(state)
    return d


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="a git revision of the repository")
    parser.add_argument("--after", default=None, help="another revision (default: the working tree)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--steps", type=int, default=300, help="timed training steps of each")
    parser.add_argument("--quick", action="store_true", help="a small D and few steps: a smoke test in seconds")
    parser.add_argument("--json", default=None, help="write every number here")
    args = parser.parse_args(argv)
    set_up_process()  # as the textgan command does
    if args.quick:
        sizes, batch, args.steps = {"vocab_size": 50, "max_len": 8, "filter_sizes": (1, 3, 6), "num_filters": (8, 8, 8)}, 8, 4
    else:
        sizes, batch = {"vocab_size": 5000, "max_len": 20}, 64
    labels = {"before": args.before, "after": args.after or "the working tree"}
    modules = {"before": module_at(args.before), "after": module_at(args.after)}
    state = build(modules["before"], sizes, args.precision).state_dict()
    batches = [torch.randint(0, sizes["vocab_size"], (batch, sizes["max_len"])) for _ in range(32)]
    is_real = torch.rand(batch) < 0.5

    trained = []
    for module in modules.values():
        reward = DiscriminatorReward(build(module, sizes, args.precision, state))
        torch.manual_seed(1)  # the same dropout masks
        for tokens in batches[:3]:
            reward.train_step(tokens, is_real)
        trained.append([p.detach() for p in reward.discriminator.parameters()])
    difference = max(float((a - b).abs().max()) for a, b in zip(*trained))

    rewards = {name: DiscriminatorReward(build(module, sizes, args.precision, state)) for name, module in modules.items()}
    turn = itertools.count()  # each step its own batch, in turn
    step_ms = alternating_ms({name: (lambda r=r: r.train_step(batches[next(turn) % len(batches)], is_real)) for name, r in rewards.items()}, args.steps)
    result = {
        "before": args.before, "after": args.after, "precision": args.precision, "threads": torch.get_num_threads(),
        "batch": batch, "steps_each": args.steps, "largest_parameter_difference": difference, "train_step_ms": step_ms,
    }  # fmt: skip
    a, b = step_ms["after"], step_ms["before"]
    print(f"D training step, batch {batch}, {args.precision}, {result['threads']} threads; medians of {args.steps} steps each, taking turns")
    print(f"  before ({labels['before']}) {b:.2f} ms, after ({labels['after']}) {a:.2f} ms: {100 * abs(1 - a / b):.1f}% {'less' if a <= b else 'more'}")
    print("  parameters after three steps: " + ("the same bit for bit" if difference == 0 else f"at most {difference:.2e} apart"))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
