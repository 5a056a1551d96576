"""Tokenizers: text <-> integer ids, with the same four special ids for every kind.

Four kinds: ``char`` (every character is a token; the natural choice for Chinese poems),
``word`` (whitespace split), ``treebank`` (nltk's Treebank words of the lower-cased text, the
unit of Texygen's English tables: ``textgan.data.treebank``) and ``spm`` (a SentencePiece BPE or
unigram model trained on the corpus). All share ``<pad>``=0, ``<bos>``=1, ``<eos>``=2, ``<unk>``=3, so models and the
environment never ask which kind they hold.

Examples:
    >>> tok = build_tokenizer("char", ["春眠不觉晓", "处处闻啼鸟"])
    >>> ids = tok.encode("春眠")
    >>> tok.decode(ids + [EOS_ID, PAD_ID])
    '春眠'
"""

from __future__ import annotations

import collections
import io
import itertools
import json
import os
import pathlib
import re
import tempfile
from collections.abc import Iterable, Sequence

import numpy as np

from runcore.errors import CheckpointError, UserError
from runcore.files import require_regular_file
from textgan.data.treebank import treebank_words

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
TOKENIZER_KINDS = ("char", "word", "treebank", "spm")
VOCAB_KINDS = ("char", "word", "treebank")
SPM_MODEL_TYPES = ("bpe", "unigram")
DEFAULT_SPM_VOCAB_SIZE = 8000

TOKENIZER_FILE = "tokenizer.json"
SPM_MODEL_FILE = "spm.model"
_FORMAT = "textgan-tokenizer"
_FORMAT_VERSION = 1
_COUNT_LINES = 1 << 13  # lines counted at a time while fitting a vocabulary


def _as_id_list(ids) -> list[int]:
    """Accept a list, tuple, 1-D tensor or 1-D numpy array of ids."""
    if hasattr(ids, "tolist"):  # torch.Tensor and np.ndarray
        if getattr(ids, "ndim", 1) != 1:
            raise ValueError(f"decode takes one sequence (1-D ids), got shape {tuple(ids.shape)}")
        ids = ids.tolist()
    return [int(i) for i in ids]


