"""Early stopping of MLE pre-training (--val-fraction, --mle-patience) and the experiment's verdict rule."""

from __future__ import annotations

import math
import random

import pytest
import torch

import textgan.seqgan.trainer as trainer_module
from runcore import Interrupted, RunDir
from runcore.errors import UserError
from textgan.gans import build_trainer
from textgan.metrics.verdict import curve_verdict, sampling_error
from textgan.seqgan.config import SeqGANConfig, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import create_run, open_run
from textgan.seqgan.trainer import mean_nll

# random strings: nothing to learn beyond the letters' frequencies, so a wide generator with a high
# learning rate memorises the 40 training lines and its validation NLL rises after epoch 5
OVERFIT = dict(
    val_fraction=0.25, mle_epochs=12, mle_lr=0.05, g_hidden_dim=64, g_embed_dim=16, d_pretrain_steps=0, rounds=0,
    batch_size=8, eval_samples=0,
)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def random_corpus(path, n=60, seed=0):
    rng = random.Random(seed)
    lines = sorted({"".join(rng.choice("abcdefgh") for _ in range(8)) for _ in range(n)})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_trainer(tmp_path, name, corpus=None, **overrides):
    corpus = corpus or random_corpus(tmp_path / "corpus.txt")
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(corpus), **OVERFIT, **overrides})
    config.validate()
    data = prepare_data(config)
    config.max_len = data.max_len
    run = create_run(tmp_path / name, config, data)
    return build_trainer(config, run, data.tokenizer, data.train, data.test, torch.device("cpu"), quiet=True, val_tokens=data.val)


def reopen(path):
    opened = open_run(path)
    return build_trainer(
        opened.config, opened.run, opened.tokenizer, opened.train, opened.test, torch.device("cpu"), quiet=True, val_tokens=opened.val
    )


def mle_log(trainer):
    return [{k: v for k, v in r.items() if k not in ("seconds", "time")} for r in trainer.run.read_log()]


def test_early_stopping_keeps_the_best_validation_epoch_when_later_epochs_overfit(tmp_path):
    trainer = make_trainer(tmp_path, "all")
    trainer.train()
    log = [r for r in trainer.run.read_log() if r["phase"] == "mle"]
    nll_val = [r["nll_val"] for r in log]
    best = min(range(len(nll_val)), key=nll_val.__getitem__) + 1
    assert len(log) == 12 and best < 12 and nll_val[-1] > nll_val[best - 1] + 0.1  # the constructed case overfits
    assert [r["best_epoch"] for r in log] == [min(range(e), key=nll_val.__getitem__) + 1 for e in range(1, 13)]
    kept = [r for r in trainer.run.read_log() if r["phase"] == "mle_kept"]
    assert kept == [{**kept[0], "kept_epoch": best, "stopped_early": False}]
    # the generator holds the best epoch's weights: its validation NLL is the least one logged
    restored = mean_nll(trainer.generator, trainer.val_tokens)
    torch.testing.assert_close(restored, min(nll_val), rtol=0, atol=1e-6)
    assert restored == trainer.position["mle_best"]["nll_val"]
    assert not trainer.mle_optimizer.state  # the later epochs' Adam moments are gone with their weights
    # what after-mle holds is that model (its samples too)
    after = reopen(trainer.run.path)
    after.load("after-mle")
    torch.testing.assert_close(mean_nll(after.generator, after.val_tokens), restored, rtol=0, atol=0)

    # patience 2: the phase stops two epochs after the best, with the same weights
    patient = make_trainer(tmp_path, "patient", mle_patience=2)
    patient.train()
    steps = [r["step"] for r in patient.run.read_log() if r["phase"] == "mle"]
    assert steps == list(range(1, best + 3)) and len(steps) < 12
    assert [r for r in patient.run.read_log() if r["phase"] == "mle_kept"][0]["stopped_early"] is True
    for (name, a), b in zip(trainer.generator.state_dict().items(), patient.generator.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_a_run_stopped_during_mle_resumes_to_the_uninterrupted_run(tmp_path, monkeypatch):
    """Stopped after epoch 2 (before the best), after the best epoch, and after the epoch that
    spends the patience (the phase has not ended yet): each resume ends as the straight run."""
    straight = make_trainer(tmp_path, "straight", mle_patience=2, rounds=1, d_pretrain_steps=1, checkpoint_every=4)
    straight.train()
    best = straight.position["mle_best"]["epoch"]
    assert 3 <= best <= 9  # three distinct stops, all inside the phase
    stopped = make_trainer(tmp_path, "stopped", mle_patience=2, rounds=1, d_pretrain_steps=1, checkpoint_every=4)
    for epoch in (2, best + 1, best + 2):
        calls = {"n": 0}

        def requested(at=epoch - (stopped.position["done"] if stopped.position["phase"] == "mle" else 0)):
            calls["n"] += 1
            return calls["n"] == at

        monkeypatch.setattr(trainer_module, "stop_requested", requested)
        with pytest.raises(Interrupted):
            stopped.train()
        stopped = reopen(stopped.run.path)
        stopped.load()
        assert stopped.position["phase"] == "mle" and stopped.position["done"] == epoch
    monkeypatch.setattr(trainer_module, "stop_requested", lambda: False)
    stopped.train()
    assert mle_log(stopped) == mle_log(straight)
    for (name, a), b in zip(straight.generator.state_dict().items(), stopped.generator.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert stopped.position == straight.position


def test_validation_rows_are_disjoint_from_what_mle_and_d_train_on(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, "run", mle_epochs=2, d_pretrain_steps=1, rounds=0)
    val = {tuple(row) for row in trainer.val_tokens.tolist()}
    train = {tuple(row) for row in trainer.train_tokens.tolist()}
    assert len(val) == len(trainer.val_tokens) == 14 and not val & train  # (the corpus's lines are distinct)
    opened = open_run(trainer.run.path)  # resume, sample and eval read the same split
    assert torch.equal(opened.val, trainer.val_tokens) and torch.equal(opened.train, trainer.train_tokens)
    seen = []
    mle_step = trainer.mle_step
    monkeypatch.setattr(trainer, "mle_step", lambda tokens, labels=None: (seen.append(tokens), mle_step(tokens, labels))[1])
    fit = trainer_module.fit_reward_model
    monkeypatch.setattr(trainer_module, "fit_reward_model", lambda model, real, fake, *rest: (seen.append(real), fit(model, real, fake, *rest))[1])
    trainer.train()
    rows = {tuple(row) for batch in seen for row in batch.tolist()}
    assert rows and rows <= train and not rows & val


def test_a_run_whose_data_lost_its_validation_rows_is_refused(tmp_path):
    from runcore import load_tensors, save_tensors
    from runcore.errors import CheckpointError
    from textgan.seqgan.runs import DATA_FILE

    trainer = make_trainer(tmp_path, "run", mle_epochs=1)
    tensors, metadata = load_tensors(trainer.run.path / DATA_FILE)
    del tensors["val"]
    save_tensors(trainer.run.path / DATA_FILE, tensors, metadata)
    with pytest.raises(CheckpointError, match="no validation rows but the run has --val-fraction"):
        open_run(trainer.run.path)


def test_labels_split_with_their_rows(tmp_path):
    """A conditional run's validation rows keep their own classes (the class is the text's first letter)."""
    lines = random_corpus(tmp_path / "plain.txt", n=80).read_text().split()
    corpus = tmp_path / "labelled.txt"
    corpus.write_text("\n".join(f"{'ab'[line[0] in 'abcd']}\t{line}" for line in lines) + "\n")
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(corpus), "conditional": True, "val_fraction": 0.25})
    data = prepare_data(config)
    for tokens, classes in ((data.val, data.labels.val), (data.train, data.labels.train)):
        texts = [data.tokenizer.decode(row.tolist()) for row in tokens]
        assert len(texts) == len(classes) > 0
        assert [data.labels.names[c] for c in classes.tolist()] == ["ab"[text[0] in "abcd"] for text in texts]
    config.max_len = data.max_len
    opened = open_run(create_run(tmp_path / "run", config, data).path)
    assert torch.equal(opened.labels.val, data.labels.val) and torch.equal(opened.val, data.val)


