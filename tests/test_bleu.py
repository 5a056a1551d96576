"""BLEU and Self-BLEU equal nltk's sentence_bleu, hypothesis by hypothesis, to 1e-9."""

from __future__ import annotations

import doctest
import importlib
import random
import warnings
from pathlib import Path

import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from textgan.metrics import bleu, bleu_multi, corpus_mean, self_bleu, self_bleu_multi

TOL = 1e-9
SHARED = Path(__file__).resolve().parents[2] / "shared"
# method6 needs n >= 3 and a trigram match in every hypothesis; it has its own tests below.
SMOOTHINGS = ["method0", "method1", "method2", "method3", "method4", "method5", "method7"]


def nltk_bleu(references, hypothesis, n, smoothing):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # method0 warns on every zero precision
        return sentence_bleu(
            references, hypothesis, weights=(1 / n,) * n, smoothing_function=getattr(SmoothingFunction(), smoothing)
        )


def nltk_self_bleu(hypotheses, i, n, smoothing):
    return nltk_bleu(hypotheses[:i] + hypotheses[i + 1 :], hypotheses[i], n, smoothing)


def assert_matches_nltk(hypotheses, references, ns, smoothing, n_checked=None):
    """Ours for every n in ``ns`` against nltk on the first ``n_checked`` hypotheses."""
    ours = bleu_multi(hypotheses, references, ns=ns, smoothing=smoothing)
    ours_self = self_bleu_multi(hypotheses, ns=ns, smoothing=smoothing)
    checked = range(len(hypotheses) if n_checked is None else n_checked)
    for n in ns:
        assert len(ours[n]) == len(ours_self[n]) == len(hypotheses)
        expected = [nltk_bleu(references, hypotheses[i], n, smoothing) for i in checked]
        expected_self = [nltk_self_bleu(hypotheses, i, n, smoothing) for i in checked]
        assert ours[n][: len(checked)] == pytest.approx(expected, abs=TOL, rel=0), f"BLEU-{n} {smoothing}"
        assert ours_self[n][: len(checked)] == pytest.approx(expected_self, abs=TOL, rel=0), f"Self-BLEU-{n} {smoothing}"


def random_sentences(rng: random.Random, count: int, vocab: int, max_len: int) -> list[list[int]]:
    # A small vocabulary makes n-grams repeat within and across sentences, so clipping matters.
    return [[rng.randrange(vocab) for _ in range(rng.randint(0, max_len))] for _ in range(count)]


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_random_tokens_match_nltk(smoothing):
    rng = random.Random(sum(map(ord, smoothing)))
    for vocab in (2, 3, 5):
        hypotheses = random_sentences(rng, 14, vocab, 12)
        hypotheses += [list(hypotheses[1]), []]  # a duplicate and an empty hypothesis
        references = random_sentences(rng, 8, vocab, 12)
        assert_matches_nltk(hypotheses, references, ns=(1, 2, 3, 4, 5, 6), smoothing=smoothing)


def test_method6_matches_nltk_where_nltk_defines_it():
    rng = random.Random(6)
    every_binary_trigram = [0, 0, 0, 1, 0, 1, 1, 1, 0, 0]  # a de Bruijn sequence
    references = random_sentences(rng, 6, 2, 14) + [every_binary_trigram]
    hypotheses = [[rng.randrange(2) for _ in range(rng.randint(3, 14))] for _ in range(10)]
    hypotheses += [every_binary_trigram, ["z"]]  # "z" matches nothing: nltk returns 0 before smoothing
    assert_matches_nltk(hypotheses, references, ns=(3, 4, 5), smoothing="method6")


def test_method6_refuses_what_nltk_asserts():
    hypotheses, references = [["a", "b", "c"]], [["a", "b", "x"]]
    with pytest.raises(AssertionError):
        nltk_bleu(references, hypotheses[0], 3, "method6")
    with pytest.raises(ValueError, match="trigram match"):
        bleu(hypotheses, references, n=3, smoothing="method6")
    with pytest.raises(ValueError, match="n >= 3"):
        bleu(hypotheses, references, n=2, smoothing="method6")


def test_mixed_hashable_tokens_match_nltk():
    hypotheses = [["a", 1, ("t",), "a", 1], [1, "a", ("t",)], [None, 1.5, "a"]]
    references = [["a", 1, ("t",), 2], [1.5, "a", 1, "a", 1], [None]]
    assert_matches_nltk(hypotheses, references, ns=(1, 2, 3), smoothing="method1")


def test_vocabulary_beyond_16_bits_matches_nltk():
    # Past 2^16 distinct tokens the radix sort falls back to a comparison sort.
    rng = random.Random(16)
    references = [list(range(i, i + 25)) for i in range(0, 70_000, 25)]
    hypotheses = [[rng.randrange(69_990, 70_010) for _ in range(6)] for _ in range(3)] + [[1, 2, 3, 4, 5]]
    assert_matches_nltk(hypotheses, references, ns=(2,), smoothing="method1")


@pytest.fixture(scope="module")
def coco():
    if not (SHARED / "data" / "text" / "coco_train.txt").is_file():
        pytest.skip(f"COCO captions not found under {SHARED}/data/text (the shared data checkout)")
    with open(SHARED / "data" / "text" / "coco_train.txt", encoding="utf-8") as f:
        hypotheses = [line.split() for _, line in zip(range(150), f)]
    with open(SHARED / "data" / "text" / "coco_test.txt", encoding="utf-8") as f:
        references = [line.split() for _, line in zip(range(300), f)]
    return hypotheses, references


