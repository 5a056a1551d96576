"""Run directories under faults: the lock, Ctrl-C, failed resumes, tampered files, bad --out
paths, non-finite numbers and log lines off a terminal (docs/RELIABILITY.md lists them all)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from runcore import Checkpointer, NonFiniteError, RunDir, RunLock, load_modules, save_modules
from runcore.errors import CheckpointError, UserError
from tests.test_kill_resume import IMAGEGAN, TEXTGAN, run, snapshot
from tests.test_seqgan_training import grammar_corpus, make_trainer


def one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def in_process(module: str, args: list, capsys) -> subprocess.CompletedProcess:
    """``module``'s main called here (no interpreter start-up), as a CompletedProcess."""
    from imagegan.cli import main as image_main
    from textgan.cli import main as text_main

    capsys.readouterr()
    code = (text_main if module == "textgan" else image_main)([str(a) for a in args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, less the lock's (a writer that takes the lock writes its pid there)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny textgan run and an imagegan one (copied by the tests that change them)."""
    folder = tmp_path_factory.mktemp("finished")
    corpus = grammar_corpus(folder / "corpus.txt", n=96)
    assert run("textgan", ["train", "--corpus", corpus, "--out", "text", *TEXTGAN], cwd=folder).returncode == 0
    assert run("imagegan.cli", ["train", *IMAGEGAN, "--out", "image"], cwd=folder).returncode == 0
    return folder


def copy_run(finished: Path, name: str, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / name
    shutil.copytree(finished / name, target)
    return target


# -- one writer per run directory ----------------------------------------------------------------


@contextlib.contextmanager
def lock_held_elsewhere(folder: Path):
    """Another process holding ``folder``'s run lock (SIGKILLed at the end); yields its pid."""
    code = f"from runcore import RunLock; import time; RunLock({str(folder)!r}).acquire(); print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    with lock_held_elsewhere(tmp_path) as pid:
        with pytest.raises(UserError, match=f"in use by process {pid}"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path) as lock:  # the dead holder's lock is taken over at once
        assert lock.held and (tmp_path / ".lock").read_text().strip() == str(os.getpid())


@pytest.mark.parametrize("name, more", [("text", ["--rounds", "6"]), ("image", ["--steps", "8"])])
def test_resume_beside_a_live_run_is_refused(finished, tmp_path, capsys, name, more):
    folder = copy_run(finished, name, tmp_path)
    with lock_held_elsewhere(folder) as pid:
        before = files(folder)
        module = "textgan" if name == "text" else "imagegan.cli"
        one_error_line(in_process(module, ["train", "--resume", folder, *more, "--quiet"], capsys), f"in use by process {pid}")
        assert files(folder) == before


# -- Ctrl-C --------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["textgan", "imagegan.cli"])
def test_ctrl_c_finishes_the_step_saves_says_how_to_resume_and_exits_130(tmp_path, module, monkeypatch):
    if module == "textgan":
        corpus = grammar_corpus(tmp_path / "corpus.txt", n=96)
        start, at, where = ["train", "--corpus", corpus, *TEXTGAN], 'log:"phase": "mle", "step": 1,', "after mle step 1"
    else:
        start, at, where = ["train", *IMAGEGAN], 'log:{"step": 1,', "after step 1"
    assert run(module, [*start, "--out", "straight"], cwd=tmp_path).returncode == 0
    monkeypatch.setenv("RUNCORE_CRASH_SIGNAL", "INT")
    stopped = run(module, [*start, "--out", "stopped"], crash_at=at, cwd=tmp_path)
    assert stopped.returncode == 130, stopped.stderr
    assert f"interrupted {where}; continue with: {module.split('.')[0]} train --resume stopped" in stopped.stdout + stopped.stderr
    checkpoint = tmp_path / "stopped/checkpoints/latest.safetensors"
    with safe_open(str(checkpoint), framework="pt") as f:
        position = json.loads(f.metadata()["position"])
    position.pop("mle_best", None)  # (early stopping's best epoch so far, when the run has a validation split)
    assert position in ({"phase": "mle", "done": 1}, {"step": 1})  # the step that was running, finished and saved
    monkeypatch.delenv("RUNCORE_CRASH_SIGNAL")
    assert run(module, ["train", "--resume", "stopped", "--quiet"], cwd=tmp_path).returncode == 0
    assert snapshot(tmp_path / "stopped") == snapshot(tmp_path / "straight")


# -- a failed resume changes no file ---------------------------------------------------------------


@pytest.mark.parametrize("name, longer", [("text", ["--rounds", "50"]), ("image", ["--steps", "50"])])
@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "position", "random state", "nan weights", "optimizer shape"])
def test_a_resume_from_a_damaged_checkpoint_is_one_line_and_changes_nothing(finished, tmp_path, name, longer, damage, capsys):
    folder = copy_run(finished, name, tmp_path)
    latest = folder / "checkpoints/latest.safetensors"
    with safe_open(str(latest), framework="pt") as f:
        metadata, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    weight = next(k for k in tensors if tensors[k].is_floating_point() and tensors[k].dim() >= 2 and "/state/" not in k)
    moment = next(k for k in tensors if k.endswith("exp_avg"))
    if damage == "truncated":
        latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    elif damage == "flipped byte":
        data = bytearray(latest.read_bytes())
        data[-5] ^= 0xFF  # inside the last tensor's bytes
        latest.write_bytes(bytes(data))
    else:
        if damage == "position":
            metadata["position"] = '{"phase": "mle"'
        elif damage == "random state":
            metadata["torch_rng"] = "bm90IGEgc3RhdGU="
        elif damage == "nan weights":
            tensors[weight] = torch.full_like(tensors[weight], float("nan"))
        else:
            tensors[moment] = torch.zeros(3)
        metadata.pop("__checksums__")  # a tamperer who also drops the checksums
        save_file(tensors, str(latest), metadata)
    before = files(folder)
    module = "textgan" if name == "text" else "imagegan.cli"
    line = one_error_line(in_process(module, ["train", "--resume", folder, *longer, "--quiet"], capsys), "latest.safetensors")
    expected = {"truncated": "corrupt", "flipped byte": "differ from those saved", "position": "position", "random state": "random state",
                "nan weights": "non-finite weights", "optimizer shape": "shape"}[damage]  # fmt: skip
    assert expected in line
    assert files(folder) == before  # config.json keeps its rounds/steps; the log is not cut


def test_a_missing_data_file_is_named_as_such(finished, tmp_path, capsys):
    folder = copy_run(finished, "text", tmp_path)
    (folder / "data.safetensors").unlink()
    one_error_line(in_process("textgan", ["train", "--resume", folder, "--quiet"], capsys), "lacks its encoded data (data.safetensors)")


# -- where a run directory cannot be ------------------------------------------------------------------


@pytest.mark.parametrize("where", ["a file", "/dev/null", "dangling link", "/proc/x", "not empty"])
def test_out_that_cannot_be_a_run_directory_is_one_line_and_changes_nothing(tmp_path, where, capsys, monkeypatch):
    corpus = grammar_corpus(tmp_path / "corpus.txt", n=96)
    out = {"a file": tmp_path / "file", "/dev/null": Path("/dev/null"), "dangling link": tmp_path / "link",
           "/proc/x": Path("/proc/x"), "not empty": tmp_path / "full"}[where]  # fmt: skip
    if where == "a file":
        out.write_text("keep me")
    elif where == "dangling link":
        out.symlink_to(tmp_path / "nowhere")
    elif where == "not empty":
        out.mkdir()
        (out / "keep.txt").write_text("keep me")
    before = files(tmp_path)
    for module, args in (("textgan", ["train", "--corpus", corpus, *TEXTGAN]), ("imagegan.cli", ["train", *IMAGEGAN])):
        monkeypatch.chdir(tmp_path)
        one_error_line(in_process(module, [*args, "--out", out], capsys), str(out))
    assert files(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_setup_that_fails_leaves_no_half_made_run(tmp_path):
    with pytest.raises(RuntimeError):
        with RunDir.creating(tmp_path / "run") as run_dir:
            run_dir.write_config({"seed": 1})
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
    with RunDir.creating(tmp_path / "run") as run_dir:  # the same path is free again
        run_dir.write_config({"seed": 2})
    assert RunDir.open(tmp_path / "run").read_config() == {"seed": 2}


# -- non-finite numbers stop the run, keeping the last good checkpoint -------------------------------


def test_a_nan_loss_stops_the_run_with_phase_and_step_and_keeps_the_last_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path, "nan", mle_epochs=3, checkpoint_every=1)
    trainer.save()
    good = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    with torch.no_grad():
        for parameter in trainer.generator.parameters():
            parameter.fill_(float("nan"))
    with pytest.raises(NonFiniteError, match=r"mle_loss is nan.* at mle step 1"):
        trainer.train()
    fresh = make_trainer(tmp_path, "other")
    load_modules(trainer.run.checkpoint_path("latest"), {"generator": fresh.generator})
    torch.testing.assert_close(fresh.generator.state_dict(), good)
    assert trainer.run.read_log() == []


def test_weights_that_became_nan_are_never_checkpointed(tmp_path):
    run_dir = RunDir.create(tmp_path / "run")
    net = torch.nn.Linear(2, 2)
    books = Checkpointer(run_dir, lambda: {"net": net})
    books.save({"step": 1})
    before = run_dir.checkpoint_path("latest").read_bytes()
    with torch.no_grad():
        net.weight[0, 0] = float("inf")
    with pytest.raises(NonFiniteError, match="net weight holds non-finite values at step 2"):
        books.save({"step": 2}, names=["final"])
    assert run_dir.checkpoint_path("latest").read_bytes() == before and not run_dir.checkpoint_path("final").exists()


def test_a_checkpointer_is_overdue_minutes_after_its_last_save_or_load(tmp_path):
    now = [100.0]
    books = Checkpointer(RunDir.create(tmp_path / "run"), lambda: {"net": torch.nn.Linear(2, 2)}, clock=lambda: now[0])
    now[0] += 599
    assert not books.overdue(10)
    now[0] += 1
    assert books.overdue(10) and not books.overdue(10.01)
    books.save({"step": 1})
    assert not books.overdue(10) and books.overdue(0)
    now[0] += 700
    books.load()
    assert not books.overdue(10)


def saved_positions(monkeypatch) -> list[dict]:
    """Every position ``Checkpointer.save`` writes from now on, in order."""
    positions = []
    original = Checkpointer.save

    def save(self, position, names=(), outputs=None):
        positions.append(dict(position))
        return original(self, position, names, outputs)

    monkeypatch.setattr(Checkpointer, "save", save)
    return positions


@pytest.mark.parametrize("minutes", [0, 1e6])
def test_textgan_checkpoints_when_its_minutes_pass_whatever_checkpoint_every_says(tmp_path, monkeypatch, minutes):
    positions = saved_positions(monkeypatch)
    trainer = make_trainer(tmp_path, "run", mle_epochs=3, d_pretrain_steps=2, rounds=2, checkpoint_every=100, checkpoint_minutes=minutes)
    trainer.train()
    steps = [(p["phase"], p["done"]) for p in positions]
    ends = [("d_pretrain", 0), ("adversarial", 0), ("done", 0)]  # after each phase (the next one's start)
    if minutes:
        assert steps == ends
    else:  # one after every epoch, D step and round as well
        assert steps == [("mle", 1), ("mle", 2), ("mle", 3), ends[0], ("d_pretrain", 1), ("d_pretrain", 2), ends[1], ("adversarial", 1), ("adversarial", 2), ends[2]]


@pytest.mark.parametrize("minutes", ["0", "1000000"])
def test_imagegan_checkpoints_when_its_minutes_pass_whatever_checkpoint_every_says(tmp_path, monkeypatch, capsys, minutes):
    positions = saved_positions(monkeypatch)
    args = [a for a in IMAGEGAN if a != "--quiet"] + ["--checkpoint-every", "4", "--checkpoint-minutes", minutes, "--out", tmp_path / "run", "--quiet"]
    assert in_process("imagegan", ["train", *args], capsys).returncode == 0
    saved = [p["step"] for p in positions]
    assert saved == ([0, 1, 2, 3, 4, 5, 6, 6] if minutes == "0" else [0, 4, 6])


def test_checksums_name_the_tensor_whose_bytes_changed(tmp_path):
    path = tmp_path / "c.safetensors"
    save_modules(path, {"net": torch.nn.Linear(3, 2)})
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"the bytes of tensor net/(weight|bias) differ from those saved"):
        load_modules(path, {"net": torch.nn.Linear(3, 2)})


