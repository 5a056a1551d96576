"""Tests of runcore: checkpoints, run directory, progress, device helpers, plots, loop."""

from __future__ import annotations

import os
import re

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from runcore import (
    AdversarialSchedule,
    RunDir,
    autocast,
    ddp_info,
    load_modules,
    load_tensors,
    make_progress,
    maybe_compile,
    merge_metrics,
    plot_curves,
    plot_series,
    resolve_device,
    run_adversarial,
    save_modules,
    save_tensors,
    seed_everything,
    write_json_atomic,
)
from runcore.errors import CheckpointError, UserError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _one_line(error: Exception) -> str:
    text = str(error)
    assert "\n" not in text, f"a user error must print as one line: {text!r}"
    return text


# ---------------------------------------------------------------------------------------------
# Checkpoints


def test_save_load_tensors_round_trip(tmp_path):
    path = tmp_path / "t.safetensors"
    weight = torch.randn(5, 7)
    tensors = {
        "w": weight,
        "w_t": weight.t(),  # non-contiguous view sharing storage with "w"
        "ids": torch.arange(4, dtype=torch.int64),
        "half": torch.randn(3, dtype=torch.bfloat16),
    }
    save_tensors(path, tensors, {"step": "12", "note": "hi"})
    loaded, metadata = load_tensors(path)
    assert set(loaded) == set(tensors)
    for key, tensor in tensors.items():
        assert_close(loaded[key], tensor.contiguous(), rtol=0, atol=0)
    assert metadata == {"step": "12", "note": "hi"}
    assert os.listdir(tmp_path) == ["t.safetensors"]


def test_load_missing_checkpoint_names_the_path(tmp_path):
    path = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError, match="no checkpoint at") as info:
        load_tensors(path)
    assert str(path) in _one_line(info.value)


@pytest.mark.parametrize("keep", [0, 7, 40, 0.5, -1])
def test_truncated_checkpoint_raises_checkpoint_error(tmp_path, keep):
    path = tmp_path / "model.safetensors"
    save_tensors(path, {"a": torch.randn(16, 16), "b": torch.randn(8)}, {"round": "3"})
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="corrupt") as info:
        load_tensors(path)
    message = _one_line(info.value)
    assert str(path) in message
    assert "earlier checkpoint" in message


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    save_tensors(path, {"x": torch.ones(3)}, {"version": "1"})

    def refuse(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        save_tensors(path, {"x": torch.zeros(3)}, {"version": "2"})
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(tmp_path / "config.json", {"a": 1})
    monkeypatch.undo()

    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]
    tensors, metadata = load_tensors(path)
    assert_close(tensors["x"], torch.ones(3))
    assert metadata == {"version": "1"}


class _Tiny(nn.Module):
    def __init__(self, vocab: int = 11, hidden: int = 6):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.norm = nn.BatchNorm1d(hidden)  # has buffers, incl. an int64 counter
        self.out = nn.Linear(hidden, vocab)

    def forward(self, ids):
        return self.out(self.norm(self.embed(ids)))


def _train(model, optimizer, batches):
    for ids in batches:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(ids), ids)
        loss.backward()
        optimizer.step()


OPTIMIZERS = {
    "adam": lambda params: torch.optim.Adam(params, lr=0.01, betas=(0.8, 0.9)),
    "adam-amsgrad": lambda params: torch.optim.Adam(params, lr=0.01, amsgrad=True),
    "rmsprop": lambda params: torch.optim.RMSprop(params, lr=0.01, momentum=0.9, centered=True),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resumed_training_matches_uninterrupted_training(tmp_path, name):
    make_optimizer = OPTIMIZERS[name]
    generator = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, 11, (8,), generator=generator) for _ in range(6)]

    torch.manual_seed(1)
    model = _Tiny()
    optimizer = make_optimizer(model.parameters())
    _train(model, optimizer, batches[:3])
    path = tmp_path / "state.safetensors"
    save_modules(path, {"model": model, "optim": optimizer}, {"round": "3"})
    _train(model, optimizer, batches[3:])  # uninterrupted

    torch.manual_seed(2)  # different initial weights: everything must come from the file
    resumed = _Tiny()
    resumed_optimizer = make_optimizer(resumed.parameters())
    metadata = load_modules(path, {"model": resumed, "optim": resumed_optimizer})
    assert metadata == {"round": "3"}
    assert resumed_optimizer.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    _train(resumed, resumed_optimizer, batches[3:])

    for key, value in model.state_dict().items():
        assert_close(resumed.state_dict()[key], value, msg=lambda m, key=key: f"{key}: {m}")

    # Control: without the optimizer state, the same continuation ends elsewhere.
    fresh = _Tiny()
    load_modules(path, {"model": fresh}, strict=False)
    _train(fresh, make_optimizer(fresh.parameters()), batches[3:])
    assert not torch.allclose(fresh.out.weight, model.out.weight)


