"""A labelled corpus from the shared COCO captions: does a caption mention a person?

Run from the repository root:

    python benchmarks/coco_person_labels.py --out /tmp/coco-person

It reads ``../shared/data/text/coco_train.txt`` and ``coco_test.txt`` (the Texygen benchmark's
10,000 + 10,000 captions; they stay in ../shared/data) and writes ``train.tsv`` and ``test.tsv``
in the ``label<TAB>text`` format of ``textgan train --conditional``: each caption in file order,
labelled ``person`` when one of its words (lower-cased runs of letters and apostrophes, so
``man.`` counts as ``man``) is in :data:`PERSON_WORDS`, else ``no_person``. Deterministic: the
same files give the same labels. It prints each split's class counts.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PERSON_WORDS = frozenset(
    """man men woman women person people persons boy boys girl girls child children kid kids guy guys lady ladies
    gentleman gentlemen player players baby babies toddler toddlers skier skiers surfer surfers skateboarder
    skateboarders snowboarder snowboarders rider riders someone somebody he she his her him himself herself they
    their them couple crowd family teenager teenagers adult adults chef chefs batter pitcher catcher officer officers
    soldier soldiers worker workers student students friends daughter son mother father mom dad husband wife brother
    sister boyfriend girlfriend""".split()
)
"""words that name or refer to people in COCO's captions"""
_WORD = re.compile(r"[a-z']+")


def person_label(caption: str) -> str:
    """``person`` when the caption has a word of :data:`PERSON_WORDS`, else ``no_person``."""
    return "person" if PERSON_WORDS.intersection(_WORD.findall(caption.lower())) else "no_person"


def labelled_lines(lines: list[str]) -> list[str]:
    """``label<TAB>caption`` for every non-blank caption (tabs inside a caption become spaces)."""
    return [f"{person_label(line)}\t{line.strip().replace(chr(9), ' ')}" for line in lines if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(REPO_ROOT.parent / "shared" / "data" / "text"), help="folder with coco_train.txt and coco_test.txt")
    parser.add_argument("--out", required=True, help="folder to write train.tsv and test.tsv into")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        lines = labelled_lines((Path(args.data_dir) / f"coco_{split}.txt").read_text(encoding="utf-8").splitlines())
        (out / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        person = sum(line.startswith("person\t") for line in lines)
        print(f"{split}: {len(lines)} captions, {person} person, {len(lines) - person} no_person -> {out / f'{split}.tsv'}")


if __name__ == "__main__":
    main()