def test_the_start_up_line_counts_the_validation_rows(tmp_path, capsys):
    from textgan.cli import main

    corpus = random_corpus(tmp_path / "corpus.txt")
    args = ["--preset", "tiny", "--quiet", "--val-fraction", "0.25", "--mle-epochs", "1", "--d-pretrain-steps", "0", "--rounds", "0"]
    assert main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "run"), *args]) == 0
    assert "40 training, 14 validation (held out of the training split, --val-fraction 0.25) and 6 test sequences" in " ".join(capsys.readouterr().out.split())


def test_bad_early_stopping_settings_are_one_line_errors():
    for values, message in (
        (dict(val_fraction=1.0), "--val-fraction"), (dict(val_fraction=-0.1), "--val-fraction"),
        (dict(mle_patience=-1, val_fraction=0.1), "--mle-patience"), (dict(mle_patience=2), "--mle-patience 2 needs a validation split"),
    ):
        with pytest.raises(UserError, match=message):
            SeqGANConfig(**values).validate()


def test_the_verdict_rule_on_constructed_differences():
    # three seeds: a mean beyond 2 standard errors of the seeds' spread either way; within it, "on"
    assert curve_verdict([-0.30, -0.25, -0.35], samples=10_000)["verdict"] == "beyond"
    assert curve_verdict([0.30, 0.25, 0.35], samples=10_000)["verdict"] == "inside"
    spread = curve_verdict([-0.30, 0.10, -0.05], samples=10_000)
    se = torch.tensor([-0.30, 0.10, -0.05], dtype=torch.float64).std().item() / math.sqrt(3)
    assert spread["verdict"] == "on" and spread["standard_error"] == pytest.approx(se) and spread["threshold"] == pytest.approx(2 * se)
    assert abs(spread["mean_difference"]) < spread["threshold"]
    # seeds that agree by chance: the NLL-oracle's sampling error is the floor
    agree = curve_verdict([0.010, 0.0101], samples=10_000)
    assert agree["standard_error"] == pytest.approx(sampling_error(10_000, 2)) and agree["verdict"] == "on"
    # one seed: only the sampling error (0.0081 for a difference at 10,000 samples), so 0.02 counts, 0.01 not
    assert sampling_error(10_000, 1) == pytest.approx(math.sqrt(2) * 0.57 / 100)
    assert curve_verdict([-0.02], samples=10_000)["verdict"] == "beyond"
    assert curve_verdict([0.01], samples=10_000)["verdict"] == "on"
    assert curve_verdict([0.02], samples=1_000)["verdict"] == "on"  # fewer samples, larger error
    assert curve_verdict([], samples=10_000)["verdict"] == "unmatched"