def test_tied_weights_round_trip(tmp_path):
    model = _Tiny(vocab=9, hidden=9)
    model.out.weight = model.embed.weight
    path = tmp_path / "tied.safetensors"
    save_modules(path, {"model": model})
    other = _Tiny(vocab=9, hidden=9)
    other.out.weight = other.embed.weight
    load_modules(path, {"model": other})
    assert_close(other.out.weight, model.embed.weight)
    assert other.out.weight is other.embed.weight


def test_shape_mismatch_raises_and_loads_nothing(tmp_path):
    path = tmp_path / "g.safetensors"
    save_modules(path, {"disc": nn.Linear(4, 2), "gen": _Tiny(vocab=11)})
    disc, gen = nn.Linear(4, 2), _Tiny(vocab=13)  # a different vocabulary
    disc_before = disc.weight.detach().clone()
    with pytest.raises(CheckpointError, match="does not match the model 'gen'") as info:
        load_modules(path, {"disc": disc, "gen": gen})
    message = _one_line(info.value)
    assert "[11, 6] in the checkpoint but [13, 6] in the model" in message
    assert "vocabulary" in message
    assert_close(disc.weight, disc_before, rtol=0, atol=0)  # checked before loading anything


def test_key_mismatch_and_missing_entry_raise(tmp_path):
    path = tmp_path / "g.safetensors"
    save_modules(path, {"gen": nn.Linear(4, 2)})
    with pytest.raises(CheckpointError, match="missing keys 0.weight"):
        load_modules(path, {"gen": nn.Sequential(nn.Linear(4, 2))})
    with pytest.raises(CheckpointError, match="has no 'disc' entry"):
        load_modules(path, {"disc": nn.Linear(4, 2)})
    assert load_modules(path, {"disc": nn.Linear(4, 2)}, strict=False) == {}


