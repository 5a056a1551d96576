"""``textgan experiment oracle``: SeqGAN's synthetic-data experiment (Yu et al. 2017, section 5).

An oracle LSTM — the paper's own (``--oracle NPZ``) or a seeded random one — writes 10,000
training sequences of 20 tokens. For each seed, three generators continue from one shared MLE
pre-training (so they differ only in what follows it, and the comparison is paired):

- ``mle``: MLE continued for as many epochs as the others have adversarial rounds;
- ``seqgan``: D pre-training, then adversarial rounds with Monte Carlo rewards from D;
- ``constant``: the same policy-gradient rounds with a constant reward of 1 per token and no D
  (the ablation: how much of SeqGAN's gain needs the discriminator at all).

Each is scored by NLL-oracle on 10,000 of its samples (the paper's measure) and NLL-test on
held-out oracle data; the report gives mean ± std over seeds, NLL-oracle against epoch for all of
them in one PNG, and a temperature sweep of NLL-oracle (quality) against NLL-test (diversity).

Layout of ``--out``::

    experiment.json                settings (a rerun into the same folder must match them)
    oracle.npz                     the oracle (written when it is a random one)
    seed-<s>/{seqgan,constant,mle}/  run directories (metrics.jsonl, checkpoints, samples)
    seed-<s>/summary.json          that seed's final numbers and curves (a finished seed is reused)
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

from textgan.core import RunDir, console, load_modules, make_progress, plot_series, resolve_device, write_json_atomic, write_text_atomic
from textgan.errors import UserError
from textgan.metrics import nll_oracle, nll_test, temperature_sweep
from textgan.metrics.sweep import DEFAULT_TEMPERATURES
from textgan.models import Generator
from textgan.models.discriminator import PAPER_NUM_FILTERS
from textgan.models.oracle import START_TOKEN, Oracle
from textgan.seqgan.config import PAPER, SeqGANConfig
from textgan.gans import build_trainer
from textgan.seqgan.trainer import SeqGANTrainer, build_generator

VARIANTS = ("mle", "seqgan", "constant")
# The sweep also takes the shared pre-trained model: the GAN variants' own starting point.
SWEPT = ("after_mle", *VARIANTS)
LABELS = {"after_mle": "MLE pre-trained", "mle": "MLE", "seqgan": "SeqGAN", "constant": "constant reward (no D)"}
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
PUBLISHED = {  # SeqGAN paper, Table 1 and the text (../shared/BENCHMARKS.md)
    "random_init": 10.310, "mle": 9.038, "seqgan": 8.736, "oracle": 5.75,
}


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
    eval_samples: int = 10_000
    """samples per final NLL-oracle (the paper: 10,000 or more)"""
    curve_samples: int = 2_000
    """samples per NLL-oracle point of the per-epoch curve"""
    sweep_samples: int = 2_000
    """samples per temperature of the quality-diversity sweep (first seed only)"""
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
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
        help="SeqGAN's synthetic experiment: MLE vs SeqGAN vs constant reward, NLL-oracle",
        description="SeqGAN's synthetic-data experiment: an oracle LSTM makes the data; MLE, SeqGAN and the "
        "constant-reward ablation are scored by NLL-oracle over seeds.",
    )
    oracle.add_argument("--oracle", default=None, metavar="NPZ", help="the oracle (e.g. ../shared/data/oracle/seqgan_oracle_lstm.npz); default: a seeded random one")
    oracle.add_argument("--oracle-seed", type=int, default=0, help="seed of the random oracle")
    oracle.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    oracle.add_argument("--preset", choices=sorted(EXPERIMENT_PRESETS), default="paper",
                        help="paper (the paper's schedule: hours on a CPU) or small (a reduced schedule)")
    oracle.add_argument("--out", default=None, help="output folder (default runs/oracle-<time>); finished seeds in it are reused")
    oracle.add_argument("--mle-epochs", type=int, default=None)
    oracle.add_argument("--rounds", type=int, default=None)
    oracle.add_argument("--d-pretrain-steps", type=int, default=None)
    oracle.add_argument("--eval-samples", type=int, default=10_000, help="samples per final NLL-oracle")
    oracle.add_argument("--curve-samples", type=int, default=2_000, help="samples per point of the NLL-oracle curve")
    oracle.add_argument("--sweep-samples", type=int, default=2_000, help="samples per temperature of the sweep")
    oracle.add_argument("--temperatures", type=float, nargs="+", default=list(DEFAULT_TEMPERATURES))
    oracle.add_argument("--device", default="auto")
    oracle.add_argument("--quiet", action="store_true", help="no progress bars")
    oracle.set_defaults(run_command=oracle_command)


def oracle_command(args: argparse.Namespace) -> int:
    overrides = {
        name: getattr(args, name) for name in ("mle_epochs", "rounds", "d_pretrain_steps") if getattr(args, name) is not None
    }
    experiment = OracleExperiment(
        oracle=args.oracle, oracle_seed=args.oracle_seed, seeds=tuple(dict.fromkeys(args.seeds)), preset=args.preset,
        eval_samples=args.eval_samples, curve_samples=args.curve_samples, sweep_samples=args.sweep_samples,
        temperatures=tuple(args.temperatures), overrides=overrides,
    )
    for name in ("eval_samples", "curve_samples", "sweep_samples"):
        if getattr(experiment, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1", "pass a positive number")
    if any(not t > 0 for t in experiment.temperatures):
        raise UserError("--temperatures must all be positive", "e.g. --temperatures 0.8 1.0 1.2")
    experiment.seqgan_config(experiment.seeds[0]).validate()
    out = Path(args.out) if args.out else RunDir.default_path("runs", "oracle")
    run_oracle_experiment(experiment, out, resolve_device(args.device), quiet=args.quiet)
    return 0


def run_oracle_experiment(
    experiment: OracleExperiment, out: Path, device: torch.device, quiet: bool = False, oracle: Oracle | None = None
) -> dict:
    """Run (or finish) the experiment in ``out``; returns what ``results.json`` holds.

    ``oracle``, when given, replaces the one ``experiment`` names (e.g. a small one for tests);
    it is saved to ``out/oracle.npz`` as a random oracle is.
    """
    show = console()
    from_file = oracle is None and experiment.oracle is not None
    if oracle is None:
        oracle = Oracle.load(experiment.oracle) if from_file else Oracle.random(seed=experiment.oracle_seed)
    _claim_folder(out, experiment)
    if not from_file:
        oracle.save(out / "oracle.npz")  # so that the data can be made again without textgan
    oracle = oracle.to(device)
    summaries = []
    for seed in experiment.seeds:
        path = out / f"seed-{seed}" / "summary.json"
        if path.is_file():
            show.print(f"seed {seed}: reusing {path}")
            summaries.append(json.loads(path.read_text(encoding="utf-8")))
            continue
        start = time.perf_counter()
        summary = run_seed(experiment, oracle, seed, out / f"seed-{seed}", device, quiet, sweep=seed == experiment.seeds[0])
        summary["seconds"] = time.perf_counter() - start
        write_json_atomic(path, summary)
        summaries.append(summary)
        show.print(f"seed {seed} done in {summary['seconds']:.0f} s: " + ", ".join(
            f"{LABELS[v]} {summary['final'][v]['nll_oracle']:.3f}" for v in VARIANTS))
    oracle_nll = oracle.nll(oracle.sample(experiment.eval_samples, generator=torch.Generator().manual_seed(FINAL_SEED)))
    results = _aggregate(experiment, summaries, oracle_nll)
    write_json_atomic(out / "results.json", results)
    write_text_atomic(out / "results.md", _markdown(results))
    _plot_curves(summaries, experiment, out / "nll_oracle.png")
    if results["sweep"]:
        points = results["sweep"]["points"]
        plot_series(
            {LABELS[v]: ([p["nll_test"] for p in points[v]], [p["nll_oracle"] for p in points[v]]) for v in SWEPT if v in points},
            out / "quality_diversity.png",
            xlabel="NLL-test (lower: the model explains held-out data better)",
            ylabel="NLL-oracle (lower: more realistic samples)",
            title=f"temperatures {', '.join(f'{t:g}' for t in experiment.temperatures)} (seed {results['sweep']['seed']})",
        )
    _print_results(show, results, out)
    return results


def run_seed(
    experiment: OracleExperiment, oracle: Oracle, seed: int, folder: Path, device: torch.device, quiet: bool, sweep: bool
) -> dict:
    """Train the three variants for one seed and score them; returns the seed's summary."""
    if folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder} holds an unfinished seed", f"delete {folder} to run seed {seed} again")
    show = console()
    data_rng = torch.Generator().manual_seed(seed)
    train = oracle.sample(experiment.num_train, generator=data_rng).cpu()
    test = oracle.sample(experiment.num_test, generator=data_rng).cpu()
    tokens = OracleTokens(oracle.vocab_size)

    def evaluate(generator: Generator) -> dict[str, float]:
        return {"nll_oracle": nll_oracle(generator, oracle, n=experiment.curve_samples, seed=CURVE_SEED)}

    def trainer(variant: str, **changes) -> SeqGANTrainer:
        config = dataclasses.replace(experiment.seqgan_config(seed), max_len=oracle.seq_len, **changes)
        run = RunDir.create(folder / variant)
        run.write_config(config.to_dict())
        return build_trainer(config, run, tokens, train, test, device, quiet, evaluate=evaluate)

    base = experiment.seqgan_config(seed)
    base.max_len = oracle.seq_len
    show.print(f"seed {seed}: MLE pre-training, D pre-training, SeqGAN rounds")
    seqgan = trainer("seqgan", gan="seqgan")
    initial = nll_oracle(seqgan.generator, oracle, n=experiment.eval_samples, seed=FINAL_SEED)
    seqgan.train()

    show.print(f"seed {seed}: constant-reward rounds from the same pre-trained generator")
    # D plays no part in the constant reward, so its rounds train no D (d_steps=0)
    constant = trainer("constant", gan="constant", d_steps=0)
    _continue_from(constant, seqgan, "after-d-pretrain")
    constant.train()

    show.print(f"seed {seed}: MLE continued for {base.rounds} more epochs")
    mle = trainer("mle", mle_epochs=base.mle_epochs + base.rounds, d_pretrain_steps=0, rounds=0)
    _continue_from(mle, seqgan, "after-mle")
    mle.position = {"phase": "mle", "done": base.mle_epochs}
    mle.train()

    pretrained = build_generator(base, tokens).to(device)
    load_modules(seqgan.run.checkpoint_path("after-mle"), {"generator": pretrained}, device=device)
    models = {"after_mle": pretrained, "mle": mle.generator, "seqgan": seqgan.generator, "constant": constant.generator}
    final = {}
    with make_progress(disable=quiet) as progress:
        task = progress.add_task(f"seed {seed}: final NLL-oracle", total=len(models), status="")
        for name, generator in models.items():
            final[name] = {
                "nll_oracle": nll_oracle(generator, oracle, n=experiment.eval_samples, seed=FINAL_SEED),
                "nll_test": nll_test(generator, test),
            }
            progress.update(task, advance=1, status=f"{name} {final[name]['nll_oracle']:.3f}")
        points = {}
        if sweep:
            task = progress.add_task("temperature sweep", total=len(SWEPT) * len(experiment.temperatures), status="")
            for variant in SWEPT:
                points[variant] = temperature_sweep(
                    models[variant],
                    lambda samples: {"nll_oracle": oracle.nll(samples)},
                    max_len=oracle.seq_len,
                    temperatures=experiment.temperatures,
                    n=experiment.sweep_samples,
                    test_tokens=test,
                    seed=FINAL_SEED,
                    on_point=lambda point, v=variant: progress.update(
                        task, advance=1, status=f"{v} T={point['temperature']:g}: {point['nll_oracle']:.3f}"
                    ),
                )
    return {
        "seed": seed,
        "random_init": initial,
        "final": final,
        "curves": {
            "mle": _curve(seqgan, mle, base.mle_epochs),
            "seqgan": _curve(seqgan, None, base.mle_epochs),
            "constant": _curve(seqgan, constant, base.mle_epochs),
        },
        "sweep": points,
    }


