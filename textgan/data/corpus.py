"""Text corpora: where they live, how they are read, how they are split.

A corpus is a UTF-8 text file with one sample per line. Built-in corpora ship in the repository's
top-level ``corpora/`` folder; anything else is a path.

Examples:
    >>> splits = load_corpus("poems", test_fraction=0.1, seed=0)
    >>> len(splits.train) + len(splits.test)
    16774
"""

from __future__ import annotations

import array
import codecs
import contextlib
import dataclasses
import itertools
import os
import pathlib
import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

import textgan
from runcore.errors import UserError
from runcore.files import require_regular_file

BUILTIN_CORPORA: dict[str, str] = {
    "poems": "16,774 five-character classical Chinese quatrains (五言绝句), one per line; public domain",
}
"""Built-in corpus name -> one-line description (what ``textgan corpora`` lists)."""

# Where each built-in corpus lives, relative to corpora_dir().
_BUILTIN_FILES: dict[str, str] = {
    "poems": "poems/zh_quatrains5.txt",
}

_FILE_FIX = "give a UTF-8 text file with one sample per line"
_SNIFF_BYTES = 8 << 10  # how much of the head is checked for NUL bytes
_CHUNK_BYTES = 1 << 20  # the UTF-8 check streams the file, so a large corpus is never held twice
# datasets reads this many characters at a time: its default (10 M) costs ~400 MB of Python
# strings per read for CJK text, this ~25 MB, at the same speed.
_READ_CHARS = 1 << 18
_BATCH_LINES = 1 << 13  # lines per batch handed on


def corpora_dir() -> pathlib.Path:
    """The repository's top-level ``corpora/`` folder (the project is installed editable).

    Returns:
        The folder's path; it is not checked for existence here.
    """
    return pathlib.Path(textgan.__file__).resolve().parent.parent / "corpora"


def _builtin_list() -> str:
    return ", ".join(BUILTIN_CORPORA)


def resolve_corpus(corpus: str, folders: bool = False) -> pathlib.Path:
    """Turn a built-in corpus name or a path into the text file (or folder) to read.

    A built-in name wins over a file of the same name in the working directory; write ``./poems``
    to mean the file.

    Args:
        corpus: a name from :data:`BUILTIN_CORPORA`, or a path to a text file.
        folders: a folder is a corpus too (one text file per class, ``--conditional``:
            :func:`textgan.data.labels.class_folder_lines` reads it).

    Returns:
        The path of the corpus file or folder.

    Raises:
        UserError: the name is neither built in nor an existing file, or the path is not a
            regular file (a FIFO, a device; a folder unless ``folders``).
    """
    if corpus in BUILTIN_CORPORA:
        path = corpora_dir() / _BUILTIN_FILES[corpus]
        if not path.is_file():
            raise UserError(
                f"built-in corpus {corpus!r} is missing (expected {path})",
                "reinstall textgan from its repository with `pip install -e .`",
            )
        return path
    path = pathlib.Path(corpus).expanduser()
    if not os.path.lexists(path):
        raise UserError(
            f"unknown corpus {corpus!r}: not a built-in name and no such file",
            f"use a built-in corpus ({_builtin_list()}; run `textgan corpora`) "
            "or the path of a UTF-8 text file with one sample per line",
        )
    if path.is_dir():
        if folders:
            return path
        raise UserError(
            f"corpus {path} is a folder, not a file",
            "a folder of one text file per class is a labelled corpus: add --conditional (docs/conditional.md); "
            "otherwise give a UTF-8 text file with one sample per line",
        )
    return require_regular_file(path, "corpus", _FILE_FIX)


def corpus_bytes(path: pathlib.Path) -> int:
    """The size of a corpus file, or of a folder's files (what ``resolve_corpus`` returned)."""
    if path.is_dir():
        return sum(entry.stat().st_size for entry in path.iterdir() if entry.is_file())
    return path.stat().st_size


