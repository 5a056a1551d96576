"""COCO's captions in two word units: unknown test words, and the real-text BLEU rows.

Run from the repository root:

    python benchmarks/coco_word_units.py

It reads ``../shared/data/text/coco_train.txt`` and ``coco_test.txt`` (they stay there) and, for
two ways of splitting words, prints the training vocabulary's size, the share of test tokens
outside it (they become ``<unk>``), the share of test captions with one, the longest training
caption, then BLEU-2..5 of every training caption against the test captions and Self-BLEU-2..5
of each file (textgan's exact BLEU, nltk's method 1):

- ``whitespace``: ``str.split``, what ``--tokenizer word`` does; punctuation stays on its word
  (``wheel.``).
- ``treebank``: nltk's ``NLTKWordTokenizer`` on the lower-cased line, which splits punctuation off
  (Texygen's preprocessing and BLEU use ``nltk.word_tokenize``, which is this tokenizer after a
  sentence split that needs the punkt data; this script downloads nothing, so a period inside a
  caption can stay attached). It is ``textgan eval --unit treebank``
  (``textgan.data.treebank.treebank_words``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from textgan.metrics.bleu import bleu_multi, self_bleu_multi
from textgan.data.treebank import treebank_words

REPO_ROOT = Path(__file__).resolve().parents[1]
TEXT = REPO_ROOT.parent / "shared" / "data" / "text"


def unknown_words(train: list[str], test: list[str], split) -> dict:
    """Vocabulary of ``train`` under ``split`` and how much of ``test`` falls outside it."""
    vocabulary = {word for line in train for word in split(line)}
    test_words = [split(line) for line in test]
    tokens = sum(map(len, test_words))
    unknown = sum(word not in vocabulary for words in test_words for word in words)
    return {
        "vocabulary": len(vocabulary),
        "test_tokens": tokens,
        "unknown_share": unknown / tokens,
        "captions_with_unknown": sum(any(w not in vocabulary for w in words) for words in test_words) / len(test_words),
        "longest_training_caption": max(len(split(line)) for line in train),
    }


def bleu_rows(train: list[str], test: list[str], split, orders=(2, 3, 4, 5)) -> dict[str, dict[int, float]]:
    """Mean BLEU of each training line against all test lines, and each file's Self-BLEU, per order."""
    hypotheses, references = [split(line) for line in train], [split(line) for line in test]
    mean = lambda scores: {n: sum(scores[n]) / len(scores[n]) for n in orders}  # noqa: E731
    return {
        "bleu_train_vs_test": mean(bleu_multi(hypotheses, references, orders)),
        "self_bleu_test": mean(self_bleu_multi(references, orders)),
        "self_bleu_train": mean(self_bleu_multi(hypotheses, orders)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=TEXT / "coco_train.txt")
    parser.add_argument("--test", type=Path, default=TEXT / "coco_test.txt")
    args = parser.parse_args()
    train = [line for line in args.train.read_text(encoding="utf-8").splitlines() if line.strip()]
    test = [line for line in args.test.read_text(encoding="utf-8").splitlines() if line.strip()]
    splits = {"whitespace": str.split, "treebank": treebank_words}
    print("split | vocabulary | test tokens | unknown tokens | captions with one | longest training caption")
    for name, split in splits.items():
        r = unknown_words(train, test, split)
        print(f"{name} | {r['vocabulary']:,} | {r['test_tokens']:,} | {r['unknown_share']:.2%} | "
              f"{r['captions_with_unknown']:.1%} | {r['longest_training_caption']}")
    print("split | BLEU-2/3/4/5 train vs test | Self-BLEU-2/3/4/5 test | Self-BLEU-2/3/4/5 train")
    for name, split in splits.items():
        rows = bleu_rows(train, test, split)
        print(name, *(" / ".join(f"{v:.3f}" for v in row.values()) for row in rows.values()), sep=" | ")


if __name__ == "__main__":
    main()