def _continue_from(trainer: SeqGANTrainer, source: SeqGANTrainer, checkpoint: str) -> None:
    """Start ``trainer`` from ``source``'s checkpoint (models, optimisers and random streams)."""
    shutil.copyfile(source.run.checkpoint_path(checkpoint), trainer.run.checkpoint_path(checkpoint))
    trainer.load(checkpoint, strict=False)


def _curve(pretraining: SeqGANTrainer, continuation: SeqGANTrainer | None, mle_epochs: int) -> list[list[float]]:
    """[epoch, NLL-oracle] pairs: the shared MLE epochs of ``pretraining``, then what followed them.

    What followed is ``continuation``'s log (its MLE epochs count on from ``mle_epochs``; its
    adversarial round r is epoch ``mle_epochs + r``), or ``pretraining``'s own rounds when None.
    """
    points = []
    for record in pretraining.run.read_log():
        if "nll_oracle" in record and record["phase"] == "mle" and record["step"] <= mle_epochs:
            points.append([record["step"], record["nll_oracle"]])
    for record in (continuation or pretraining).run.read_log():
        if "nll_oracle" in record and record["phase"] == "adversarial":
            points.append([mle_epochs + record["step"], record["nll_oracle"]])
        elif "nll_oracle" in record and record["phase"] == "mle" and record["step"] > mle_epochs:
            points.append([record["step"], record["nll_oracle"]])
    return points


