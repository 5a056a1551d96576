"""Seconds of every real-data metric of ``textgan eval``: 10,000 samples against 10,000 references.

Run from the repository root:

    python benchmarks/real_text_metrics.py                  # COCO (../shared/data/text), word tokens
    python benchmarks/real_text_metrics.py --corpus poems --test-fraction 0.4 --json out.json

The corpus is prepared as ``textgan train`` prepares it (tokenizer ``auto``). A seeded draw of
``--samples`` training rows (with replacement) stands in for a generator's samples (timings depend on sizes, not on who
wrote the text); the references are the test split. Reported apart: the training of the real-text
LM (on the training split) and of the reverse LM (on the samples), each at the default budget
(``LMSettings``); then the scoring of the samples with every metric (BLEU-2..5, Self-BLEU-2..5,
MS-Jaccard-2..5, LM score, reverse-LM score, Fréchet distance), the LMs read from the cache, best
of ``--repeats``, with each part timed on its own.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from runcore.frechet import frechet_distance
from textgan.metrics import bleu_multi, self_bleu_multi
from textgan.metrics.lm_score import LMSettings, cached_lm
from textgan.metrics.ms_jaccard import ms_jaccard
from textgan.metrics.real_text import RealTextScorer
from textgan.seqgan.config import SeqGANConfig
from textgan.seqgan.prepare import prepare_data

REPO_ROOT = Path(__file__).resolve().parents[1]
TEXT = REPO_ROOT.parent / "shared" / "data" / "text"
ORDERS = (2, 3, 4, 5)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(TEXT / "coco_train.txt"), help="a built-in corpus or a text file")
    parser.add_argument("--test-file", default=None, help="held-out text (default: coco_test.txt beside the COCO corpus)")
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    if args.test_file is None and args.corpus == str(TEXT / "coco_train.txt"):
        args.test_file = str(TEXT / "coco_test.txt")
    return args


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = prepare_data(SeqGANConfig(corpus=args.corpus, test_file=args.test_file, test_fraction=args.test_fraction), quiet=True)
    tok = data.tokenizer
    # a seeded draw of training rows: not the real LM's own training set, so the reverse LM is a model of its own
    samples = data.train[torch.randint(0, len(data.train), (args.samples,), generator=torch.Generator().manual_seed(0))]

    def units(rows: torch.Tensor) -> list[list[int]]:  # the ids up to EOS: the word tokenizer's words, the char one's chars
        return [[i for i in (row[: row.index(tok.eos_id)] if tok.eos_id in row else row) if i not in (tok.pad_id, tok.bos_id)]
                for row in rows.tolist()]  # fmt: skip

    settings = LMSettings()
    with tempfile.TemporaryDirectory() as cache:
        real_s, real = timed(lambda: cached_lm(Path(cache), data.train, tok.vocab_size, tok.bos_id, tok.eos_id, settings))
        reverse_s, reverse = timed(lambda: cached_lm(Path(cache), samples, tok.vocab_size, tok.bos_id, tok.eos_id, settings))
        build_s, scorer = timed(lambda: RealTextScorer.build(data.train, data.test, tok.vocab_size, tok.bos_id, tok.eos_id, units,
                                                             ORDERS, Path(cache), settings))  # fmt: skip
        best, result = float("inf"), None
        for _ in range(args.repeats):
            seconds, result = timed(lambda: scorer(samples))
            best = min(best, seconds)
        hyps, refs = units(samples), scorer.references
        parts = {
            "units (ids to lists)": timed(lambda: units(samples))[0],
            "BLEU-2..5": timed(lambda: bleu_multi(hyps, refs, ORDERS))[0],
            "Self-BLEU-2..5": timed(lambda: self_bleu_multi(hyps, ORDERS))[0],
            "MS-Jaccard-2..5": timed(lambda: ms_jaccard(hyps, refs, ORDERS))[0],
            "LM score + sample embeddings": timed(lambda: real.lm.score(samples))[0],
            "reverse-LM score": timed(lambda: reverse.lm.score(data.test, embed=False))[0],
            "test embeddings (once per scorer)": timed(lambda: real.lm.embed(data.test))[0],
            "Fréchet distance": timed(lambda: frechet_distance(real.lm.embed(samples), scorer.test_embeddings))[0],
        }
    report = {
        "corpus": data.source, "tokenizer": tok.kind, "vocab_size": tok.vocab_size, "max_len": data.max_len,
        "samples": len(samples), "references": len(data.test), "threads": torch.get_num_threads(),
        "train_real_lm_seconds": real_s, "real_lm_steps": real.steps, "train_reverse_lm_seconds": reverse_s,
        "reverse_lm_steps": reverse.steps, "scorer_build_seconds_cached": build_s, "score_seconds": best, "parts": parts,
        "scores": {k: v for k, v in result.items() if k != "models"},
    }  # fmt: skip
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
