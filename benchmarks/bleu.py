"""BLEU-2..5 and Self-BLEU-2..5 on COCO captions: textgan against nltk and fast-bleu, one run.

Run from the repository root:

    python benchmarks/bleu.py                      # data from ../shared/data/text
    python benchmarks/bleu.py --data-dir DIR --nltk-sample 20 --repeats 3

Hypotheses are ``coco_train.txt`` (10,000 captions), references ``coco_test.txt`` (10,000), both
split on spaces; Self-BLEU is over the hypothesis set itself; smoothing is method1, as the anchors
use. Timings start from token lists (reading and splitting the files is not timed) and are the best
of ``--repeats``. nltk takes ~0.2 s per hypothesis here, so it scores only the first
``--nltk-sample`` hypotheses (against the full sets); its seconds are that time extrapolated per
hypothesis to all of them, and the table says so. Every textgan score on that sample is compared
with nltk's (max |diff|). fast-bleu (``pip install fast-bleu==0.0.90``, C++ with threads) is timed
on BLEU-4 and Self-BLEU-4 when it is importable; it is never a dependency of textgan.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from rich.console import Console
from rich.table import Table

from textgan.metrics import bleu_multi, corpus_mean, self_bleu_multi

REPO_ROOT = Path(__file__).resolve().parents[1]
ORDERS = (2, 3, 4, 5)
SMOOTHING = "method1"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "text",
                        help="folder holding coco_train.txt (hypotheses) and coco_test.txt (references)")
    parser.add_argument("--nltk-sample", type=int, default=20, help="hypotheses nltk scores (it is slow)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each fast implementation; best kept")
    return parser.parse_args()


def read_tokens(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise SystemExit(f"error: {path} not found. Pass --data-dir with coco_train.txt and coco_test.txt.")
    with open(path, encoding="utf-8") as f:
        return [line.split() for line in f]


def best_time(fn, repeats: int):
    """(fastest wall time of ``repeats`` calls, the last result)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def nltk_scores(hypotheses, references, sample: int, n: int, leave_one_out: bool) -> tuple[float, list[float]]:
    """nltk's sentence_bleu on the first ``sample`` hypotheses: (seconds, scores)."""
    smoothing = getattr(SmoothingFunction(), SMOOTHING)
    scores = []
    start = time.perf_counter()
    for i in range(sample):
        refs = hypotheses[:i] + hypotheses[i + 1 :] if leave_one_out else references
        scores.append(sentence_bleu(refs, hypotheses[i], (1 / n,) * n, smoothing_function=smoothing))
    return time.perf_counter() - start, scores


def means(scores_by_n: dict[int, list[float]]) -> str:
    return " / ".join(f"{corpus_mean(scores_by_n[n]):.4f}" for n in sorted(scores_by_n))


