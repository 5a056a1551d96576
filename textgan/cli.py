"""The ``textgan`` command: train, sample, corpora (and eval / experiment where installed).

Every error a user can cause ends here as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from runcore.cli import OneLineParser, add_dataclass_flags
from runcore.errors import UserError
from runcore.process import set_up_process
from runcore.printable import one_line
from runcore.interrupt import EXIT_INTERRUPTED
from runcore.lock import release_all


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """The run's settings, then each agent's and each GAN's own (``--<name>.<setting>``)."""
    from textgan.agents import AGENTS
    from textgan.gans import GANS
    from textgan.seqgan.config import SeqGANConfig

    group = parser.add_argument_group("settings (defaults come from the preset)")
    add_dataclass_flags(group, SeqGANConfig, skip=("preset", "agent_settings", "gan_settings"))
    for name, (_, settings) in AGENTS.items():
        group = parser.add_argument_group(f"settings of --agent {name} (its defaults unless the GAN or preset changes them)")
        add_dataclass_flags(group, settings, show_defaults=True, prefix=f"{name}.")
    for name, gan in GANS.items():
        if gan.settings is not None:
            group = parser.add_argument_group(f"settings of --gan {name}: {gan.description}")
            add_dataclass_flags(group, gan.settings, show_defaults=True, prefix=f"{name}.")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="textgan", description="Text GANs trained by reinforcement learning.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser(
        "train", help="train a text GAN on a corpus",
        description="Train a text GAN (--gan seqgan by default): MLE, reward-model pre-training, adversarial rounds.",
    )  # fmt: skip
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
    sample.add_argument("--label", default=None, help="a conditional run: sample this class (default: every class in turn)")

    commands.add_parser("corpora", help="list the built-in corpora")

    from textgan.commands.eval import add_eval_parser
    from textgan.commands.experiment import add_experiment_parser

    add_eval_parser(commands)
    add_experiment_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    set_up_process()  # first, before torch starts its threads: denormals as 0, freed buffers kept (runcore.process)
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
        print(f"error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; a run continues with: textgan train --resume RUN_DIR", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        release_all()  # the run's lock: a later command in this process may open it
    return 0


if __name__ == "__main__":
    sys.exit(main())