def _validate_text_file(path: pathlib.Path, what: str, fix: str) -> None:
    """Reject anything but a regular file, and binary, non-UTF-8 and blank files, before
    ``datasets`` sees them.

    ``datasets`` would fail on these with a long traceback, block forever on a FIFO or, for a
    blank file, silently return nothing; checking here gives one line that says what to fix.
    """
    require_regular_file(path, what, fix)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()  # a byte-order mark is not text
    offset = 0  # bytes of the file already decoded
    has_text = False
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK_BYTES):
                if offset == 0:
                    nul = chunk.find(b"\x00", 0, _SNIFF_BYTES)
                    if nul >= 0:
                        raise UserError(
                            f"{what} {path} looks binary (NUL byte at offset {nul})",
                            f"{fix} (a UTF-16 file must be converted to UTF-8 first)",
                        )
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError:
                    _raise_decode_error(path, what)
                has_text = has_text or (text != "" and not text.isspace())
                offset += len(chunk)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                _raise_decode_error(path, what)  # truncated multi-byte character at the end
    except OSError as error:  # e.g. an I/O error of the disk, or the file removed meanwhile
        raise UserError(f"{what} {path} cannot be read ({error.strerror or error})", fix) from None
    if not has_text:
        raise UserError(f"{what} {path} is empty", fix)


def _raise_decode_error(path: pathlib.Path, what: str) -> None:
    # Only on failure: re-read the file once to report the exact byte offset and line.
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise UserError(
            f"{what} {path} is not valid UTF-8 (byte {data[err.start]:#04x} at offset {err.start}, "
            f"line {line})",
            "re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.txt > out.txt`",
        ) from None
    raise AssertionError("incremental and whole-file UTF-8 decoding disagree")  # pragma: no cover


class _TextStream:
    """A text file read through Hugging Face ``datasets``' streaming ``text`` builder, in batches
    of lines, as many times as needed, never held whole.

    Its cache lives in a temporary folder (nothing goes to the home cache, nothing is downloaded)
    that lasts as long as the stream.
    """

    def __init__(self, path: pathlib.Path):
        # Imported here: `datasets` takes most of a second to import, which the CLI should not pay
        # for commands that never read a corpus.
        import datasets

        self._folder = tempfile.TemporaryDirectory(prefix="textgan-ds-")
        # `data_files` is a glob and an fsspec URL: "[", "*" or "::" in a name would change its
        # meaning, so datasets reads the file through a link with a plain name.
        link = pathlib.Path(self._folder.name) / "text.txt"
        link.symlink_to(path.resolve())
        with _quiet_datasets(datasets):
            self._dataset = datasets.load_dataset(
                "text",
                data_files=str(link),
                split="train",
                streaming=True,
                cache_dir=str(pathlib.Path(self._folder.name) / "cache"),
                encoding="utf-8-sig",
                chunksize=_READ_CHARS,
            ).with_format("arrow")

    def batches(self) -> Iterator[list[str]]:
        """Every line of the file in order, in batches of at most :data:`_BATCH_LINES`."""
        for table in self._dataset.iter(batch_size=_BATCH_LINES):
            yield table.column("text").to_pylist()


@contextlib.contextmanager
def _quiet_datasets(datasets):
    """Hide ``datasets``' progress bars for one call and restore the caller's setting after."""
    was_enabled = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def read_text_lines(path: str | pathlib.Path, what: str = "corpus", fix: str = _FILE_FIX) -> list[str]:
    """Every line of a UTF-8 text file, the way textgan reads any text file.

    A byte-order mark at the start is dropped; ``\\n``, ``\\r\\n`` and ``\\r`` each end a line and
    nothing else does (so a file saved on Windows reads as on Linux); lines keep their other
    whitespace, blank lines are kept, and a final line break does not start an empty line. The
    file goes through Hugging Face ``datasets``' local ``text`` builder (see :class:`CorpusLines`
    for a corpus too large to hold as a list).

    Args:
        path: the text file.
        what: what the file is, for messages: ``"corpus"``, ``"test file"``, ``"reference file"``.
        fix: what a message about a bad file tells the user to do.

    Returns:
        The lines in file order.

    Raises:
        UserError: the file is missing, not a regular file, binary, not UTF-8, or has no text.
    """
    path = pathlib.Path(path).expanduser()
    _validate_text_file(path, what, fix)
    return [line for batch in _TextStream(path).batches() for line in batch]