class Tokenizer:
    """The interface every tokenizer kind implements.

    Attributes:
        kind: ``"char"``, ``"word"`` or ``"spm"``.
        vocab_size: number of ids, the four specials included.
        pad_id, bos_id, eos_id, unk_id: 0, 1, 2, 3 for every kind.
    """

    kind: str = ""
    pad_id, bos_id, eos_id, unk_id = PAD_ID, BOS_ID, EOS_ID, UNK_ID

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str, strict: bool = False) -> list[int]:
        """Turn text into ids; no BOS or EOS is added.

        Args:
            text: one sample.
            strict: raise instead of mapping an unknown piece to ``unk_id``.

        Returns:
            The ids.

        Raises:
            ValueError: ``strict`` and a piece is not in the vocabulary (the message names it).
        """
        raise NotImplementedError

    def encode_batch(self, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Encode many lines at once, as :meth:`encode` does one by one.

        Args:
            lines: the samples.

        Returns:
            Every line's ids end to end (``int64``), and each line's length in tokens.
        """
        return _packed([self.encode(line) for line in lines])

    def decode(self, ids) -> str:
        """Turn ids back into text.

        Reading stops at the first EOS; PAD and BOS are skipped; UNK reads as ``<unk>``.

        Args:
            ids: a list, tuple, 1-D tensor or 1-D numpy array of ids.

        Returns:
            The text.
        """
        kept = []
        for i in _as_id_list(ids):
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                kept.append(i)
        return self._decode_content(kept)

    def _decode_content(self, ids: list[int]) -> str:
        raise NotImplementedError

    def token(self, id: int) -> str:
        """The piece an id stands for (for debugging and printing).

        Raises:
            ValueError: the id is outside ``[0, vocab_size)``.
        """
        raise NotImplementedError

    def save(self, directory: str | os.PathLike) -> None:
        """Write the tokenizer into ``directory`` (created if needed) as JSON, plus ``spm.model``
        for SentencePiece; :func:`load_tokenizer` reads it back."""
        raise NotImplementedError

    def _check_id(self, id: int) -> int:
        if not 0 <= int(id) < self.vocab_size:
            raise ValueError(f"token id {id} is outside the vocabulary [0, {self.vocab_size})")
        return int(id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, vocab_size={self.vocab_size})"


class VocabTokenizer(Tokenizer):
    """A fixed piece list: ``char`` splits text into characters, ``word`` on whitespace,
    ``treebank`` into the Treebank words of the lower-cased text (decoded text is lower-case,
    its words joined by spaces).

    Args:
        kind: ``"char"``, ``"word"`` or ``"treebank"``.
        pieces: every piece in id order; the first four are :data:`SPECIAL_TOKENS`.
    """

    def __init__(self, kind: str, pieces: Sequence[str]):
        if kind not in VOCAB_KINDS:
            raise ValueError(f"VocabTokenizer kind must be one of {', '.join(VOCAB_KINDS)}, got {kind!r}")
        if tuple(pieces[:4]) != SPECIAL_TOKENS:
            raise ValueError(f"the first four pieces must be {SPECIAL_TOKENS}, got {tuple(pieces[:4])}")
        self.kind = kind
        self.pieces = list(pieces)
        self._ids = {piece: i for i, piece in enumerate(self.pieces)}
        if len(self._ids) != len(self.pieces):
            raise ValueError("the piece list has duplicates")
        self._separator = "" if kind == "char" else " "
        self._table: np.ndarray | None = None  # code point -> id, built by the first encode_batch

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    def _split(self, text: str) -> list[str]:
        return _SPLITS[self.kind](text)

    def encode(self, text: str, strict: bool = False) -> list[int]:
        ids = []
        for piece in self._split(text):
            i = self._ids.get(piece)
            if i is None:
                if strict:
                    raise ValueError(f"{self.kind} {piece!r} is not in the vocabulary")
                i = UNK_ID
            ids.append(i)
        return ids

    def encode_batch(self, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "word":
            lengths = np.fromiter(map(len, map(str.split, lines)), np.int64, len(lines))
            return self._piece_ids(" ".join(lines).split()), lengths  # a space between lines: no word spans two lines
        if self.kind == "treebank":  # split once: the rules are the cost
            words = [treebank_words(line) for line in lines]
            return self._piece_ids(list(itertools.chain.from_iterable(words))), np.fromiter(map(len, words), np.int64, len(lines))
        lengths = np.fromiter(map(len, lines), np.int64, len(lines))  # len(text) chars
        # One table lookup per code point instead of a dict lookup per character in Python.
        code_points = _code_points("".join(lines))
        table = self._char_table()
        inside = code_points < len(table)
        flat = np.full(len(code_points), UNK_ID, dtype=np.int64)
        flat[inside] = table[code_points[inside]]
        return flat, lengths

    def _piece_ids(self, pieces: list[str]) -> np.ndarray:
        return np.fromiter(map(self._ids.get, pieces, itertools.repeat(UNK_ID)), np.int64, len(pieces))

    def _char_table(self) -> np.ndarray:
        """Code point -> id for every one-character piece, UNK elsewhere (built once)."""
        if self._table is None:
            chars = {ord(piece): i for piece, i in self._ids.items() if len(piece) == 1}
            self._table = np.full(max(chars, default=0) + 1, UNK_ID, dtype=np.int64)
            self._table[list(chars)] = list(chars.values())
        return self._table

    def _decode_content(self, ids: list[int]) -> str:
        return self._separator.join(self.pieces[self._check_id(i)] for i in ids)

    def token(self, id: int) -> str:
        return self.pieces[self._check_id(id)]

    def save(self, directory: str | os.PathLike) -> None:
        _write_json(directory, {"kind": self.kind, "pieces": self.pieces})


class SentencePieceTokenizer(Tokenizer):
    """A trained SentencePiece model, held as its serialized bytes.

    Args:
        model_proto: the bytes of a SentencePiece model with pad/bos/eos/unk at ids 0-3.
        model_type: ``"bpe"`` or ``"unigram"`` (recorded for display; the model knows it).
    """

    kind = "spm"

    def __init__(self, model_proto: bytes, model_type: str = "bpe"):
        import sentencepiece

        self.model_proto = bytes(model_proto)
        self.model_type = model_type
        self._sp = sentencepiece.SentencePieceProcessor(model_proto=self.model_proto)
        specials = (self._sp.pad_id(), self._sp.bos_id(), self._sp.eos_id(), self._sp.unk_id())
        if specials != (PAD_ID, BOS_ID, EOS_ID, UNK_ID):
            raise ValueError(f"SentencePiece model has special ids {specials}, expected (0, 1, 2, 3)")

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str, strict: bool = False) -> list[int]:
        ids = self._sp.encode(text, out_type=int)
        if strict and UNK_ID in ids:
            # Same input, same segmentation: the piece at UNK's position is the unknown text.
            pieces = self._sp.encode(text, out_type=str)
            raise ValueError(f"piece {pieces[ids.index(UNK_ID)]!r} is not in the vocabulary")
        return ids

    def encode_batch(self, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return _packed(self._sp.encode(list(lines), out_type=int))

    def _decode_content(self, ids: list[int]) -> str:
        return self._sp.decode([self._check_id(i) for i in ids])

    def token(self, id: int) -> str:
        return self._sp.id_to_piece(self._check_id(id))

    def save(self, directory: str | os.PathLike) -> None:
        directory = _write_json(
            directory, {"kind": self.kind, "model_type": self.model_type, "model_file": SPM_MODEL_FILE}
        )
        (directory / SPM_MODEL_FILE).write_bytes(self.model_proto)


_SPLITS = {"char": list, "word": str.split, "treebank": treebank_words}


def _code_points(text: str) -> np.ndarray:
    """The code point of each character of ``text`` (``list(text)`` as numbers)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _packed(ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, ids), np.int64, len(ids))
    return np.fromiter(itertools.chain.from_iterable(ids), np.int64, int(lengths.sum())), lengths


