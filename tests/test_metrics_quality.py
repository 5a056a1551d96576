"""Issue 16: the tokenizer that fits the corpus, scores in their unit, and the real-data metrics
(MS-Jaccard, Fréchet distance, LM and reverse-LM score) against naive computations."""

from __future__ import annotations

import collections
import doctest
import importlib
import json
import math
import random

import pytest
import torch
from nltk.tokenize import word_tokenize
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from torch.testing import assert_close

import runcore.fingerprint
import runcore.frechet
import textgan.data.choice
import textgan.data.treebank
import textgan.metrics.units
from imagegan.metrics import fid
from runcore.frechet import frechet_distance
from textgan.cli import main
from textgan.commands.eval import token_lists
from textgan.data.choice import WORD_VOCAB_LIMIT, choose_tokenizer, text_unit
from textgan.gans import build_trainer
from textgan.metrics.lm_score import LMSettings, cached_lm, train_lm
from textgan.metrics.ms_jaccard import jaccard_per_order, ms_jaccard
from textgan.seqgan.config import SeqGANConfig, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import create_run, open_run

WORDS = "the a cat dog sat ran on under mat log bird tree sky sun moon red old".split()
CHINESE = ["春眠不觉晓，处处闻啼鸟。", "夜来风雨声，花落知多少。", "床前明月光，疑是地上霜。", "举头望明月，低头思故乡。"]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def english_lines(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(n)]


def write(path, lines) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_doctests():
    ms_jaccard_module = importlib.import_module("textgan.metrics.ms_jaccard")  # the package attribute is the function
    for module in (textgan.data.choice, textgan.data.treebank, textgan.metrics.units, ms_jaccard_module, runcore.frechet, runcore.fingerprint):
        result = doctest.testmod(module)
        assert result.failed == 0 and (result.attempted > 0 or module is runcore.fingerprint), module


# ---- 1. the tokenizer that fits the corpus -------------------------------------------------------


def quick_train(tmp_path, capsys, corpus: str, *flags):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "train", "--corpus", corpus, "--preset", "tiny", "--mle-epochs", "0", "--d-pretrain-steps", "0",
                              "--rounds", "0", "--eval-samples", "0", "--quiet", "--out", out, *flags)  # fmt: skip
    assert code == 0, stdout
    return stdout, json.loads((out / "config.json").read_text())


def test_space_separated_corpus_gets_words_and_the_start_up_line_says_why(tmp_path, capsys):
    corpus = write(tmp_path / "english.txt", english_lines(80))
    stdout, config = quick_train(tmp_path, capsys, corpus)
    first = stdout.splitlines()[0]
    assert first.startswith("tokenizer word (auto: 100% of 72 sampled lines have words separated by spaces"), first
    assert f"their {len(WORDS)} distinct words fit the {WORD_VOCAB_LIMIT:,}-word limit" in first
    assert config["tokenizer"] == "word"  # resolved: resume, sample and eval read "word"
    assert SeqGANConfig(tokenizer="auto").tokenizer == "auto" and SeqGANConfig().tokenizer == "auto"


def test_chinese_corpus_gets_characters(tmp_path, capsys):
    corpus = write(tmp_path / "poems.txt", CHINESE * 10)
    stdout, config = quick_train(tmp_path, capsys, corpus)
    assert stdout.splitlines()[0] == "tokenizer char (auto: 0% of 36 sampled lines have words separated by spaces)"
    assert config["tokenizer"] == "char"


def test_the_tokenizer_flag_overrides_and_old_char_configs_load(tmp_path, capsys):
    corpus = write(tmp_path / "english.txt", english_lines(40))
    stdout, config = quick_train(tmp_path, capsys, corpus, "--tokenizer", "char")
    assert stdout.splitlines()[0] == "tokenizer char (--tokenizer char)" and config["tokenizer"] == "char"
    SeqGANConfig.from_dict(config).validate()  # a run directory written before "auto" reads as it was


def test_builtin_poems_keep_characters():
    data = prepare_data(SeqGANConfig(corpus="poems"), quiet=True)
    assert data.tokenizer.kind == "char" and data.tokenizer_reason.startswith("auto: 0% of 10,000 sampled lines")


