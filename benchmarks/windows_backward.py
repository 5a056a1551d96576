"""D's training step with its windows' own backward pass, against autograd through the plain formula.

``textgan.models.discriminator.window_maxes`` computes each filter's windows as one matrix
product (im2col), the whole bank one autograd node with a backward pass of its own
(``_WindowBank``). This script times the paper's D step (``DiscriminatorReward.train_step``:
forward, backward, Adam; vocabulary 5,000, length 20, batch 64) with it and with autograd
through the same formula written plainly (``unfold``, ``addmm``, ``amax``: what the training
path was before), alternating the two step by step in one process, so that both see the same
load on the machine. It first checks, on one batch, that the two give the same outputs and
gradients to float rounding.

    OMP_NUM_THREADS=2 python benchmarks/windows_backward.py [--steps 400] [--json out.json]
    # the default preset's D (half the paper's maps) on poems' 25 tokens:
    OMP_NUM_THREADS=2 python benchmarks/windows_backward.py --max-len 25 --num-filters 50 100 100 100 100 50 50 50 50 50 80 80
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runcore import set_up_process  # noqa: E402
import textgan.models.discriminator as discriminator  # noqa: E402
from textgan.models import Discriminator, DiscriminatorConfig  # noqa: E402
from textgan.rewards.discriminator import DiscriminatorReward  # noqa: E402


def autograd_window_maxes(embedded: torch.Tensor, convs) -> torch.Tensor:
    """The plain formula under autograd: windows as rows, one product per filter, amax over windows."""
    n, width, dim = embedded.shape
    maxes = []
    for conv in convs:
        w, maps = conv.kernel_size[0], conv.out_channels
        rows = embedded.unfold(1, w, 1).reshape(n * (width - w + 1), dim * w)
        values = torch.addmm(conv.bias, rows, conv.weight.reshape(maps, dim * w).t())
        maxes.append(values.view(n, width - w + 1, maps).amax(dim=1))
    return torch.cat(maxes, dim=1)


@contextlib.contextmanager
def plain_windows(enabled: bool):
    """D's trunk with :func:`autograd_window_maxes` while ``enabled``."""
    own = discriminator.window_maxes
    if enabled:
        discriminator.window_maxes = autograd_window_maxes
    try:
        yield
    finally:
        discriminator.window_maxes = own


def gradients(d: Discriminator, tokens: torch.Tensor, labels: torch.Tensor, plain: bool) -> list[torch.Tensor]:
    with plain_windows(plain):
        return list(torch.autograd.grad(d.loss(tokens, labels), list(d.parameters())))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=400, help="timed steps, alternating (after 10 warm-up steps of each)")
    parser.add_argument("--max-len", type=int, default=20, help="tokens per row (the paper's 20)")
    parser.add_argument("--filter-sizes", type=int, nargs="+", default=None, help="filter widths (the paper's by default)")
    parser.add_argument("--num-filters", type=int, nargs="+", default=None, help="maps per filter width (the paper's by default)")
    parser.add_argument("--embed-dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="a small D and few steps: a smoke test in seconds")
    parser.add_argument("--json", default=None, help="write every number here")
    args = parser.parse_args(argv)
    set_up_process()  # as the textgan command does
    if args.quick:
        config, batch, args.steps = DiscriminatorConfig(vocab_size=50, max_len=8, filter_sizes=(2, 3, 6), num_filters=(8, 8, 8)), 8, 6
    else:
        widths = args.filter_sizes or discriminator.PAPER_FILTER_SIZES
        maps = args.num_filters or discriminator.PAPER_NUM_FILTERS
        if len(widths) != len(maps):
            parser.error(f"{len(widths)} filter widths and {len(maps)} map counts: give --num-filters one count per width of --filter-sizes (the paper's: 12)")
        config = DiscriminatorConfig(vocab_size=5000, max_len=args.max_len, embed_dim=args.embed_dim, filter_sizes=widths, num_filters=maps)
        batch = args.batch
    torch.manual_seed(0)
    d = Discriminator(config).eval()  # eval: no dropout, so the two gradients see the same features
    tokens = torch.randint(0, config.vocab_size, (batch, config.max_len))
    tokens[:, config.max_len // 2 :] = 3  # padding-like runs: windows that tie
    labels = (torch.rand(batch) < 0.5).float()
    differences = []
    for a, b in zip(gradients(d, tokens, labels, False), gradients(d, tokens, labels, True)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        differences.append(float((a - b).abs().max() / b.abs().max().clamp_min(1e-30)))
    reward = DiscriminatorReward(d.train())
    batches = [torch.randint(0, config.vocab_size, (batch, config.max_len)) for _ in range(32)]
    is_real = torch.rand(batch) < 0.5
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(20 + args.steps):
        plain = i % 2 == 1
        with plain_windows(plain):
            start = time.perf_counter()
            reward.train_step(batches[i % len(batches)], is_real)
            if i >= 20:
                times[plain].append(time.perf_counter() - start)
    own_ms, plain_ms = (1e3 * statistics.median(times[plain]) for plain in (False, True))
    result = {
        "threads": torch.get_num_threads(), "batch": batch, "max_len": config.max_len, "embed_dim": config.embed_dim,
        "filter_sizes": list(config.filter_sizes), "num_filters": list(config.num_filters),
        "steps_each": len(times[False]),
        "own_backward_ms": own_ms, "autograd_ms": plain_ms, "saving": 1 - own_ms / plain_ms,
        "largest_gradient_difference": max(differences),
    }  # fmt: skip
    print(f"D training step, batch {batch}, {config.max_len} tokens, {d.feature_dim} maps, {result['threads']} threads, "
          f"median of {result['steps_each']} steps each, alternating:")  # fmt: skip
    print(f"  windows' own backward {own_ms:.2f} ms, autograd through the plain formula {plain_ms:.2f} ms: "
          f"{100 * abs(result['saving']):.1f}% {'less' if result['saving'] >= 0 else 'more'}")  # fmt: skip
    print(f"  gradients agree to {result['largest_gradient_difference']:.1e} of each one's largest entry")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
