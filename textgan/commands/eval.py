"""``textgan eval``: score text files (``eval bleu``) or a run's generator (``eval RUN_DIR``).

``textgan eval bleu --hyp FILE --ref FILE [--n 2 3 4 5] [--self]`` scores every line of the
hypothesis file against the whole reference file, and with ``--self`` the Self-BLEU of the
hypotheses among themselves.

``textgan eval RUN_DIR [-n N]`` samples the run's generator and scores it against the run's own
held-out split (never its training data): BLEU-n, Self-BLEU-n, MS-Jaccard-n, distinct-n, NLL-test,
LM and reverse-LM score and the Fréchet distance of sentence embeddings
(``textgan.metrics.real_text``; the LMs are trained once and cached in ``RUN_DIR/eval-cache``);
the test split's own Self-BLEU, distinct-n and LM score sit beside them as the real-data reference.

N-gram scores count a *unit*, said in the table's title and the JSON's ``unit``: words for text
whose lines are words separated by spaces, characters otherwise (``textgan.data.choice``);
``--unit word|char|token|treebank`` overrides (``token``: a run's own tokens, e.g. SentencePiece
pieces; for files, the whitespace-separated tokens as written; ``treebank``: nltk's Treebank words
of the lower-cased text, Texygen's unit; ``textgan.metrics.units``).

``RUN_DIR@CHECKPOINT`` names one of the run's checkpoints (as ``--checkpoint`` does). A run
directory of ``textgan experiment oracle`` is scored as a comparison of one run (its data made
again from the experiment; NLL-oracle added).
``textgan eval RUN [RUN ...] --temperatures T [T ...]`` compares runs over sampling temperatures:
every metric at every temperature, one quality-against-diversity PNG, the dominated runs, and the
first run at each other's matched temperature (``textgan.commands.eval_runs``).

A conditional run (``--conditional``) also reports, per class, the BLEU of that class's samples
against that class's test lines and the class accuracy: the share of them that a CNN classifier
trained on the run's real labelled training lines puts in the class asked for
(``textgan.metrics.classifier``; cached in the run directory with its hash).

Numbers are means over all hypotheses (no subsampling); ``--json`` prints them for machines,
otherwise a table for people. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence

import torch
from rich.table import Table
from rich.text import Text

from runcore import console, make_progress, resolve_device
from runcore.errors import UserError
from runcore.printable import printable
from textgan.commands.oracle_runs import is_oracle_run
from textgan.commands.sample import SAMPLE_CHUNK, check_sampling_flags
from textgan.data import read_text_lines
from textgan.data.choice import text_unit
from textgan.metrics import bleu_multi, corpus_mean, distinct_n, nll_test, self_bleu_multi
from textgan.metrics.classifier import cached_classifier, class_accuracy
from textgan.metrics.real_text import RealTextScorer
from textgan.metrics.units import UNIT_NAMES, UNITS, split_units
from textgan.seqgan.runs import OpenedRun, open_run, run_generator

DEFAULT_ORDERS = (2, 3, 4, 5)
MAX_ORDER = 10  # papers report 2..5; beyond 10 a typo is likelier than a wish
EVAL_CACHE = "eval-cache"


def add_eval_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval",
        help="BLEU / Self-BLEU of text files, or every metric of a run",
        description="textgan eval bleu --hyp FILE [--ref FILE] [--self]   |   textgan eval RUN_DIR [-n N]   |   "
        "textgan eval RUN [RUN ...] --temperatures T [T ...] [--plot FILE.png]",
    )
    parser.add_argument("targets", nargs="+", metavar="bleu|RUN",
                        help="'bleu' to score files; a run directory to score its generator; RUN_DIR@CHECKPOINT for one of its checkpoints")
    parser.add_argument("--n", "--orders", dest="orders", type=int, nargs="+", default=list(DEFAULT_ORDERS), metavar="N",
                        help="BLEU orders (default 2 3 4 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--unit", choices=UNITS, default=None,
                        help="what n-grams count: words, characters, tokens, or Treebank words (Texygen's unit) "
                             "(default: words for space-separated text, else characters)")
    files = parser.add_argument_group("eval bleu")
    files.add_argument("--hyp", help="hypotheses, one per line")
    files.add_argument("--ref", help="references, one per line, shared by every hypothesis")
    files.add_argument("--self", dest="self_bleu", action="store_true", help="also Self-BLEU of the hypotheses")
    files.add_argument("--chars", action="store_true", help="the same as --unit char")
    run = parser.add_argument_group("eval RUN_DIR")
    run.add_argument("-n", "--num-samples", type=int, default=None,
                     help="samples to score (default: as many as test sequences; a conditional run: per class, as many as its test lines)")
    run.add_argument("--temperature", type=float, default=None, help="sampling temperature (default 1)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--checkpoint", default=None, help="a checkpoint name in RUN_DIR/checkpoints (default: final, else latest)")
    run.add_argument("--device", default="cpu")
    compare = parser.add_argument_group("eval RUN [RUN ...] --temperatures T [T ...] (textgan.commands.eval_runs)")
    compare.add_argument("--temperatures", type=float, nargs="+", default=None, metavar="T",
                         help="score every run at each temperature; plot quality against diversity and list the dominated runs")
    compare.add_argument("--plot", default=None, metavar="FILE.png", help="the comparison's PNG (default FIRST_RUN/plots/quality_diversity.png)")
    parser.set_defaults(run_command=eval_command)


def eval_command(args: argparse.Namespace) -> int:
    if "bleu" in args.targets:
        if args.targets != ["bleu"]:
            raise UserError(f"'eval bleu' takes no runs, got {' '.join(args.targets)}", "score files with eval bleu, or runs without 'bleu'")
        given = [flag for flag, value in (("-n", args.num_samples), ("--checkpoint", args.checkpoint), ("--temperature", args.temperature),
                                          ("--temperatures", args.temperatures), ("--plot", args.plot)) if value is not None]  # fmt: skip
        if given:
            raise UserError(f"{', '.join(given)} apply to 'textgan eval RUN_DIR', not to 'eval bleu'", "leave them out")
        if args.chars and args.unit not in (None, "char"):
            raise UserError(f"--chars contradicts --unit {args.unit}", "leave out --chars")
        result, show = _score_files(args), _print_table
    else:
        given = [flag for flag, value in (("--hyp", args.hyp), ("--ref", args.ref), ("--self", args.self_bleu), ("--chars", args.chars)) if value]
        if given:
            raise UserError(
                f"{', '.join(given)} apply to 'textgan eval bleu', not to a run directory",
                "use textgan eval bleu --hyp FILE --ref FILE, or textgan eval RUN_DIR",
            )
        from textgan.commands.eval_runs import compare_runs, parse_run_spec, print_comparison  # (it builds on this module)

        # an oracle experiment's run is scored as a comparison of one run (its data made again, NLL-oracle added)
        if len(args.targets) > 1 or args.temperatures is not None or is_oracle_run(parse_run_spec(args.targets[0]).path):
            result, show = compare_runs(args, args.targets, check_orders(args.orders)), print_comparison
        else:
            if args.plot is not None:
                raise UserError("--plot draws a comparison over temperatures", "add --temperatures T [T ...], or leave out --plot")
            result, show = _score_run(args, args.targets[0]), _print_table
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)
    return 0


# ---- eval bleu --------------------------------------------------------------------------------


def _score_files(args: argparse.Namespace) -> dict:
    if not args.hyp:
        raise UserError("eval bleu needs --hyp FILE", "pass the hypotheses, one per line")
    if not args.ref and not args.self_bleu:
        raise UserError("eval bleu needs --ref FILE, --self, or both", "pass references to score against, or --self")
    orders = check_orders(args.orders)
    hyp_lines = read_file_lines(args.hyp, "hypothesis")
    ref_lines = read_file_lines(args.ref, "reference") if args.ref else None
    unit = "char" if args.chars else args.unit or text_unit(ref_lines or hyp_lines)
    hypotheses = split_units(hyp_lines, unit)
    references = split_units(ref_lines, unit) if ref_lines is not None else None
    if args.self_bleu and len(hypotheses) < 2:
        raise UserError(f"--self needs at least 2 hypotheses; {args.hyp} has 1", "score more hypotheses, or leave out --self")
    result: dict = {"hypotheses": len(hypotheses), "unit": unit, "orders": list(orders)}
    with make_progress() as progress:
        task = progress.add_task("scoring", total=int(references is not None) + int(args.self_bleu), status="")
        if references is not None:
            progress.update(task, status="BLEU")
            result["references"] = len(references)
            result["bleu"] = means(bleu_multi(hypotheses, references, orders))
            progress.update(task, advance=1)
        if args.self_bleu:
            progress.update(task, status="Self-BLEU")
            result["self_bleu"] = means(self_bleu_multi(hypotheses, orders))
            progress.update(task, advance=1)
    return result


def read_file_lines(path: str, role: str) -> list[str]:
    """The lines of a UTF-8 file, read as every text file is (``read_text_lines``: a byte-order
    mark dropped, CRLF a line break); trailing blank lines dropped, inner ones kept (empty)."""
    lines = read_text_lines(path, f"{role} file", f"give one {role} per line in a UTF-8 text file")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def read_token_lines(path: str, role: str, chars: bool = False) -> list[list[str]]:
    """:func:`read_file_lines` split into words, or characters with ``chars``."""
    return split_units(read_file_lines(path, role), "char" if chars else "word")


def check_orders(orders: Sequence[int]) -> tuple[int, ...]:
    """The BLEU orders, checked to lie in 1..MAX_ORDER; repeats dropped."""
    for n in orders:
        if not 1 <= n <= MAX_ORDER:
            raise UserError(f"--n {n} is out of range: BLEU orders run from 1 to {MAX_ORDER}", "use orders such as --n 2 3 4 5")
    return tuple(dict.fromkeys(orders))


def means(scores: dict[int, list[float]]) -> dict[str, float]:
    return {str(n): corpus_mean(values) for n, values in scores.items()}


# ---- eval RUN_DIR -----------------------------------------------------------------------------


def _score_run(args: argparse.Namespace, target: str) -> dict:
    from textgan.commands.eval_runs import parse_run_spec  # (it builds on this module)

    spec = parse_run_spec(target)
    if spec.checkpoint is not None and args.checkpoint is not None:
        raise UserError(f"{target} names a checkpoint and so does --checkpoint {args.checkpoint}", "name it once")
    checkpoint = spec.checkpoint or args.checkpoint
    temperature = 1.0 if args.temperature is None else args.temperature
    orders = check_orders(args.orders)
    opened = open_run(spec.path)
    if args.num_samples is not None and args.num_samples < 1:
        raise UserError(f"-n must be at least 1, got {args.num_samples}", "ask for one or more samples")
    check_sampling_flags(temperature, args.seed)
    if checkpoint is not None:
        opened.run.named_checkpoint(checkpoint)
    if len(opened.test) < 2:
        raise UserError(f"{opened.run.path} has {len(opened.test)} test sequence(s)", "train a run with a larger test split")
    device = resolve_device(args.device)
    generator, path = run_generator(opened, checkpoint, device)
    num = args.num_samples or len(opened.test)
    unit = args.unit or run_unit(opened)
    units = lambda tokens: token_lists(tokens, opened, unit)  # noqa: E731
    references = units(opened.test)
    rng = torch.Generator().manual_seed(args.seed)
    labels = None if opened.labels is None else torch.arange(num) % opened.labels.num_classes
    with make_progress() as progress:
        samples = sample_in_chunks(generator, num, opened.test.shape[1], rng, temperature, labels, progress)
        hypotheses = units(samples)
        task = progress.add_task("scoring", total=4, status="")
        steps = {}
        test_labels = None if opened.labels is None else opened.labels.test
        for name, compute in (
            ("nll_test", lambda: nll_test(generator, opened.test, labels=test_labels)),
            ("scorer", lambda: RealTextScorer.build(opened.train, opened.test, opened.tokenizer.vocab_size, opened.tokenizer.bos_id,
                                                    opened.tokenizer.eos_id, units, orders, opened.run.path / EVAL_CACHE)),  # fmt: skip
            ("scores", lambda: steps["scorer"](samples)),
            ("test_self_bleu", lambda: means(self_bleu_multi(references, orders))),
        ):
            progress.update(task, status={"scorer": "real-text LM", "scores": "samples"}.get(name, name))
            steps[name] = compute()
            progress.update(task, advance=1)
        classes = {} if opened.labels is None else _score_classes(args, opened, generator, orders, rng, temperature, progress, unit)
    scores = steps["scores"]
    return {
        "run": str(opened.run.path),
        "checkpoint": path.stem,
        "samples": num,
        "references": len(references),
        "temperature": temperature,
        "unit": unit,
        "orders": list(orders),
        "nll_test": steps["nll_test"],
        "bleu": scores["bleu"],
        "self_bleu": scores["self_bleu"],
        "ms_jaccard": scores["ms_jaccard"],
        "distinct": {str(n): distinct_n(hypotheses, n) for n in orders},
        "test_self_bleu": steps["test_self_bleu"],
        "test_distinct": {str(n): distinct_n(references, n) for n in orders},
        "lm_score": scores["lm_score"],
        "reverse_lm_score": scores["reverse_lm_score"],
        **steps["scorer"].reference(),
        "frechet_distance": scores["frechet_distance"],
        "encoder_hash": scores["encoder_hash"],
        "models": scores["models"],
        **classes,
    }


def sample_in_chunks(generator, num: int, width: int, rng: torch.Generator, temperature: float, labels, progress) -> torch.Tensor:
    """``num`` samples ``(num, width)`` in chunks of ``SAMPLE_CHUNK`` (of classes ``labels``)."""
    task = progress.add_task("sampling", total=math.ceil(num / SAMPLE_CHUNK), status="")
    rows = []
    for start in range(0, num, SAMPLE_CHUNK):
        chunk = None if labels is None else labels[start : start + SAMPLE_CHUNK]
        rows.append(generator.sample(min(SAMPLE_CHUNK, num - start), width, rng, temperature, labels=chunk).cpu())
        progress.update(task, advance=1)
    return torch.cat(rows)


def _score_classes(
    args: argparse.Namespace, opened: OpenedRun, generator, orders, rng: torch.Generator, temperature: float, progress, unit: str = "token"
) -> dict:
    """Per class: samples asked for it, their BLEU against its test lines, and the share that the
    classifier trained on the real labelled training lines puts in it."""
    labels = opened.labels
    task = progress.add_task("training the classifier", total=None, status="")
    classifier, cache = cached_classifier(opened.run.path, opened.train, labels.train, opened.tokenizer.vocab_size, labels.num_classes)
    progress.update(task, completed=1, total=1)
    per_class = {}
    for class_id, name in enumerate(labels.names):
        is_class = labels.test == class_id
        num = args.num_samples or max(1, int(is_class.sum()))
        samples = sample_in_chunks(generator, num, opened.test.shape[1], rng, temperature, torch.full((num,), class_id), progress)
        references = token_lists(opened.test[is_class], opened, unit)
        per_class[name] = {
            "samples": num,
            "references": len(references),
            "classifier_accuracy": class_accuracy(classifier, samples, torch.full((num,), class_id)),
            "real_test_accuracy": class_accuracy(classifier, opened.test[is_class], labels.test[is_class]),
            "bleu": means(bleu_multi(token_lists(samples, opened, unit), references, orders)) if references else {},
        }
    accuracies = [entry["classifier_accuracy"] for entry in per_class.values()]
    return {
        "classes": per_class,
        "classifier_accuracy_min": min(accuracies),
        "classifier": {**cache, "test_accuracy": class_accuracy(classifier, opened.test, labels.test)},
    }


def run_unit(opened: OpenedRun) -> str:
    """A run's default unit: its own tokens for a ``treebank`` run (counted as ids: splitting the
    decoded words again would not give them back, the Treebank quote rules are not idempotent),
    else words where its test text is space-separated and characters where it is not."""
    return "treebank" if opened.tokenizer.kind == "treebank" else text_unit(map(opened.tokenizer.decode, opened.test))


def token_lists(tokens: torch.Tensor, opened: OpenedRun, unit: str = "token") -> list[list]:
    """Rows of ids as the unit lists n-gram metrics compare.

    ``token``: the ids themselves; ``word``, ``char``, ``treebank``: the decoded text split as
    :func:`textgan.metrics.units.split_units` does. Where the tokenizer's own tokens are the unit (a word
    tokenizer's words, a char tokenizer's characters), the ids are used (the same n-grams, no
    decoding). A row ends at its first EOS; PAD and BOS are left out, as ``decode`` does.
    """
    tokenizer = opened.tokenizer
    if unit != "token" and unit != tokenizer.kind:
        return split_units(map(tokenizer.decode, tokens), unit)
    skipped = {tokenizer.pad_id, tokenizer.bos_id}
    lists = []
    for row in tokens.tolist():
        if tokenizer.eos_id is not None and tokenizer.eos_id in row:
            row = row[: row.index(tokenizer.eos_id)]
        lists.append([i for i in row if i not in skipped])
    return lists


# ---- output -----------------------------------------------------------------------------------


def _print_table(result: dict) -> None:
    out = console()
    columns = [
        ("bleu", "BLEU-n"),
        ("self_bleu", "Self-BLEU-n"),
        ("test_self_bleu", "Self-BLEU-n (test set)"),
        ("ms_jaccard", "MS-Jaccard-n"),
        ("distinct", "distinct-n"),
        ("test_distinct", "distinct-n (test set)"),
    ]
    columns = [(key, title) for key, title in columns if key in result]
    unit = f", n-grams of {UNIT_NAMES[result['unit']]}"
    if "run" in result:
        title = (
            f"{result['run']} ({result['checkpoint']}): {result['samples']:,} samples at temperature "
            f"{result['temperature']:g} vs {result['references']:,} test sequences{unit}"
        )
    else:
        against = f" vs {result['references']:,} references" if "references" in result else ""
        title = f"{result['hypotheses']:,} hypotheses{against}{unit}"
    out.print(title)
    table = Table()
    table.add_column("n", justify="right")
    for _, heading in columns:
        table.add_column(heading, justify="right")
    for n in result["orders"]:
        table.add_row(str(n), *(f"{result[key][str(n)]:.4f}" for key, _ in columns))
    out.print(table)
    if "nll_test" in result:
        out.print(f"NLL-test (mean per token, held-out split): {result['nll_test']:.4f}")
    if "classes" in result:
        table = Table(title=f"per class (the classifier's accuracy on the real test split: {result['classifier']['test_accuracy']:.4f})")
        for heading in ("class", "samples", "references", "class accuracy", *(f"BLEU-{n}" for n in result["orders"])):
            table.add_column(heading, justify="right")
        for name, entry in result["classes"].items():
            bleus = [f"{entry['bleu'][str(n)]:.4f}" if entry["bleu"] else "-" for n in result["orders"]]
            table.add_row(Text(printable(name)), f"{entry['samples']:,}", f"{entry['references']:,}", f"{entry['classifier_accuracy']:.4f}", *bleus)
        out.print(table)
    if "lm_score" in result:
        real, reverse = result["models"]["real_lm"], result["models"]["reverse_lm"]
        out.print(
            f"LM score (nats per token of the samples under an LM trained on the training split): {result['lm_score']:.4f}"
            f" (the test set: {result['test_lm_score']:.4f})\n"
            f"reverse-LM score (nats per token of the test set under an LM trained on the samples): {result['reverse_lm_score']:.4f}\n"
            f"Fréchet distance of sentence embeddings, samples vs test set: {result['frechet_distance']:.4f}"
            f" (encoder {result['encoder_hash']}: the real-text LM)\n"
            f"LMs: real-text {real['steps']} steps, {_trained(real)}; reverse {reverse['steps']} steps, {_trained(reverse)}",
            markup=False, highlight=False, soft_wrap=True,
        )


def _trained(info: dict) -> str:
    return f"cached ({info['train_seconds']:.1f} s to train)" if info["cached"] else f"trained in {info['train_seconds']:.1f} s"
