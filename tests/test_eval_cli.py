"""``textgan eval``: the table, the JSON, and one-line errors for bad input."""

from __future__ import annotations

import json
import re

import pytest
import torch

from textgan.cli import main
from textgan.metrics import bleu_multi, corpus_mean, distinct_n, nll_test, self_bleu_multi
from textgan.seqgan.config import SeqGANConfig, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import create_run
from textgan.gans import build_trainer

HYPOTHESES = ["the cat sat on the mat", "a dog sat on the log", "the cat ate", "a bird"]
REFERENCES = ["the cat sat on a mat", "the dog sat on the log", "a cat ate the bird"]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture
def files(tmp_path):
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("\n".join(HYPOTHESES) + "\n\n", encoding="utf-8")  # trailing blank lines are not hypotheses
    ref.write_text("\n".join(REFERENCES) + "\n", encoding="utf-8")
    return str(hyp), str(ref)


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_eval_bleu_json_equals_the_library(files, capsys):
    hyp, ref = files
    code, out, _ = run_cli(capsys, "eval", "bleu", "--hyp", hyp, "--ref", ref, "--n", "2", "3", "--self", "--json")
    assert code == 0
    result = json.loads(out)
    hyps, refs = [s.split() for s in HYPOTHESES], [s.split() for s in REFERENCES]
    assert result["hypotheses"] == 4 and result["references"] == 3 and result["orders"] == [2, 3]
    expected = {str(n): corpus_mean(v) for n, v in bleu_multi(hyps, refs, (2, 3)).items()}
    expected_self = {str(n): corpus_mean(v) for n, v in self_bleu_multi(hyps, (2, 3)).items()}
    assert result["bleu"] == pytest.approx(expected, abs=1e-12)
    assert result["self_bleu"] == pytest.approx(expected_self, abs=1e-12)
    assert 0 < result["bleu"]["2"] < 1


def test_eval_bleu_table(files, capsys):
    hyp, ref = files
    code, out, _ = run_cli(capsys, "eval", "bleu", "--hyp", hyp, "--ref", ref)
    assert code == 0
    assert "4 hypotheses vs 3 references" in out and "BLEU-n" in out and "Self-BLEU" not in out
    scores = bleu_multi([s.split() for s in HYPOTHESES], [s.split() for s in REFERENCES], (2, 3, 4, 5))
    for n in (2, 3, 4, 5):
        assert f"{corpus_mean(scores[n]):.4f}" in out


