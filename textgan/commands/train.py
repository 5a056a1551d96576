"""``textgan train``: start a run, or continue one with ``--resume``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from runcore import EXIT_INTERRUPTED, check_resume_flags, Interrupted, RunDir, console, ddp_info, graceful_stop, plot_curves, resolve_device
from runcore.device import leave_process_group
from runcore.errors import UserError
from runcore.printable import printable
from textgan.seqgan.config import SeqGANConfig, config_fields, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import open_run, write_run
from textgan.gans.base import agent_name, build_trainer, check_data_parallel, check_settings

# settings that may change when a run continues (--rounds may grow); the rest define the run
RESUMABLE = {"device", "checkpoint_every", "checkpoint_minutes", "rounds", "d_precision"}


def _given(args: argparse.Namespace) -> dict:
    """The settings given as flags: plain ones, and ``--<agent>.x`` / ``--<gan>.x`` as nested dicts."""
    from textgan.agents import AGENTS
    from textgan.gans import GANS

    given = {f.name: getattr(args, f.name) for f in config_fields() if getattr(args, f.name) is not None}
    for key, names in (("agent_settings", AGENTS), ("gan_settings", GANS)):
        nested: dict = {}
        for dest, value in vars(args).items():
            name, dot, setting = dest.partition(".")
            if dot and name in names and value is not None:
                nested.setdefault(name, {})[setting] = value
        if nested:
            given[key] = nested
    return given


def _merge(preset: dict, given: dict) -> dict:
    """The preset's settings overridden by the given ones (nested per agent and per GAN)."""
    merged = {**preset, **given}
    for key in ("agent_settings", "gan_settings"):
        merged[key] = {
            name: {**preset.get(key, {}).get(name, {}), **given.get(key, {}).get(name, {})}
            for name in {*preset.get(key, {}), *given.get(key, {})}
        }
    return merged


def train_command(args: argparse.Namespace) -> int:
    """Train (or resume) a run; under ``torchrun`` data-parallel, rank 0 writing the run."""
    rank, _, world_size = ddp_info()
    out = console()
    out.quiet = rank != 0  # under torchrun rank 0 reports
    given = _given(args)
    start = time.perf_counter()
    if args.resume:
        nested = {f"--{name}.*" for key in ("agent_settings", "gan_settings") for name in given.pop(key, {})}
        also = [*nested, *(["--preset"] if args.preset else []), *(["--out"] if args.out else [])]
        check_resume_flags(given, RESUMABLE, "rounds", 0, also)  # before the run is read: nothing to open in vain
        opened = open_run(args.resume)
        if rank == 0:
            opened.run.lock()
        config = opened.config
        check_resume_flags(given, RESUMABLE, "rounds", config.rounds)
        for name, value in given.items():
            setattr(config, name, value)
        config.validate()
        check_data_parallel(config, world_size)
        device = _join_world(resolve_device(config.device), world_size)
        run = opened.run if rank == 0 else None
        trainer = build_trainer(
            config, run, opened.tokenizer, opened.train, opened.test, device, args.quiet, rank=rank, world_size=world_size, labels=opened.labels,
            val_tokens=opened.val,
        )  # fmt: skip
        trainer.load(source=opened.run)
        if run is not None:
            run.write_config(config.to_dict())  # only once the checkpoint loaded: a failed resume changes nothing
        out.print(f"resuming {opened.run.path} at {trainer.position['phase']} step {trainer.position['done']}")
    else:
        preset = args.preset or "default"
        values = _merge(preset_values(preset), given)
        if not values.get("val_fraction") and "mle_patience" not in given:
            values["mle_patience"] = 0  # --val-fraction 0 turns the preset's early stopping off, patience and all
        config = SeqGANConfig(**{**values, "preset": preset})
        config.validate()
        check_settings(config)
        check_data_parallel(config, world_size)
        device = resolve_device(config.device)
        path = RunDir.check_new(Path(args.out) if args.out else RunDir.default_path("runs", Path(config.corpus).stem))
        device = _join_world(device, world_size)
        made = None
        if rank == 0:
            try:
                data = prepare_data(config, quiet=args.quiet)
                config.tokenizer = data.tokenizer.kind  # auto resolved: resume, sample and eval read the kind
                _report(out, config, data)
                config.max_len = data.max_len
                with RunDir.creating(path) as run:
                    write_run(run, config, data)
                    trainer = build_trainer(
                        config, run, data.tokenizer, data.train, data.test, device, args.quiet, world_size=world_size, labels=data.labels,
                        val_tokens=data.val,
                    )  # fmt: skip
                    trainer.save()  # the first checkpoint: a run stopped at any point after this can be resumed
                made = run.path
            finally:  # the other ranks read what rank 0 prepared, once it is there (or stop)
                _share_run_path(made, world_size)
            out.print(f"training {config.gan} with {agent_name(config)} on {device}; run directory {run.path}")
        else:
            made = _share_run_path(None, world_size)
            if made is None:
                raise UserError("rank 0 could not set the run up", "see rank 0's error above")
            opened = open_run(made)
            trainer = build_trainer(
                opened.config, None, opened.tokenizer, opened.train, opened.test, device, args.quiet, rank=rank, world_size=world_size,
                labels=opened.labels, val_tokens=opened.val,
            )  # fmt: skip
    try:
        with graceful_stop():
            trainer.train()
    except Interrupted as stop:
        out.print(f"interrupted {stop.where}; continue with: textgan train --resume {stop.run}", markup=False, highlight=False)
        return _leave_world(EXIT_INTERRUPTED, world_size)
    if trainer.run is None:  # DDP ranks other than 0: rank 0 reports
        del trainer
        return _leave_world(0, world_size)
    records = trainer.run.read_log()
    keys = ["mle_loss", "nll_test", *(["nll_val"] if any("nll_val" in r for r in records) else []), "d_loss", "final_reward"]
    plot = plot_curves(records, keys, trainer.run.plots / "training.png", title=config.gan)
    out.print(f"\nsamples from the generator ({time.perf_counter() - start:.0f} s):")
    for line in trainer.sample_text(config.eval_samples, seed=config.seed + 1):
        out.print("  " + printable(line), markup=False, highlight=False)
    out.print(
        f"\nrun directory: {trainer.run.path}\n  checkpoints: {trainer.run.checkpoints}\n  metrics: {trainer.run.metrics_path}"
        f"\n  samples: {trainer.run.samples}\n  curves: {plot}\nmore samples: textgan sample {trainer.run.path} -n 20"
    )
    del trainer
    return _leave_world(0, world_size)