def test_the_rule_picks_sentencepiece_past_the_word_limit_and_char_below_half_spaced():
    lines = english_lines(50)
    assert choose_tokenizer(lines).kind == "word"
    choice = choose_tokenizer(lines, vocab_size=len(WORDS) + 4)  # every word fits exactly
    assert choice.kind == "word" and choice.tokenizer.vocab_size == len(WORDS) + 4
    choice = choose_tokenizer(lines, vocab_size=len(WORDS) + 3)  # one word too many
    assert choice.kind == "spm" and choice.tokenizer is None and f"{len(WORDS)} distinct words exceed --vocab-size" in choice.reason
    half = ["one", "two words"]  # 50% spaced: words; below: characters
    assert choose_tokenizer(half).kind == "word" and choose_tokenizer(["one", "two", "three words"]).kind == "char"
    assert text_unit(["", "   ", "a b"]) == "word"  # blank lines are not counted


# ---- 2. scores say their unit --------------------------------------------------------------------


def nltk_mean(hyps, refs, n):
    smooth = SmoothingFunction().method1
    return sum(sentence_bleu(refs, h, weights=(1 / n,) * n, smoothing_function=smooth) for h in hyps) / len(hyps)


@pytest.fixture
def english_files(tmp_path):
    return write(tmp_path / "hyp.txt", english_lines(30, seed=1)), write(tmp_path / "ref.txt", english_lines(40, seed=2))


def test_word_bleu_of_a_space_separated_file_equals_nltk_on_words(english_files, capsys):
    hyp, ref = english_files
    code, out, _ = run_cli(capsys, "eval", "bleu", "--hyp", hyp, "--ref", ref, "--n", "2", "3", "4", "--json")
    result = json.loads(out)
    assert code == 0 and result["unit"] == "word"
    hyps, refs = [line.split() for line in english_lines(30, seed=1)], [line.split() for line in english_lines(40, seed=2)]
    for n in (2, 3, 4):
        assert result["bleu"][str(n)] == pytest.approx(nltk_mean(hyps, refs, n), abs=1e-9)
    chars = json.loads(run_cli(capsys, "eval", "bleu", "--hyp", hyp, "--ref", ref, "--n", "3", "--unit", "char", "--json")[1])
    assert chars["unit"] == "char"
    char_hyps, char_refs = [list(line) for line in english_lines(30, seed=1)], [list(line) for line in english_lines(40, seed=2)]
    assert chars["bleu"]["3"] == pytest.approx(nltk_mean(char_hyps, char_refs, 3), abs=1e-9)
    assert chars["bleu"]["3"] > result["bleu"]["3"] + 0.1  # the misleading factor the issue found


def test_the_unit_is_in_the_table_title_and_unit_changes_it(english_files, tmp_path, capsys):
    hyp, ref = english_files
    assert "30 hypotheses vs 40 references, n-grams of words" in run_cli(capsys, "eval", "bleu", "--hyp", hyp, "--ref", ref)[1]
    out = run_cli(capsys, "eval", "bleu", "--hyp", hyp, "--ref", ref, "--unit", "char")[1]
    assert "n-grams of characters" in out
    out = run_cli(capsys, "eval", "bleu", "--hyp", hyp, "--self", "--unit", "token")[1]
    assert "30 hypotheses, n-grams of tokens" in out
    zh = write(tmp_path / "zh.txt", CHINESE)
    result = json.loads(run_cli(capsys, "eval", "bleu", "--hyp", zh, "--ref", zh, "--n", "2", "--json")[1])
    assert result["unit"] == "char" and result["bleu"]["2"] == pytest.approx(1.0)
    code, out, err = run_cli(capsys, "eval", "bleu", "--hyp", hyp, "--ref", ref, "--chars", "--unit", "word")
    assert code == 2 and out == "" and err.count("\n") == 1 and "--chars contradicts --unit word" in err