def test_eval_bleu_chars(tmp_path, capsys):
    hyp, ref = tmp_path / "h.txt", tmp_path / "r.txt"
    hyp.write_text("春眠不觉晓\n处处闻啼鸟\n", encoding="utf-8")
    ref.write_text("春眠不觉晓\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "eval", "bleu", "--hyp", str(hyp), "--ref", str(ref), "--chars", "--n", "2", "--json")
    assert code == 0 and json.loads(out)["bleu"]["2"] == pytest.approx(corpus_mean(bleu_multi(
        [list("春眠不觉晓"), list("处处闻啼鸟")], [list("春眠不觉晓")], (2,))[2]))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--hyp", "{missing}", "--ref", "{ref}"], "hypothesis file .*missing.txt does not exist"),
        (["--hyp", "{hyp}", "--ref", "{missing}"], "reference file .*missing.txt does not exist"),
        (["--hyp", "{empty}", "--ref", "{ref}"], "hypothesis file .*empty.txt is empty"),
        (["--hyp", "{hyp}", "--ref", "{ref}", "--n", "0"], "--n 0 is out of range"),
        (["--hyp", "{hyp}", "--ref", "{ref}", "--n", "2", "11"], "--n 11 is out of range: BLEU orders run from 1 to 10"),
        (["--hyp", "{hyp}"], "needs --ref FILE, --self, or both"),
        (["--ref", "{ref}"], "needs --hyp FILE"),
        (["--hyp", "{one}", "--self"], "--self needs at least 2 hypotheses; .*one.txt has 1"),
        (["--hyp", "{hyp}", "--ref", "{ref}", "-n", "5"], "apply to 'textgan eval RUN_DIR'"),
        (["--hyp", "{hyp}", "--ref", "{ref}", "--n", "x"], "invalid int value"),
    ],
)
def test_eval_bleu_bad_input_is_one_line(files, tmp_path, capsys, argv, message):
    hyp, ref = files
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    (tmp_path / "one.txt").write_text("just one line\n", encoding="utf-8")
    paths = {"hyp": hyp, "ref": ref, "missing": tmp_path / "missing.txt", "empty": tmp_path / "empty.txt", "one": tmp_path / "one.txt"}
    code, out, err = run_cli(capsys, "eval", "bleu", *(a.format(**paths) for a in argv))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert re.search(message, err), err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny word-level run with an untrained generator saved as its final checkpoint (no training)."""
    folder = tmp_path_factory.mktemp("eval-run")
    corpus = folder / "corpus.txt"
    rng = torch.Generator().manual_seed(0)
    words = "the a cat dog sat ran on under mat log".split()
    lines = [" ".join(words[i] for i in torch.randint(0, len(words), (int(n),), generator=rng)) for n in torch.randint(3, 8, (60,), generator=rng)]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(corpus), "tokenizer": "word", "test_fraction": 0.25, "preset": "tiny"})
    data = prepare_data(config)
    config.max_len = data.max_len
    run = create_run(folder / "run", config, data)
    trainer = build_trainer(config, run, data.tokenizer, data.train, data.test, torch.device("cpu"), quiet=True)
    trainer.save("final")
    return run.path, trainer


def test_eval_run_json(run_dir, capsys):
    path, trainer = run_dir
    code, out, _ = run_cli(capsys, "eval", str(path), "-n", "40", "--n", "1", "2", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["samples"] == 40 and result["references"] == len(trainer.test_tokens) and result["checkpoint"] == "final"
    assert result["nll_test"] == pytest.approx(nll_test(trainer.generator, trainer.test_tokens), abs=1e-9)
    # the same samples, scored by the library
    samples = trainer.generator.sample(40, trainer.max_len, generator=torch.Generator().manual_seed(0))
    eos, skipped = trainer.tokenizer.eos_id, {trainer.tokenizer.pad_id, trainer.tokenizer.bos_id}

    def lists(rows):  # what decode keeps: up to the first EOS, without PAD and BOS
        return [[i for i in (row[: row.index(eos)] if eos in row else row) if i not in skipped] for row in rows.tolist()]

    hyps, refs = lists(samples), lists(trainer.test_tokens)
    assert result["bleu"]["2"] == pytest.approx(corpus_mean(bleu_multi(hyps, refs, (2,))[2]), abs=1e-12)
    assert result["self_bleu"]["1"] == pytest.approx(corpus_mean(self_bleu_multi(hyps, (1,))[1]), abs=1e-12)
    assert result["distinct"]["2"] == pytest.approx(distinct_n(hyps, 2))
    assert result["test_distinct"]["1"] == pytest.approx(distinct_n(refs, 1))


def test_eval_run_table(run_dir, capsys):
    path, _ = run_dir
    code, out, _ = run_cli(capsys, "eval", str(path), "-n", "20")
    assert code == 0
    assert "20 samples" in out and "NLL-test" in out and "distinct" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{run}", "-n", "0"], "-n must be at least 1"),
        (["{run}", "--hyp", "x.txt"], "apply to 'textgan eval bleu'"),
        (["{run}", "--chars"], "--chars apply to 'textgan eval bleu'"),
        (["{run}", "--checkpoint", "nope"], "no checkpoint 'nope'"),
        (["{nowhere}"], "does not exist"),
    ],
)
def test_eval_run_bad_input_is_one_line(run_dir, tmp_path, capsys, argv, message):
    path, _ = run_dir
    code, out, err = run_cli(capsys, "eval", *(a.format(run=path, nowhere=tmp_path / "nowhere") for a in argv))
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
