"""Kill a run at any moment, resume it, and the run directory ends as an uninterrupted run's.

Each run is a subprocess killed with SIGKILL at a chosen point (``RUNCORE_CRASH_AT``, see
runcore/faults.py): inside each kind of checkpoint write (the temporary file written, not yet
renamed), right after a metrics line of each phase, before the first periodic checkpoint and
in the middle of setting a new run up. The next process resumes (or, for a run that was never
set up, starts again with the same command) and is killed at the next point; the last one
finishes. The directory it leaves is compared with an uninterrupted run's: every checkpoint's
tensors and position, every sample file, every metrics line (less its timings), the plots.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

from tests.test_seqgan_training import grammar_corpus

TIMINGS = {"time", "seconds", "images_per_s"}
KILLED = -9


def run(module: str, args: list, crash_at: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("RUNCORE_CRASH_AT", None)
    if crash_at is not None:
        env["RUNCORE_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, env=env, timeout=300, cwd=cwd)


def snapshot(folder: Path) -> dict[str, object]:
    """What a finished run directory holds, less what differs between any two runs (timings)."""
    seen: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_dir() or name == ".lock":
            continue
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as f:
                metadata = f.metadata() or {}
                seen[name] = ({k: f.get_tensor(k).tolist() for k in f.keys()}, metadata.get("position"))
        elif path.name == "metrics.jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            seen[name] = [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]
        else:
            seen[name] = path.read_bytes()
    return seen


def kill_and_resume(module: str, start: list, resume: list, points: list[str], cwd: Path) -> list[str]:
    """Start, then resume after each kill; returns the crash points that were reached."""
    reached = []
    started = False
    for point in [*points, None]:
        result = run(module, resume if started else start, crash_at=point, cwd=cwd)
        if point is None:
            assert result.returncode == 0, result.stderr
            break
        assert result.returncode == KILLED, f"{point!r} was never reached: {result.returncode}\n{result.stderr}"
        reached.append(point)
        started = started or (cwd / start[start.index("--out") + 1]).is_dir()
    return reached


def assert_same_run(resumed: Path, straight: Path) -> None:
    left, right = snapshot(resumed), snapshot(straight)
    assert sorted(left) == sorted(right)
    for name in left:
        assert left[name] == right[name], name
    leftovers = [p for p in resumed.parent.iterdir() if p.name.startswith(".")] + list(resumed.rglob(".*.tmp"))
    assert leftovers == [], "interrupted temporary files and half-made runs are cleaned up"


TEXTGAN = [
    "--preset", "tiny", "--mle-epochs", "4", "--checkpoint-every", "2", "--d-pretrain-steps", "2", "--rounds", "4", "--val-fraction", "0.2",
    "--quiet",
]  # fmt: skip (with early stopping: its best weights and epoch are part of every checkpoint)


def test_textgan_run_killed_anywhere_resumes_to_the_uninterrupted_result(tmp_path):
    corpus = grammar_corpus(tmp_path / "corpus.txt", n=96)
    straight = run("textgan", ["train", "--corpus", corpus, "--out", "straight", *TEXTGAN], cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    points = [
        "write:data.safetensors",  # setting the run up: nothing appears; the same command starts again
        'log:"phase": "mle", "step": 1,',  # before the first periodic checkpoint
        "write:latest.safetensors",  # inside the periodic checkpoint of MLE epoch 2
        "write:after-mle.safetensors",
        'log:"phase": "d_pretrain", "step": 2,',
        "write:after-d-pretrain.safetensors",
        "write:samples/after-d-pretrain.txt",
        "write:round-0002.safetensors",
        'log:"phase": "adversarial", "step": 3,',
        "write:final.safetensors",
        "write:samples/final.txt",
        "write:plots/training.png",
    ]
    start = ["train", "--corpus", corpus, "--out", "killed", *TEXTGAN]
    kill_and_resume("textgan", start, ["train", "--resume", "killed", "--quiet"], points, cwd=tmp_path)
    assert_same_run(tmp_path / "killed", tmp_path / "straight")


IMAGEGAN = ["--data", "shapes", "--image-size", "16", "--model", "dcgan", "--limit", "32", "--batch-size", "4", "--width", "4",
            "--steps", "6", "--sample-every", "3", "--checkpoint-every", "2", "--log-every", "1", "--quiet"]  # fmt: skip


def test_imagegan_run_killed_anywhere_resumes_to_the_uninterrupted_result(tmp_path):
    straight = run("imagegan.cli", ["train", *IMAGEGAN, "--out", "straight"], cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    points = [
        "write:config.json",  # setting the run up
        'log:{"step": 1,',  # before the first periodic checkpoint
        "write:latest.safetensors",  # inside the periodic checkpoint of step 2
        "write:samples/step-000003.png",
        'log:{"step": 5,',
        "write:final.safetensors",
        "write:samples/final.png",
    ]
    start = ["train", *IMAGEGAN, "--out", "killed"]
    kill_and_resume("imagegan.cli", start, ["train", "--resume", "killed", "--quiet"], points, cwd=tmp_path)
    assert_same_run(tmp_path / "killed", tmp_path / "straight")


@pytest.mark.parametrize("module", ["textgan", "imagegan.cli"])
def test_a_resume_with_nothing_left_to_do_changes_nothing(tmp_path, module):
    """The control of the tests above: comparing two finished runs finds a difference when one
    of them trained on (the snapshot is not blind)."""
    if module == "textgan":
        corpus = grammar_corpus(tmp_path / "corpus.txt", n=96)
        start = ["train", "--corpus", corpus, "--out", "a", *TEXTGAN]
        more = ["train", "--resume", "a", "--rounds", "5", "--quiet"]
    else:
        start, more = ["train", *IMAGEGAN, "--out", "a"], ["train", "--resume", "a", "--steps", "7", "--quiet"]
    assert run(module, start, cwd=tmp_path).returncode == 0
    before = snapshot(tmp_path / "a")
    assert run(module, ["train", "--resume", "a", "--quiet"], cwd=tmp_path).returncode == 0
    assert snapshot(tmp_path / "a") == before
    assert run(module, more, cwd=tmp_path).returncode == 0
    assert snapshot(tmp_path / "a") != before
