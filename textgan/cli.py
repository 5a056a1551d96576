"""The ``textgan`` command: train, sample, corpora (and eval / experiment where installed).

Every error a user can cause ends here as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing

from textgan.errors import UserError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that says how to get help."""

    def error(self, message: str):
        raise UserError(message, f"see '{self.prog} --help'")


def _field_type(annotation) -> tuple[type, str | None]:
    """(element type, nargs) for a config field's annotation."""
    if isinstance(annotation, str):
        annotation = eval(annotation, {"tuple": tuple, "int": int, "float": float, "str": str, "None": None})  # noqa: S307 - our own annotations
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        origin = typing.get_origin(annotation)
    if origin is tuple:
        return typing.get_args(annotation)[0], "+"
    return annotation, None


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    from textgan.seqgan.config import config_fields, field_docs

    docs = field_docs()
    group = parser.add_argument_group("settings (defaults come from the preset)")
    for field in config_fields():
        element, nargs = _field_type(field.type)
        flag = "--" + field.name.replace("_", "-")
        group.add_argument(flag, dest=field.name, type=element, nargs=nargs, default=None, help=docs.get(field.name))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="textgan", description="Text GANs trained by reinforcement learning.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser("train", help="train SeqGAN on a corpus", description="Train SeqGAN: MLE, D pre-training, adversarial rounds.")
    train.add_argument("--preset", default=None, help="default (about 15 min on 2 CPU cores), paper, or tiny")
    train.add_argument("--out", default=None, help="run directory (default runs/<corpus>-<time>); never overwritten")
    train.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a run where it stopped")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_flags(train)

    sample = commands.add_parser("sample", help="print generated text from a run")
    sample.add_argument("run_dir")
    sample.add_argument("-n", "--num", type=int, default=20, help="how many samples")
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--checkpoint", default=None, help="a checkpoint name in RUN_DIR/checkpoints (default: final, else latest)")
    sample.add_argument("--device", default="cpu")

    commands.add_parser("corpora", help="list the built-in corpora")

    from textgan.commands.eval import add_eval_parser
    from textgan.commands.experiment import add_experiment_parser

    add_eval_parser(commands)
    add_experiment_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "train":
            from textgan.commands.train import train_command

            return train_command(args)
        if args.command == "sample":
            from textgan.commands.sample import sample_command

            return sample_command(args)
        if args.command == "corpora":
            from textgan.data import BUILTIN_CORPORA

            for name, description in BUILTIN_CORPORA.items():
                print(f"{name:12s} {description}")
            return 0
        if args.command in ("eval", "experiment"):
            return args.run_command(args)
        parser.error(f"unknown command {args.command}")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; a run continues with: textgan train --resume RUN_DIR", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
