"""``textgan experiment oracle``: SeqGAN's synthetic-data experiment (Yu et al. 2017, section 5),
and the comparison of the GAN family on it (``--gans seqgan maligan rankgan dpgan constant``).

An oracle LSTM — the paper's own (``--oracle NPZ``) or a seeded random one — writes 10,000
training sequences of 20 tokens (the paper's), then 2,000 held-out test sequences and, after
those, 1,000 validation sequences: a separate draw from the seed's data stream, so the training
and test data of every seed are those of the experiment before validation existed, and the 10,000
training sequences stay the paper's. For each seed, MLE pre-training runs once (``pretrain``) and
every other model continues from its ``after-mle`` checkpoint — the same generator, optimiser and
random streams — so they differ only in what follows it, and the comparison is paired.

With early stopping (the default; ``--no-early-stopping``: the paper's fixed schedule) MLE keeps
the epoch with the best validation NLL (``textgan.seqgan.early_stopping``): the shared pre-training
keeps its best epoch, so every GAN starts from the early-stopped MLE model, and

- ``mle``: that model continued by MLE for as many epochs as the GANs have adversarial rounds,
  keeping the best validation epoch of all (pre-training's and the continued ones) — the MLE
  baseline, not MLE overfit by its last epochs (``kept_epoch`` in each seed's summary says which);
- each GAN of ``--gans`` (default ``seqgan constant``): its own D pre-training, then adversarial
  rounds with its reward model; ``constant`` is the ablation with SeqGAN's estimator and a constant
  reward of 1 per token, so it pre-trains and trains no D (how much of the gain needs D at all).

Each is scored by NLL-oracle on 10,000 of its samples (the paper's measure) and NLL-test on
held-out oracle data. Beside each GAN stands MLE at the matched temperature (Caccia et al. 2018):
the temperature at which the better MLE model (pre-trained or continued, whichever has the lower
NLL-test at temperature 1) has the GAN's NLL-test, and that model's NLL-oracle there. Each GAN's
verdict (``textgan.metrics.verdict``) comes from the seeds' paired differences there: beyond MLE's
curve, inside it, or on it at this budget. The report gives mean ± std over seeds, NLL-oracle
against epoch for all models in one PNG, and a temperature sweep of NLL-oracle (quality) against
NLL-test (diversity), one curve per model.

Layout of ``--out``::

    experiment.json                settings (a rerun into the same folder must match them)
    oracle.npz                     the oracle (written when it is a random one)
    seed-<s>/pretrain/             the shared MLE pre-training (run directory)
    seed-<s>/{mle,<gan>...}/       run directories (metrics.jsonl, checkpoints, samples)
    seed-<s>/random_init.json      NLL-oracle of the untrained generator
    seed-<s>/summary.json          that seed's final numbers and curves (a finished seed is reused)

Stopped at any point (Ctrl-C, a kill), the same command goes on: finished seeds are reused, and
in an unfinished one every run directory continues from its last checkpoint (a new one starts
from its first: MLE pre-training from scratch, the others from ``after-mle``), so the numbers
are those of an uninterrupted experiment.
    results.json, results.md       the tables; nll_oracle.png, quality_diversity.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.table import Table

from runcore import EXIT_INTERRUPTED, LATEST, Interrupted, RunDir, console, graceful_stop, load_modules, make_progress, plot_series, resolve_device, write_json_atomic, write_text_atomic
from runcore.errors import UserError
from textgan.metrics import nll_oracle, nll_test, temperature_sweep
from textgan.metrics.sweep import DEFAULT_TEMPERATURES, MATCH_RANGE, matched_temperature
from textgan.metrics.verdict import curve_verdict
from textgan.models import Generator
from textgan.models.discriminator import PAPER_NUM_FILTERS
from textgan.models.oracle import START_TOKEN, Oracle
from textgan.seqgan.config import PAPER, SeqGANConfig
from textgan.gans import GANS, build_trainer
from textgan.seqgan.trainer import SeqGANTrainer, build_generator

DEFAULT_GANS = ("seqgan", "constant")
# Short labels for tables and plots; a GAN not listed gets its description up to the first colon.
GAN_LABELS = {
    "seqgan": "SeqGAN", "maligan": "MaliGAN", "rankgan": "RankGAN", "dpgan": "DPGAN", "constant": "constant reward, no D",
}
BASE_LABELS = {"after_mle": "MLE pre-trained", "mle": "MLE"}
# GANs that learn no reward model: no D pre-training and no D steps in their rounds.
FIXED_REWARD = ("constant",)
# Samples for the per-epoch curve use one fixed random stream, so epochs differ by the model only.
CURVE_SEED, FINAL_SEED = 12345, 54321

# The paper's schedule (SeqGAN's code: 120 MLE epochs, 50 x 3 D epochs, 200 rounds of 1 G step and
# 5 x 3 D epochs on 10,000 fresh negatives). Hours on 2 CPU cores; minutes on a GPU.
PAPER_EXPERIMENT = dict(PAPER)
# A reduced schedule, 8-13 minutes per seed on one busy CPU core (docs/RESULTS.md): fewer MLE epochs and
# rounds, D steps on 2,000 + 2,000 sequences, a D of half the paper's filters. Same models
# otherwise (V=5000, emb/hidden 32, batch 64, K=16). Its numbers are not the paper's.
SMALL_EXPERIMENT = dict(
    PAPER, mle_epochs=10, d_pretrain_steps=3, d_epochs=1, num_negatives=2000, rounds=10, d_steps=1,
    d_num_filters=tuple(n // 2 for n in PAPER_NUM_FILTERS),
)
EXPERIMENT_PRESETS = {"paper": PAPER_EXPERIMENT, "small": SMALL_EXPERIMENT}
PUBLISHED = {  # NLL-oracle, paper schedule: SeqGAN paper Table 1 and text; RelGAN paper Table 1 (RankGAN)
    "random_init": 10.310, "mle": 9.038, "seqgan": 8.736, "rankgan": 8.247, "oracle": 5.75,
}


def label(name: str) -> str:
    """A short name for a model key: after_mle, mle, or a GAN's name."""
    if name in BASE_LABELS:
        return BASE_LABELS[name]
    if name in GAN_LABELS:
        return GAN_LABELS[name]
    head = GANS[name].description.split(":")[0].strip() if name in GANS else ""
    return head if head and len(head) <= 24 else name


