"""An oracle experiment's run directories (``OUT/seed-S/NAME``), opened as runs for ``textgan eval``.

``textgan experiment oracle`` keeps no tokenizer and no encoded data in its run directories: a
seed's training and held-out sequences are made again from ``OUT/experiment.json`` and the oracle
(:func:`textgan.commands.experiment.seed_data`), the oracle being the file the experiment names or
the random one it saved as ``OUT/oracle.npz``. Opened here, such a folder is compared like any run
(on the oracle's token ids), and its samples are also scored by NLL-oracle, the paper's measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runcore import RunDir
from textgan.models.oracle import Oracle
from textgan.seqgan.config import SeqGANConfig
from textgan.seqgan.runs import TOKENIZER_DIR, OpenedRun

EXPERIMENT_FILE = "experiment.json"


@dataclass
class OracleRun:
    opened: OpenedRun
    oracle: Oracle


def is_oracle_run(path: str | Path) -> bool:
    """Whether ``path`` is a run directory of an oracle experiment: ``OUT/seed-S/NAME`` beside
    ``OUT/experiment.json``, with no tokenizer of its own."""
    folder = Path(path)
    return (
        folder.parent.name.startswith("seed-")
        and (folder.parent.parent / EXPERIMENT_FILE).is_file()
        and not (folder / TOKENIZER_DIR).exists()
    )


def open_oracle_run(path: str | Path) -> OracleRun:
    """The run at ``path`` (see :func:`is_oracle_run`) with its seed's data made again and its oracle."""
    from textgan.commands.experiment import OracleTokens, seed_data  # (the experiment imports the trainers)
    from textgan.commands.parallel_seeds import experiment_from_folder

    run = RunDir.open(path)
    config = SeqGANConfig.from_dict(run.read_config())
    experiment, given = experiment_from_folder(run.path.parent.parent, (config.seed,), seq_len=config.max_len)
    oracle = given if given is not None else Oracle.load(experiment.oracle, seq_len=config.max_len)
    train, test, _ = seed_data(experiment, oracle, config.seed)  # (the validation draw: the trainer's, not eval's)
    return OracleRun(OpenedRun(run, config, OracleTokens(oracle.vocab_size), train, test), oracle)
