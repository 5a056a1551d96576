"""The textgan command: end to end through a subprocess, and every user error as one line."""

import subprocess
import sys

import pytest

from textgan.cli import main
from tests.test_seqgan_training import grammar_corpus

TINY = ["--preset", "tiny", "--quiet"]


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "textgan", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def assert_one_line_error(result_or_code, capsys=None, *fragments):
    """Exit status 2, one line on stderr starting with 'error:', no traceback."""
    if isinstance(result_or_code, int):
        code, err = result_or_code, capsys.readouterr().err
    else:
        code, err = result_or_code.returncode, result_or_code.stderr
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    corpus = grammar_corpus(tmp / "corpus.txt")
    out = tmp / "run"
    result = run_cli("train", "--corpus", corpus, "--out", out, *TINY)
    assert result.returncode == 0, result.stderr
    return corpus, out, result


def test_train_end_to_end_prints_samples_and_locations(trained_run):
    _, out, result = trained_run
    assert "samples from the generator" in result.stdout
    assert f"run directory: {out}" in result.stdout
    assert (out / "plots" / "training.png").stat().st_size > 0
    assert (out / "config.json").exists() and (out / "metrics.jsonl").exists()


def test_sample_prints_n_decoded_lines_reproducibly(trained_run):
    _, out, _ = trained_run
    first = run_cli("sample", out, "-n", 5, "--seed", 3)
    again = run_cli("sample", out, "-n", 5, "--seed", 3)
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 5
    assert first.stdout == again.stdout
    hot = run_cli("sample", out, "-n", 5, "--seed", 3, "--temperature", 3.0)
    assert hot.returncode == 0 and hot.stdout != first.stdout


def test_resume_with_more_rounds_continues_the_log(trained_run, tmp_path):
    corpus, _, _ = trained_run
    out = tmp_path / "r"
    assert run_cli("train", "--corpus", corpus, "--out", out, *TINY, "--rounds", 1).returncode == 0
    result = run_cli("train", "--resume", out, "--rounds", 3, "--quiet")
    assert result.returncode == 0, result.stderr
    import json

    rounds = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines() if '"adversarial"' in line]
    assert rounds == [1, 2, 3]


def test_existing_run_is_never_overwritten(trained_run, capsys):
    corpus, out, _ = trained_run
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code = main(["train", "--corpus", str(corpus), "--out", str(out), *TINY])
    assert_one_line_error(code, capsys, "already exists", "--resume")
    assert before == {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "content, fragments",
    [
        (None, ["no such file"]),
        (b"", ["empty"]),
        (b"  \n\n \n", ["empty"]),
        (b"\x00\x01\x02binary\x00" * 10, ["binary"]),
        ("caf\u00e9 au lait\n".encode("latin-1"), ["UTF-8"]),
    ],
    ids=["missing", "empty", "blank", "binary", "latin-1"],
)
def test_bad_corpus_files(tmp_path, capsys, content, fragments):
    corpus = tmp_path / "corpus.txt"
    if content is not None:
        corpus.write_bytes(content)
    code = main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "run"), *TINY])
    assert_one_line_error(code, capsys, *fragments)
    assert not (tmp_path / "run").exists()


def test_unknown_corpus_name_lists_the_built_in_ones(capsys):
    assert_one_line_error(main(["train", "--corpus", "poemz", *TINY]), capsys, "poemz", "poems")


def test_long_lines_are_reported(tmp_path, capsys):
    corpus = grammar_corpus(tmp_path / "c.txt")
    with corpus.open("a", encoding="utf-8") as f:
        f.write("x" * 40 + "\n" + "y" * 50 + "\n")
    code = main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "run"), *TINY, "--max-len", "12", "--rounds", "0"])
    assert code == 0
    out = capsys.readouterr().out
    assert "dropped 2 of" in out and "--max-len 12" in out
    code = main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "run2"), *TINY, "--max-len", "3"])
    assert_one_line_error(code, capsys, "--max-len")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--rounds", "-1"], "--rounds"),
        (["--rounds", "x"], "--rounds"),
        (["--rollout-rate", "2"], "--rollout-rate"),
        (["--agent", "dqn"], "--agent"),
        (["--tokenizer", "bytes"], "--tokenizer"),
        (["--batch-size", "0"], "--batch-size"),
        (["--preset", "huge"], "preset"),
        (["--device", "cuda"], "cuda"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--val-fraction", "1"], "--val-fraction"),
        (["--mle-patience", "2"], "--mle-patience 2 needs a validation split"),
        (["--val-fraction", "0.001"], "--val-fraction 0.001 of 216 training lines leaves 0 validation"),  # (data prepared, no file)
    ],
)
def test_bad_option_values(tmp_path, capsys, args, fragment):
    corpus = grammar_corpus(tmp_path / "c.txt")
    code = main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "run"), *TINY, *args])
    assert_one_line_error(code, capsys, fragment)
    assert not (tmp_path / "run").exists()


def test_resume_and_sample_on_something_that_is_not_a_run(tmp_path, capsys):
    assert_one_line_error(main(["train", "--resume", str(tmp_path)]), capsys, "not a run")
    assert_one_line_error(main(["sample", str(tmp_path / "nope")]), capsys, "does not exist")


def test_corrupt_checkpoint_is_reported(trained_run, tmp_path, capsys):
    import shutil

    _, out, _ = trained_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for checkpoint in (copy / "checkpoints").glob("*.safetensors"):
        checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    assert_one_line_error(main(["sample", str(copy)]), capsys, "corrupt")
    assert_one_line_error(main(["train", "--resume", str(copy), "--quiet"]), capsys, "corrupt")
    assert_one_line_error(main(["sample", str(out), "--checkpoint", "nope"]), capsys, "nope")
    assert_one_line_error(main(["sample", str(out), "-n", "0"]), capsys, "-n")


def test_errors_exit_cleanly_through_the_real_command(tmp_path):
    assert_one_line_error(run_cli("train", "--corpus", tmp_path / "missing.txt", *TINY))


def test_corpora_lists_poems():
    result = run_cli("corpora")
    assert result.returncode == 0 and result.stdout.startswith("poems")