def _write_json(directory: str | os.PathLike, fields: dict) -> pathlib.Path:
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"format": _FORMAT, "version": _FORMAT_VERSION, **fields}
    text = json.dumps(payload, ensure_ascii=False, indent=1)
    (directory / TOKENIZER_FILE).write_text(text + "\n", encoding="utf-8")
    return directory


def build_tokenizer(
    kind: str,
    lines: Iterable[str],
    vocab_size: int | None = None,
    min_count: int = 1,
    seed: int = 0,
    spm_model_type: str = "bpe",
) -> Tokenizer:
    """Build a tokenizer from training lines.

    Args:
        kind: ``"char"``, ``"word"``, ``"treebank"`` or ``"spm"``.
        lines: the training samples.
        vocab_size: ids in all, the four specials included. ``char``/``word``/``treebank``: ``None`` keeps
            every piece seen at least ``min_count`` times, a number keeps the most frequent
            ``vocab_size - 4``. ``spm``: ``None`` means 8000, lowered to the most the text
            supports; an explicit size the text cannot fill is an error.
        min_count: ``char``/``word``/``treebank`` only: the fewest occurrences a piece needs.
        seed: ``spm`` only: seeds SentencePiece's random generator.
        spm_model_type: ``spm`` only: ``"bpe"`` or ``"unigram"``.

    Returns:
        The tokenizer. ``char``/``word``/``treebank`` vocabularies are sorted by (-count, piece), so the same
        lines always give the same ids.

    Raises:
        UserError: an unknown kind or model type, a vocabulary size below 5 (or, for ``spm``,
            one that does not fit the text), or no text.
    """
    if kind not in TOKENIZER_KINDS:
        raise UserError(f"unknown tokenizer {kind!r}", f"use one of {', '.join(TOKENIZER_KINDS)}")
    if vocab_size is not None and vocab_size <= len(SPECIAL_TOKENS):
        raise UserError(
            f"vocabulary size {vocab_size} leaves no room beside the {len(SPECIAL_TOKENS)} special tokens",
            "pass --vocab-size of at least 5",
        )
    if kind == "spm":
        return _train_sentencepiece(lines, vocab_size, spm_model_type, seed)
    counts = collections.Counter()
    lines = iter(lines)  # read once, a chunk at a time: a streamed corpus is never held whole
    while chunk := list(itertools.islice(lines, _COUNT_LINES)):
        if kind == "char":  # counted by numpy over code points, not per character in Python
            seen, times = np.unique(_code_points("".join(chunk)), return_counts=True)
            counts.update(dict(zip(map(chr, seen.tolist()), times.tolist())))
        elif kind == "treebank":
            counts.update(piece for line in chunk for piece in treebank_words(line))
        else:
            counts.update(" ".join(chunk).split())  # a space between lines keeps words apart
    for special in SPECIAL_TOKENS:  # a literal "<unk>" in the text already has its id
        counts.pop(special, None)
    ranked = sorted(
        (piece for piece, count in counts.items() if count >= max(1, min_count)),
        key=lambda piece: (-counts[piece], piece),
    )
    if not ranked:
        raise UserError(
            f"no {kind} occurs at least {min_count} times in the training text",
            "lower --min-count or give more text",
        )
    if vocab_size is not None:
        ranked = ranked[: vocab_size - len(SPECIAL_TOKENS)]
    return VocabTokenizer(kind, [*SPECIAL_TOKENS, *ranked])