def swept(gans) -> tuple[str, ...]:
    """The models of the temperature sweep: the shared pre-trained one, MLE and each GAN."""
    return ("after_mle", "mle", *gans)


@dataclass
class OracleExperiment:
    """Everything that defines an oracle experiment (written to ``experiment.json``)."""

    oracle: str | None = None
    """the paper's oracle (.npz); None: a random one with N(0, 1) weights"""
    oracle_seed: int = 0
    """seed of the random oracle"""
    seeds: tuple[int, ...] = (0, 1, 2)
    """one training set, initialisation and run per seed"""
    preset: str = "paper"
    num_train: int = 10_000
    """oracle sequences to train on"""
    num_test: int = 2_000
    """held-out oracle sequences for NLL-test"""
    num_val: int = 1_000
    """validation oracle sequences (drawn after the training and test ones) for early stopping"""
    early_stopping: bool = True
    """MLE (the shared pre-training and the MLE baseline) keeps its best validation epoch"""
    eval_samples: int = 10_000
    """samples per final NLL-oracle (the paper: 10,000 or more)"""
    curve_samples: int = 2_000
    """samples per NLL-oracle point of the per-epoch curve"""
    sweep_samples: int = 2_000
    """samples per temperature of the quality-diversity sweep (first seed only)"""
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    gans: tuple[str, ...] = DEFAULT_GANS
    """the GANs compared (names of ``textgan.gans.GANS``), each from the same MLE pre-training"""
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    """SeqGAN settings changed from the preset (e.g. mle_epochs)"""

    def seqgan_config(self, seed: int) -> SeqGANConfig:
        values = {**EXPERIMENT_PRESETS[self.preset], **self.overrides}
        return SeqGANConfig(**values, corpus="oracle", seed=seed, preset=self.preset, eval_samples=0)

    def settings(self) -> dict[str, Any]:
        """What must match for a finished seed in ``--out`` to be reused (not the seed list)."""
        values = dataclasses.asdict(self)
        del values["seeds"]
        return json.loads(json.dumps(values))  # tuples as lists, as read back from JSON


@dataclass
class OracleTokens:
    """What the trainer needs of a tokenizer, for the oracle's raw ids: no EOS, token 0 starts."""

    vocab_size: int
    bos_id: int = START_TOKEN
    eos_id: int | None = None
    pad_id: int = 0
    kind: str = "oracle"

    def decode(self, ids) -> str:
        return " ".join(str(int(i)) for i in ids)


