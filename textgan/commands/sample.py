"""``textgan sample RUN_DIR``: decoded samples from a run's generator, one per line.

Samples are drawn in chunks of ``SAMPLE_CHUNK`` (so a large ``-n`` needs no more memory than one
chunk, and ``eval`` draws the same way), and printed with control characters escaped: a corpus
may hold ESC, and a sample must not drive the terminal it is printed on.

A conditional run (``--conditional``) samples the class ``--label NAME`` (its texts alone), or
without it every class in turn, each line ``label<TAB>text``.
"""

from __future__ import annotations

import argparse

import torch

from runcore import RunDir, resolve_device
from runcore.errors import UserError
from runcore.printable import printable
from runcore.ranges import SEED, at_least, check_value
from textgan.seqgan.runs import OpenedRun, open_run, run_generator

SAMPLE_CHUNK = 1000


def sample_command(args: argparse.Namespace) -> int:
    if args.num < 1:
        raise UserError(f"-n must be at least 1, got {args.num}", "ask for one or more samples")
    check_sampling_flags(args.temperature, args.seed)
    opened = open_run(args.run_dir)
    labels = requested_labels(opened, args.label, args.num)
    if args.checkpoint is not None:
        opened.run.named_checkpoint(args.checkpoint)
    device = resolve_device(args.device)
    generator, _ = run_generator(opened, args.checkpoint, device)
    rng = torch.Generator().manual_seed(args.seed)
    for start in range(0, args.num, SAMPLE_CHUNK):
        rows = labels[start : start + SAMPLE_CHUNK] if labels is not None else None
        tokens = generator.sample(
            min(SAMPLE_CHUNK, args.num - start), opened.train.shape[1], generator=rng, temperature=args.temperature, labels=rows
        )
        for index, row in enumerate(tokens.cpu()):
            text = printable(opened.tokenizer.decode(row.tolist()))
            print(text if rows is None or args.label is not None else f"{printable(opened.labels.names[int(rows[index])])}\t{text}")
    return 0


def requested_labels(opened: OpenedRun, label: str | None, n: int) -> torch.Tensor | None:
    """The class of each of ``n`` samples: ``label`` for all, or every class in turn (None: the
    run has no classes).

    Raises:
        UserError: ``label`` given to a run without classes, or not one of the run's classes.
    """
    if opened.labels is None:
        if label is not None:
            raise UserError(f"--label {label!r}: {opened.run.path} was not trained with classes", "leave out --label, or train with --conditional")
        return None
    if label is not None:
        return torch.full((n,), opened.labels.class_id(label), dtype=torch.long)
    return torch.arange(n) % opened.labels.num_classes


# far below this, logits / temperature overflow float32 and every draw is the last token; at 1e-4
# sampling is already greedy for any two logits 0.01 apart (odds of e^-100)
TEMPERATURE = at_least(1e-4, "pass 1.0 to sample the model as trained, lower for likelier text")


def check_sampling_flags(temperature: float, seed: int) -> None:
    """UserError for a temperature that is not finite or too small to sample with, or a seed out of range."""
    check_value("--temperature", temperature, TEMPERATURE)
    check_value("--seed", seed, SEED)