@pytest.fixture(scope="module")
def char_run_on_english(tmp_path_factory):
    """A run that modelled English as characters (the issue's case), untrained, saved as final."""
    folder = tmp_path_factory.mktemp("char-run")
    corpus = write(folder / "english.txt", english_lines(60, seed=3))
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": corpus, "tokenizer": "char", "test_fraction": 0.25, "preset": "tiny"})
    data = prepare_data(config, quiet=True)
    config.max_len = data.max_len
    run = create_run(folder / "run", config, data)
    trainer = build_trainer(config, run, data.tokenizer, data.train, data.test, torch.device("cpu"), quiet=True)
    trainer.save("final")
    return run.path, trainer


def test_eval_of_a_char_run_on_english_scores_words_unless_told(char_run_on_english, capsys):
    path, trainer = char_run_on_english
    result = json.loads(run_cli(capsys, "eval", path, "-n", "30", "--n", "2", "--json")[1])
    assert result["unit"] == "word"
    samples = trainer.generator.sample(30, trainer.max_len, generator=torch.Generator().manual_seed(0))
    words = lambda rows: [trainer.tokenizer.decode(row).split() for row in rows]  # noqa: E731
    assert result["bleu"]["2"] == pytest.approx(nltk_mean(words(samples), words(trainer.test_tokens), 2), abs=1e-9)
    tokens = json.loads(run_cli(capsys, "eval", path, "-n", "30", "--n", "2", "--json", "--unit", "token")[1])
    assert tokens["unit"] == "token" and tokens["bleu"]["2"] != pytest.approx(result["bleu"]["2"])
    out = run_cli(capsys, "eval", path, "-n", "30", "--unit", "char")[1]
    assert "n-grams of characters" in out and "LM score" in out and "reverse-LM score" in out and "Fréchet distance" in out


