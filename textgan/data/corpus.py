"""Text corpora: where they live, how they are read, how they are split.

A corpus is a UTF-8 text file with one sample per line. Built-in corpora ship in the repository's
top-level ``corpora/`` folder; anything else is a path.

Examples:
    >>> splits = load_corpus("poems", test_fraction=0.1, seed=0)
    >>> len(splits.train) + len(splits.test)
    16774
"""

from __future__ import annotations

import codecs
import contextlib
import os
import pathlib
import random
import tempfile
from dataclasses import dataclass

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


def corpora_dir() -> pathlib.Path:
    """The repository's top-level ``corpora/`` folder (the project is installed editable).

    Returns:
        The folder's path; it is not checked for existence here.
    """
    return pathlib.Path(textgan.__file__).resolve().parent.parent / "corpora"


def _builtin_list() -> str:
    return ", ".join(BUILTIN_CORPORA)


def resolve_corpus(corpus: str) -> pathlib.Path:
    """Turn a built-in corpus name or a path into the text file to read.

    A built-in name wins over a file of the same name in the working directory; write ``./poems``
    to mean the file.

    Args:
        corpus: a name from :data:`BUILTIN_CORPORA`, or a path to a text file.

    Returns:
        The path of the corpus file.

    Raises:
        UserError: the name is neither built in nor an existing file, or the path is not a
            regular file (a folder, a FIFO, a device).
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
    return require_regular_file(path, "corpus", _FILE_FIX)


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


@contextlib.contextmanager
def _quiet_datasets():
    """Hide ``datasets``' progress bars for one call and restore the caller's setting after."""
    import datasets

    was_enabled = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield datasets
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def read_text_lines(path: str | pathlib.Path, what: str = "corpus", fix: str = _FILE_FIX) -> list[str]:
    """Every line of a UTF-8 text file, the way textgan reads any text file.

    A byte-order mark at the start is dropped; ``\\n``, ``\\r\\n`` and ``\\r`` each end a line and
    nothing else does (so a file saved on Windows reads as on Linux); lines keep their other
    whitespace, blank lines are kept, and a final line break does not start an empty line. The
    file goes through Hugging Face ``datasets``' local ``text`` builder, held in memory, with its
    cache in a temporary folder (nothing is written to the home cache and nothing is downloaded).

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
    # Imported here: `datasets` takes most of a second to import, which the CLI should not pay
    # for commands that never read a corpus.
    with _quiet_datasets() as datasets, tempfile.TemporaryDirectory(prefix="textgan-ds-") as cache:
        # `data_files` is a glob and an fsspec URL: "[", "*" or "::" in a name would change its
        # meaning, so datasets reads the file through a link with a plain name.
        link = pathlib.Path(cache) / "text.txt"
        link.symlink_to(path.resolve())
        table = datasets.load_dataset(
            "text",
            data_files=str(link),
            split="train",
            keep_in_memory=True,
            cache_dir=str(pathlib.Path(cache) / "cache"),
            encoding="utf-8-sig",
        )
        return list(table["text"])


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
    lines = [line.strip() for line in read_text_lines(path, what, fix)]
    return [line for line in lines if line]


@dataclass
class CorpusSplits:
    """A corpus divided into training and held-out lines."""

    train: list[str]
    """Lines the models learn from."""
    test: list[str]
    """Held-out lines for metrics (BLEU references, likelihood)."""
    source: str
    """The resolved path of the corpus file."""


def load_corpus(
    corpus: str,
    test_file: str | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> CorpusSplits:
    """Load a corpus and split it into train and test lines.

    Args:
        corpus: a built-in name (see :data:`BUILTIN_CORPORA`) or a path.
        test_file: a separate file of test lines; then every corpus line is for training and
            ``test_fraction`` is ignored.
        test_fraction: share of the lines held out, in (0, 1); at least one line goes each way.
        seed: seed of the shuffle that picks the test lines; the same seed gives the same split.

    Returns:
        The splits. Without ``test_file`` both keep the corpus's file order.

    Raises:
        UserError: a bad corpus or test file, a fraction outside (0, 1), or a corpus too small to
            split.
    """
    path = resolve_corpus(corpus)
    lines = read_lines(path)
    if test_file is not None:
        test = read_lines(test_file, "test file", "pass --test-file a UTF-8 text file with one sample per line")
        return CorpusSplits(train=lines, test=test, source=str(path))
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
    n_test = min(max(1, round(len(lines) * test_fraction)), len(lines) - 1)
    order = list(range(len(lines)))
    random.Random(seed).shuffle(order)
    test_index = set(order[:n_test])
    train = [line for i, line in enumerate(lines) if i not in test_index]
    test = [line for i, line in enumerate(lines) if i in test_index]
    return CorpusSplits(train=train, test=test, source=str(path))
