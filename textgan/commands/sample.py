"""``textgan sample RUN_DIR``: decoded samples from a run's generator."""

from __future__ import annotations

import argparse

import torch

from runcore import resolve_device
from runcore.errors import UserError
from textgan.seqgan.runs import open_run, run_generator


def sample_command(args: argparse.Namespace) -> int:
    if args.num < 1:
        raise UserError(f"-n must be at least 1, got {args.num}", "ask for one or more samples")
    if not args.temperature > 0:
        raise UserError(f"--temperature must be positive, got {args.temperature}", "1.0 samples the model as trained")
    opened = open_run(args.run_dir)
    device = resolve_device(args.device)
    generator, _ = run_generator(opened, args.checkpoint, device)
    rng = torch.Generator().manual_seed(args.seed)
    tokens = generator.sample(args.num, opened.train.shape[1], generator=rng, temperature=args.temperature)
    for row in tokens.cpu():
        print(opened.tokenizer.decode(row.tolist()))
    return 0
