"""Labelled corpora for class-conditional generation: ``label<TAB>text``, one sample a line, or
a folder of one text file per class.

With ``--conditional`` every line of the corpus (and of ``--test-file``) is a class label, one tab
and the sample's text; the label is everything before the first tab (surrounding spaces
dropped), the text everything after it. The classes are the training split's distinct labels in
sorted order (class ``i`` is ``names[i]``). A line without a tab, or with nothing on either side
of it, is an error that names the line: a corpus without labels is never read as one class.

A folder (:func:`class_folder_lines`) reads as the ``label<TAB>text`` file made by writing each of
its files' lines after its class's name and a tab, the files in sorted order of their names: the
class of ``pos.txt`` is ``pos`` (the file's name without its last suffix); files whose names start
with a dot are left out. So the two formats give the same rows, labels and split.

The corpus is still read in passes, never held as text: :class:`LabelledText` is the texts of a
:class:`~textgan.data.corpus.CorpusLines` (what the tokenizer fits on and what is encoded), and
:func:`read_class_labels` reads the labels of both splits and keeps those of the rows that
``encode_lines`` keeps (a line too long for ``max_len`` is dropped together with its label).

Examples:
    >>> split_labelled("person\\ta man rides a horse")
    ('person', 'a man rides a horse')
    >>> ClassLabels(("no_person", "person"), torch.tensor([1, 0]), torch.tensor([0])).class_id("person")
    1
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from runcore.errors import UserError
from runcore.printable import printable
from textgan.data.corpus import CorpusLines, CorpusStreams, Watch, corpus_lines, resolve_corpus, split_streams
from textgan.data.tokenizers import Tokenizer

SEPARATOR = "\t"
LABEL_FORMAT_FIX = "with --conditional every line is a class label, a tab and the text (label<TAB>text); leave out --conditional for a corpus without labels"
METADATA_KEY = "class_names"
"""where the run's data file keeps the class names (one per line)"""


def split_labelled(line: str) -> tuple[str, str] | None:
    """``(label, text)`` of a ``label<TAB>text`` line (both stripped), None when it is not one."""
    label, tab, text = line.partition(SEPARATOR)
    label, text = label.strip(), text.strip()
    if not tab or not label or not text:
        return None
    return label, text


def _checked(line: str, what: str) -> tuple[str, str]:
    parsed = split_labelled(line)
    if parsed is None:
        shown = printable(line if len(line) <= 60 else line[:57] + "...").replace("\t", "\\t")
        raise UserError(f"the {what} has a line that is not label<TAB>text: {shown!r}", LABEL_FORMAT_FIX)
    return parsed


CLASS_FILE_FIX = "give each class a UTF-8 text file with one sample per line, named after the class (e.g. pos.txt, neg.txt)"


@dataclass(frozen=True)
class _ClassFilesStream:
    """The lines of class files one after another, each non-blank one as ``name<TAB>line``."""

    names: tuple[str, ...]
    files: tuple[CorpusLines, ...]

    def batches(self) -> Iterator[list[str]]:
        for name, lines in zip(self.names, self.files):
            for batch in lines.stream.batches():
                yield [f"{name}{SEPARATOR}{line}" if line and not line.isspace() else line for line in batch]


def class_files(folder: pathlib.Path, what: str = "corpus folder") -> dict[str, pathlib.Path]:
    """Class name -> file of a folder of class files, in sorted order of the names.

    Raises:
        UserError: no files, a name that cannot be a label (a tab or a line break in it, or
            blank), or two files of one class (``pos.txt`` and ``pos.csv``).
    """
    entries = sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))
    if not entries:
        raise UserError(f"the {what} {folder} has no class files", CLASS_FILE_FIX)
    classes: dict[str, pathlib.Path] = {}
    for entry in entries:
        name = entry.stem.strip()
        if not name or any(c in entry.stem for c in "\t\n\r"):
            raise UserError(f"the {what} {folder} has a file whose name cannot be a class: {printable(entry.name)!r}", CLASS_FILE_FIX + "; a name has no tab or line break")
        if name in classes:
            raise UserError(f"the {what} {folder} has two files of class {name!r}: {classes[name].name}, {entry.name}", "keep one file per class")
        classes[name] = entry
    return dict(sorted(classes.items()))


def class_folder_lines(
    folder: pathlib.Path, what: str = "corpus folder", watch: Watch | None = None, names: tuple[str, ...] | None = None
) -> tuple[CorpusLines, tuple[str, ...]]:
    """The samples of a folder of class files as ``label<TAB>text`` lines, and the class names.

    Args:
        folder: one UTF-8 text file per class, one sample per line.
        what: what the folder is, for messages.
        watch: a progress hook for the counting passes.
        names: the classes the folder must have exactly (a test folder beside a corpus folder).

    Raises:
        UserError: a bad folder (see :func:`class_files`), a class file that is binary, not
            UTF-8 or empty, or classes other than ``names``.
    """
    classes = class_files(folder, what)
    if names is not None and tuple(classes) != tuple(names):
        missing, extra = sorted(set(names) - set(classes)), sorted(set(classes) - set(names))
        problem = f"has no file for class(es) {', '.join(missing)}" if missing else f"has class(es) the corpus has not: {', '.join(extra)}"
        raise UserError(f"the {what} {folder} {problem}", "give it one file for each class of the corpus folder, named as there")
    files = tuple(corpus_lines(path, "class file", CLASS_FILE_FIX, watch=watch) for path in classes.values())
    stream = _ClassFilesStream(tuple(classes), files)
    n_lines, file_lines = sum(len(f) for f in files), sum(f.file_lines for f in files)
    return CorpusLines(stream, n_lines, file_lines), tuple(classes)  # type: ignore[arg-type]  # a stream of batches


