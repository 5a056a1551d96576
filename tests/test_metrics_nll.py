"""NLL-test, NLL-oracle, distinct-n and the temperature sweep against hand computations."""

from __future__ import annotations

import math
import random

import pytest
import torch

from textgan.metrics import distinct_n, nll_oracle, nll_test, temperature_sweep
from textgan.models import Generator, GeneratorConfig
from textgan.models.oracle import Oracle


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def naive_distinct(sentences, n):
    seen, total = set(), 0
    for sentence in sentences:
        for start in range(len(sentence) - n + 1):
            seen.add(tuple(sentence[start : start + n]))
            total += 1
    return len(seen) / total if total else 0.0


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_distinct_n_matches_a_naive_loop(n):
    rng = random.Random(n)
    sentences = [[rng.randrange(6) for _ in range(rng.randint(0, 7))] for _ in range(60)]
    assert distinct_n(sentences, n) == pytest.approx(naive_distinct(sentences, n), abs=1e-12)
    assert 0 < distinct_n(sentences, n) < 1


def test_distinct_n_edge_cases():
    assert distinct_n([], 2) == 0.0
    assert distinct_n([["a"], []], 2) == 0.0  # no bigram anywhere
    assert distinct_n([["a", "b"], ["a", "b"]], 2) == 0.5
    assert distinct_n(("a b c".split(), "c b a".split()), 1) == 0.5
    with pytest.raises(ValueError, match="n must be"):
        distinct_n([["a"]], 0)


def hand_nll(generator: Generator, tokens: torch.Tensor, temperature: float = 1.0) -> float:
    """Step by step from BOS: -log softmax(logits / T)[token], summed up to and including the first EOS."""
    total, count = 0.0, 0
    with torch.no_grad():
        for row in tokens:
            state = generator.initial_state(1)
            previous = torch.tensor([generator.config.bos_id])
            for token in row.tolist():
                logits, state = generator.step(previous, state)
                log_probs = torch.log_softmax(logits[0].double() / temperature, dim=0)
                total -= float(log_probs[token])
                count += 1
                if token == generator.config.eos_id:
                    break
                previous = torch.tensor([token])
    return total / count


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_nll_test_matches_a_hand_computation(temperature):
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig(vocab_size=7, embed_dim=5, hidden_dim=6, bos_id=1, eos_id=2, pad_id=0))
    tokens = torch.tensor([[4, 5, 2, 0, 0], [3, 3, 3, 6, 5], [2, 0, 0, 0, 0], [6, 2, 0, 0, 0]])
    expected = hand_nll(generator, tokens, temperature)
    assert nll_test(generator, tokens, temperature=temperature, batch_size=3) == pytest.approx(expected, abs=1e-5)
    # 2 + 5 + 1 + 2 = 10 counted tokens; padding after EOS does not count
    padded_differently = tokens.clone()
    padded_differently[padded_differently == 0] = 5
    padded_differently[1] = tokens[1]
    assert nll_test(generator, padded_differently, temperature=temperature) == pytest.approx(expected, abs=1e-5)


def test_nll_test_without_eos_counts_every_token():
    torch.manual_seed(1)
    generator = Generator(GeneratorConfig(vocab_size=6, embed_dim=4, hidden_dim=4, bos_id=0, eos_id=None))
    tokens = torch.tensor([[2, 2, 0, 5], [0, 0, 1, 3]])
    assert nll_test(generator, tokens) == pytest.approx(hand_nll(generator, tokens), abs=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        nll_test(generator, tokens, temperature=0.0)


def test_nll_oracle_scores_the_generators_samples_under_the_oracle():
    torch.manual_seed(2)
    oracle = Oracle.random(seed=0, vocab_size=40, dim=6, seq_len=8)
    generator = Generator(GeneratorConfig(vocab_size=40, embed_dim=6, hidden_dim=6, bos_id=0, eos_id=None))
    samples = generator.sample(50, 8, generator=torch.Generator().manual_seed(9))
    expected = -float(oracle.log_prob(samples).double().mean())
    assert nll_oracle(generator, oracle, n=50, seed=9) == pytest.approx(expected, abs=1e-6)
    # the oracle's own samples score far better than an untrained generator's
    own = oracle.nll(oracle.sample(500, generator=torch.Generator().manual_seed(0)))
    assert own < nll_oracle(generator, oracle, n=500, seed=0) - 1.0


def test_temperature_sweep_points():
    torch.manual_seed(3)
    oracle = Oracle.random(seed=1, vocab_size=30, dim=4, seq_len=6)
    generator = Generator(GeneratorConfig(vocab_size=30, embed_dim=4, hidden_dim=4, bos_id=0, eos_id=None))
    test = oracle.sample(40, generator=torch.Generator().manual_seed(1))
    seen = []
    points = temperature_sweep(
        generator, lambda s: {"nll_oracle": oracle.nll(s)}, max_len=6, temperatures=(0.5, 1.0), n=64,
        test_tokens=test, seed=4, on_point=seen.append,
    )
    assert [p["temperature"] for p in points] == [0.5, 1.0] and seen == points
    assert points[1]["nll_oracle"] == pytest.approx(nll_oracle(generator, oracle, n=64, seed=4), abs=1e-6)
    assert points[0]["nll_test"] == pytest.approx(hand_nll(generator, test, 0.5), abs=1e-5)
    assert points[1]["nll_test"] == pytest.approx(nll_test(generator, test), abs=1e-9)
    with pytest.raises(ValueError, match="positive"):
        temperature_sweep(generator, lambda s: {}, max_len=6, temperatures=(0.0,), n=4)


def test_untrained_generator_is_near_uniform():
    torch.manual_seed(4)
    generator = Generator(GeneratorConfig(vocab_size=50, bos_id=0, eos_id=None))
    tokens = torch.randint(0, 50, (20, 10))
    assert nll_test(generator, tokens) == pytest.approx(math.log(50), abs=0.1)