# -- log lines off a terminal ------------------------------------------------------------------------


def test_a_redirected_run_writes_a_plain_line_per_epoch_while_it_runs(tmp_path):
    corpus = grammar_corpus(tmp_path / "corpus.txt", n=96)
    log = tmp_path / "train.log"
    args = [sys.executable, "-m", "textgan", "train", "--corpus", str(corpus), "--out", str(tmp_path / "r"),
            *[a for a in TEXTGAN if a != "--quiet"], "--mle-epochs", "200"]  # fmt: skip
    with open(log, "w") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
        seen_during = ""
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            text = log.read_text()
            if process.poll() is None:
                seen_during = text  # read while the run was still going
            if "MLE pre-training 1/200" in seen_during:
                break
            time.sleep(0.02)
        assert process.wait(timeout=120) == 0
    assert "MLE pre-training 1/200" in seen_during
    text = log.read_text()
    assert "MLE pre-training 200/200" in text and "adversarial 4/4" in text and "\x1b[" not in text


@pytest.mark.parametrize("name", ["text", "image"])
@pytest.mark.parametrize("tamper, fragment", [
    (lambda c: {**c, "seed": "x"}, "seed is 'x', not int"),
    (lambda c: {**c, "batch_size": 2.5}, "batch_size is 2.5, not int"),
    (lambda c: [c], "holds a list, not an object"),
    (lambda c: {**c, "no_such_setting": 1}, "unknown settings no_such_setting"),
])  # fmt: skip
def test_a_tampered_config_json_is_one_line(finished, tmp_path, capsys, name, tamper, fragment):
    folder = copy_run(finished, name, tmp_path)
    config = folder / "config.json"
    config.write_text(json.dumps(tamper(json.loads(config.read_text()))))
    before = files(folder)
    module = "textgan" if name == "text" else "imagegan.cli"
    one_error_line(in_process(module, ["train", "--resume", folder, "--quiet"], capsys), "config.json", fragment)
    one_error_line(in_process(module, ["sample", folder], capsys), "config.json", fragment)
    assert files(folder) == before


