"""``textgan eval RUN [RUN ...] --temperatures T [T ...]``: runs compared over sampling temperatures.

Each run's generator is sampled at every temperature (``-n`` samples, the same ``--seed`` at every
temperature, so points differ by temperature only) and every sample set is scored with every
metric of ``textgan eval RUN_DIR`` against the same references: BLEU-n, Self-BLEU-n, MS-Jaccard-n,
distinct-n, NLL-test of the tempered model, LM and reverse-LM score, and the Fréchet distance.

A run is ``RUN_DIR`` (its final checkpoint, else its latest) or ``RUN_DIR@CHECKPOINT``: a checkpoint
of ``RUN_DIR/checkpoints`` by name, so ``runs/poems@after-mle runs/poems`` compares MLE
pre-training with the GAN that followed it in one run. The text after the last ``@`` is the name
(a directory whose own name holds ``@`` is read as a directory when it exists).

The runs must share their tokenizer and their held-out split (one corpus, one split): their
scores are then against the same references, and the real-text LM and sentence encoder are one
model, trained on the first run's training split (cached in its ``eval-cache``), so LM scores and
Fréchet distances compare across runs. Each sample set's reverse LM is cached in its own run's
``eval-cache``.

A run directory of ``textgan experiment oracle`` (``OUT/seed-S/NAME``; ``pretrain@after-mle`` is
the MLE pre-training) is opened with its seed's data made again from the experiment
(:mod:`textgan.commands.oracle_runs`); its n-grams are the oracle's token ids, and its points
also hold NLL-oracle, drawn against NLL-test when every run has an oracle. Runs of one seed share
a test split; runs of different seeds do not, and are refused.

One PNG (``--plot``, default ``FIRST_RUN/plots/quality_diversity.png``) holds one panel per
quality-diversity pair (:data:`pairs`), each run one line through its temperatures (labelled by its
path less the folders every run's path starts with, :func:`short_names`), each point
labelled with its temperature; each panel's title names the runs it finds dominated
(:func:`textgan.metrics.pareto.dominated_models`). With two or more runs, the first is the
baseline (e.g. MLE): for every other run, the temperature at which the baseline's NLL-test equals
that run's NLL-test at temperature 1 (Caccia et al. 2018, :func:`matched_temperature`), and every
metric of the baseline sampled there.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.table import Table

from runcore import console, make_progress, plot_panels, resolve_device
from runcore.errors import UserError
from runcore.ranges import check_value
from textgan.commands.eval import EVAL_CACHE, means, run_unit, sample_in_chunks, token_lists
from textgan.commands.sample import TEMPERATURE, check_sampling_flags
from textgan.metrics import distinct_n, nll_test, self_bleu_multi
from textgan.metrics.pareto import dominated_models
from textgan.metrics.real_text import RealTextScorer, flat_scores
from textgan.metrics.units import UNIT_NAMES
from textgan.metrics.sweep import MATCH_RANGE, matched_temperature
from textgan.models import Generator
from textgan.commands.oracle_runs import is_oracle_run, open_oracle_run
from textgan.models.oracle import Oracle
from textgan.seqgan.runs import OpenedRun, open_run, run_generator

CHECKPOINT_SEPARATOR = "@"
PLOT_NAME = "quality_diversity.png"


@dataclass(frozen=True)
class RunSpec:
    """A run as the user named it: ``RUN_DIR`` or ``RUN_DIR@CHECKPOINT``."""

    text: str
    path: str
    checkpoint: str | None


def parse_run_spec(text: str) -> RunSpec:
    """``RUN_DIR`` or ``RUN_DIR@CHECKPOINT`` (split at the last ``@`` unless ``text`` is a directory).

    Raises:
        UserError: an ``@`` with nothing before or after it.
    """
    if CHECKPOINT_SEPARATOR not in text or Path(text).is_dir():
        return RunSpec(text, text, None)
    path, _, checkpoint = text.rpartition(CHECKPOINT_SEPARATOR)
    if not path or not checkpoint:
        raise UserError(
            f"{text!r} is not RUN_DIR or RUN_DIR{CHECKPOINT_SEPARATOR}CHECKPOINT",
            f"name a run directory, optionally with a checkpoint name after '{CHECKPOINT_SEPARATOR}' (e.g. runs/poems@after-mle)",
        )
    return RunSpec(text, path, checkpoint)


@dataclass(frozen=True)
class Axis:
    """One metric of a quality-diversity plane."""

    key: str
    """its name among a point's :func:`flat_scores` (``bleu_5``, ``lm_score``, ...)"""
    name: str
    role: str
    higher_is_better: bool

    def label(self) -> str:
        return f"{self.name} ({self.role}; {'higher' if self.higher_is_better else 'lower'} is better)"


