"""The oracle LSTM: the README's equations, the paper oracle's own NLL, reproducible random oracles."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from runcore.errors import UserError
from textgan.models.oracle import ARRAY_NAMES, Oracle

SHARED = Path(__file__).resolve().parents[2] / "shared"
PAPER_ORACLE = SHARED / "data" / "oracle" / "seqgan_oracle_lstm.npz"


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def naive_log_prob(arrays: dict[str, np.ndarray], tokens: np.ndarray) -> np.ndarray:
    """The equations of ../shared/data/README.md, one sequence and one gate at a time, in float64."""
    a = {name: value.astype(np.float64) for name, value in arrays.items()}

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    out = np.zeros(tokens.shape)
    for row, sequence in enumerate(tokens):
        h = np.zeros(a["Wi"].shape[1])
        c = np.zeros_like(h)
        previous = 0  # the start token
        for t, token in enumerate(sequence):
            x = a["g_embeddings"][previous]
            i = sigmoid(x @ a["Wi"] + h @ a["Ui"] + a["bi"])
            f = sigmoid(x @ a["Wf"] + h @ a["Uf"] + a["bf"])
            o = sigmoid(x @ a["Wog"] + h @ a["Uog"] + a["bog"])
            c_tilde = np.tanh(x @ a["Wc"] + h @ a["Uc"] + a["bc"])
            c = f * c + i * c_tilde
            h = o * np.tanh(c)
            logits = h @ a["Wo"] + a["bo"]
            top = logits.max()
            out[row, t] = logits[token] - top - np.log(np.exp(logits - top).sum())
            previous = token
    return out


def arrays_of(oracle: Oracle) -> dict[str, np.ndarray]:
    return {name: getattr(oracle, name).numpy() for name in ARRAY_NAMES}


def test_log_prob_matches_the_readme_equations():
    oracle = Oracle.random(seed=1, vocab_size=50, dim=8, seq_len=7)
    tokens = torch.randint(0, 50, (5, 7), generator=torch.Generator().manual_seed(0))
    tokens[0, 0] = 0  # token 0 is an ordinary token too
    expected = naive_log_prob(arrays_of(oracle), tokens.numpy())
    assert_close(oracle.log_prob(tokens), torch.tensor(expected, dtype=torch.float32), rtol=1e-5, atol=1e-4)
    # chunking the output layer changes nothing
    assert_close(oracle.log_prob(tokens, chunk_rows=3), oracle.log_prob(tokens), rtol=0, atol=1e-6)
    assert oracle.nll(tokens) == pytest.approx(-expected.mean(), abs=1e-5)


def test_samples_follow_the_oracle_distribution():
    # V=4, one step: the first token's frequencies must match softmax(h1·Wo + bo)
    oracle = Oracle.random(seed=2, vocab_size=4, dim=3, seq_len=1)
    samples = oracle.sample(40_000, generator=torch.Generator().manual_seed(0))
    probs = oracle.log_prob(torch.arange(4).unsqueeze(1)).exp().squeeze(1)
    frequencies = torch.bincount(samples[:, 0], minlength=4).float() / len(samples)
    assert_close(frequencies, probs, rtol=0, atol=0.01)  # 4 standard errors at p=0.5


def test_sampling_is_seeded_and_independent_of_batching():
    oracle = Oracle.random(seed=0, vocab_size=30, dim=4, seq_len=5)
    first = oracle.sample(10, generator=torch.Generator().manual_seed(7))
    again = oracle.sample(10, generator=torch.Generator().manual_seed(7), batch_size=3)
    assert first.shape == (10, 5) and first.dtype == torch.long
    assert torch.equal(first, again)
    assert not torch.equal(first, oracle.sample(10, generator=torch.Generator().manual_seed(8)))


def test_random_oracle_is_reproducible_and_round_trips(tmp_path):
    a, b, c = Oracle.random(seed=3), Oracle.random(seed=3), Oracle.random(seed=4)
    assert a.vocab_size == 5000 and a.seq_len == 20 and tuple(a.Wi.shape) == (32, 32) and tuple(a.Wo.shape) == (32, 5000)
    for name in ARRAY_NAMES:
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.Wo, c.Wo)
    assert abs(float(a.Wo.mean())) < 0.02 and float(a.Wo.std()) == pytest.approx(1.0, abs=0.02)  # N(0, 1)
    loaded = Oracle.load(a.save(tmp_path / "oracle.npz"))
    for name in ARRAY_NAMES:
        assert torch.equal(getattr(loaded, name), getattr(a, name)), name


def test_oracle_arrays_are_buffers_not_parameters():
    oracle = Oracle.random(seed=0, vocab_size=10, dim=2)
    assert list(oracle.parameters()) == []


@pytest.mark.parametrize(
    "write, message",
    [
        (None, "not found"),
        (lambda f: f.write(b"not a zip file"), "not a readable .npz"),
        (lambda f: np.savez(f, g_embeddings=np.zeros((5, 2), np.float32)), "missing arrays"),
        (
            lambda f: np.savez(f, **{**arrays_of(Oracle.random(0, 10, 2)), "Wo": np.zeros((2, 9), np.float32)}),
            "array Wo has shape (2, 9), expected (2, 10)",
        ),
    ],
)
def test_bad_oracle_files_are_one_line_user_errors(tmp_path, write, message):
    path = tmp_path / "oracle.npz"
    if write is not None:
        with open(path, "wb") as f:
            write(f)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        Oracle.load(path)
    assert "\n" not in str(error.value) and "--oracle" in str(error.value)


def test_paper_oracle_own_samples_score_5_75():
    if not PAPER_ORACLE.is_file():
        pytest.skip(f"the paper's oracle is not at {PAPER_ORACLE} (the shared data checkout)")
    oracle = Oracle.load(PAPER_ORACLE)
    assert oracle.vocab_size == 5000
    tokens = oracle.sample(2000, generator=torch.Generator().manual_seed(0))
    # 10,000 samples give 5.753; 2,000 keep the test fast (standard error about 0.01)
    assert oracle.nll(tokens) == pytest.approx(5.75, abs=0.05)
    # and the batched equations agree with the naive ones on the real weights
    expected = naive_log_prob(arrays_of(oracle), tokens[:3].numpy())
    assert_close(oracle.log_prob(tokens[:3]), torch.tensor(expected, dtype=torch.float32), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--oracle", "{missing}"], "oracle file .*missing.npz not found"),
        (["--oracle", "{corrupt}"], "is not a readable .npz"),
        (["--rounds", "-1"], "--rounds -1 must be 0 or more"),
        (["--eval-samples", "0"], "--eval-samples must be at least 1"),
        (["--preset", "huge"], "invalid choice"),
    ],
)
def test_experiment_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    from textgan.cli import main

    (tmp_path / "corrupt.npz").write_bytes(b"garbage")
    paths = {"missing": tmp_path / "missing.npz", "corrupt": tmp_path / "corrupt.npz"}
    out = tmp_path / "out"
    code = main(["experiment", "oracle", "--out", str(out), *(a.format(**paths) for a in argv)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and re.search(message, err), err
    assert not out.exists()