def _join_world(device: torch.device, world_size: int) -> torch.device:
    """Under ``torchrun``: join the process group (NCCL between GPUs, gloo on CPUs) and return
    this rank's device; otherwise ``device`` as it is."""
    if world_size > 1:
        import torch.distributed as dist

        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def _share_run_path(path: Path | None, world_size: int) -> Path | None:
    """Rank 0's new run directory (None: it failed), on every rank (the default path is timed)."""
    if world_size == 1:
        return path
    import torch.distributed as dist

    shared = [None if path is None else str(path)]
    dist.broadcast_object_list(shared)
    return None if shared[0] is None else Path(shared[0])


def _leave_world(code: int, world_size: int) -> int:
    """Tear the process group down before exit (see ``leave_process_group``); ``code`` back."""
    if world_size > 1:
        leave_process_group()
    return code


def _report(out, config: SeqGANConfig, data) -> None:
    tr = data.train_report
    out.print(f"tokenizer {data.tokenizer.kind} ({data.tokenizer_reason})", markup=False, highlight=False, soft_wrap=True)
    held = "" if data.val is None else f", {len(data.val)} validation (held out of the training split, --val-fraction {config.val_fraction:g})"
    out.print(
        f"corpus {data.source}: {len(data.train)} training{held} and {len(data.test)} test sequences, "
        f"{data.tokenizer.vocab_size} {config.tokenizer} tokens, max_len {data.max_len}"
    )
    if data.labels is not None:
        counts = torch.bincount(data.labels.train, minlength=data.labels.num_classes).tolist()
        shown = ", ".join(f"{printable(name)} ({count})" for name, count in zip(data.labels.names, counts))
        out.print(f"classes: {shown}", markup=False, highlight=False)
    if tr.n_dropped or tr.n_cut:
        action = f"dropped {tr.n_dropped}" if tr.n_dropped else f"cut {tr.n_cut}"
        out.print(
            f"note: {action} of {tr.n_lines} training lines longer than --max-len {data.max_len} "
            f"(the longest has {tr.longest} tokens; --long-lines cut keeps their starts)"
        )
