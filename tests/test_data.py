"""Corpora, tokenizers and encoding (textgan.data)."""

import json
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from textgan.data import (
    BOS_ID,
    BUILTIN_CORPORA,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    EncodeReport,
    build_tokenizer,
    choose_max_len,
    corpora_dir,
    encode_lines,
    load_corpus,
    load_tokenizer,
    read_lines,
    resolve_corpus,
    sequence_lengths,
)
from runcore.errors import CheckpointError, UserError

POEMS_FILE = corpora_dir() / "poems" / "zh_quatrains5.txt"
POEMS_TOTAL = 16_774


@pytest.fixture(scope="module")
def poem_lines():
    with open(POEMS_FILE, encoding="utf-8") as f:
        return [next(f).strip() for _ in range(200)]


@pytest.fixture(scope="module")
def english_lines():
    """A few hundred lines of made-up English-like words, enough for a 200-piece vocabulary."""
    rng = random.Random(0)
    syllables = [c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"]
    words = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(300)})
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 10))) for _ in range(400)]


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- tokenizers


def test_char_round_trip_on_poems(poem_lines):
    tok = build_tokenizer("char", poem_lines)
    assert tok.kind == "char"
    assert tok.vocab_size == 4 + len(set("".join(poem_lines)))
    for line in poem_lines:
        ids = tok.encode(line, strict=True)
        assert len(ids) == 24 and UNK_ID not in ids
        assert tok.decode(ids) == line
    # Punctuation is a token like any other. Each line holds two of each mark, so they tie as the
    # commonest pieces and the tie goes to the smaller code point ("。" U+3002 < "，" U+FF0C).
    assert [tok.token(4), tok.token(5)] == ["。", "，"]


def test_char_round_trip_on_mixed_text():
    lines = ["Hello, 世界! 123", "  spaces  inside ", "émoji 🙂 tab\tend"]
    tok = build_tokenizer("char", lines)
    for line in lines:
        assert tok.decode(tok.encode(line)) == line


def test_char_vocabulary_is_sorted_by_count_then_char():
    tok = build_tokenizer("char", ["bba", "cab"])  # b:3, a:2, c:1
    assert [tok.token(i) for i in range(tok.vocab_size)] == [*SPECIAL_TOKENS, "b", "a", "c"]
    assert [tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id] == [0, 1, 2, 3]


def test_char_vocab_size_and_min_count_trim_rare_pieces():
    lines = ["aaab", "aab", "c"]  # a:5, b:2, c:1
    assert build_tokenizer("char", lines, vocab_size=5).vocab_size == 5
    assert build_tokenizer("char", lines, vocab_size=5).encode("abc") == [4, UNK_ID, UNK_ID]
    assert build_tokenizer("char", lines, min_count=2).encode("abc") == [4, 5, UNK_ID]


def test_word_round_trip_and_unknowns():
    lines = ["the cat sat", "the dog sat on the mat"]
    tok = build_tokenizer("word", lines)
    assert tok.kind == "word"
    assert tok.vocab_size == 4 + 6
    for line in lines:
        assert tok.decode(tok.encode(line)) == line
    assert tok.token(4) == "the"
    ids = tok.encode("the zebra sat")
    assert ids[1] == UNK_ID
    assert tok.decode(ids) == "the <unk> sat"