def pairs(order: int, oracle: bool = False) -> list[tuple[Axis, Axis]]:
    """The planes drawn and judged: ``(diversity axis, quality axis)``.

    - with an ``oracle`` (runs of ``textgan experiment oracle``): NLL-oracle against NLL-test, the
      experiment's own plane (Caccia et al. 2018);
    - BLEU-n against Self-BLEU-n (Caccia et al. 2018; Zhu et al. 2018), n the highest order asked for;
    - LM score against reverse-LM score (Semeniuta et al. 2018);
    - LM score against NLL-test: the real-data counterpart of the oracle experiment's NLL-oracle
      against NLL-test (a model of the real text scores the samples, where the oracle would).
    """
    quality_lm = Axis("lm_score", "LM score", "quality", False)
    coverage_nll = Axis("nll_test", "NLL-test", "coverage", False)
    synthetic = [(coverage_nll, Axis("nll_oracle", "NLL-oracle", "quality", False))] if oracle else []
    return [
        *synthetic,
        (Axis(f"self_bleu_{order}", f"Self-BLEU-{order}", "diversity", False), Axis(f"bleu_{order}", f"BLEU-{order}", "quality", True)),
        (Axis("reverse_lm_score", "reverse-LM score", "coverage", False), quality_lm),
        (coverage_nll, quality_lm),
    ]


@dataclass
class ComparedRun:
    spec: RunSpec
    opened: OpenedRun
    oracle: Oracle | None
    """the oracle of a run of ``textgan experiment oracle``, else None"""
    generator: Generator
    checkpoint: Path

    def oracle_scores(self, samples: torch.Tensor) -> dict[str, float]:
        """NLL-oracle of the samples where there is an oracle."""
        return {} if self.oracle is None else {"nll_oracle": self.oracle.nll(samples.to(self.oracle.g_embeddings.device))}


def open_compared(spec: RunSpec) -> tuple[OpenedRun, Oracle | None]:
    """A run directory of ``textgan train``, or of ``textgan experiment oracle`` with its oracle."""
    if is_oracle_run(spec.path):
        made = open_oracle_run(spec.path)
        return made.opened, made.oracle
    return open_run(spec.path), None


def check_temperatures(temperatures: Sequence[float]) -> list[float]:
    """The temperatures, each checked as ``--temperature`` is; repeats dropped."""
    for temperature in temperatures:
        check_value("--temperatures", temperature, TEMPERATURE)
    return list(dict.fromkeys(float(t) for t in temperatures))