def main() -> None:
    args = parse_args()
    console = Console(width=max(Console().width, 140))  # one line per row, also when piped
    hypotheses = read_tokens(args.data_dir / "coco_train.txt")
    references = read_tokens(args.data_dir / "coco_test.txt")
    n_hyp, sample = len(hypotheses), min(args.nltk_sample, len(hypotheses))
    table = Table(
        title=f"BLEU on COCO captions: {n_hyp:,} hypotheses vs {len(references):,} references, {SMOOTHING}",
        caption=f"nltk scores only the first {sample} hypotheses (against the full sets): its seconds are extrapolated"
        f" x {n_hyp / sample:,.0f} and its means are over those {sample}. max |diff| vs nltk: on those {sample};"
        f" vs textgan: on all {n_hyp:,}. Mean scores list n = 2 / 3 / 4 / 5.",
    )
    for column in ("implementation", "metric", "seconds", "mean score", "max |diff| vs nltk", "vs textgan"):
        table.add_column(column, justify="left" if column in ("implementation", "metric") else "right", no_wrap=True)

    # textgan: the eight scores from two calls; BLEU-4 alone for a like-for-like row with fast-bleu.
    t_bleu, ours = best_time(lambda: bleu_multi(hypotheses, references, ORDERS, SMOOTHING), args.repeats)
    t_self, ours_self = best_time(lambda: self_bleu_multi(hypotheses, ORDERS, SMOOTHING), args.repeats)
    t_all, _ = best_time(lambda: (bleu_multi(hypotheses, references, ORDERS, SMOOTHING),
                                  self_bleu_multi(hypotheses, ORDERS, SMOOTHING)), args.repeats)
    t_bleu4, ours4 = best_time(lambda: bleu_multi(hypotheses, references, (4,), SMOOTHING), args.repeats)
    t_self4, ours_self4 = best_time(lambda: self_bleu_multi(hypotheses, (4,), SMOOTHING), args.repeats)

    # nltk, the reference, on a sample.
    diff, diff_self, t_nltk, t_nltk_self, nltk_sample, nltk_self_sample = {}, {}, {}, {}, {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in ORDERS:
            t_nltk[n], expected = nltk_scores(hypotheses, references, sample, n, leave_one_out=False)
            t_nltk_self[n], expected_self = nltk_scores(hypotheses, references, sample, n, leave_one_out=True)
            diff[n] = float(np.max(np.abs(np.subtract(ours[n][:sample], expected))))
            diff_self[n] = float(np.max(np.abs(np.subtract(ours_self[n][:sample], expected_self))))
            nltk_sample[n], nltk_self_sample[n] = expected, expected_self

    def worst(d: dict[int, float]) -> str:
        return f"{max(d.values()):.1e}"

    table.add_row("textgan", "BLEU-2..5", f"{t_bleu:.3f}", means(ours), worst(diff), "")
    table.add_row("textgan", "Self-BLEU-2..5", f"{t_self:.3f}", means(ours_self), worst(diff_self), "")
    table.add_row("textgan", "all eight, together", f"[bold]{t_all:.3f}[/bold]", "", "", "")
    table.add_row("textgan", "BLEU-4 alone", f"{t_bleu4:.3f}", means(ours4), f"{diff[4]:.1e}", "")
    table.add_row("textgan", "Self-BLEU-4 alone", f"{t_self4:.3f}", means(ours_self4), f"{diff_self[4]:.1e}", "")
    per_hyp = sum(t_nltk.values()) / sample
    per_hyp_self = sum(t_nltk_self.values()) / sample
    table.add_row("nltk (extrapolated)", "BLEU-2..5", f"{per_hyp * n_hyp:,.0f}", means(nltk_sample), "", "")
    table.add_row("nltk (extrapolated)", "Self-BLEU-2..5", f"{per_hyp_self * n_hyp:,.0f}", means(nltk_self_sample), "", "")

    fast_bleu_4 = None
    try:
        from fast_bleu import BLEU, SelfBLEU
    except ImportError:
        table.add_row("fast-bleu", "not installed (pip install fast-bleu==0.0.90)", "", "", "", "")
    else:
        weights = {4: (0.25, 0.25, 0.25, 0.25)}
        fast_bleu_4, fb = best_time(lambda: BLEU(references, weights).get_score(hypotheses)[4], args.repeats)
        t_fb_self, fb_self = best_time(lambda: SelfBLEU(hypotheses, weights).get_score()[4], args.repeats)
        for metric, seconds, scores, mine, expected in (
            ("BLEU-4", fast_bleu_4, fb, ours4[4], nltk_sample[4]),
            ("Self-BLEU-4", t_fb_self, fb_self, ours_self4[4], nltk_self_sample[4]),
        ):
            vs_nltk = float(np.max(np.abs(np.subtract(scores[:sample], expected))))
            vs_ours = float(np.max(np.abs(np.subtract(scores, mine))))
            table.add_row("fast-bleu 0.0.90", metric, f"{seconds:.3f}", f"{corpus_mean(scores):.4f}",
                          f"{vs_nltk:.1e}", f"{vs_ours:.1e}")

    console.print(table)
    console.print(f"numpy {np.__version__}, {os.cpu_count()} CPU cores visible; fast rows: best of {args.repeats} runs.")
    if fast_bleu_4 is not None:
        console.print(f"textgan's eight scores take {t_all:.3f} s, {fast_bleu_4 / t_all:.1f}x faster than fast-bleu's"
                      f" BLEU-4 alone ({fast_bleu_4:.3f} s). Target: faster.")


if __name__ == "__main__":
    main()