def punctuated_lines(n: int, seed: int) -> list[str]:
    """English-like lines whose words carry punctuation and clitics, some capitalised or quoted."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(WORDS) + rng.choice(["", "", "", ",", "'s", "!"]) for _ in range(rng.randint(3, 8))]
        words[0] = words[0].capitalize() if rng.random() < 0.5 else f'"{words[0]}"'
        lines.append(" ".join(words) + rng.choice([".", "", " ."]))
    return lines


def nltk_treebank(line: str) -> list[str]:
    return word_tokenize(line.lower(), preserve_line=True)


def test_treebank_bleu_of_files_equals_nltk_on_word_tokenize(tmp_path, capsys):
    hyp_lines, ref_lines = punctuated_lines(30, seed=4), punctuated_lines(40, seed=5)
    hyp, ref = write(tmp_path / "hyp.txt", hyp_lines), write(tmp_path / "ref.txt", ref_lines)
    argv = ("eval", "bleu", "--hyp", hyp, "--ref", ref, "--self", "--n", "2", "3", "--json")
    treebank, words = (json.loads(run_cli(capsys, *argv, "--unit", unit)[1]) for unit in ("treebank", "word"))
    assert treebank["unit"] == "treebank"
    hyps, refs = [nltk_treebank(line) for line in hyp_lines], [nltk_treebank(line) for line in ref_lines]
    assert any("," in h or "'s" in h for h in hyps)  # the lines really are split differently from str.split
    for n in (2, 3):
        assert treebank["bleu"][str(n)] == pytest.approx(nltk_mean(hyps, refs, n), abs=1e-9)
        self_refs = [nltk_mean([h], hyps[:i] + hyps[i + 1 :], n) for i, h in enumerate(hyps)]
        assert treebank["self_bleu"][str(n)] == pytest.approx(sum(self_refs) / len(self_refs), abs=1e-9)
        assert treebank["bleu"][str(n)] > words["bleu"][str(n)] + 0.05  # "dog," and "dog" are one word again
    assert "n-grams of Treebank words" in run_cli(capsys, "eval", "bleu", "--hyp", hyp, "--ref", ref, "--unit", "treebank")[1]


def test_treebank_unit_of_a_word_run_rescores_its_decoded_text_and_keeps_unk_whole(tmp_path, capsys):
    corpus = write(tmp_path / "punctuated.txt", punctuated_lines(80, seed=6))
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": corpus, "tokenizer": "word", "vocab_size": 40,
                             "test_fraction": 0.25, "preset": "tiny"})  # fmt: skip
    data = prepare_data(config, quiet=True)
    config.max_len = data.max_len
    run = create_run(tmp_path / "run", config, data)
    trainer = build_trainer(config, run, data.tokenizer, data.train, data.test, torch.device("cpu"), quiet=True)
    trainer.save("final")
    decoded = [trainer.tokenizer.decode(row) for row in trainer.test_tokens]
    assert any("<unk>" in text for text in decoded)  # 40 words cannot hold the vocabulary
    result = json.loads(run_cli(capsys, "eval", run.path, "-n", "20", "--n", "2", "--unit", "treebank", "--json")[1])
    assert result["unit"] == "treebank"
    samples = trainer.generator.sample(20, trainer.max_len, generator=torch.Generator().manual_seed(0))
    as_treebank = lambda texts: [nltk_treebank(t.replace("<unk>", " xunkx ")) for t in texts]  # noqa: E731
    unk = lambda lists: [["<unk>" if w == "xunkx" else w for w in words] for words in lists]  # noqa: E731
    hyps, refs = unk(as_treebank(map(trainer.tokenizer.decode, samples))), unk(as_treebank(decoded))
    assert any("<unk>" in words for words in refs)
    assert result["bleu"]["2"] == pytest.approx(nltk_mean(hyps, refs, 2), abs=1e-9)


def test_a_treebank_run_trains_on_treebank_words_and_eval_scores_in_them_by_default(tmp_path, capsys):
    lines = punctuated_lines(80, seed=7)
    corpus = write(tmp_path / "punctuated.txt", lines)
    stdout, config = quick_train(tmp_path, capsys, corpus, "--tokenizer", "treebank")
    assert stdout.splitlines()[0] == "tokenizer treebank (--tokenizer treebank)" and config["tokenizer"] == "treebank"
    pieces = json.loads((tmp_path / "run" / "tokenizer" / "tokenizer.json").read_text())["pieces"]
    assert set(pieces[4:]) == {w for line in lines for w in nltk_treebank(line)}  # every split, lower-cased
    result = json.loads(run_cli(capsys, "eval", tmp_path / "run", "-n", "10", "--n", "2", "--json")[1])
    assert result["unit"] == "treebank"
    # the references are the run's own tokens: splitting their decoded text again is not the same
    # (split again, a closing '' can come back as ``), so the ids must be what is counted
    opened = open_run(tmp_path / "run")
    tok = opened.tokenizer
    own = [[i for i in (row[: row.index(tok.eos_id)] if tok.eos_id in row else row) if i not in (tok.pad_id, tok.bos_id)]
           for row in opened.test.tolist()]  # fmt: skip
    assert [[tok.token(i) for i in row] for row in own] != [nltk_treebank(tok.decode(row)) for row in opened.test]
    assert token_lists(opened.test, opened, result["unit"]) == own


# ---- 3. the field's metrics ----------------------------------------------------------------------


def naive_ms_jaccard(hyps, refs, n):
    """The definition, with Counters: sentence-normalised k-gram counts, Jaccard, geometric mean over 1..n."""
    indices = []
    for k in range(1, n + 1):
        a = collections.Counter(tuple(s[i : i + k]) for s in hyps for i in range(len(s) - k + 1))
        b = collections.Counter(tuple(s[i : i + k]) for s in refs for i in range(len(s) - k + 1))
        grams = set(a) | set(b)
        low = sum(min(a[g] / len(hyps), b[g] / len(refs)) for g in grams)
        high = sum(max(a[g] / len(hyps), b[g] / len(refs)) for g in grams)
        indices.append(low / high if high else 0.0)
    return math.prod(indices) ** (1 / n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ms_jaccard_equals_the_naive_multiset_computation(seed):
    rng = random.Random(seed)
    hyps = [[rng.choice("abcde") for _ in range(rng.randint(0, 9))] for _ in range(rng.randint(5, 40))]
    refs = [[rng.choice("abcdef") for _ in range(rng.randint(1, 9))] for _ in range(rng.randint(5, 40))]
    scores = ms_jaccard(hyps, refs, (2, 3, 4, 5))
    for n in (2, 3, 4, 5):
        assert scores[n] == pytest.approx(naive_ms_jaccard(hyps, refs, n), rel=1e-12, abs=1e-15)


def test_ms_jaccard_normalises_counts_by_the_number_of_sentences():
    text = [line.split() for line in english_lines(20)]
    assert ms_jaccard(text, text + text, (2, 4)) == pytest.approx({2: 1.0, 4: 1.0})  # same distribution, twice the size
    one_sentence = [text[0]] * len(text)  # mode collapse: high BLEU, low MS-Jaccard
    assert ms_jaccard(one_sentence, text, (2,))[2] < 0.5 * ms_jaccard(text[:10], text[10:], (2,))[2]
    assert jaccard_per_order([["x", "y"]], [["z"]], 3) == [0.0, 0.0, 0.0]


def reference_frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    """The textbook formula in float64: tr((S_a S_b)^½) from the eigenvalues of the product."""
    a, b = a.double(), b.double()
    cov_a = (a - a.mean(0)).T @ (a - a.mean(0)) / (len(a) - 1)
    cov_b = (b - b.mean(0)).T @ (b - b.mean(0)) / (len(b) - 1)
    trace_root = torch.linalg.eigvals(cov_a @ cov_b).sqrt().real.sum()
    gap = a.mean(0) - b.mean(0)
    return float(gap @ gap + cov_a.trace() + cov_b.trace() - 2 * trace_root)


@pytest.mark.parametrize("seed", [0, 1])
def test_frechet_distance_equals_the_float64_formula(seed):
    rng = torch.Generator().manual_seed(seed)
    a = torch.randn(300, 6, generator=rng) @ torch.randn(6, 6, generator=rng)
    b = torch.randn(200, 6, generator=rng) * 2 + 0.5
    assert_close(frechet_distance(a, b), reference_frechet(a, b), rtol=1e-9, atol=1e-9)
    assert_close(fid(a, b), frechet_distance(a, b), rtol=1e-12, atol=1e-12)  # imagegan's FID is the same formula
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="dimensions"):
        frechet_distance(a, b[:, :3])


def markov_rows(n: int, seed: int, vocab: int = 16, length: int = 10) -> torch.Tensor:
    """Rows from a peaked first-order chain over ids 4..vocab-1 (next = previous + 1 or + 2 mostly), EOS at the end."""
    rng = torch.Generator().manual_seed(seed)
    span = vocab - 4
    steps = torch.where(torch.rand(n, length, generator=rng) < 0.8, 1, 2)
    start = torch.randint(0, span, (n, 1), generator=rng)
    rows = (start + steps.cumsum(1)) % span + 4
    return torch.cat([rows, torch.full((n, 1), 2)], dim=1)


def shuffled(rows: torch.Tensor, seed: int) -> torch.Tensor:
    """Each row's tokens (EOS kept last) in a random order: the same unigrams, no structure."""
    rng = torch.Generator().manual_seed(seed)
    body = rows[:, :-1]
    order = torch.rand(body.shape, generator=rng).argsort(1)
    return torch.cat([body.gather(1, order), rows[:, -1:]], dim=1)


