"""``textgan experiment oracle`` end to end, on a tiny oracle and a tiny schedule."""

from __future__ import annotations

import json

import pytest
import torch

from textgan.commands.experiment import VARIANTS, OracleExperiment, run_oracle_experiment
from textgan.errors import UserError
from textgan.models.oracle import Oracle

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = dict(
    mle_epochs=2, rounds=2, d_pretrain_steps=1, num_negatives=16, batch_size=8, rollouts=2, g_embed_dim=8,
    g_hidden_dim=8, d_embed_dim=8, d_filter_sizes=(2, 3), d_num_filters=(4, 4),
)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def tiny_experiment(**changes) -> OracleExperiment:
    values = dict(
        seeds=(0, 1), preset="small", num_train=48, num_test=16, eval_samples=32, curve_samples=16,
        sweep_samples=16, temperatures=(0.9, 1.0), overrides=dict(TINY),
    )
    return OracleExperiment(**{**values, **changes})


def test_oracle_experiment_end_to_end(tmp_path, capsys):
    oracle = Oracle.random(seed=0, vocab_size=30, dim=6, seq_len=8)
    out = tmp_path / "exp"
    results = run_oracle_experiment(tiny_experiment(), out, torch.device("cpu"), quiet=True, oracle=oracle)
    assert results["seeds"] == [0, 1] and results["schedule"]["mle_epochs"] == 2
    for variant in ("after_mle", *VARIANTS):
        stats = results["rows"][variant]["nll_oracle"]
        assert stats["n"] == 2 and 0 < stats["mean"] < 20 and stats["std"] >= 0
    summary = json.loads((out / "seed-0" / "summary.json").read_text())
    # epochs 1-2 of MLE shared, then 2 rounds or 2 more MLE epochs each
    for variant in VARIANTS:
        assert [epoch for epoch, _ in summary["curves"][variant]] == [1, 2, 3, 4], variant
    assert summary["curves"]["seqgan"][:2] == summary["curves"]["mle"][:2] == summary["curves"]["constant"][:2]
    # the constant-reward run trained no D; the SeqGAN run did
    constant_log = (out / "seed-0" / "constant" / "metrics.jsonl").read_text()
    assert "d_loss" not in constant_log and "d_loss" in (out / "seed-0" / "seqgan" / "metrics.jsonl").read_text()
    assert [p["temperature"] for p in summary["sweep"]["after_mle"]] == [0.9, 1.0]
    assert json.loads((out / "seed-1" / "summary.json").read_text())["sweep"] == {}  # first seed only
    for name in ("nll_oracle.png", "quality_diversity.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    markdown = (out / "results.md").read_text()
    assert "| SeqGAN (2 MLE epochs + 2 rounds) |" in markdown and "Temperature sweep" in markdown
    assert torch.equal(Oracle.load(out / "oracle.npz").Wo, oracle.Wo)

    # finished seeds are reused: the same numbers, nothing trained again
    capsys.readouterr()
    again = run_oracle_experiment(tiny_experiment(), out, torch.device("cpu"), quiet=True, oracle=oracle)
    assert "seed 0: reusing" in capsys.readouterr().out
    assert again["rows"] == results["rows"]

    with pytest.raises(UserError, match="other settings .*curve_samples"):
        run_oracle_experiment(tiny_experiment(curve_samples=8), out, torch.device("cpu"), quiet=True, oracle=oracle)