def _train_sentencepiece(lines: Iterable[str], vocab_size: int | None, model_type: str, seed: int):
    import sentencepiece

    if model_type not in SPM_MODEL_TYPES:
        raise UserError(
            f"unknown SentencePiece model type {model_type!r}", f"use one of {', '.join(SPM_MODEL_TYPES)}"
        )
    size = DEFAULT_SPM_VOCAB_SIZE if vocab_size is None else vocab_size
    sentencepiece.set_random_generator_seed(seed)
    with tempfile.TemporaryDirectory(prefix="textgan-spm-") as tmp:
        # Streamed to a file, line by line: SentencePiece reads its input from there (twice,
        # when the default size must shrink), and the text is never held here as a list.
        text_file = pathlib.Path(tmp) / "train.txt"
        has_text = False
        with open(text_file, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
                has_text = has_text or bool(line.strip())
        if not has_text:
            raise UserError("no text to train a SentencePiece model on", "give a corpus with text in it")
        try:
            proto = _spm_train(sentencepiece, text_file, size, model_type)
        except RuntimeError as err:
            fewest, most = _spm_size_limits(err)
            if fewest is not None:
                raise UserError(
                    f"vocabulary size {size} is too small for the {fewest - len(SPECIAL_TOKENS)} "
                    "distinct characters in this text",
                    f"pass --vocab-size {fewest} or more",
                ) from None
            if most is None:
                raise
            if vocab_size is not None or most <= len(SPECIAL_TOKENS):
                raise UserError(
                    f"vocabulary size {size} is too large for this text (SentencePiece {model_type} "
                    f"can make at most {most})",
                    f"pass --vocab-size {most} or less, or give more text",
                ) from None
            # The default size was only a guess: use what the text supports.
            proto = _spm_train(sentencepiece, text_file, most, model_type)
    return SentencePieceTokenizer(proto, model_type)


_SPECIAL_CHARS = "".join(sorted(set("".join(SPECIAL_TOKENS))))


def _spm_train(sentencepiece, text_file: pathlib.Path, vocab_size: int, model_type: str) -> bytes:
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        input=str(text_file),
        model_writer=model,
        model_type=model_type,
        vocab_size=vocab_size,
        pad_id=PAD_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        unk_id=UNK_ID,
        pad_piece=SPECIAL_TOKENS[PAD_ID],
        bos_piece=SPECIAL_TOKENS[BOS_ID],
        eos_piece=SPECIAL_TOKENS[EOS_ID],
        unk_piece=SPECIAL_TOKENS[UNK_ID],
        unk_surface=SPECIAL_TOKENS[UNK_ID],
        # Exact round trips: no NFKC (it would turn "，" into ","), no whitespace squeezing,
        # and every character of the training text kept rather than the rarest mapped to UNK.
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        character_coverage=1.0,
        # SentencePiece's trainer drops the special pieces' text ("<eos>", "<unk>", ...) from the
        # lines it learns from, so a character seen only there ("<", ">", ...) would read as UNK:
        # requiring them keeps any text over the corpus's characters exact, a literal "<eos>" included.
        required_chars=_SPECIAL_CHARS,
        num_threads=max(1, min(os.cpu_count() or 1, 8)),
        minloglevel=2,  # errors only; training progress is not the user's business
    )
    return model.getvalue()


def _spm_size_limits(err: RuntimeError) -> tuple[int | None, int | None]:
    """The (smallest, largest) vocabulary SentencePiece says the text allows, from its error
    message; ``None`` where the message gives no such bound."""
    message = str(err)
    too_small = re.search(r"smaller than required_chars\D*\d+ vs (\d+)", message)
    too_large = re.search(r"Vocabulary size (?:is )?too (?:high|large).*?<= *(\d+)", message)
    return (
        int(too_small.group(1)) if too_small else None,
        int(too_large.group(1)) if too_large else None,
    )


def load_tokenizer(directory: str | os.PathLike) -> Tokenizer:
    """Read a tokenizer written by :meth:`Tokenizer.save`.

    Args:
        directory: the folder holding ``tokenizer.json`` (and ``spm.model`` for SentencePiece).

    Returns:
        The tokenizer; it encodes exactly as the saved one did.

    Raises:
        CheckpointError: the folder or its files are missing or corrupt.
    """
    directory = pathlib.Path(directory)
    path = directory / TOKENIZER_FILE
    fix = "point at a run directory that textgan saved, or train a new run"
    if not os.path.lexists(path):
        raise CheckpointError(f"no tokenizer in {directory} ({TOKENIZER_FILE} is missing)", fix)
    require_regular_file(path, "tokenizer file", fix, error=CheckpointError)  # a FIFO would block the read
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("format") != _FORMAT or payload.get("version") != _FORMAT_VERSION:
            raise ValueError(f"not a {_FORMAT} version {_FORMAT_VERSION} file")
        kind = payload["kind"]
        if kind == "spm":
            model_path = directory / payload["model_file"]
            if not os.path.lexists(model_path):
                raise ValueError(f"{model_path.name} is missing")
            require_regular_file(model_path, "tokenizer model", fix, error=CheckpointError)
            return SentencePieceTokenizer(model_path.read_bytes(), payload.get("model_type", "bpe"))
        pieces = payload["pieces"]
        if not isinstance(pieces, list) or not all(isinstance(p, str) for p in pieces):
            raise ValueError("'pieces' is not a list of strings")
        return VocabTokenizer(kind, pieces)
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError, OSError) as err:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors; sentencepiece raises
        # RuntimeError on a corrupt model.
        raise CheckpointError(f"tokenizer in {directory} is corrupt ({err})", fix) from None