# ---- the folder and the oracle -----------------------------------------------------------------


def _claim_folder(out: Path, experiment: OracleExperiment) -> None:
    settings_path = out / "experiment.json"
    if settings_path.is_file():
        previous = json.loads(settings_path.read_text(encoding="utf-8"))
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


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def _aggregate(experiment: OracleExperiment, summaries: list[dict], oracle_nll: float) -> dict:
    config = experiment.seqgan_config(experiment.seeds[0])
    rows = {"random_init": _mean_std([s["random_init"] for s in summaries])}
    for name in ("after_mle", *VARIANTS):
        rows[name] = {
            metric: _mean_std([s["final"][name][metric] for s in summaries]) for metric in ("nll_oracle", "nll_test")
        }
    return {
        "experiment": experiment.settings(),
        "seeds": [s["seed"] for s in summaries],
        "seconds": {str(s["seed"]): s.get("seconds") for s in summaries},
        "schedule": {k: getattr(config, k) for k in ("mle_epochs", "d_pretrain_steps", "d_epochs", "num_negatives", "rounds", "d_steps", "rollouts", "batch_size")},
        "oracle_samples_nll": oracle_nll,
        "rows": rows,
        "sweep": next(({"seed": s["seed"], "points": s["sweep"]} for s in summaries if s.get("sweep")), None),
        "published": PUBLISHED,
    }