def test_real_text_matches_nltk(coco):
    hypotheses, references = coco
    assert_matches_nltk(hypotheses, references, ns=(2, 3, 4, 5), smoothing="method1")


@pytest.mark.parametrize("smoothing", ["method0", "method2", "method3", "method4", "method5", "method7"])
def test_real_text_other_smoothings_match_nltk(coco, smoothing):
    hypotheses, references = coco
    # nltk costs ~10 ms a call against 300 references: check the first 12 hypotheses.
    assert_matches_nltk(hypotheses, references, ns=(2, 3, 4, 5), smoothing=smoothing, n_checked=12)


def test_empty_hypothesis_scores_zero():
    references = [["a", "b"], []]
    assert bleu([[], ["a"]], references, n=2) == [0.0, pytest.approx(nltk_bleu(references, ["a"], 2, "method1"))]
    assert nltk_bleu(references, [], 2, "method1") == 0
    assert self_bleu([[], ["a", "b"], []], n=2) == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_hypotheses_shorter_than_n(n):
    references = [["a", "b", "c"], ["a"], ["b", "c", "d", "e", "f", "g"]]
    hypotheses = [["a"], ["b", "c"], ["a", "b", "c"], ["x"], ["a", "x"]]
    for smoothing in ("method0", "method1", "method4", "method7"):
        assert_matches_nltk(hypotheses, references, ns=(n,), smoothing=smoothing)


def test_closest_reference_length_takes_the_shorter_on_a_tie():
    hypothesis = ["a", "b", "c", "d", "e"]
    references = [["a", "b", "c", "d", "e", "x"], ["a", "b", "c", "d"]]  # lengths 6 and 4: both 1 away
    # Every n-gram matches; the brevity penalty is 1 for r = 4, exp(1 - 6/5) = 0.82 for r = 6.
    assert bleu([hypothesis], references, n=4) == [pytest.approx(1.0, abs=TOL)]
    assert nltk_bleu(references, hypothesis, 4, "method1") == pytest.approx(1.0, abs=TOL)
    # The same within Self-BLEU, where a hypothesis' own length leaves the reference lengths.
    hypotheses = [hypothesis, ["a", "b", "c", "d", "e", "x"], ["a", "b", "c", "d"], ["b", "c"]]
    assert_matches_nltk(hypotheses, references, ns=(2, 4), smoothing="method1")
    assert self_bleu(hypotheses, n=4)[0] == pytest.approx(1.0, abs=TOL)


def test_self_bleu_counts_duplicates_as_references():
    hypotheses = [["a", "cat", "sat"], ["a", "cat", "sat"], ["dogs", "run"]]
    scores = self_bleu(hypotheses, n=3)
    assert scores[:2] == [pytest.approx(1.0, abs=TOL)] * 2
    assert scores == pytest.approx([nltk_self_bleu(hypotheses, i, 3, "method1") for i in range(3)], abs=TOL)


def test_self_bleu_leaves_out_the_sole_holder_of_the_max_count():
    hypotheses = [["a", "a", "a"], ["a", "a"], ["a"], ["a", "a"]]
    # Without hypothesis 0 the max count of "a" is 2, so its unigram precision is 2/3.
    assert self_bleu(hypotheses, n=1)[0] == pytest.approx(2 / 3, abs=TOL)
    assert_matches_nltk(hypotheses, [["a"]], ns=(1, 2, 3), smoothing="method1")


def test_multi_equals_single_calls():
    rng = random.Random(3)
    hypotheses, references = random_sentences(rng, 20, 4, 10), random_sentences(rng, 10, 4, 10)
    multi, multi_self = bleu_multi(hypotheses, references, ns=(2, 5)), self_bleu_multi(hypotheses, ns=(2, 5))
    for n in (2, 5):
        assert multi[n] == bleu(hypotheses, references, n=n)
        assert multi_self[n] == self_bleu(hypotheses, n=n)


def test_corpus_mean():
    assert corpus_mean([0.25, 0.5, 0.75]) == 0.5
    with pytest.raises(ValueError, match="no scores"):
        corpus_mean([])


def test_bad_inputs_fail_in_one_line():
    with pytest.raises(ValueError, match="at least 2 hypotheses"):
        self_bleu([["a", "b"]])
    with pytest.raises(ValueError, match="no references"):
        bleu([["a"]], [])
    for n in (0, -1):
        with pytest.raises(ValueError, match="n must be an integer >= 1"):
            bleu([["a"]], [["a"]], n=n)
    with pytest.raises(ValueError, match="unknown smoothing"):
        bleu([["a"]], [["a"]], smoothing="method9")
    with pytest.raises(ValueError, match=r"hypotheses\[1\] is a string"):
        bleu([["a"], "a b"], [["a"]])


def test_nothing_to_score_gives_empty_lists():
    assert bleu([], [["a"]]) == []
    assert self_bleu([]) == []
    assert bleu_multi([], [["a"]], ns=(2, 3)) == {2: [], 3: []}


def test_docstring_examples():
    # importlib: the package attribute ``textgan.metrics.bleu`` is the function, not the module.
    results = doctest.testmod(importlib.import_module("textgan.metrics.bleu"))
    assert results.attempted > 0 and results.failed == 0