# -- a full disk ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["checkpoint", "metrics line"])
def test_a_full_disk_mid_run_is_one_line_and_the_run_resumes(tmp_path, capsys, monkeypatch, where, one_torch_thread):
    """In-process runs here on one thread, as the subprocess runs compared with them."""
    import errno

    import runcore.checkpoint
    import runcore.rundir

    corpus = grammar_corpus(tmp_path / "corpus.txt", n=96)
    monkeypatch.chdir(tmp_path)
    calls = {"n": 0}
    if where == "checkpoint":
        real = runcore.checkpoint.save_file

        def save_file(*args, **kwargs):  # what safetensors raises on ENOSPC, from the 4th write on
            calls["n"] += 1
            if calls["n"] >= 4:
                raise RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")
            return real(*args, **kwargs)

        monkeypatch.setattr(runcore.checkpoint, "save_file", save_file)
    else:
        real = runcore.rundir.RunDir._append

        def append(self, line):
            calls["n"] += 1
            if calls["n"] >= 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(self, line)

        monkeypatch.setattr(runcore.rundir.RunDir, "_append", append)
    failed = in_process("textgan", ["train", "--corpus", corpus, "--out", "run", *TEXTGAN], capsys)
    one_error_line(failed, "No space left on device", "--resume")
    assert list((tmp_path / "run/checkpoints").glob(".*.tmp")) == []  # the interrupted write left nothing
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert in_process("textgan", ["train", "--resume", "run", "--quiet"], capsys).returncode == 0
    assert run("textgan", ["train", "--corpus", corpus, "--out", "straight", *TEXTGAN], cwd=tmp_path).returncode == 0
    assert snapshot(tmp_path / "run") == snapshot(tmp_path / "straight")