def _row_names(results: dict) -> list[tuple[str, str, str]]:
    """(key, label, published) per table row."""
    schedule = results["schedule"]
    m, r = schedule["mle_epochs"], schedule["rounds"]
    return [
        ("random_init", "random initialisation", f"{PUBLISHED['random_init']:.3f}"),
        ("after_mle", f"MLE pre-trained ({m} epochs)", "—"),
        ("mle", f"MLE ({m + r} epochs)", f"{PUBLISHED['mle']:.3f}"),
        ("seqgan", f"SeqGAN ({m} MLE epochs + {r} rounds)", f"{PUBLISHED['seqgan']:.3f}"),
        ("constant", f"constant reward, no D ({m} + {r} rounds)", "—"),
    ]


def _cell(stats: dict[str, float]) -> str:
    return f"{stats['mean']:.3f} ± {stats['std']:.3f}" if stats["n"] > 1 else f"{stats['mean']:.3f}"


def _markdown(results: dict) -> str:
    seeds = ", ".join(map(str, results["seeds"]))
    lines = [
        f"NLL-oracle on {results['experiment']['eval_samples']:,} samples per model; mean ± std over seeds {seeds}.",
        "",
        "| model | NLL-oracle | NLL-test | published NLL-oracle |",
        "|---|---|---|---|",
    ]
    for key, label, published in _row_names(results):
        stats = results["rows"][key]
        if key == "random_init":
            lines.append(f"| {label} | {_cell(stats)} | — | {published} |")
        else:
            lines.append(f"| {label} | {_cell(stats['nll_oracle'])} | {_cell(stats['nll_test'])} | {published} |")
    lines.append(f"| oracle's own samples | {results['oracle_samples_nll']:.3f} | — | ≈ {PUBLISHED['oracle']:.2f} |")
    if results["sweep"]:
        points = results["sweep"]["points"]
        swept = [v for v in SWEPT if v in points]
        lines += [
            "",
            f"Temperature sweep (seed {results['sweep']['seed']}, {results['experiment']['sweep_samples']:,} samples "
            "per point): NLL-oracle / NLL-test.",
            "",
            "| temperature | " + " | ".join(LABELS[v] for v in swept) + " |",
            "|---|" + "---|" * len(swept),
        ]
        for i, temperature in enumerate(results["experiment"]["temperatures"]):
            cells = [f"{points[v][i]['nll_oracle']:.3f} / {points[v][i]['nll_test']:.3f}" for v in swept]
            lines.append(f"| {temperature:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _print_results(show, results: dict, out: Path) -> None:
    table = Table(title=f"NLL-oracle ({results['experiment']['eval_samples']:,} samples), seeds {', '.join(map(str, results['seeds']))}")
    for column in ("model", "NLL-oracle", "NLL-test", "published"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for key, label, published in _row_names(results):
        stats = results["rows"][key]
        if key == "random_init":
            table.add_row(label, _cell(stats), "—", published)
        else:
            table.add_row(label, _cell(stats["nll_oracle"]), _cell(stats["nll_test"]), published)
    table.add_row("oracle's own samples", f"{results['oracle_samples_nll']:.3f}", "—", f"≈ {PUBLISHED['oracle']:.2f}")
    show.print(table)
    show.print(f"results: {out / 'results.md'}, {out / 'results.json'}\ncurves: {out / 'nll_oracle.png'}, {out / 'quality_diversity.png'}")


def _plot_curves(summaries: list[dict], experiment: OracleExperiment, path: Path) -> None:
    """Mean NLL-oracle over seeds against epoch (epoch 0: the random initialisation)."""
    series: dict[str, tuple[list[float], list[float]]] = {}
    for variant in VARIANTS:
        by_epoch: dict[int, list[float]] = {0: [s["random_init"] for s in summaries]}
        for summary in summaries:
            for epoch, value in summary["curves"][variant]:
                by_epoch.setdefault(int(epoch), []).append(value)
        epochs = sorted(by_epoch)
        series[LABELS[variant]] = (epochs, [statistics.fmean(by_epoch[e]) for e in epochs])
    mle_epochs = experiment.seqgan_config(experiment.seeds[0]).mle_epochs
    plot_series(
        series, path, xlabel=f"epoch (MLE pre-training to {mle_epochs}, then one round or MLE epoch each)",
        ylabel=f"NLL-oracle ({experiment.curve_samples:,} samples)",
        title=f"{experiment.preset} schedule, mean over {len(summaries)} seed(s)",
    )