def test_treebank_tokenizer_counts_splits_and_decodes_as_nltk_word_tokenize(tmp_path):
    from nltk.tokenize import word_tokenize

    lines = ['A man rides a "bike," fast.', "He's on the wheel!", "the man's dog (a pug) sat."]
    expected = [word_tokenize(line.lower(), preserve_line=True) for line in lines]
    tok = build_tokenizer("treebank", lines)
    assert tok.kind == "treebank" and set(tok.pieces[4:]) == {w for words in expected for w in words}
    assert tok.vocab_size == 4 + len(tok.pieces[4:])
    for line, words in zip(lines, expected):
        assert [tok.token(i) for i in tok.encode(line, strict=True)] == words
        assert tok.decode(tok.encode(line)) == " ".join(words)  # lower-case, punctuation split off
    flat, lengths = tok.encode_batch(lines)
    assert lengths.tolist() == [len(words) for words in expected]
    assert flat.tolist() == [i for line in lines for i in tok.encode(line)]
    assert tok.encode("A zebra <unk>.")[1:3] == [UNK_ID, UNK_ID]  # an unseen word, and <unk> read whole
    tok.save(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert loaded.kind == "treebank" and all(loaded.encode(line) == tok.encode(line) for line in lines)


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_spm_round_trip(english_lines, model_type):
    tok = build_tokenizer("spm", english_lines, vocab_size=200, spm_model_type=model_type)
    assert tok.kind == "spm" and tok.vocab_size == 200
    assert [tok.token(i) for i in range(4)] == list(SPECIAL_TOKENS)
    assert [tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id] == [0, 1, 2, 3]
    for line in english_lines:
        ids = tok.encode(line, strict=True)
        assert min(ids) >= 4  # no special id inside a line's encoding
        assert tok.decode(ids) == line


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_spm_keeps_the_characters_of_special_pieces_written_as_text(model_type):
    """SentencePiece's trainer drops "<eos>", "<unk>", ... from the lines it learns from, so "<" and
    ">" (and a letter seen nowhere else) read as UNK unless they are required: found by
    test_properties with the one-line corpus "<eos>"."""
    lines = ["the <unk> sat on a mat", "an <eos> dog ran by", "<pad><bos>"] * 4
    tok = build_tokenizer("spm", lines, spm_model_type=model_type)
    for text in [*lines, "<", "a > b", "<eos>", "<unk><unk>", "<bos>k"]:
        ids = tok.encode(text, strict=True)
        assert min(ids) >= 4 and tok.decode(ids) == text


def test_spm_vocab_too_large_is_a_user_error_or_clamped_by_default(english_lines):
    with pytest.raises(UserError, match=r"vocabulary size 100000 is too large.*--vocab-size \d+"):
        build_tokenizer("spm", english_lines[:50], vocab_size=100_000)
    with pytest.raises(UserError, match=r"too small.*--vocab-size \d+ or more"):
        build_tokenizer("spm", english_lines[:50], vocab_size=10)
    tok = build_tokenizer("spm", english_lines[:50])  # default 8000 lowers to what the text allows
    assert 4 < tok.vocab_size < 8000
    assert all(tok.decode(tok.encode(line)) == line for line in english_lines[:50])


@pytest.mark.parametrize(
    "kind, lines, unseen, piece",
    [
        ("char", ["abc"], "abz", "'z'"),
        ("word", ["the cat"], "the zebra", "'zebra'"),
        ("spm", None, "bake Q", "'Q'"),
    ],
)
def test_strict_encoding_names_the_unknown_piece(kind, lines, unseen, piece, english_lines):
    tok = build_tokenizer(kind, lines or english_lines, vocab_size=100 if kind == "spm" else None)
    assert UNK_ID in tok.encode(unseen)
    with pytest.raises(ValueError, match=piece):
        tok.encode(unseen, strict=True)


@pytest.mark.parametrize("kind", ["char", "spm"])
def test_decode_stops_at_eos_and_skips_pad_and_bos(kind, english_lines):
    tok = build_tokenizer(kind, english_lines, vocab_size=100 if kind == "spm" else None)
    line = english_lines[0]
    ids = tok.encode(line)
    noisy = [BOS_ID, *ids[:2], PAD_ID, *ids[2:], EOS_ID, *ids, PAD_ID]
    assert tok.decode(noisy) == line
    for container in (torch.tensor(noisy), np.array(noisy), tuple(noisy)):
        assert tok.decode(container) == line
    assert tok.decode([EOS_ID, *ids]) == ""


@pytest.mark.parametrize("kind", ["char", "word", "spm"])
def test_save_load_gives_identical_encodings(kind, english_lines, tmp_path):
    tok = build_tokenizer(kind, english_lines, vocab_size=150 if kind == "spm" else None)
    tok.save(tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    assert loaded.kind == kind and loaded.vocab_size == tok.vocab_size
    probe = [*english_lines[:50], "unseen Q words xyz"]
    assert [loaded.encode(line) for line in probe] == [tok.encode(line) for line in probe]
    assert [loaded.token(i) for i in range(tok.vocab_size)] == [tok.token(i) for i in range(tok.vocab_size)]
    payload = json.loads((tmp_path / "tok" / "tokenizer.json").read_text(encoding="utf-8"))
    assert payload["kind"] == kind


def test_load_tokenizer_errors(tmp_path, english_lines):
    with pytest.raises(CheckpointError, match=r"no tokenizer in .*tokenizer\.json is missing"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_tokenizer(tmp_path)
    build_tokenizer("spm", english_lines, vocab_size=100).save(tmp_path / "spm")
    (tmp_path / "spm" / "spm.model").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_tokenizer(tmp_path / "spm")


def test_unknown_tokenizer_kind_lists_the_kinds():
    with pytest.raises(UserError, match="char, word, treebank, spm"):
        build_tokenizer("bytes", ["abc"])


# ---------------------------------------------------------------- corpus


@pytest.mark.parametrize(
    "data, fragments",
    [
        (b"", ["is empty", "one sample per line"]),
        (b"  \n\t\n \n", ["is empty"]),
        (b"abc\x00\x01\x02def", ["looks binary", "NUL byte at offset 3"]),
        ("line one\ncaf\u00e9\n".encode("latin-1"), ["not valid UTF-8", "offset 12", "line 2", "0xe9"]),
    ],
    ids=["empty", "whitespace", "binary", "latin1"],
)
def test_bad_corpus_files_raise_user_errors(tmp_path, data, fragments):
    path = write(tmp_path, "bad.txt", data)
    for load in (read_lines, lambda p: load_corpus(str(p))):
        with pytest.raises(UserError) as err:
            load(path)
        for fragment in fragments:
            assert fragment in str(err.value)
        assert str(path) in str(err.value)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_lines(tmp_path / "nope.txt")
    with pytest.raises(UserError, match=r"unknown corpus 'shakespeare'.*poems.*textgan corpora"):
        resolve_corpus("shakespeare")
    with pytest.raises(UserError, match="not a file"):
        resolve_corpus(str(tmp_path))
    with pytest.raises(UserError, match="does not exist"):
        load_corpus("poems", test_file=str(tmp_path / "missing_test.txt"))


def test_read_lines_strips_and_drops_blank_lines(tmp_path):
    path = write(tmp_path, "c.txt", "\ufeff first \r\n\n  \nsecond\nthird".encode())
    assert read_lines(path) == ["first", "second", "third"]


def test_split_is_deterministic_disjoint_and_sized(tmp_path):
    lines = [f"sample {i}" for i in range(1000)]
    path = write(tmp_path, "c.txt", "\n".join(lines).encode())
    a = load_corpus(str(path), test_fraction=0.2, seed=7)
    b = load_corpus(str(path), test_fraction=0.2, seed=7)
    c = load_corpus(str(path), test_fraction=0.2, seed=8)
    assert (a.train, a.test) == (b.train, b.test)
    assert a.test != c.test
    assert len(a.test) == 200 and len(a.train) == 800
    assert not set(a.train) & set(a.test)
    assert sorted(a.train + a.test) == sorted(lines)
    assert a.source == str(path)


def test_split_edge_cases(tmp_path):
    two = write(tmp_path, "two.txt", b"a\nb\n")
    splits = load_corpus(str(two), test_fraction=0.01)
    assert len(splits.train) == 1 and len(splits.test) == 1
    one = write(tmp_path, "one.txt", b"only\n")
    with pytest.raises(UserError, match="too few to split"):
        load_corpus(str(one))
    for bad in (0.0, 1.0, -0.5, 1.5):
        with pytest.raises(UserError, match=r"outside \(0, 1\)"):
            load_corpus(str(two), test_fraction=bad)


def test_test_file_path(tmp_path):
    train = write(tmp_path, "train.txt", b"a b\nc d\ne f\n")
    test = write(tmp_path, "test.txt", b"x y\n\nz w\n")
    splits = load_corpus(str(train), test_file=str(test))
    assert splits.train == ["a b", "c d", "e f"]
    assert splits.test == ["x y", "z w"]


def test_builtin_poems():
    assert "poems" in BUILTIN_CORPORA
    assert resolve_corpus("poems") == POEMS_FILE.resolve()
    splits = load_corpus("poems")
    assert len(splits.train) + len(splits.test) == POEMS_TOTAL
    assert len(splits.test) == round(POEMS_TOTAL * 0.1)
    assert all(len(line) == 24 for line in splits.test)


# ---------------------------------------------------------------- encoding


def test_encode_lines_hand_example():
    tok = build_tokenizer("char", ["abcdef"])  # a..f -> 4..9 (all count 1, sorted by char)
    lines = ["ab", "abcd", "abcdef"]
    tokens, report = encode_lines(tok, lines, max_len=4)
    torch.testing.assert_close(tokens, torch.tensor([[4, 5, EOS_ID, PAD_ID], [4, 5, 6, 7]]))
    assert tokens.dtype == torch.int64
    assert report == EncodeReport(n_lines=3, n_kept=2, n_dropped=1, n_cut=0, max_len=4, longest=6)

    tokens, report = encode_lines(tok, lines, max_len=4, long_lines="cut")
    expected = torch.tensor([[4, 5, EOS_ID, PAD_ID], [4, 5, 6, 7], [4, 5, 6, 7]])
    torch.testing.assert_close(tokens, expected)
    assert report == EncodeReport(n_lines=3, n_kept=3, n_dropped=0, n_cut=1, max_len=4, longest=6)

    tokens, _ = encode_lines(tok, ["a"], max_len=4)
    torch.testing.assert_close(tokens, torch.tensor([[4, EOS_ID, PAD_ID, PAD_ID]]))
    assert choose_max_len(tok, lines) == 6
    assert choose_max_len(tok, lines, cap=5) == 5


def test_encode_lines_errors():
    tok = build_tokenizer("char", ["abcdef"])
    with pytest.raises(UserError, match=r"all 2 lines are longer.*--max-len 6.*--long-lines cut"):
        encode_lines(tok, ["abcde", "abcdef"], max_len=3)
    with pytest.raises(UserError, match="unknown long-line policy 'trim'"):
        encode_lines(tok, ["ab"], max_len=3, long_lines="trim")


def naive_lengths(tokens, eos_id=EOS_ID, pad_id=PAD_ID):
    lengths = []
    for row in tokens.tolist():
        if eos_id in row:
            lengths.append(row.index(eos_id) + 1)
        elif pad_id is not None and pad_id in row:
            lengths.append(row.index(pad_id))
        else:
            lengths.append(len(row))
    return torch.tensor(lengths, dtype=torch.int64)


def test_sequence_lengths_matches_a_python_loop():
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 8, (500, 12), generator=gen)  # ids 0..7: EOS and PAD are common
    tokens[:50] = torch.randint(4, 8, (50, 12), generator=gen)  # rows with neither
    for pad_id in (PAD_ID, None):
        torch.testing.assert_close(sequence_lengths(tokens, pad_id=pad_id), naive_lengths(tokens, pad_id=pad_id))
    assert sequence_lengths(tokens[:50]).tolist() == [12] * 50

    tok = build_tokenizer("char", ["abcdef"])
    encoded, _ = encode_lines(tok, ["a", "abc", "abcdef"], max_len=6)
    assert sequence_lengths(encoded).tolist() == [2, 4, 6]


def test_commands_start_without_importing_nltk():
    """nltk's import pulls in scipy (about 1.2 s of a 4.5 s `textgan --help`): it waits for the
    first line the Treebank rules tokenize."""
    code = (
        "import sys, textgan.cli; textgan.cli.build_parser(); before = 'nltk' in sys.modules; "
        "from textgan.data.treebank import treebank_words; words = treebank_words('A cat.'); "
        "print(before, 'nltk' in sys.modules, words)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip().split(maxsplit=2)
    assert out == ["False", "True", "['a', 'cat', '.']"]