def add_experiment_parser(commands: argparse._SubParsersAction) -> None:
    from textgan.cli import OneLineParser

    parser = commands.add_parser("experiment", help="reproduce a paper's experiment")
    kinds = parser.add_subparsers(dest="experiment", required=True, parser_class=OneLineParser)
    oracle = kinds.add_parser(
        "oracle",
        help="SeqGAN's synthetic experiment: MLE vs the GANs (default SeqGAN and constant reward), NLL-oracle",
        description="SeqGAN's synthetic-data experiment: an oracle LSTM makes the data; MLE and each GAN of --gans, "
        "all from one MLE pre-training per seed, are scored by NLL-oracle and NLL-test over seeds, each GAN beside "
        "MLE at the temperature that matches its NLL-test.",
    )
    oracle.add_argument("--oracle", default=None, metavar="NPZ", help="the oracle (e.g. ../shared/data/oracle/seqgan_oracle_lstm.npz); default: a seeded random one")
    oracle.add_argument("--oracle-seed", type=int, default=0, help="seed of the random oracle")
    oracle.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    oracle.add_argument("--gans", nargs="+", choices=list(GANS), default=list(DEFAULT_GANS), metavar="NAME",
                        help=f"the GANs to compare, each from the same MLE pre-training ({', '.join(GANS)}; "
                        f"default: {' '.join(DEFAULT_GANS)})")
    oracle.add_argument("--preset", choices=sorted(EXPERIMENT_PRESETS), default="paper",
                        help="paper (the paper's schedule: hours on a CPU) or small (a reduced schedule)")
    oracle.add_argument("--out", default=None, help="output folder (default runs/oracle-<time>); finished seeds in it are reused")
    oracle.add_argument("--mle-epochs", type=int, default=None)
    oracle.add_argument("--rounds", type=int, default=None)
    oracle.add_argument("--d-pretrain-steps", type=int, default=None)
    oracle.add_argument("--early-stopping", action=argparse.BooleanOptionalAction, default=True,
                        help="MLE keeps the epoch with the best NLL on 1,000 validation sequences drawn from the oracle: the shared "
                        "pre-training (every GAN starts from it) and the MLE baseline (default: on; --no-early-stopping: the "
                        "paper's fixed schedule, the last epoch)")
    oracle.add_argument("--d-precision", choices=("fp32", "bf16"), default=None,
                        help="the discriminator's compute precision (default fp32; bf16: autocast, fp32 weights and loss)")
    oracle.add_argument("--eval-samples", type=int, default=10_000, help="samples per final NLL-oracle")
    oracle.add_argument("--curve-samples", type=int, default=2_000, help="samples per point of the NLL-oracle curve")
    oracle.add_argument("--sweep-samples", type=int, default=2_000, help="samples per temperature of the sweep")
    oracle.add_argument("--temperatures", type=float, nargs="+", default=list(DEFAULT_TEMPERATURES))
    oracle.add_argument("--device", default="auto")
    oracle.add_argument("--quiet", action="store_true", help="no progress bars")
    oracle.add_argument("--parallel", type=int, default=1, metavar="N",
                        help="run up to N seeds side by side as separate processes (one torch thread each on the CPU); "
                             "the results equal a sequential run's")
    oracle.add_argument("--sweep-seed", type=int, default=None, help=argparse.SUPPRESS)  # set by --parallel in its children
    oracle.add_argument("--from-folder", type=int, default=None, metavar="SEQ_LEN", help=argparse.SUPPRESS)  # settings from --out
    oracle.add_argument("--no-aggregate", action="store_true", help=argparse.SUPPRESS)  # a --parallel child: seeds only
    oracle.set_defaults(run_command=oracle_command)