def test_optimizer_mismatch_raises(tmp_path):
    small = nn.Linear(3, 3)
    optimizer = torch.optim.Adam(small.parameters())
    small(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    path = tmp_path / "o.safetensors"
    save_modules(path, {"opt": optimizer})
    other = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    with pytest.raises(CheckpointError, match="does not match the model 'opt'"):
        load_modules(path, {"opt": torch.optim.Adam(other.parameters())})
    with pytest.raises(CheckpointError, match="holds optimizer state where module state was expected"):
        load_modules(path, {"opt": small})


# ---------------------------------------------------------------------------------------------
# Run directory


def test_create_makes_layout_and_refuses_non_empty_dir(tmp_path):
    run = RunDir.create(tmp_path / "run")
    for sub in ("checkpoints", "samples", "plots"):
        assert (run.path / sub).is_dir()
    assert run.checkpoint_path("round-3") == run.path / "checkpoints" / "round-3.safetensors"

    existing = tmp_path / "old"
    existing.mkdir()
    (existing / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="already exists") as info:
        RunDir.create(existing)
    assert f"--resume {existing}" in _one_line(info.value)
    assert os.listdir(existing) == ["notes.txt"]
    assert (existing / "notes.txt").read_text() == "keep me"

    empty = tmp_path / "empty"
    empty.mkdir()
    assert RunDir.create(empty).checkpoints.is_dir()


def test_open_requires_a_run_directory(tmp_path):
    with pytest.raises(CheckpointError, match="not a run directory"):
        RunDir.open(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        RunDir.open(tmp_path / "missing")

    run = RunDir.create(tmp_path / "run")
    run.write_config({"seed": 3, "out": tmp_path / "run", "sizes": [1, 2]})
    opened = RunDir.open(tmp_path / "run")
    assert opened.read_config() == {"seed": 3, "out": str(tmp_path / "run"), "sizes": [1, 2]}

    opened.config_path.write_text('{"seed": 3,')
    with pytest.raises(CheckpointError, match="corrupt"):
        opened.read_config()


def test_log_and_read_log_survive_a_truncated_line(tmp_path):
    run = RunDir.create(tmp_path / "run")
    assert run.read_log() == []
    run.log({"step": 1, "loss": 2.5, "time": 100.0})
    run.log({"step": 2, "loss": torch.tensor(1.5)})
    records = run.read_log()
    assert records[0] == {"step": 1, "loss": 2.5, "time": 100.0}
    assert records[1]["loss"] == 1.5 and isinstance(records[1]["time"], float)

    with open(run.metrics_path, "a") as f:  # a crash in the middle of writing a record
        f.write('{"step": 3, "lo')
    assert [r["step"] for r in run.read_log()] == [1, 2]

    run.log({"step": 4, "loss": 0.5})  # resumed run appends after the damage
    assert [r["step"] for r in run.read_log()] == [1, 2, 4]
    assert len(run.metrics_path.read_text().splitlines()) == 4


def test_latest_checkpoint_and_default_path(tmp_path):
    run = RunDir.create(tmp_path / "run")
    assert run.latest_checkpoint() is None
    for i, name in enumerate(["mle-2", "round-9", "round-10", "mle-1"]):
        path = run.checkpoint_path(name)
        save_tensors(path, {"x": torch.zeros(1)})
        os.utime(path, ns=(10**18, 10**18 + i))
    (run.checkpoints / ".round-11.safetensors.tmp").write_bytes(b"partial")
    assert run.latest_checkpoint().name == "mle-1.safetensors"
    assert run.latest_checkpoint("round-").name == "round-10.safetensors"
    same = 10**18
    for name in ["round-9", "round-10"]:
        os.utime(run.checkpoint_path(name), ns=(same, same))
    assert run.latest_checkpoint("round-").name == "round-10.safetensors"  # numeric tiebreak
    assert run.latest_checkpoint("gan-") is None

    first = RunDir.default_path(tmp_path, "seqgan")
    assert re.fullmatch(r"seqgan-\d{8}-\d{6}", first.name) and first.parent == tmp_path
    first.mkdir()
    second = RunDir.default_path(root=tmp_path, name="seqgan")
    assert second != first and not second.exists()


# ---------------------------------------------------------------------------------------------
# Progress


def test_progress_outside_a_terminal_writes_plain_lines_as_it_goes(capsys):
    with make_progress() as progress:
        task = progress.add_task("mle", total=3)
        plain = progress.add_task("plain", total=2)  # no status field given: must still render
        for epoch in range(3):
            progress.update(task, advance=1, status=f"nll={2.0 - epoch:.2f}")
        progress.update(plain, advance=2)
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays clean for results
    lines = captured.err.splitlines()
    # the first step at once, the middle one held back (under LINE_SECONDS), the last always
    assert [line.split()[1:3] for line in lines] == [["mle", "1/3"], ["mle", "3/3"], ["plain", "2/2"]]
    assert lines[0].endswith("nll=2.00") and lines[1].endswith("nll=0.00")
    assert "\x1b" not in captured.err  # no terminal control codes in a log file


def test_line_progress_writes_at_most_every_line_seconds():
    import io

    from runcore.progress import LineProgress

    now = [0.0]
    out = io.StringIO()
    progress = LineProgress(out, line_seconds=10, clock=lambda: now[0])
    task = progress.add_task("adversarial", total=100, status="")
    for step in range(100):
        now[0] += 3.0  # a round every 3 s: a line every 4th round (12 s), plus the first and last
        progress.update(task, advance=1, status=f"r {step}")
    lines = out.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["1/100", *[f"{k}/100" for k in range(5, 100, 4)], "100/100"]
    assert "remaining 0:04:57" in lines[0] and "remaining" not in lines[-1]


# ---------------------------------------------------------------------------------------------
# Device


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_resolve_device_on_cpu_machine():
    assert resolve_device() == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    with pytest.raises(UserError, match="CUDA is not available") as info:
        resolve_device("cuda")
    assert "--device cpu" in _one_line(info.value)
    with pytest.raises(UserError, match="CUDA is not available"):
        resolve_device("cuda:1")


@pytest.mark.parametrize("name", ["gpu", "banana", "cuda:x", ""])
def test_resolve_device_rejects_bad_names(name):
    with pytest.raises(UserError, match="device") as info:
        resolve_device(name)
    assert "--device" in _one_line(info.value)


def test_ddp_info_reads_torchrun_environment(monkeypatch):
    for var in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert ddp_info() == (0, 0, 1)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert ddp_info() == (3, 1, 4)
    monkeypatch.setenv("WORLD_SIZE", "four")
    with pytest.raises(UserError, match="WORLD_SIZE"):
        ddp_info()


def test_seed_autocast_and_compile_helpers():
    generator = seed_everything(7)
    first = (torch.rand(3), torch.rand(3, generator=generator))
    generator = seed_everything(7)
    second = (torch.rand(3), torch.rand(3, generator=generator))
    assert_close(first, second, rtol=0, atol=0)

    with autocast(torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    module = nn.Linear(2, 2)
    assert maybe_compile(module, enabled=False) is module


# ---------------------------------------------------------------------------------------------
# Plots


def test_plot_curves_writes_a_png_with_one_row_per_key(tmp_path):
    from PIL import Image

    records = [{"step": i, "phase": "mle", "nll": 3.0 - 0.1 * i} for i in range(10)]
    records += [{"step": 10 + i, "phase": "adversarial", "nll": 2.0, "d_loss": 0.7} for i in range(5)]
    records += [{"step": 15, "note": "no metrics here"}, {"loss": 1.0}]
    one = plot_curves(records, ["nll"], tmp_path / "one.png", title="run")
    two = plot_curves(records, ["nll", "d_loss", "absent"], tmp_path / "plots" / "two.png")
    for path in (one, two):
        assert path.read_bytes()[:8] == PNG_MAGIC
        with Image.open(path) as image:
            image.verify()
    with Image.open(one) as a, Image.open(two) as b:
        assert a.size[0] > 0 and b.size[1] > a.size[1]  # more keys, taller figure
    assert sorted(os.listdir(tmp_path)) == ["one.png", "plots"]
    assert os.listdir(tmp_path / "plots") == ["two.png"]


def test_plot_series_writes_a_png(tmp_path):
    from PIL import Image

    path = plot_series(
        {"seqgan": ([0, 1, 2], [0.5, 0.6, 0.7]), "mle": ([0, 1, 2], [0.5, 0.5, 0.5])},
        tmp_path / "bleu.png",
        xlabel="epoch",
        ylabel="BLEU-4",
    )
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 0
    with pytest.raises(ValueError, match="2 x values but 1 y"):
        plot_series({"bad": ([0, 1], [1.0])}, tmp_path / "bad.png", "x", "y")


# ---------------------------------------------------------------------------------------------
# Adversarial loop


def test_d_steps_schedule():
    plain = AdversarialSchedule(rounds=10, g_steps=1, d_steps=3)
    assert [plain.d_steps_at(r) for r in (0, 1, 9)] == [3, 3, 3]
    wgan = AdversarialSchedule(rounds=2000, d_steps=5, d_steps_early=100, early_rounds=25)
    assert [wgan.d_steps_at(r) for r in (0, 1, 24, 25, 26, 499, 500, 501, 1000)] == [
        100, 100, 100, 5, 5, 5, 100, 5, 100
    ]
    never_again = AdversarialSchedule(rounds=600, d_steps=5, d_steps_early=50, early_rounds=2, early_every=0)
    assert [never_again.d_steps_at(r) for r in (0, 1, 2, 500)] == [50, 50, 5, 5]
    with pytest.raises(UserError, match="rounds"):
        AdversarialSchedule(rounds=-1)


def test_run_adversarial_counts_steps_and_merges_metrics():
    schedule = AdversarialSchedule(rounds=4, g_steps=2, d_steps=1, d_steps_early=3, early_rounds=1, early_every=0)
    calls: list[tuple[str, int]] = []
    ends: list[tuple[int, dict]] = []

    def g_step(r):
        calls.append(("g", r))
        return {"g_loss": float(len(calls)), "phase": "adv"}

    def d_step(r):
        calls.append(("d", r))
        return {"d_loss": torch.tensor(float(r)), "acc": 0.5 + 0.1 * len(calls)} if r != 2 else None

    with make_progress(disable=True) as progress:
        run_adversarial(schedule, g_step, d_step, lambda r, m: ends.append((r, m)),
                        start_round=1, progress=progress, description="gan")
        task = progress.tasks[0]
        assert (task.description, task.completed, task.total) == ("gan", 4, 4)
        assert task.fields["status"] == "g_loss=7.5 d_loss=3 acc=1.4"

    # Round 0 is skipped (resumed at 1); each round: 2 G steps then 1 D step.
    assert calls == [(kind, r) for r in (1, 2, 3) for kind in ("g", "g", "d")]
    assert [r for r, _ in ends] == [1, 2, 3]
    assert ends[0][1] == {"g_loss": 1.5, "phase": "adv", "d_loss": 1.0, "acc": pytest.approx(0.8)}
    assert ends[1][1] == {"g_loss": 4.5, "phase": "adv"}  # d_step returned None in round 2

    early = AdversarialSchedule(rounds=2, g_steps=1, d_steps=1, d_steps_early=3, early_rounds=1)
    counts = {"g": 0, "d": 0}
    run_adversarial(early, lambda r: counts.__setitem__("g", counts["g"] + 1),
                    lambda r: counts.__setitem__("d", counts["d"] + 1))
    assert counts == {"g": 2, "d": 3 + 1}


def test_merge_metrics_means_numbers_and_keeps_last_other():
    merged = merge_metrics([{"a": 1, "s": "x", "flag": True}, None, {"a": 3, "s": "y"}])
    assert merged == {"a": 2.0, "s": "y", "flag": True}
    vector = torch.tensor([1.0, 2.0])
    scalars = merge_metrics([{"t": vector, "n": torch.tensor(1.0)}, {"t": vector, "n": torch.tensor([2.0]), "f": 3}])
    assert scalars["t"] is vector and scalars["f"] == 3.0
    # one-element tensors are averaged as a 0-d tensor, not read: reading a GPU value waits for the GPU
    assert isinstance(scalars["n"], torch.Tensor) and scalars["n"].shape == ()
    torch.testing.assert_close(scalars["n"], torch.tensor(1.5))
    mixed = merge_metrics([{"n": torch.tensor(1.0), "ok": torch.tensor(True)}, {"n": 4, "ok": torch.tensor(False)}])
    torch.testing.assert_close(mixed["n"], torch.tensor(2.5))
    assert mixed["ok"] is not None and not mixed["ok"]  # a bool is no number, even as a tensor: the last one


def test_progress_status_is_refreshed_at_most_every_status_seconds_and_at_the_end(monkeypatch):
    """Each refresh reads the metrics' values (a GPU wait), so rounds in between only advance."""
    import runcore.loop as loop

    clock = iter([0.0, 0.1, 0.2, 0.6, 0.7, 0.8])  # one reading per round
    monkeypatch.setattr(loop.time, "monotonic", lambda: next(clock))
    updates = []

    class Recorder:
        def add_task(self, *args, **kwargs):
            return 0

        def update(self, task, advance, **fields):
            updates.append(fields.get("status"))

    run_adversarial(AdversarialSchedule(rounds=6), lambda r: {"g_loss": float(r)}, lambda r: None, progress=Recorder())
    assert updates == ["g_loss=0", None, None, "g_loss=3", None, "g_loss=5"]