def stream_labelled(
    corpus: str, test_file: str | None = None, test_fraction: float = 0.1, seed: int = 0, watch: Watch | None = None
) -> CorpusStreams:
    """``textgan.data.corpus.stream_corpus`` for a labelled corpus: the corpus, and the test file,
    may each be a ``label<TAB>text`` file or a folder of class files; a test folder beside a corpus
    folder has the same classes. The lines are ``label<TAB>text`` either way."""
    path = resolve_corpus(corpus, folders=True)
    names = None
    if path.is_dir():
        lines, names = class_folder_lines(path, "corpus folder", watch)
    else:
        lines = corpus_lines(path, watch=watch)
    test = None
    if test_file is not None:
        test_path = pathlib.Path(test_file).expanduser()
        if test_path.is_dir():
            test, _ = class_folder_lines(test_path, "test folder", watch, names)
        else:
            test = corpus_lines(test_path, "test file", "pass --test-file a label<TAB>text file or a folder of class files", watch=watch)
    return split_streams(lines, test, test_fraction, seed, path)


@dataclass(frozen=True)
class LabelledText:
    """The texts of labelled lines, read as the lines are (iterate it, or :meth:`batches`)."""

    lines: CorpusLines
    what: str = "corpus"

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self.batches())

    def batches(self) -> Iterator[list[str]]:
        for batch in self.lines.batches():
            yield [_checked(line, self.what)[1] for line in batch]

    def watched(self, watch: Watch | None, description: str) -> LabelledText:
        return dataclasses.replace(self, lines=self.lines.watched(watch, description))

    def labels(self) -> list[str]:
        """Every line's label, in order (one pass)."""
        return [_checked(line, self.what)[0] for batch in self.lines.batches() for line in batch]


@dataclass
class ClassLabels:
    """The classes of a labelled run: their names and the class of every encoded row."""

    names: tuple[str, ...]
    train: torch.Tensor
    """``(N,)`` int64: the class of each training row"""
    test: torch.Tensor
    """``(M,)`` int64: the class of each test row"""
    val: torch.Tensor | None = None
    """``(K,)`` int64: the class of each validation row (a run with ``--val-fraction``)"""

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def class_id(self, name: str) -> int:
        """The id of class ``name``; UserError naming the classes when there is no such class."""
        if name not in self.names:
            raise UserError(f"--label {name!r} is not a class of this run", f"choose one of {', '.join(self.names)}")
        return self.names.index(name)

    def metadata(self) -> dict[str, str]:
        return {METADATA_KEY: "\n".join(self.names)}

    @classmethod
    def from_saved(cls, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> ClassLabels | None:
        """The labels a run's data file holds (None: a run without classes)."""
        if METADATA_KEY not in metadata or "train_labels" not in tensors or "test_labels" not in tensors:
            return None
        names = tuple(metadata[METADATA_KEY].split("\n"))
        return cls(names, tensors["train_labels"], tensors["test_labels"], tensors.get("val_labels"))


def kept_rows(tokenizer: Tokenizer, texts, max_len: int, long_lines: str) -> np.ndarray:
    """Which lines ``encode_lines(tokenizer, texts, max_len, long_lines)`` keeps (a bool per line)."""
    if long_lines == "cut":
        return np.ones(len(texts), dtype=bool)
    keep = []
    for chunk in texts.batches():
        _, lengths = tokenizer.encode_batch(chunk)
        keep.append(lengths <= max_len)
    return np.concatenate(keep) if keep else np.zeros(0, dtype=bool)


def read_class_labels(
    tokenizer: Tokenizer, train: LabelledText, test: LabelledText, max_len: int, long_lines: str
) -> ClassLabels:
    """The classes of the training split and the class of every row that encoding keeps
    (the training split under ``long_lines``, the test split always cut, as ``prepare_data`` does).

    Raises:
        UserError: fewer than two classes, or a test label that no training line has.
    """
    train_names = np.asarray(train.labels(), dtype=object)[kept_rows(tokenizer, train, max_len, long_lines)]
    names = tuple(sorted(set(train_names)))
    if len(names) < 2:
        raise UserError(
            f"the labelled corpus has {len(names)} class ({', '.join(names)}); a conditional run needs at least 2",
            "label the lines with two or more classes, or leave out --conditional",
        )
    ids = {name: i for i, name in enumerate(names)}
    test_names = test.labels()
    unknown = sorted(set(test_names) - set(names))
    if unknown:
        raise UserError(
            f"the test split has label(s) no training line has: {', '.join(unknown[:5])}",
            "give every test label some training lines",
        )
    as_ids = lambda labels: torch.tensor([ids[name] for name in labels], dtype=torch.long)  # noqa: E731
    return ClassLabels(names, as_ids(train_names), as_ids(test_names))