def oracle_command(args: argparse.Namespace) -> int:
    overrides = {
        name: getattr(args, name) for name in ("mle_epochs", "rounds", "d_pretrain_steps", "d_precision") if getattr(args, name) is not None
    }
    experiment = OracleExperiment(
        oracle=args.oracle, oracle_seed=args.oracle_seed, seeds=tuple(dict.fromkeys(args.seeds)), preset=args.preset,
        eval_samples=args.eval_samples, curve_samples=args.curve_samples, sweep_samples=args.sweep_samples,
        temperatures=tuple(args.temperatures), gans=tuple(dict.fromkeys(args.gans)), overrides=overrides,
        early_stopping=args.early_stopping,
    )
    for name in ("eval_samples", "curve_samples", "sweep_samples"):
        if getattr(experiment, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1", "pass a positive number")
    if any(not t > 0 for t in experiment.temperatures):
        raise UserError("--temperatures must all be positive", "e.g. --temperatures 0.8 1.0 1.2")
    experiment.seqgan_config(experiment.seeds[0]).validate()
    if args.parallel < 1:
        raise UserError("--parallel must be at least 1", "e.g. --parallel 3 for three seeds side by side")
    out = Path(args.out) if args.out else RunDir.default_path("runs", "oracle")
    device = resolve_device(args.device)
    given = None
    if args.from_folder is not None:  # a --parallel child: the parent's experiment (and oracle), for these seeds
        from textgan.commands.parallel_seeds import experiment_from_folder

        experiment, given = experiment_from_folder(out, experiment.seeds, seq_len=args.from_folder)
    if args.no_aggregate:
        from textgan.commands.parallel_seeds import watch_parent

        watch_parent()
        if device.type != "cuda":
            torch.set_num_threads(1)
    try:
        with graceful_stop():
            if args.parallel > 1:
                from textgan.commands.parallel_seeds import run_seeds_in_parallel

                code = run_seeds_in_parallel(experiment, out, device, args.parallel)
                if code:
                    return code
            run_oracle_experiment(
                experiment, out, device, quiet=args.quiet, oracle=given, sweep_seed=args.sweep_seed, aggregate=not args.no_aggregate
            )
    except Interrupted as stop:
        console().print(f"interrupted {stop.where} in {stop.run}; continue with the same command and --out {out}", markup=False, highlight=False)
        return EXIT_INTERRUPTED
    return 0


def run_oracle_experiment(
    experiment: OracleExperiment, out: Path, device: torch.device, quiet: bool = False, oracle: Oracle | None = None,
    sweep_seed: int | None = None, aggregate: bool = True,
) -> dict | None:
    """Run (or finish) the experiment in ``out``; returns what ``results.json`` holds.

    ``oracle``, when given, replaces the one ``experiment`` names (e.g. a small one for tests);
    it is saved to ``out/oracle.npz`` as a random oracle is. ``sweep_seed`` (default: the first
    seed) is the seed whose temperature sweep is measured; ``aggregate=False`` only prepares ``out``
    and runs the seeds (what a ``--parallel`` child does), returning None.
    """
    if sweep_seed is None and experiment.seeds:
        sweep_seed = experiment.seeds[0]
    show = console()
    unknown = [g for g in experiment.gans if g not in GANS]
    if unknown or not experiment.gans:
        raise UserError(f"unknown GAN(s) {', '.join(unknown) or '(none given)'}", f"choose from {', '.join(GANS)}")
    from_file = oracle is None and experiment.oracle is not None
    if oracle is None:
        oracle = Oracle.load(experiment.oracle) if from_file else Oracle.random(seed=experiment.oracle_seed)
    _claim_folder(out, experiment)
    if not from_file and not (out / "oracle.npz").is_file():  # (a --parallel child finds its parent's)
        oracle.save(out / "oracle.npz")  # so that the data can be made again without textgan
    if not experiment.seeds:
        return None
    oracle = oracle.to(device)
    summaries = []
    for seed in experiment.seeds:
        path = out / f"seed-{seed}" / "summary.json"
        if path.is_file():
            show.print(f"seed {seed}: reusing {path}")
            summaries.append(json.loads(path.read_text(encoding="utf-8")))
            continue
        start = time.perf_counter()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        summary = run_seed(experiment, oracle, seed, out / f"seed-{seed}", device, quiet, sweep=seed == sweep_seed)
        summary["seconds"] = time.perf_counter() - start
        if device.type == "cuda":  # this process's peak, over the seed's pre-training, runs and scoring
            summary["peak_gpu_memory_bytes"] = torch.cuda.max_memory_allocated(device)
        write_json_atomic(path, summary)
        summaries.append(summary)
        show.print(f"seed {seed} done in {summary['seconds']:.0f} s: " + ", ".join(
            f"{label(v)} {summary['final'][v]['nll_oracle']:.3f}" for v in ("mle", *experiment.gans)))
    if not aggregate:
        return None
    oracle_nll = oracle.nll(oracle.sample(experiment.eval_samples, generator=torch.Generator().manual_seed(FINAL_SEED)))
    results = _aggregate(experiment, summaries, oracle_nll)
    write_json_atomic(out / "results.json", results)
    write_text_atomic(out / "results.md", _markdown(results))
    _plot_curves(summaries, experiment, out / "nll_oracle.png")
    if results["sweep"]:
        points = results["sweep"]["points"]
        plot_series(
            {label(v): ([p["nll_test"] for p in points[v]], [p["nll_oracle"] for p in points[v]])
             for v in swept(experiment.gans) if v in points},
            out / "quality_diversity.png",
            xlabel="NLL-test (lower: the model explains held-out data better)",
            ylabel="NLL-oracle (lower: more realistic samples)",
            title=f"temperatures {', '.join(f'{t:g}' for t in experiment.temperatures)} (seed {results['sweep']['seed']})",
        )
    _print_results(show, results, out)
    return results


def seed_data(experiment: OracleExperiment, oracle: Oracle, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The seed's training, held-out test and validation oracle sequences (CPU), made again the
    same way each time: one stream, the validation draw last (the first two as before it existed)."""
    data_rng = torch.Generator().manual_seed(seed)
    train = oracle.sample(experiment.num_train, generator=data_rng).cpu()
    test = oracle.sample(experiment.num_test, generator=data_rng).cpu()
    val = oracle.sample(experiment.num_val, generator=data_rng).cpu()
    return train, test, val


def load_generator(
    experiment: OracleExperiment, oracle: Oracle, seed: int, folder: Path, model: str, device: torch.device | str = "cpu"
) -> Generator:
    """A finished seed's generator: ``after_mle`` (the shared pre-training), ``mle`` or a GAN's final one."""
    config = dataclasses.replace(experiment.seqgan_config(seed), max_len=oracle.seq_len)
    generator = build_generator(config, OracleTokens(oracle.vocab_size)).to(device)
    run, checkpoint = ("pretrain", "after-mle") if model == "after_mle" else (model, "final")
    load_modules(folder / run / "checkpoints" / f"{checkpoint}.safetensors", {"generator": generator}, device=device)
    return generator


def run_seed(
    experiment: OracleExperiment, oracle: Oracle, seed: int, folder: Path, device: torch.device, quiet: bool, sweep: bool
) -> dict:
    """Pre-train once, train MLE and each GAN from there, and score them; returns the seed's summary."""
    held: list[RunDir] = []
    try:
        return _run_seed(experiment, oracle, seed, folder, device, quiet, sweep, held)
    finally:
        for run in held:  # the runs' locks, also when stopped: a later call in this process goes on
            run.unlock()


def _run_seed(
    experiment: OracleExperiment, oracle: Oracle, seed: int, folder: Path, device: torch.device, quiet: bool, sweep: bool,
    held: list[RunDir],
) -> dict:
    show = console()
    train, test, val = seed_data(experiment, oracle, seed)
    val = val if experiment.early_stopping else None
    tokens = OracleTokens(oracle.vocab_size)

    def evaluate(generator: Generator) -> dict[str, float]:
        return {"nll_oracle": nll_oracle(generator, oracle, n=experiment.curve_samples, seed=CURVE_SEED)}

    def trainer(name: str, start=None, **changes) -> SeqGANTrainer:
        """Run ``name`` of this seed: continued from its last checkpoint if it has one, else
        made anew (``start(trainer)`` sets its first state, saved as its first checkpoint)."""
        config = dataclasses.replace(experiment.seqgan_config(seed), max_len=oracle.seq_len, **changes)
        path = folder / name
        if (path / "checkpoints" / f"{LATEST}.safetensors").is_file():
            run = RunDir.open(path).lock()
            held.append(run)
            made = build_trainer(config, run, tokens, train, test, device, quiet, evaluate=evaluate, val_tokens=val)
            made.load()
            return made
        if path.exists():
            shutil.rmtree(path)  # made by a process that died before its first checkpoint
        with RunDir.creating(path) as run:
            held.append(run)
            run.write_config(config.to_dict())
            made = build_trainer(config, run, tokens, train, test, device, quiet, evaluate=evaluate, val_tokens=val)
            if start is not None:
                start(made)
            made.save()
        return made

    def from_pretraining(position: dict[str, Any] | None = None):
        def start(made: SeqGANTrainer) -> None:
            _continue_from(made, pretrain, "after-mle")
            if position is not None:  # (the best MLE epoch so far stays in it)
                made.position = {**made.position, **position}
        return start

    base = experiment.seqgan_config(seed)
    base.max_len = oracle.seq_len
    folder.mkdir(parents=True, exist_ok=True)
    keeping = ", keeping the best validation epoch" if val is not None else ""
    show.print(f"seed {seed}: MLE pre-training ({base.mle_epochs} epochs{keeping})")
    # the constant reward builds no D: the shared start holds the generator, its optimiser and the
    # random streams; each GAN's reward model keeps the fresh init its own trainer gave it
    pretrain = trainer("pretrain", gan="constant", d_pretrain_steps=0, rounds=0, d_steps=0)
    initial_path = folder / "random_init.json"
    if not initial_path.is_file():  # the untrained generator: only a new pretrain run still holds it
        write_json_atomic(initial_path, {"nll_oracle": nll_oracle(pretrain.generator, oracle, n=experiment.eval_samples, seed=FINAL_SEED)})
    initial = json.loads(initial_path.read_text(encoding="utf-8"))["nll_oracle"]
    pretrain.train()

    runs: dict[str, SeqGANTrainer] = {}
    for gan in experiment.gans:
        fixed = gan in FIXED_REWARD
        show.print(f"seed {seed}: {label(gan)}: " + ("" if fixed else "D pre-training, ") + f"{base.rounds} rounds")
        # a GAN with a generator of its own (LeakGAN) pre-trains it itself, for the same MLE epochs
        start = None if GANS[gan].build_agent is not None else from_pretraining()
        runs[gan] = trainer(gan, start, gan=gan, **({"d_pretrain_steps": 0, "d_steps": 0} if fixed else {}))
        runs[gan].train()

    show.print(f"seed {seed}: MLE continued for {base.rounds} more epochs{keeping}")
    mle = trainer(
        "mle", from_pretraining({"phase": "mle", "done": base.mle_epochs}),
        gan="constant", mle_epochs=base.mle_epochs + base.rounds, d_pretrain_steps=0, rounds=0, d_steps=0,
    )
    mle.train()

    pretrained = build_generator(base, tokens).to(device)
    load_modules(pretrain.run.checkpoint_path("after-mle"), {"generator": pretrained}, device=device)
    models = {"after_mle": pretrained, "mle": mle.generator, **{gan: run.generator for gan, run in runs.items()}}
    final, matched = {}, {}
    with make_progress(disable=quiet) as progress:
        task = progress.add_task(f"seed {seed}: final NLL-oracle", total=len(models) + len(runs), status="")
        for name, generator in models.items():
            final[name] = {
                "nll_oracle": nll_oracle(generator, oracle, n=experiment.eval_samples, seed=FINAL_SEED),
                "nll_test": nll_test(generator, test),
            }
            progress.update(task, advance=1, status=f"{name} {final[name]['nll_oracle']:.3f}")
        # Caccia et al.: MLE at the temperature where its NLL-test is the GAN's; the better MLE model
        source = min(("after_mle", "mle"), key=lambda name: final[name]["nll_test"])
        for gan in runs:
            target = final[gan]["nll_test"]
            temperature = matched_temperature(models[source], test, target)
            entry: dict[str, Any] = {"source": source, "target_nll_test": target, "temperature": temperature}
            if temperature is not None:
                entry["nll_test"] = nll_test(models[source], test, temperature=temperature)
                entry["nll_oracle"] = nll_oracle(
                    models[source], oracle, n=experiment.eval_samples, seed=FINAL_SEED, temperature=temperature
                )
            matched[gan] = entry
            shown = "no match" if temperature is None else f"T={temperature:.3f} {entry['nll_oracle']:.3f}"
            progress.update(task, advance=1, status=f"MLE matched to {gan}: {shown}")
        points = {}
        if sweep:
            names = swept(experiment.gans)
            task = progress.add_task("temperature sweep", total=len(names) * len(experiment.temperatures), status="")
            for name in names:
                points[name] = temperature_sweep(
                    models[name],
                    lambda samples: {"nll_oracle": oracle.nll(samples)},
                    max_len=oracle.seq_len,
                    temperatures=experiment.temperatures,
                    n=experiment.sweep_samples,
                    test_tokens=test,
                    seed=FINAL_SEED,
                    on_point=lambda point, v=name: progress.update(
                        task, advance=1, status=f"{v} T={point['temperature']:g}: {point['nll_oracle']:.3f}"
                    ),
                )
    # the run whose MLE epochs each model has: a GAN with its own generator pre-trained it itself
    trained = {"after_mle": pretrain, "mle": mle, **{gan: run if GANS[gan].build_agent is not None else pretrain for gan, run in runs.items()}}
    return {
        "seed": seed,
        "gans": list(experiment.gans),
        "random_init": initial,
        "final": final,
        "matched": matched,
        # the MLE epoch each model kept (its own pre-training's, or the shared one's); None: the last
        "kept_epoch": {name: made.position.get("mle_best", {}).get("epoch") for name, made in trained.items()},
        "curves": {
            "mle": _curve(pretrain, mle, base.mle_epochs),
            **{gan: _curve(trained[gan], run, base.mle_epochs) for gan, run in runs.items()},
        },
        "sweep": points,
    }


def _continue_from(trainer: SeqGANTrainer, source: SeqGANTrainer, checkpoint: str) -> None:
    """Start ``trainer`` from ``source``'s checkpoint (models, optimisers and random streams)."""
    shutil.copyfile(source.run.checkpoint_path(checkpoint), trainer.run.checkpoint_path(checkpoint))
    trainer.load(checkpoint, strict=False)


def _curve(pretraining: SeqGANTrainer, continuation: SeqGANTrainer, mle_epochs: int) -> list[list[float]]:
    """[epoch, NLL-oracle] pairs: the shared MLE epochs of ``pretraining``, then what followed them.

    What followed is ``continuation``'s log: its MLE epochs count on from ``mle_epochs``; its
    adversarial round r is epoch ``mle_epochs + r``.
    """
    points = []
    for record in pretraining.run.read_log():
        if "nll_oracle" in record and record["phase"] == "mle" and record["step"] <= mle_epochs:
            points.append([record["step"], record["nll_oracle"]])
    for record in continuation.run.read_log():
        if "nll_oracle" in record and record["phase"] == "adversarial":
            points.append([mle_epochs + record["step"], record["nll_oracle"]])
        elif "nll_oracle" in record and record["phase"] == "mle" and record["step"] > mle_epochs:
            points.append([record["step"], record["nll_oracle"]])
    return points


# ---- the folder and the oracle -----------------------------------------------------------------


def _claim_folder(out: Path, experiment: OracleExperiment) -> None:
    settings_path = out / "experiment.json"
    if settings_path.is_file():
        # a folder from before validation existed: an experiment without early stopping
        previous = {"early_stopping": False, "num_val": OracleExperiment.num_val, **json.loads(settings_path.read_text(encoding="utf-8"))}
        if previous != experiment.settings():
            changed = sorted(k for k in {**previous, **experiment.settings()} if previous.get(k) != experiment.settings().get(k))
            raise UserError(
                f"{out} holds an experiment with other settings ({', '.join(changed)})", "choose another --out, or the same settings"
            )
    elif out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not an oracle experiment", "choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(settings_path, experiment.settings())


# ---- reporting ---------------------------------------------------------------------------------


def _mean_std(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def _aggregate(experiment: OracleExperiment, summaries: list[dict], oracle_nll: float) -> dict:
    config = experiment.seqgan_config(experiment.seeds[0])
    rows: dict[str, Any] = {"random_init": _mean_std([s["random_init"] for s in summaries])}
    for name in ("after_mle", "mle", *experiment.gans):
        rows[name] = {
            metric: _mean_std([s["final"][name][metric] for s in summaries]) for metric in ("nll_oracle", "nll_test")
        }
    matched, verdicts = {}, {}
    for gan in experiment.gans:
        entries = [s["matched"][gan] for s in summaries]
        found = [e for e in entries if e["temperature"] is not None]
        matched[gan] = {
            "sources": [e["source"] for e in entries],
            "matched_seeds": [s["seed"] for s, e in zip(summaries, entries) if e["temperature"] is not None],
            **{metric: _mean_std([e[metric] for e in found]) for metric in ("temperature", "nll_oracle", "nll_test")},
        }
        # paired per seed: the GAN's NLL-oracle minus MLE's at the matched temperature, and at temperature 1
        differences = [s["final"][gan]["nll_oracle"] - e["nll_oracle"] for s, e in zip(summaries, entries) if e["temperature"] is not None]
        verdicts[gan] = {
            **curve_verdict(differences, experiment.eval_samples),
            "difference_at_temperature_1": _mean_std([s["final"][gan]["nll_oracle"] - s["final"]["mle"]["nll_oracle"] for s in summaries]),
        }
    return {
        "experiment": experiment.settings(),
        "seeds": [s["seed"] for s in summaries],
        "seconds": {str(s["seed"]): s.get("seconds") for s in summaries},
        "peak_gpu_memory_bytes": {str(s["seed"]): s.get("peak_gpu_memory_bytes") for s in summaries},
        "schedule": {k: getattr(config, k) for k in ("mle_epochs", "d_pretrain_steps", "d_epochs", "num_negatives", "rounds", "d_steps", "rollouts", "batch_size")},
        "oracle_samples_nll": oracle_nll,
        "rows": rows,
        "matched": matched,
        "verdicts": verdicts,
        "kept_epoch": {str(s["seed"]): s.get("kept_epoch") for s in summaries},
        "match_range": list(MATCH_RANGE),
        "sweep": next(({"seed": s["seed"], "points": s["sweep"]} for s in summaries if s.get("sweep")), None),
        "published": PUBLISHED,
    }


def _cell(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "—"
    return f"{stats['mean']:.3f} ± {stats['std']:.3f}" if stats["n"] > 1 else f"{stats['mean']:.3f}"


def _published(key: str) -> str:
    return f"{PUBLISHED[key]:.3f}" if key in PUBLISHED else "—"


SHORT_VERDICTS = {"beyond": "beyond MLE's curve", "inside": "inside MLE's curve", "on": "on MLE's curve", "unmatched": "no match"}


def _kept(results: dict, model: str) -> str:
    """The MLE epochs ``model`` kept over the seeds (early stopping), e.g. ``"8, 9"``; "" without."""
    epochs = [kept.get(model) for kept in (results.get("kept_epoch") or {}).values() if kept]
    return ", ".join(str(e) for e in epochs if e is not None)


def _table_rows(results: dict) -> list[tuple[str, str, str, str, str, str]]:
    """(model, NLL-oracle, NLL-test, temperature, published NLL-oracle, verdict) per table row."""
    schedule = results["schedule"]
    m, r = schedule["mle_epochs"], schedule["rounds"]
    rows, seeds = results["rows"], len(results["seeds"])
    early = results["experiment"].get("early_stopping", False)
    names = {"after_mle": f"{m} epochs", "mle": f"{m + r} epochs"}
    if early:  # the epochs each kept, seed by seed
        names = {model: f"{epochs}, best: {_kept(results, model)}" for model, epochs in names.items()}
    lines = [
        ("random initialisation", _cell(rows["random_init"]), "—", "1", _published("random_init"), ""),
        (f"MLE pre-trained ({names['after_mle']})", _cell(rows["after_mle"]["nll_oracle"]), _cell(rows["after_mle"]["nll_test"]), "1", "—", ""),
        (f"MLE ({names['mle']})", _cell(rows["mle"]["nll_oracle"]), _cell(rows["mle"]["nll_test"]), "1", _published("mle"), ""),
    ]
    low, high = results["match_range"]
    verdicts = results.get("verdicts", {})
    for gan in results["experiment"]["gans"]:
        verdict = verdicts.get(gan)
        lines.append((
            f"{label(gan)} ({m} MLE epochs + {r} rounds)", _cell(rows[gan]["nll_oracle"]), _cell(rows[gan]["nll_test"]), "1",
            _published(gan), SHORT_VERDICTS[verdict["verdict"]] if verdict else "",
        ))
        match = results["matched"][gan]
        sources = sorted(set(match["sources"]))
        source = " / ".join("pre-trained" if s == "after_mle" else names["mle"] for s in sources) if early else (
            " / ".join(names[s] for s in sources))
        found = len(match["matched_seeds"])
        temperature = _cell(match["temperature"]) if found else f"none in [{low:g}, {high:g}]"
        if 0 < found < seeds:
            temperature += f" ({found} of {seeds} seeds)"
        lines.append((
            f"  MLE ({source}) at {label(gan)}'s NLL-test", _cell(match["nll_oracle"]), _cell(match["nll_test"]), temperature, "—", "",
        ))
    lines.append(("oracle's own samples", f"{results['oracle_samples_nll']:.3f}", "—", "—", f"≈ {PUBLISHED['oracle']:.2f}", ""))
    return lines


def _verdict_lines(results: dict) -> list[str]:
    """One sentence per GAN: its verdict and the paired differences it rests on."""
    lines = []
    for gan, verdict in results.get("verdicts", {}).items():
        line = f"- {label(gan)} {verdict['text']}"
        if verdict["seeds"]:
            line += (
                f": NLL-oracle − MLE's at the matched temperature {verdict['mean_difference']:+.3f} (mean over "
                f"{verdict['seeds']} seed(s); 2 standard errors {verdict['threshold']:.3f})"
            )
        at_one = verdict.get("difference_at_temperature_1")
        if at_one:
            line += f"; at temperature 1 {at_one['mean']:+.3f}"
        lines.append(line + ".")
    return lines


def _markdown(results: dict) -> str:
    seeds = ", ".join(map(str, results["seeds"]))
    low, high = results["match_range"]
    experiment = results["experiment"]
    early = (
        f" MLE keeps the epoch with the best NLL on {experiment['num_val']:,} validation sequences, a separate draw from the "
        f"oracle after the training and test ones (early stopping; the shared pre-training too, so every GAN starts from "
        f"the early-stopped model)." if experiment.get("early_stopping") else " MLE runs its fixed schedule (no early stopping)."
    )
    lines = [
        f"NLL-oracle on {experiment['eval_samples']:,} samples per model; mean ± std over seeds {seeds}.{early} "
        f"Under each GAN: the MLE model with the lower NLL-test at temperature 1 at the temperature (searched in "
        f"[{low:g}, {high:g}]) where its NLL-test is the GAN's (Caccia et al. 2018). Verdict: from the seeds' paired "
        f"differences of NLL-oracle there (GAN − MLE), beyond or inside MLE's curve only when the mean exceeds 2 standard "
        f"errors (the larger of the seeds' and the NLL-oracle's sampling error).",
        "",
        "| model | NLL-oracle | NLL-test | temperature | published NLL-oracle | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for row in _table_rows(results):
        lines.append("| " + " | ".join(row) + " |")
    verdicts = _verdict_lines(results)
    if verdicts:
        lines += ["", *verdicts]
    if results["sweep"]:
        points = results["sweep"]["points"]
        names = [v for v in swept(results["experiment"]["gans"]) if v in points]
        lines += [
            "",
            f"Temperature sweep (seed {results['sweep']['seed']}, {results['experiment']['sweep_samples']:,} samples "
            "per point): NLL-oracle / NLL-test.",
            "",
            "| temperature | " + " | ".join(label(v) for v in names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for i, temperature in enumerate(results["experiment"]["temperatures"]):
            cells = [f"{points[v][i]['nll_oracle']:.3f} / {points[v][i]['nll_test']:.3f}" for v in names]
            lines.append(f"| {temperature:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _print_results(show, results: dict, out: Path) -> None:
    table = Table(title=f"NLL-oracle ({results['experiment']['eval_samples']:,} samples), seeds {', '.join(map(str, results['seeds']))}")
    for column in ("model", "NLL-oracle", "NLL-test", "temperature", "published", "verdict"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in _table_rows(results):
        table.add_row(*row)
    show.print(table)
    for line in _verdict_lines(results):
        show.print(line, markup=False, highlight=False)
    show.print(f"results: {out / 'results.md'}, {out / 'results.json'}\ncurves: {out / 'nll_oracle.png'}, {out / 'quality_diversity.png'}")


def _plot_curves(summaries: list[dict], experiment: OracleExperiment, path: Path) -> None:
    """Mean NLL-oracle over seeds against epoch (epoch 0: the random initialisation)."""
    series: dict[str, tuple[list[float], list[float]]] = {}
    for name in ("mle", *experiment.gans):
        by_epoch: dict[int, list[float]] = {0: [s["random_init"] for s in summaries]}
        for summary in summaries:
            for epoch, value in summary["curves"][name]:
                by_epoch.setdefault(int(epoch), []).append(value)
        epochs = sorted(by_epoch)
        series[label(name)] = (epochs, [statistics.fmean(by_epoch[e]) for e in epochs])
    mle_epochs = experiment.seqgan_config(experiment.seeds[0]).mle_epochs
    plot_series(
        series, path, xlabel=f"epoch (MLE pre-training to {mle_epochs}, then one round or MLE epoch each)",
        ylabel=f"NLL-oracle ({experiment.curve_samples:,} samples)",
        title=f"{experiment.preset} schedule, mean over {len(summaries)} seed(s)",
    )
