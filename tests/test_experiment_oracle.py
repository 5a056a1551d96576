"""``textgan experiment oracle`` end to end, on a tiny oracle and a tiny schedule."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from textgan.commands.experiment import (
    DEFAULT_GANS,
    OracleExperiment,
    label,
    load_generator,
    run_oracle_experiment,
    seed_data,
)
from runcore import RunDir
from runcore.errors import UserError
from textgan.metrics import nll_test
from textgan.metrics.sweep import matched_temperature
from textgan.models import Generator, GeneratorConfig
from textgan.models.oracle import Oracle

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = dict(
    mle_epochs=2, rounds=2, d_pretrain_steps=1, num_negatives=16, batch_size=8, rollouts=2, g_embed_dim=8,
    g_hidden_dim=8, d_embed_dim=8, d_filter_sizes=(2, 3), d_num_filters=(4, 4),
)
GANS = ("seqgan", "maligan", "dpgan", "constant")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def tiny_experiment(**changes) -> OracleExperiment:
    values = dict(
        seeds=(0, 1), preset="small", num_train=48, num_test=16, num_val=16, eval_samples=32, curve_samples=16,
        sweep_samples=16, temperatures=(0.9, 1.0), overrides=dict(TINY), gans=GANS,
    )
    return OracleExperiment(**{**values, **changes})


def generator_tensors(path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path)).items() if k.startswith(("generator/", "rollout_policy/"))}


def test_default_gans_are_todays_experiment():
    assert OracleExperiment().gans == DEFAULT_GANS == ("seqgan", "constant")
    assert "gans" in OracleExperiment().settings()
    assert label("seqgan") == "SeqGAN" and label("rankgan") == "RankGAN" and label("after_mle") == "MLE pre-trained"


def test_oracle_experiment_end_to_end(tmp_path, capsys):
    oracle = Oracle.random(seed=0, vocab_size=30, dim=6, seq_len=8)
    out = tmp_path / "exp"
    experiment = tiny_experiment()
    results = run_oracle_experiment(experiment, out, torch.device("cpu"), quiet=True, oracle=oracle)
    assert results["seeds"] == [0, 1] and results["schedule"]["mle_epochs"] == 2
    for name in ("after_mle", "mle", *GANS):
        for metric in ("nll_oracle", "nll_test"):
            stats = results["rows"][name][metric]
            assert stats["n"] == 2 and 0 < stats["mean"] < 20 and stats["std"] >= 0, (name, metric)
    seed0 = out / "seed-0"
    summary = json.loads((seed0 / "summary.json").read_text())
    # epochs 1-2 of the shared MLE pre-training, then 2 rounds or 2 more MLE epochs each
    for name in ("mle", *GANS):
        assert [epoch for epoch, _ in summary["curves"][name]] == [1, 2, 3, 4], name
        assert summary["curves"][name][:2] == summary["curves"]["mle"][:2], name
    # every GAN started from the one after-mle generator (and rollout policy): D pre-training
    # leaves the generator alone, so its after-d-pretrain checkpoint still holds exactly that one
    shared = generator_tensors(seed0 / "pretrain" / "checkpoints" / "after-mle.safetensors")
    assert shared
    for gan in GANS:
        start = generator_tensors(seed0 / gan / "checkpoints" / "after-d-pretrain.safetensors")
        assert start.keys() == shared.keys() and all(torch.equal(start[k], shared[k]) for k in shared), gan
        final = generator_tensors(seed0 / gan / "checkpoints" / "final.safetensors")
        assert not all(torch.equal(final[k], shared[k]) for k in shared), f"{gan} did not train"
    # the constant-reward run trained and saved no reward model; the SeqGAN run did
    constant_log = (seed0 / "constant" / "metrics.jsonl").read_text()
    assert "d_loss" not in constant_log and "d_pretrain" not in constant_log
    assert "d_loss" in (seed0 / "seqgan" / "metrics.jsonl").read_text()
    constant_keys = set(load_file(str(seed0 / "constant" / "checkpoints" / "final.safetensors")))
    seqgan_keys = set(load_file(str(seed0 / "seqgan" / "checkpoints" / "final.safetensors")))
    assert constant_keys < seqgan_keys
    assert all(k.split("/")[0] in ("generator", "rollout_policy", "mle_optimizer", "mle_best") or k.startswith("agent_") for k in constant_keys)

    # MLE at the matched temperature: recomputed here, its NLL-test is the GAN's
    matches = 0
    for seed in (0, 1):
        s = json.loads((out / f"seed-{seed}" / "summary.json").read_text())
        _, test, _ = seed_data(experiment, oracle, seed)
        better = min(("after_mle", "mle"), key=lambda name: s["final"][name]["nll_test"])
        for gan in GANS:
            match = s["matched"][gan]
            assert match["source"] == better and match["target_nll_test"] == s["final"][gan]["nll_test"]
            if match["temperature"] is None:
                continue
            matches += 1
            assert 0.5 <= match["temperature"] <= 2.0
            source = load_generator(experiment, oracle, seed, out / f"seed-{seed}", better)
            assert nll_test(source, test, temperature=match["temperature"]) == pytest.approx(match["target_nll_test"], abs=1e-4)
            assert match["nll_test"] == pytest.approx(match["target_nll_test"], abs=1e-4)
    assert matches > 0
    for gan in GANS:
        row = results["matched"][gan]
        assert len(row["matched_seeds"]) == (row["temperature"] or {"n": 0})["n"]

    assert set(summary["sweep"]) == {"after_mle", "mle", *GANS}
    assert [p["temperature"] for p in summary["sweep"]["dpgan"]] == [0.9, 1.0]
    assert json.loads((out / "seed-1" / "summary.json").read_text())["sweep"] == {}  # first seed only
    for name in ("nll_oracle.png", "quality_diversity.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    markdown = (out / "results.md").read_text()
    for gan in GANS:
        assert f"| {label(gan)} (2 MLE epochs + 2 rounds) |" in markdown, gan
        assert f"at {label(gan)}'s NLL-test |" in markdown, gan
    # early stopping: MLE kept the epoch of least validation NLL over pre-training and continuation
    kept = {seed: json.loads((out / f"seed-{seed}" / "summary.json").read_text())["kept_epoch"] for seed in (0, 1)}
    for seed in (0, 1):
        logs = [RunDir.open(out / f"seed-{seed}" / name).read_log() for name in ("pretrain", "mle")]
        nll_val = {r["step"]: r["nll_val"] for log in logs for r in log if r["phase"] == "mle"}
        assert sorted(nll_val) == [1, 2, 3, 4]
        assert kept[seed]["mle"] == min(nll_val, key=lambda e: (nll_val[e], e))
        assert kept[seed]["after_mle"] == min((1, 2), key=lambda e: (nll_val[e], e))
        assert all(kept[seed][gan] == kept[seed]["after_mle"] for gan in GANS)
        assert results["kept_epoch"][str(seed)] == kept[seed]
    assert f"| MLE (4 epochs, best: {kept[0]['mle']}, {kept[1]['mle']}) |" in markdown and "Temperature sweep" in markdown
    for gan in GANS:  # the verdict, in results.json and in the GAN's row of the table
        verdict = results["verdicts"][gan]
        assert verdict["verdict"] in ("beyond", "inside", "on", "unmatched") and verdict["text"] in markdown
        short = {"beyond": "beyond MLE's curve", "inside": "inside MLE's curve", "on": "on MLE's curve", "unmatched": "no match"}
        assert f"| {short[verdict['verdict']]} |" in markdown.split(f"| {label(gan)} (2 MLE epochs + 2 rounds) |")[1].split("\n")[0]
    assert torch.equal(Oracle.load(out / "oracle.npz").Wo, oracle.Wo)

    # finished seeds are reused: the same numbers, nothing trained again
    capsys.readouterr()
    again = run_oracle_experiment(tiny_experiment(), out, torch.device("cpu"), quiet=True, oracle=oracle)
    printed = capsys.readouterr().out
    assert "seed 0: reusing" in printed and "seed 1: reusing" in printed
    assert again["rows"] == results["rows"] and again["matched"] == results["matched"]

    with pytest.raises(UserError, match="other settings .*curve_samples"):
        run_oracle_experiment(tiny_experiment(curve_samples=8), out, torch.device("cpu"), quiet=True, oracle=oracle)
    with pytest.raises(UserError, match=r"other settings \(gans\)"):
        run_oracle_experiment(tiny_experiment(gans=("seqgan",)), out, torch.device("cpu"), quiet=True, oracle=oracle)


def test_matched_temperature_finds_the_tempered_nll_test():
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig(vocab_size=12, embed_dim=6, hidden_dim=6, bos_id=0, eos_id=None))
    with torch.no_grad():
        generator.output.weight.mul_(20)  # sharp enough that temperature matters
    test = generator.sample(20, 6, generator=torch.Generator().manual_seed(1))
    for temperature in (0.7, 1.6):
        target = nll_test(generator, test, temperature=temperature)
        found = matched_temperature(generator, test, target)
        assert found is not None and nll_test(generator, test, temperature=found) == pytest.approx(target, abs=1e-5)
    low_side = matched_temperature(generator, test, nll_test(generator, test, temperature=0.7))
    assert low_side == pytest.approx(0.7, abs=1e-3)  # the sharper side first
    # below the minimum over temperatures, or beyond what [0.5, 2] reaches: no match, no extrapolation
    assert matched_temperature(generator, test, 0.0) is None
    far = max(nll_test(generator, test, temperature=t) for t in (0.5, 2.0)) + 1.0
    assert matched_temperature(generator, test, far) is None


def test_unknown_gan_is_one_line_and_writes_nothing(tmp_path, capsys):
    from textgan.cli import main

    out = tmp_path / "out"
    assert main(["experiment", "oracle", "--gans", "seqgan", "nogan", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--gans" in err and "rankgan" in err
    assert not out.exists()


@pytest.mark.parametrize("flag", [["--parallel", "0"], ["--d-precision", "fp8"]])
def test_bad_speed_flags_are_one_line_and_write_nothing(tmp_path, capsys, flag):
    from textgan.cli import main

    out = tmp_path / "out"
    assert main(["experiment", "oracle", *flag, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag[0] in err
    assert not out.exists()


def test_a_stopped_experiment_goes_on_to_the_uninterrupted_numbers(tmp_path, monkeypatch):
    """Stopped (Ctrl-C) inside pre-training, inside a GAN's rounds and inside continued MLE, then
    run again each time: every run continues from its last checkpoint, and the numbers are
    those of the experiment run straight through."""
    import textgan.seqgan.trainer as trainer_module
    from runcore import Interrupted

    oracle = Oracle.random(seed=0, vocab_size=30, dim=6, seq_len=8)
    experiment = tiny_experiment(seeds=(0,), gans=("seqgan", "constant"))
    straight = run_oracle_experiment(experiment, tmp_path / "straight", torch.device("cpu"), quiet=True, oracle=oracle)
    calls = {"n": 0}
    stops = []

    def stop_at(n):
        def requested():
            calls["n"] += 1
            return calls["n"] == n
        return requested

    # stop_requested is asked once per epoch / D step / round, counted afresh by each call:
    # pretrain 2, seqgan 1 + 2, constant 2, mle 2; the first call stops after pretrain's epoch 1,
    # the second (pretrain epoch 2, seqgan's D step, round 1) in seqgan, the third (seqgan round 2,
    # constant's 2 rounds, mle's epoch 1) in mle
    for n in (1, 3, 4):
        calls["n"] = 0
        monkeypatch.setattr(trainer_module, "stop_requested", stop_at(n))
        with pytest.raises(Interrupted) as stopped:
            run_oracle_experiment(experiment, tmp_path / "stopped", torch.device("cpu"), quiet=True, oracle=oracle)
        stops.append(stopped.value.run.name)
    assert stops == ["pretrain", "seqgan", "mle"]
    monkeypatch.setattr(trainer_module, "stop_requested", lambda: False)
    resumed = run_oracle_experiment(experiment, tmp_path / "stopped", torch.device("cpu"), quiet=True, oracle=oracle)
    assert resumed["rows"] == straight["rows"] and resumed["matched"] == straight["matched"]
    summaries = [json.loads((tmp_path / name / "seed-0" / "summary.json").read_text()) for name in ("straight", "stopped")]
    assert summaries[0]["curves"] == summaries[1]["curves"] and summaries[0]["sweep"] == summaries[1]["sweep"]


def test_parallel_seeds_equal_sequential(tmp_path):
    """--parallel: seeds as separate processes (one thread each) give the sequential run's numbers, and
    the parent's aggregation afterwards reuses every seed."""
    from textgan.commands.parallel_seeds import run_seeds_in_parallel

    oracle = Oracle.random(seed=0, vocab_size=30, dim=6, seq_len=8)
    experiment = tiny_experiment(gans=("seqgan", "constant"))
    cpu = torch.device("cpu")
    sequential = run_oracle_experiment(experiment, tmp_path / "seq", cpu, quiet=True, oracle=oracle)
    assert run_seeds_in_parallel(experiment, tmp_path / "par", cpu, 2, oracle=oracle) == 0
    for seed in experiment.seeds:
        assert (tmp_path / "par" / f"seed-{seed}" / "summary.json").is_file()
    parallel = run_oracle_experiment(experiment, tmp_path / "par", cpu, quiet=True, oracle=oracle)
    for key in ("rows", "sweep", "seeds", "oracle_nll"):
        assert parallel.get(key) == sequential.get(key), key
    for seed in experiment.seeds:
        a, b = (json.loads((tmp_path / d / f"seed-{seed}" / "summary.json").read_text()) for d in ("seq", "par"))
        a.pop("seconds"), b.pop("seconds")
        assert a == b, seed


def test_a_folder_from_before_early_stopping_goes_on_without_it(tmp_path):
    """experiment.json without early_stopping/num_val: an experiment with the fixed schedule."""
    oracle = Oracle.random(seed=0, vocab_size=30, dim=6, seq_len=8)
    before = dict(seeds=(), num_val=OracleExperiment.num_val)  # (the default, what such a folder is read with)
    old = tiny_experiment(**before, early_stopping=False).settings()
    del old["early_stopping"], old["num_val"]
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "experiment.json").write_text(json.dumps(old))
    with pytest.raises(UserError, match=r"other settings \(early_stopping\)"):
        run_oracle_experiment(tiny_experiment(**before), tmp_path / "old", torch.device("cpu"), quiet=True, oracle=oracle)
    run_oracle_experiment(tiny_experiment(**before, early_stopping=False), tmp_path / "old", torch.device("cpu"), quiet=True, oracle=oracle)
    assert json.loads((tmp_path / "old" / "experiment.json").read_text())["early_stopping"] is False