def read_lines(path: str | pathlib.Path, what: str = "corpus", fix: str = _FILE_FIX) -> list[str]:
    """Read a corpus file: one sample per line, stripped, blank lines dropped.

    Lines are read by :func:`read_text_lines` (a byte-order mark is ignored, CRLF is a line break).

    Args:
        path: the text file.
        what: what the file is, for messages (``"corpus"``, ``"test file"``).
        fix: what a message about a bad file tells the user to do.

    Returns:
        The non-blank lines, stripped of surrounding whitespace, in file order.

    Raises:
        UserError: the file is missing, not a regular file, binary, not UTF-8, or has no text.
    """
    return _samples(read_text_lines(path, what, fix))


def _samples(lines: list[str]) -> list[str]:
    """The stripped, non-blank lines."""
    return [line for line in map(str.strip, lines) if line]


Watch = Callable[[str, "int | None"], Callable[[int], None]]
"""A progress hook: given a pass's description and its length in file lines (``None`` when not
known yet), it returns the function that each batch's count of file lines read is reported to."""


@dataclass(frozen=True)
class CorpusLines:
    """The samples of a text file (stripped, non-blank lines, in file order), or those of them a
    mask selects, read afresh on every pass so that a large corpus is never held in memory.

    Iterate it for the lines, or call :meth:`batches`; ``len()`` is the number of samples.
    """

    stream: _TextStream
    n_lines: int
    """Samples selected."""
    file_lines: int
    """Lines in the file, blank ones included: the length of a pass."""
    select: np.ndarray | None = None
    """One bool per sample of the file, or ``None`` for all of them."""
    on_batch: Callable[[int], None] | None = None
    """Told how many file lines each batch read (progress)."""

    def __len__(self) -> int:
        return self.n_lines

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self.batches())

    def batches(self) -> Iterator[list[str]]:
        """The selected samples in file order, a batch at a time."""
        done = 0  # samples of the file seen so far
        for lines in self.stream.batches():
            samples = _samples(lines)
            if self.select is not None:
                keep = self.select[done : done + len(samples)]
                done += len(samples)
                samples = list(itertools.compress(samples, keep.tolist()))
            if self.on_batch is not None:
                self.on_batch(len(lines))
            if samples:
                yield samples

    def watched(self, watch: Watch | None, description: str) -> CorpusLines:
        """The same lines, their next pass reported to ``watch`` under ``description``."""
        if watch is None:
            return self
        return dataclasses.replace(self, on_batch=watch(description, self.file_lines))

    def selected(self, select: np.ndarray) -> CorpusLines:
        """The samples where ``select`` (one bool per sample of the file) is true."""
        return dataclasses.replace(self, select=select, n_lines=int(select.sum()), on_batch=None)


def corpus_lines(
    path: str | pathlib.Path, what: str = "corpus", fix: str = _FILE_FIX, watch: Watch | None = None
) -> CorpusLines:
    """Check a text file and count its samples in one pass, holding no more than a batch.

    Args:
        path: the text file.
        what: what the file is, for messages (``"corpus"``, ``"test file"``).
        fix: what a message about a bad file tells the user to do.
        watch: a progress hook for the counting pass.

    Returns:
        The file's samples, read as :func:`read_lines` reads them.

    Raises:
        UserError: the file is missing, not a regular file, binary, not UTF-8, or has no text.
    """
    path = pathlib.Path(path).expanduser()
    _validate_text_file(path, what, fix)
    stream = _TextStream(path)
    report = watch(f"counting the lines of {path.name}", None) if watch is not None else None
    n_lines = file_lines = 0
    for lines in stream.batches():
        n_lines += sum(1 for line in lines if line and not line.isspace())  # what strip() leaves non-empty
        file_lines += len(lines)
        if report is not None:
            report(len(lines))
    return CorpusLines(stream, n_lines, file_lines)

