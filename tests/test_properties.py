"""Properties over generated inputs (hypothesis): tokenizers round-trip what they promise to,
the corpus reader fails only with ``UserError`` whatever the bytes, a byte-order mark or CRLF
line endings never change what is read or scored, and the env keeps its invariants whatever the
actions.

Example counts are kept small (the file runs in about 20 s); each property states the alphabet
it draws from and why.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from runcore.errors import UserError
from textgan.cli import main
from textgan.data import build_tokenizer, load_corpus, read_lines, read_text_lines

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a `datasets` read each

# Text that can be a line of a corpus: any character UTF-8 can hold (no lone surrogates) except
# the line breaks "\n" and "\r", which end a line before it gets to a tokenizer.
LINE_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r")
lines = st.lists(st.text(LINE_CHARS, min_size=1, max_size=20), min_size=1, max_size=6)


def probes(alphabet: list[str]):
    """Text drawn from the characters a tokenizer was built on (what it can spell)."""
    return st.text(st.sampled_from(alphabet), max_size=30)


@FAST
@given(st.data(), lines)
def test_char_tokenizer_round_trips_any_text_over_its_characters(data, training):
    # char promises exact round trips for every character it has seen, control characters,
    # spaces and "<"-pieces included (each character is its own piece)
    tokenizer = build_tokenizer("char", training)
    text = data.draw(probes(sorted(set("".join(training)))))
    assert tokenizer.decode(tokenizer.encode(text, strict=True)) == text


SPECIAL_WORDS = {"<pad>", "<bos>", "<eos>"}  # a literal word equal to one of these reads as that id


@FAST
@given(st.data(), lines)
def test_word_tokenizer_round_trips_words_up_to_whitespace(data, training):
    # word splits on any whitespace and joins with one space: the round trip is exact up to
    # whitespace, for the words it has seen other than the special pieces <pad>, <bos>, <eos>
    words = sorted({w for line in training for w in line.split()} - SPECIAL_WORDS)
    if not words:
        return
    tokenizer = build_tokenizer("word", training)
    chosen = data.draw(st.lists(st.sampled_from(words), max_size=8))
    gaps = data.draw(st.lists(st.sampled_from([" ", "  ", "\t", "\u3000", "\x0b"]), min_size=len(chosen) + 1, max_size=len(chosen) + 1))
    text = gaps[0] + "".join(w + g for w, g in zip(chosen, gaps[1:]))
    assert tokenizer.decode(tokenizer.encode(text, strict=True)) == " ".join(chosen) == " ".join(text.split())


# SentencePiece keeps every character of its training text (coverage 1.0, identity normalisation,
# spaces not squeezed), except control characters (category Cc: it maps them to <unk>) and
# U+2581, its own marker for a space.
SPM_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\n\r\u2581")


@SLOW
@given(st.data(), st.lists(st.text(SPM_CHARS, min_size=1, max_size=20), min_size=1, max_size=5))
def test_sentencepiece_round_trips_any_text_over_its_characters(data, training):
    try:
        tokenizer = build_tokenizer("spm", training)
    except UserError:  # too little text for any vocabulary: a one-line error, not a crash
        event("too little text to train")
        return
    event("trained")
    text = data.draw(probes(sorted(set("".join(training)))))
    assert tokenizer.decode(tokenizer.encode(text)) == text


def write(folder: str, name: str, data: bytes) -> Path:
    path = Path(folder) / name
    path.write_bytes(data)
    return path


def reference_lines(data: bytes) -> list[str]:
    """What the corpus reader promises, in three lines: UTF-8 (BOM dropped), universal newlines,
    stripped, blank lines dropped."""
    text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    return [line.strip() for line in text.split("\n") if line.strip()]


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
any_bytes = st.one_of(st.binary(max_size=60), texts.map(str.encode), texts.map(lambda t: b"\xef\xbb\xbf" + t.encode("utf-8")))


@SLOW
@given(any_bytes)
def test_the_corpus_reader_fails_only_with_user_errors_and_reads_what_it_promises(data):
    with tempfile.TemporaryDirectory() as folder:
        path = write(folder, "corpus.txt", data)
        try:
            got = read_lines(path)
        except UserError as error:
            assert "\n" not in str(error)
            return
        assert got == reference_lines(data)
        try:
            load_corpus(str(path), test_fraction=0.5)
        except UserError:
            pass


@SLOW
@given(st.lists(st.text(LINE_CHARS, max_size=15), min_size=1, max_size=6))
def test_a_byte_order_mark_and_crlf_do_not_change_the_lines_read(raw_lines):
    plain = "\n".join(raw_lines).encode() + b"\n"
    with tempfile.TemporaryDirectory() as folder:
        variants = [plain, b"\xef\xbb\xbf" + plain, plain.replace(b"\n", b"\r\n"), plain.replace(b"\n", b"\r")]
        results = []
        for i, data in enumerate(variants):
            try:
                results.append(read_text_lines(write(folder, f"{i}.txt", data)))
            except UserError as error:
                results.append(str(error).split(" ", 2)[0])  # an error must be the same error
        assert all(result == results[0] for result in results), results


def eval_bleu(hyp: Path, ref: Path) -> dict | str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["eval", "bleu", "--hyp", str(hyp), "--ref", str(ref), "--n", "1", "2", "--json"])
    return json.loads(out.getvalue()) if code == 0 else err.getvalue().split(" ", 2)[1]


words = st.lists(st.sampled_from(["the", "cat", "sat", "on", "a", "mat", "dog", "é", "春"]), min_size=1, max_size=6).map(" ".join)


@SLOW
@given(st.lists(words, min_size=1, max_size=4), st.lists(words, min_size=1, max_size=3))
def test_eval_bleu_scores_the_same_with_a_byte_order_mark_and_crlf(hypotheses, references):
    with tempfile.TemporaryDirectory() as folder:
        plain_hyp = "\n".join(hypotheses).encode() + b"\n"
        plain_ref = "\n".join(references).encode() + b"\n"
        ref = write(folder, "ref.txt", plain_ref)
        expected = eval_bleu(write(folder, "hyp.txt", plain_hyp), ref)
        assert isinstance(expected, dict)
        for name, hyp_bytes, ref_bytes in (
            ("bom", b"\xef\xbb\xbf" + plain_hyp, b"\xef\xbb\xbf" + plain_ref),
            ("crlf", plain_hyp.replace(b"\n", b"\r\n"), plain_ref.replace(b"\n", b"\r\n")),
        ):
            got = eval_bleu(write(folder, f"{name}-hyp.txt", hyp_bytes), write(folder, f"{name}-ref.txt", ref_bytes))
            assert got == expected, name


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def _share_of_threes(tokens):
    return (tokens == 3).float().mean(dim=1)


@FAST
@given(
    actions=st.lists(st.integers(0, 5), min_size=1, max_size=14),
    mode=st.sampled_from(["direct", "shaped"]),
    rollouts=st.sampled_from([0, 2]),
    seed=st.integers(0, 2**16),
)
def test_the_env_keeps_its_invariants_under_any_action_sequence(actions, mode, rollouts, seed):
    """V=6, T=4, EOS=2, a reward in [0, 1]. Whatever the actions: every observation lies in the
    observation space and holds exactly the tokens written; an episode ends exactly at EOS or at
    T tokens and is never truncated; rewards are finite; Q estimates lie in the reward's range;
    and an episode's rewards add up to the reward of the sequence written (direct: all of it at
    the end; shaped: r_t + V(s_t) - V(s_{t-1}) telescopes to it less V(s_0), the empty prefix's
    estimated value, which is the same whatever the actions)."""
    import numpy as np
    import torch

    from textgan.env.seqgan_env import SeqGANEnv

    rollouts = max(rollouts, 1) if mode == "shaped" else rollouts
    env = SeqGANEnv(vocab_size=6, max_len=4, reward_mode=mode, rollouts=rollouts, reward_model=_share_of_threes)
    obs, _ = env.reset(seed=seed)
    start_value = float(env.episodes.future_value[0])  # V(s_0): 0 in the direct mode
    written, total = [], 0.0
    for action in actions:
        assert 0.0 <= start_value <= 1.0 and (mode == "shaped" or start_value == 0.0)
        assert env.observation_space.contains(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        written.append(action)
        assert np.isfinite(reward) and not truncated
        assert terminated == (action == 2 or len(written) == 4)
        assert obs["tokens"][: len(written)].tolist() == written and int(obs["length"][0]) == len(written)
        assert env.observation_space.contains(obs)
        if rollouts and not terminated:
            assert 0.0 <= info["q_value"] <= 1.0
        total += float(reward)
        if mode == "direct" and not terminated:
            assert reward == 0.0
        if terminated:
            expected = float(_share_of_threes(torch.tensor([written + [0] * (4 - len(written))]))[0])
            assert total == pytest.approx(expected - start_value, abs=1e-6)
            obs, _ = env.reset()
            start_value = float(env.episodes.future_value[0])
            written, total = [], 0.0
