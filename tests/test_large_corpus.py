"""Large corpora (issue 13, item 8): preparation reads the corpus in passes and never holds its
text, yet gives exactly what the old all-in-memory path gave; a large corpus shows progress."""

from __future__ import annotations

import collections
import random
import tracemalloc

import pytest
import torch

from textgan.data import EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID, build_tokenizer, read_lines
from textgan.data.corpus import corpus_lines
from textgan.seqgan import prepare
from textgan.seqgan.config import SeqGANConfig
from textgan.seqgan.prepare import prepare_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------ the old path, naively (the reference)


def naive_lines(path) -> list[str]:
    """Read as textgan always has: BOM dropped, \\n, \\r\\n and \\r end lines, stripped, blanks out."""
    with open(path, encoding="utf-8-sig") as f:  # universal newlines
        text = f.read()
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return [line.strip() for line in lines if line.strip()]


def naive_prepare(corpus, test_file, seed, kind, max_len, long_lines, vocab_size=None):
    lines = naive_lines(corpus)
    if test_file:
        train, test = lines, naive_lines(test_file)
    else:
        n_test = min(max(1, round(len(lines) * 0.1)), len(lines) - 1)
        order = list(range(len(lines)))
        random.Random(seed).shuffle(order)
        held = set(order[:n_test])
        train = [line for i, line in enumerate(lines) if i not in held]
        test = [line for i, line in enumerate(lines) if i in held]
    split = list if kind == "char" else str.split
    counts = collections.Counter(piece for line in train for piece in split(line))
    for special in SPECIAL_TOKENS:
        counts.pop(special, None)
    ranked = sorted(counts, key=lambda piece: (-counts[piece], piece))[: vocab_size and vocab_size - 4]
    ids = {piece: i for i, piece in enumerate([*SPECIAL_TOKENS, *ranked])}

    def encode(line):
        return [ids.get(piece, UNK_ID) for piece in split(line)]

    max_len = max_len or min(max(len(encode(line)) for line in train), 64)

    def rows(lines, policy):
        out, n_long = [], 0
        for line in lines:
            row = encode(line)
            if len(row) > max_len:
                n_long += 1
                if policy == "drop":
                    continue
                row = row[:max_len]
            out.append(row + [EOS_ID] * (len(row) < max_len) + [PAD_ID] * (max_len - len(row) - 1))
        return torch.tensor(out, dtype=torch.int64).reshape(len(out), max_len), n_long

    return [*SPECIAL_TOKENS, *ranked], rows(train, long_lines), rows(test, "cut"), max_len


def messy_corpus(path, n_lines, seed, words: bool) -> None:
    """Lines of many lengths (some far past 64 tokens), with a BOM, CRLF and CR breaks, blank and
    whitespace-only lines, inner tabs, \\x0b and \\u2028 (whitespace, not line breaks)."""
    rng = random.Random(seed)
    alphabet = "春眠不觉晓处处闻啼鸟abcxyz，。🙂\t"
    vocabulary = ["the", "cat", "sat", "<unk>", "dog", "ran", "on", "mat", "日", "月"]
    parts = ["\ufeff"]
    for i in range(n_lines):
        size = rng.choice([1, 3, 5, 8, 12, 20, 70]) + rng.randint(0, 3)
        if words:
            line = " ".join(rng.choice(vocabulary) for _ in range(size))
        else:
            line = "".join(rng.choice(alphabet) for _ in range(size))
        line = rng.choice(["", " ", "  "]) + line + rng.choice(["", " ", "\x0b", "\u2028x"])
        parts.append(line + rng.choice(["\n", "\n", "\r\n", "\r"]))
        if i % 97 == 0:
            parts.append(rng.choice(["\n", "   \n", "\t\r\n", "\u2028\n"]))
    path.write_text("".join(parts), encoding="utf-8", newline="")


CASES = {
    # name: (tokenizer, with a test file, max_len, long_lines, vocab_size)
    "char-split-auto-drop": ("char", False, None, "drop", None),
    "char-split-cut": ("char", False, 10, "cut", None),
    "char-testfile-drop": ("char", True, 12, "drop", 12),
    "word-split-drop": ("word", False, 6, "drop", None),
    "word-testfile-cut": ("word", True, None, "cut", 8),
}