@dataclass
class CorpusSplits:
    """A corpus divided into training and held-out lines."""

    train: list[str]
    """Lines the models learn from."""
    test: list[str]
    """Held-out lines for metrics (BLEU references, likelihood)."""
    source: str
    """The resolved path of the corpus file."""


@dataclass
class CorpusStreams:
    """A corpus divided into training and held-out lines, read afresh on each pass."""

    train: CorpusLines
    test: CorpusLines
    source: str
    """The resolved path of the corpus file."""


def load_corpus(
    corpus: str,
    test_file: str | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> CorpusSplits:
    """Load a corpus and split it into train and test lines, held as lists.

    Args:
        corpus: a built-in name (see :data:`BUILTIN_CORPORA`) or a path.
        test_file: a separate file of test lines; then every corpus line is for training and
            ``test_fraction`` is ignored.
        test_fraction: share of the lines held out, in (0, 1); at least one line goes each way.
        seed: seed of the shuffle that picks the test lines; the same seed gives the same split.

    Returns:
        The splits, as :func:`stream_corpus` makes them. Without ``test_file`` both keep the
        corpus's file order.

    Raises:
        UserError: a bad corpus or test file, a fraction outside (0, 1), or a corpus too small to
            split.
    """
    streams = stream_corpus(corpus, test_file, test_fraction, seed)
    return CorpusSplits(train=list(streams.train), test=list(streams.test), source=streams.source)


def stream_corpus(
    corpus: str,
    test_file: str | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
    watch: Watch | None = None,
) -> CorpusStreams:
    """Split a corpus into train and test lines without holding its text: the arguments and the
    split are those of :func:`load_corpus`; ``watch`` reports the counting passes."""
    path = resolve_corpus(corpus)
    lines = corpus_lines(path, watch=watch)
    test = None
    if test_file is not None:
        fix = "pass --test-file a UTF-8 text file with one sample per line"
        test = corpus_lines(test_file, "test file", fix, watch=watch)
    return split_streams(lines, test, test_fraction, seed, path)


def split_streams(
    lines: CorpusLines, test: CorpusLines | None, test_fraction: float, seed: int, path: pathlib.Path
) -> CorpusStreams:
    """The splits of a corpus's ``lines`` (read from ``path``): all of them for training beside
    a test file's ``test``, or else a seeded ``test_fraction`` of them held out."""
    if test is not None:
        return CorpusStreams(train=lines, test=test, source=str(path))
    if not 0.0 < test_fraction < 1.0:
        raise UserError(
            f"test fraction {test_fraction} is outside (0, 1)",
            "pass a fraction such as 0.1, or give --test-file",
        )
    if len(lines) < 2:
        raise UserError(
            f"corpus {path} has {len(lines)} line, too few to split into train and test",
            "give a corpus with at least 2 lines, or give --test-file",
        )
    is_test = _test_mask(len(lines), test_fraction, seed)
    return CorpusStreams(train=lines.selected(~is_test), test=lines.selected(is_test), source=str(path))


def _test_mask(n_lines: int, test_fraction: float, seed: int) -> np.ndarray:
    """Which of ``n_lines`` lines are held out: the first of a seeded shuffle of their indices."""
    n_test = min(max(1, round(n_lines * test_fraction)), n_lines - 1)
    # random.shuffle on 8-byte ints rather than a list of Python ints (~36 bytes each): the same
    # permutation for the same seed, at a quarter of the memory.
    order = array.array("q", range(n_lines))
    random.Random(seed).shuffle(order)
    is_test = np.zeros(n_lines, dtype=bool)
    is_test[np.frombuffer(order, dtype=np.int64)[:n_test]] = True
    return is_test