def compare_runs(args: argparse.Namespace, targets: Sequence[str], orders: tuple[int, ...]) -> dict:
    """Every metric of every run at every temperature, the dominated runs of each pair, the
    baseline at matched temperatures; the PNG written. Everything a user can get wrong is checked
    before anything is sampled or written."""
    specs = [parse_run_spec(target) for target in targets]
    repeated = [spec.text for i, spec in enumerate(specs) if spec in specs[:i]]
    if repeated:
        raise UserError(f"{repeated[0]} is given twice", "name each run (or RUN@CHECKPOINT) once")
    if args.checkpoint is not None:
        raise UserError("--checkpoint names one run's checkpoint", "name it in the run instead: RUN_DIR@CHECKPOINT")
    if args.temperatures is not None and args.temperature is not None:
        raise UserError("--temperature and --temperatures both given", "give the temperatures to compare with --temperatures alone")
    temperatures = check_temperatures(args.temperatures if args.temperatures is not None else [1.0 if args.temperature is None else args.temperature])
    check_sampling_flags(temperatures[0], args.seed)
    if args.num_samples is not None and args.num_samples < 1:
        raise UserError(f"-n must be at least 1, got {args.num_samples}", "ask for one or more samples")
    if args.plot is not None and Path(args.plot).suffix.lower() != ".png":
        raise UserError(f"--plot {args.plot} does not end in .png", "name a .png file")
    sources = [(spec, *open_compared(spec)) for spec in specs]
    opened = [(spec, run) for spec, run, _ in sources]
    for spec, run in opened:
        if spec.checkpoint is not None:
            run.run.named_checkpoint(spec.checkpoint)
        if run.labels is not None:
            raise UserError(f"{spec.text} is a conditional run: comparisons over temperatures take unconditional runs", f"score it alone: textgan eval {spec.path}")
    _check_comparable(opened)
    first = opened[0][1]
    if len(first.test) < 2:
        raise UserError(f"{first.run.path} has {len(first.test)} test sequence(s)", "train a run with a larger test split")
    plot = Path(args.plot) if args.plot is not None else first.run.plots / PLOT_NAME

    device = resolve_device(args.device)
    runs = [ComparedRun(spec, run, oracle, *run_generator(run, spec.checkpoint, device)) for spec, run, oracle in sources]
    num = args.num_samples or len(first.test)
    with_oracle = all(run.oracle is not None for run in runs)
    unit = args.unit or ("token" if with_oracle else run_unit(first))  # oracle ids are tokens
    units = lambda tokens: token_lists(tokens, first, unit)  # noqa: E731
    tokenizer, width = first.tokenizer, first.test.shape[1]
    references = units(first.test)

    def point(run: ComparedRun, scorer: RealTextScorer, temperature: float, progress) -> dict:
        start = time.perf_counter()
        samples = sample_in_chunks(run.generator, num, width, torch.Generator().manual_seed(args.seed), temperature, None, progress)
        scores = scorer(samples)
        return {
            "temperature": temperature,
            "nll_test": nll_test(run.generator, first.test, temperature=temperature),
            **{key: scores[key] for key in ("bleu", "self_bleu", "ms_jaccard")},
            "distinct": {str(n): distinct_n(units(samples), n) for n in orders},
            **{key: scores[key] for key in ("lm_score", "reverse_lm_score", "frechet_distance")},
            **run.oracle_scores(samples),
            "reverse_lm": scores["models"]["reverse_lm"],
            "seconds": round(time.perf_counter() - start, 3),
        }

    with make_progress() as progress:
        task = progress.add_task("real-text LM", total=None, status="")
        shared = RealTextScorer.build(first.train, first.test, tokenizer.vocab_size, tokenizer.bos_id, tokenizer.eos_id,
                                      units, orders, first.run.path / EVAL_CACHE)  # fmt: skip
        progress.update(task, completed=1, total=1)
        task = progress.add_task("temperatures", total=len(runs) * len(temperatures) + len(runs) - 1, status="")
        scored = []
        for run in runs:
            scorer = dataclasses.replace(shared, cache_dir=run.opened.run.path / EVAL_CACHE)  # its reverse LMs in its own cache
            points = []
            for temperature in temperatures:
                progress.update(task, status=f"{run.spec.text} T={temperature:g}")
                points.append(point(run, scorer, temperature, progress))
                progress.update(task, advance=1)
            scored.append({"run": run.spec.text, "path": str(run.opened.run.path), "checkpoint": run.checkpoint.stem, "points": points})
        matched = []
        baseline = runs[0]
        for run in runs[1:]:
            progress.update(task, status=f"{baseline.spec.text} matched to {run.spec.text}")
            target = nll_test(run.generator, first.test)
            temperature = matched_temperature(baseline.generator, first.test, target)
            entry = {"baseline": baseline.spec.text, "run": run.spec.text, "target_nll_test": target, "temperature": temperature}
            if temperature is not None:
                entry["point"] = point(baseline, shared, temperature, progress)
            matched.append(entry)
            progress.update(task, advance=1)
    order = max(orders)
    judged = [_judge(x, y, scored) for x, y in pairs(order, oracle=with_oracle)]
    result = {
        "runs": scored,
        "temperatures": temperatures,
        "samples": num,
        "references": len(references),
        "seed": args.seed,
        "unit": unit,
        "orders": list(orders),
        "pair_order": order,
        "test_self_bleu": means(self_bleu_multi(references, orders)),
        "test_distinct": {str(n): distinct_n(references, n) for n in orders},
        **shared.reference(),
        "encoder_hash": shared.real_lm.hash,
        "real_lm": {"hash": shared.real_lm.hash, "steps": shared.real_lm.steps, "train_seconds": round(shared.real_lm.seconds, 3),
                    "cached": shared.real_lm.cached},  # fmt: skip
        "pairs": judged,
        **({"matched": matched} if matched else {}),
        "plot": str(plot),
    }
    _plot(result, plot)
    return result


