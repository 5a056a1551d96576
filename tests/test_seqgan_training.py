"""Learning, not only running: MLE lowers held-out NLL; a resumed run equals an uninterrupted one."""

import random

import pytest
import torch

from runcore import RunDir
from textgan.seqgan.config import SeqGANConfig, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import create_run
from textgan.gans import build_trainer
from textgan.seqgan.trainer import mean_nll


def grammar_corpus(path, n=240, seed=0):
    """Lines from a tiny grammar: easy to learn, far from uniform."""
    rng = random.Random(seed)
    subjects, verbs, objects = ["ab", "cd", "ef"], ["x", "y"], ["gh", "ij", "kl", "mn"]
    lines = [f"{rng.choice(subjects)}{rng.choice(verbs)}{rng.choice(objects)}." for _ in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_trainer(tmp_path, name, **overrides):
    corpus = grammar_corpus(tmp_path / "corpus.txt")
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(corpus), **overrides})
    config.validate()
    data = prepare_data(config)
    config.max_len = data.max_len
    run = create_run(tmp_path / name, config, data)
    return build_trainer(config, run, data.tokenizer, data.train, data.test, torch.device("cpu"), quiet=True)


def test_mle_lowers_held_out_nll(tmp_path):
    trainer = make_trainer(tmp_path, "run", mle_epochs=12, d_pretrain_steps=0, rounds=0, g_hidden_dim=32, g_embed_dim=16)
    before = mean_nll(trainer.generator, trainer.test_tokens)
    trainer.train()
    after = mean_nll(trainer.generator, trainer.test_tokens)
    log = [r for r in trainer.run.read_log() if r["phase"] == "mle"]
    assert len(log) == 12 and all("nll_test" in r and "mle_loss" in r for r in log)
    # uniform over the vocabulary is log(V) ~ 3; the grammar has well under 1 nat per token
    assert before > 2.5
    assert after < 1.0, (before, after)


def test_run_directory_holds_what_a_run_promises(tmp_path):
    trainer = make_trainer(tmp_path, "run")
    trainer.train()
    run = RunDir.open(trainer.run.path)
    names = {p.stem for p in run.checkpoints.glob("*.safetensors")}
    assert {"latest", "after-mle", "after-d-pretrain", "final"} <= names
    phases = {r["phase"] for r in run.read_log()}
    assert phases == {"mle", "d_pretrain", "adversarial"}
    adversarial = [r for r in run.read_log() if r["phase"] == "adversarial"]
    assert all({"mean_reward", "d_accuracy", "nll_test", "d_loss"} <= set(r) for r in adversarial)
    assert (run.samples / "final.txt").read_text(encoding="utf-8").strip()
    assert (run.path / "tokenizer" / "tokenizer.json").exists()


@pytest.mark.parametrize("agent", ["reinforce", "ppo"])
def test_resume_continues_exactly(tmp_path, agent):
    straight = make_trainer(tmp_path, "a", rounds=3, agent=agent)
    straight.train()
    first = make_trainer(tmp_path, "b", rounds=1, agent=agent)
    first.train()
    config = first.config
    config.rounds = 3
    resumed = build_trainer(config, first.run, first.tokenizer, first.train_tokens, first.test_tokens, torch.device("cpu"), quiet=True)
    resumed.load()
    assert resumed.position == {"phase": "adversarial", "done": 1}
    resumed.train()
    for (name, a), b in zip(straight.generator.state_dict().items(), resumed.generator.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    for a, b in zip(straight.reward_model.discriminator.parameters(), resumed.reward_model.discriminator.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