@pytest.mark.parametrize("case", CASES)
def test_streamed_preparation_matches_the_old_in_memory_path(tmp_path, case):
    kind, with_test_file, max_len, long_lines, vocab_size = CASES[case]
    corpus, test_file = tmp_path / "corpus.txt", tmp_path / "test.txt"
    messy_corpus(corpus, 20_000, seed=1, words=kind == "word")  # 20k lines: several batches each pass
    messy_corpus(test_file, 3_000, seed=2, words=kind == "word")
    config = SeqGANConfig(
        corpus=str(corpus), test_file=str(test_file) if with_test_file else None, seed=7, tokenizer=kind,
        max_len=max_len, long_lines=long_lines, vocab_size=vocab_size,
    )
    data = prepare_data(config, quiet=True)
    pieces, (train, n_long), (test, n_test_long), want_len = naive_prepare(
        corpus, test_file if with_test_file else None, 7, kind, max_len, long_lines, vocab_size
    )
    assert [data.tokenizer.token(i) for i in range(data.tokenizer.vocab_size)] == pieces
    assert data.max_len == want_len
    torch.testing.assert_close(data.train, train, rtol=0, atol=0)
    torch.testing.assert_close(data.test, test, rtol=0, atol=0)
    report = data.train_report
    assert (report.n_lines, report.n_kept) == (len(train) + (n_long if long_lines == "drop" else 0), len(train))
    assert (report.n_dropped, report.n_cut) == ((n_long, 0) if long_lines == "drop" else (0, n_long))
    assert n_long > 0 and data.test_report.n_cut == n_test_long  # the length rules were exercised
    # another seed holds out other lines: the split follows the seed
    if not with_test_file:
        other = prepare_data(SeqGANConfig(**{**config.to_dict(), "seed": 8}), quiet=True)
        assert not torch.equal(other.test[:50], data.test[:50])


def test_sentencepiece_trained_on_the_stream_is_the_one_trained_on_the_list(tmp_path):
    corpus = tmp_path / "corpus.txt"
    messy_corpus(corpus, 2_000, seed=3, words=True)
    streamed = build_tokenizer("spm", corpus_lines(corpus), vocab_size=40, seed=0)
    listed = build_tokenizer("spm", read_lines(corpus), vocab_size=40, seed=0)
    # (the model bytes differ: they record the temporary file SentencePiece read)
    assert [streamed.token(i) for i in range(40)] == [listed.token(i) for i in range(40)]
    lines = read_lines(corpus)[:200]
    assert [streamed.encode(line) for line in lines] == [listed.encode(line) for line in lines]
    flat, lengths = streamed.encode_batch(lines)
    assert flat.tolist() == [i for line in lines for i in listed.encode(line)]
    assert lengths.tolist() == [len(listed.encode(line)) for line in lines]


def fitting_peaks(path) -> tuple[int, int]:
    """Peak bytes Python allocates while fitting a word vocabulary on the streamed corpus, and on
    a list of its lines (read inside the trace)."""
    lines = corpus_lines(path)
    tracemalloc.start()
    try:
        streamed = build_tokenizer("word", lines)
        streamed_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        listed = build_tokenizer("word", read_lines(path))
        listed_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert streamed.pieces == listed.pieces
    return streamed_peak, listed_peak


def test_fitting_a_vocabulary_holds_a_batch_not_the_text(tmp_path):
    peaks = {}
    for n_lines in (40_000, 160_000):  # ~1.7 and ~7 MB
        path = tmp_path / f"{n_lines}.txt"
        path.write_text("".join(f"line {i % 500} of the corpus with words {i % 301} in it\n" for i in range(n_lines)))
        peaks[n_lines] = fitting_peaks(path)
    (small_streamed, small_listed), (large_streamed, large_listed) = peaks[40_000], peaks[160_000]
    grown = (tmp_path / "160000.txt").stat().st_size - (tmp_path / "40000.txt").stat().st_size
    assert large_listed - small_listed > grown  # the control: a list grows with the text
    assert large_streamed - small_streamed < grown / 10, peaks  # the stream does not


def test_a_large_corpus_reports_each_pass_unless_quiet(tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "corpus.txt"
    messy_corpus(corpus, 500, seed=4, words=False)
    with open(corpus, encoding="utf-8-sig") as f:
        n_file_lines = f.read().count("\n")  # universal newlines; the file ends with a break
    config = SeqGANConfig(corpus=str(corpus), tokenizer="char", max_len=30)  # its inner tabs would make auto pick words
    prepare_data(config)
    assert capsys.readouterr().err == ""  # a small corpus: no bar
    monkeypatch.setattr(prepare, "LARGE_CORPUS_BYTES", 0)
    prepare_data(config)
    # stderr is not a terminal here: one log line at each pass's first and last batch
    last = {}  # pass -> its last "done/total"
    for line in capsys.readouterr().err.splitlines():
        fields = line.split()
        at = fields.index("elapsed")
        last[" ".join(fields[1 : at - 1])] = fields[at - 1]
    assert last == {
        "counting the lines of corpus.txt": str(n_file_lines),  # one batch; no total while counting
        "fitting the char tokenizer": f"{n_file_lines}/{n_file_lines}",
        "encoding the training lines": f"{n_file_lines}/{n_file_lines}",
        "encoding the test lines": f"{n_file_lines}/{n_file_lines}",
    }
    prepare_data(config, quiet=True)
    assert capsys.readouterr().err == ""