def _check_comparable(opened: Sequence[tuple[RunSpec, OpenedRun]]) -> None:
    """UserError unless every run has the first run's tokenizer and held-out split."""
    first_spec, first = opened[0]
    vocabulary = _vocabulary(first)
    for spec, run in opened[1:]:
        if _vocabulary(run) != vocabulary:
            raise UserError(
                f"{spec.text} and {first_spec.text} have different tokenizers ({run.tokenizer.kind}, {run.tokenizer.vocab_size:,} tokens;"
                f" {first.tokenizer.kind}, {first.tokenizer.vocab_size:,} tokens), so their scores are not comparable",
                "compare runs trained on one corpus with one tokenizer",
            )
        if run.test.shape != first.test.shape or not torch.equal(run.test, first.test):
            raise UserError(
                f"{spec.text} and {first_spec.text} have different test splits ({len(run.test):,} and {len(first.test):,} sequences),"
                " so their scores are not against the same references",
                "compare runs of one corpus and one split (the same --corpus, --test-file or --test-fraction, and --seed)",
            )


def _vocabulary(run: OpenedRun) -> tuple:
    """The tokenizer's kind and what each id reads as."""
    return (run.tokenizer.kind, tuple(run.tokenizer.decode([i]) for i in range(run.tokenizer.vocab_size)))


def _judge(x: Axis, y: Axis, scored: Sequence[dict]) -> dict:
    points = {entry["run"]: [_values(point, x, y) for point in entry["points"]] for entry in scored}
    dominated = dominated_models(points, (x.higher_is_better, y.higher_is_better))
    return {
        "x": x.key, "y": y.key, "x_higher_is_better": x.higher_is_better, "y_higher_is_better": y.higher_is_better,
        "x_label": x.label(), "y_label": y.label(), "name": f"{y.name} vs {x.name}", "dominated": dominated,
    }  # fmt: skip


def _values(point: dict, x: Axis, y: Axis) -> tuple[float, float]:
    flat = flat_scores(point)
    return flat[x.key], flat[y.key]


def short_names(runs: Sequence[str]) -> dict[str, str]:
    """Each run as the plot labels it: its path less the folders every run's path starts with.

    Examples:
        >>> short_names(["/tmp/exp/seed-0/pretrain@after-mle", "/tmp/exp/seed-0/seqgan"])
        {'/tmp/exp/seed-0/pretrain@after-mle': 'pretrain@after-mle', '/tmp/exp/seed-0/seqgan': 'seqgan'}
        >>> short_names(["runs/poems"])
        {'runs/poems': 'poems'}
    """
    parts = [run.rstrip("/").split("/") for run in runs]
    common = 0
    while all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
        common += 1
    return {run: "/".join(p[common:]) for run, p in zip(runs, parts)}