SMALL = LMSettings(embed_dim=16, hidden_dim=32, epochs=4, max_steps=120, batch_size=32, lr=0.01)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lm_and_reverse_lm_scores_are_reproducible_and_lower_for_in_distribution_text(seed):
    settings = LMSettings(**{**SMALL.__dict__, "seed": seed})
    train, test = markov_rows(600, seed), markov_rows(200, seed + 100)
    real = train_lm(train, 16, 1, 2, settings)
    again = train_lm(train, 16, 1, 2, settings)
    assert runcore.fingerprint.weights_hash(real) == runcore.fingerprint.weights_hash(again)
    good, _ = real.score(markov_rows(200, seed + 200))
    assert good == again.score(markov_rows(200, seed + 200))[0]
    bad, _ = real.score(shuffled(markov_rows(200, seed + 200), seed))
    assert good < 1.0 < bad - 1.0, (good, bad)  # LM score: lower for text like the training text (log 16 = 2.77 untrained)
    # reverse-LM score: an LM trained on in-distribution samples explains the real test text better
    in_dist = train_lm(markov_rows(600, seed + 300), 16, 1, 2, settings).score(test, embed=False)[0]
    off_dist = train_lm(shuffled(markov_rows(600, seed + 300), seed), 16, 1, 2, settings).score(test, embed=False)[0]
    assert in_dist < 1.0 < off_dist - 0.5, (in_dist, off_dist)
    assert train_lm(train, 16, 1, 2, LMSettings(**{**settings.__dict__, "seed": seed + 7})).score(test)[0] != real.score(test)[0]