def _plot(result: dict, path: Path) -> None:
    panels = []
    names = short_names([entry["run"] for entry in result["runs"]])
    for pair in result["pairs"]:
        x, y = Axis(pair["x"], "", "", pair["x_higher_is_better"]), Axis(pair["y"], "", "", pair["y_higher_is_better"])
        series, texts = {}, {}
        for entry in result["runs"]:
            values = [_values(point, x, y) for point in entry["points"]]
            series[names[entry["run"]]] = ([v[0] for v in values], [v[1] for v in values])
            texts[names[entry["run"]]] = [f"T={point['temperature']:g}" for point in entry["points"]]
        dominated = ", ".join(names[run] for run in pair["dominated"]) or "none"
        panels.append({"xlabel": pair["x_label"], "ylabel": pair["y_label"], "series": series, "point_labels": texts,
                       "title": f"{pair['name']}: dominated: {dominated}"})  # fmt: skip
    plot_panels(panels, path, title=_title(result), columns=len(panels))


def _title(result: dict) -> str:
    return (
        f"{result['samples']:,} samples per temperature (seed {result['seed']}) vs {result['references']:,} test sequences,"
        f" n-grams of {UNIT_NAMES[result['unit']]}"
    )


def print_comparison(result: dict) -> None:
    """The comparison as tables, one per run (and one for the baseline at matched temperatures),
    then the matched temperatures and the dominated runs of each pair."""
    out = console()
    n = result["pair_order"]
    out.print(_title(result), markup=False, highlight=False)
    rows = (("NLL-test", ("nll_test",)), (f"BLEU-{n}", ("bleu", str(n))), (f"Self-BLEU-{n}", ("self_bleu", str(n))),
            (f"MS-Jaccard-{n}", ("ms_jaccard", str(n))), (f"distinct-{n}", ("distinct", str(n))), ("LM score", ("lm_score",)),
            ("reverse-LM score", ("reverse_lm_score",)), ("Fréchet distance", ("frechet_distance",)))  # fmt: skip
    if "nll_oracle" in result["runs"][0]["points"][0]:
        rows = (("NLL-oracle", ("nll_oracle",)), *rows)

    def table(title: str, points: Sequence[dict], headings: Sequence[str]) -> None:
        out.print(title, markup=False, highlight=False, soft_wrap=True)
        made = Table()
        made.add_column("")
        for heading in headings:
            made.add_column(heading, justify="right")
        for name, keys in rows:
            made.add_row(name, *(f"{_lookup(point, keys):.4f}" for point in points))
        out.print(made)

    for entry in result["runs"]:
        table(f"{entry['run']} (checkpoint {entry['checkpoint']})", entry["points"], [f"T={p['temperature']:g}" for p in entry["points"]])
    matched = [entry for entry in result.get("matched", []) if entry["temperature"] is not None]
    if matched:
        table(f"{matched[0]['baseline']} at matched temperatures (its NLL-test there is that of the run named at T=1)",
              [entry["point"] for entry in matched], [f"{entry['run']}: T={entry['temperature']:.3f}" for entry in matched])  # fmt: skip
    out.print(
        f"the test set: Self-BLEU-{n} {result['test_self_bleu'][str(n)]:.4f}, distinct-{n} {result['test_distinct'][str(n)]:.4f},"
        f" LM score {result['test_lm_score']:.4f}; LM and reverse-LM scores in nats per token; the real-text LM and encoder"
        f" {result['encoder_hash']}",
        markup=False, highlight=False, soft_wrap=True,
    )
    for entry in result.get("matched", []):
        shown = (f"no temperature in {MATCH_RANGE[0]:g}..{MATCH_RANGE[1]:g} matches it" if entry["temperature"] is None
                 else f"matched at T={entry['temperature']:.4f}")  # fmt: skip
        out.print(f"{entry['baseline']} vs {entry['run']} (NLL-test {entry['target_nll_test']:.4f} at T=1): {shown}",
                  markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    for pair in result["pairs"]:
        dominated = "; ".join(f"{name} (by {', '.join(by)})" for name, by in pair["dominated"].items()) or "none"
        out.print(f"dominated in {pair['name']}: {dominated}", markup=False, highlight=False, soft_wrap=True)
    out.print(f"plot: {result['plot']}", markup=False, highlight=False, soft_wrap=True)


def _lookup(point: dict, keys: Sequence[str]) -> float:
    for key in keys:
        point = point[key]
    return point