def test_the_lm_cache_returns_the_same_model_and_is_keyed_by_inputs_and_settings(tmp_path):
    rows = markov_rows(100, 0)
    first = cached_lm(tmp_path, rows, 16, 1, 2, SMALL)
    second = cached_lm(tmp_path, rows, 16, 1, 2, SMALL)
    assert not first.cached and second.cached and second.hash == first.hash and second.seconds == pytest.approx(first.seconds, abs=1e-3)
    assert_close(second.lm.score(rows)[1], first.lm.score(rows)[1], rtol=0, atol=0)
    other = cached_lm(tmp_path, rows, 16, 1, 2, LMSettings(**{**SMALL.__dict__, "seed": 1}))
    changed = cached_lm(tmp_path, rows[:-1], 16, 1, 2, SMALL)
    assert len({first.key, other.key, changed.key}) == 3 and len(list(tmp_path.glob("lm-*.safetensors"))) == 3
    (tmp_path / f"lm-{first.key}.safetensors").write_bytes(b"corrupt")
    assert cached_lm(tmp_path, rows, 16, 1, 2, SMALL).hash == first.hash  # trained again, the same


def test_eval_run_reports_every_metric_with_its_hashes_and_caches_the_lms(char_run_on_english, capsys):
    path, trainer = char_run_on_english
    first = json.loads(run_cli(capsys, "eval", path, "-n", "40", "--json")[1])
    for key in ("ms_jaccard", "lm_score", "reverse_lm_score", "test_lm_score", "frechet_distance", "encoder_hash"):
        assert key in first, key
    assert first["models"]["real_lm"]["hash"] == first["encoder_hash"] and len(first["encoder_hash"]) == 16
    second = json.loads(run_cli(capsys, "eval", path, "-n", "40", "--json")[1])
    assert second["models"]["real_lm"]["cached"] and second["models"]["reverse_lm"]["cached"]
    for key in ("lm_score", "reverse_lm_score", "frechet_distance", "ms_jaccard", "encoder_hash"):
        assert second[key] == first[key], key
    third = json.loads(run_cli(capsys, "eval", path, "-n", "40", "--seed", "1", "--json")[1])
    assert not third["models"]["reverse_lm"]["cached"] and third["models"]["real_lm"]["cached"]  # new samples, same real LM


def test_the_scorer_serves_a_temperature_sweep(tmp_path):
    """What a multi-run, multi-temperature comparison calls: one scorer, flat numbers per point."""
    from textgan.metrics import RealTextScorer, flat_scores, temperature_sweep
    from textgan.models import Generator, GeneratorConfig

    train, test = markov_rows(300, 0), markov_rows(100, 1)
    ids = lambda rows: [row[: row.index(2)] if 2 in row else row for row in rows.tolist()]  # noqa: E731
    scorer = RealTextScorer.build(train, test, 16, 1, 2, ids, (2, 3), tmp_path, SMALL)
    generator = Generator(GeneratorConfig(vocab_size=16))
    points = temperature_sweep(generator, lambda s: flat_scores(scorer(s)), train.shape[1], (0.5, 1.0), n=64)
    assert [p["temperature"] for p in points] == [0.5, 1.0]
    expected = {"bleu_2", "bleu_3", "self_bleu_2", "self_bleu_3", "ms_jaccard_2", "ms_jaccard_3", "lm_score", "reverse_lm_score", "frechet_distance"}
    assert set(points[0]) == expected | {"temperature"}
    # an untrained generator is far from the chain: worse LM score than the test text's own
    assert points[1]["lm_score"] > scorer.reference()["test_lm_score"] + 1.0
