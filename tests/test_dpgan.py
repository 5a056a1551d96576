"""DPGAN: the LM reward against naive loops, causality, D's objective, the env's payments, learning."""

from __future__ import annotations

import doctest
import math
import random

import pytest
import torch
from torch.testing import assert_close

import textgan.gans
import textgan.gans.dpgan
import textgan.rewards.dpgan
from textgan.agents import ReinforceAgent, ReinforceConfig
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.gans.base import RewardContext, agent_settings
from textgan.gans.dpgan import DPGAN, DPGANSettings
from textgan.models import Generator, GeneratorConfig
from textgan.rewards.base import check_reward_model, checked_scores
from textgan.rewards.dpgan import DPGANReward
from textgan.rewards.training import fit_reward_model
from textgan.seqgan.config import SeqGANConfig, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import create_run

VOCAB, EOS = 9, 2

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def lm_reward(seed: int = 0, eos_id: int | None = EOS, vocab: int = VOCAB, scale: float = 5.0, **kwargs) -> DPGANReward:
    """A reward model whose LM has clearly non-uniform predictions (weights ``scale`` x the init)."""
    torch.manual_seed(seed)
    lm = Generator(GeneratorConfig(vocab_size=vocab, embed_dim=8, hidden_dim=8, eos_id=eos_id))
    with torch.no_grad():
        for parameter in lm.parameters():
            parameter.mul_(scale)
    return DPGANReward(lm, **kwargs)


def random_tokens(shape, seed: int, vocab: int = VOCAB) -> torch.Tensor:
    """Random ids that avoid BOS and PAD; EOS (2) appears, so many rows end early."""
    return torch.randint(2, vocab, shape, generator=torch.Generator().manual_seed(seed))


def naive_token_nll(lm: Generator, row: torch.Tensor) -> torch.Tensor:
    """-log p(y_t | y_<t) of one row, one LSTM step at a time from BOS; 0 after the first EOS."""
    out = torch.zeros(len(row))
    state = lm.initial_state(1)
    previous = torch.tensor([lm.config.bos_id])
    for t, token in enumerate(row.tolist()):
        logits, state = lm.step(previous, state)
        out[t] = -torch.log_softmax(logits[0], dim=-1)[token]
        if token == lm.config.eos_id:
            break
        previous = torch.tensor([token])
    return out


def test_doctests():
    for module in (textgan.rewards.dpgan, textgan.gans.dpgan):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# ---------------------------------------------------------------------------------------------
# The reward: shape, range, exact values, causality


@pytest.mark.parametrize("reward_clip", [None, 2.0])
def test_scores_have_the_token_shape_and_declared_range(reward_clip):
    model = lm_reward(reward_clip=reward_clip)
    check_reward_model(model, VOCAB, 7)
    tokens = random_tokens((3, 5, 7), seed=1)
    rewards = checked_scores(model, tokens, model.score(tokens), values=True)  # the env's own check
    assert rewards.shape == (3, 5, 7) and model.dense
    low, high = model.reward_range
    assert bool((rewards >= low).all()) and bool((rewards <= high).all())
    ends = (tokens == EOS).cumsum(dim=2) - (tokens == EOS).long() > 0  # strictly after the first EOS
    assert bool(ends.any()) and bool((rewards[ends] == 0).all())
    assert bool((rewards[~ends] > 0).all())
    if reward_clip is not None:
        assert high == reward_clip and bool((rewards == reward_clip).any())  # the clip binds somewhere
    else:
        assert high == math.inf and float(rewards.max()) > 2.0


def test_token_rewards_equal_the_lms_nll_from_a_naive_loop():
    model = lm_reward()
    tokens = random_tokens((2, 6, 8), seed=2)
    rewards = model.score(tokens)
    expected = torch.stack([torch.stack([naive_token_nll(model.lm, row) for row in group]) for group in tokens])
    assert_close(rewards, expected)
    # the sentence reward is the mean over each sequence's tokens, EOS included
    lengths = (expected > 0).sum(dim=2)
    assert_close(model.sentence_nll(tokens[0]), expected[0].sum(1) / lengths[0])
    # groups are scored independently of each other (and of how rows are chunked)
    assert_close(model.score(tokens[1:]), rewards[1:])
    assert_close(model.score(tokens, chunk_rows=5), rewards)


def test_rewards_are_causal():
    model = lm_reward(eos_id=None)
    tokens = random_tokens((1, 16, 6), seed=3)
    rewards = model.score(tokens)
    for t in range(6):
        changed = tokens.clone()
        changed[..., t + 1 :] = random_tokens(changed[..., t + 1 :].shape, seed=10 + t)
        changed_rewards = model.score(changed)
        assert_close(changed_rewards[..., : t + 1], rewards[..., : t + 1])
        if t < 5:  # the later rewards do change: the test could fail
            assert not torch.allclose(changed_rewards[..., t + 1 :], rewards[..., t + 1 :])


# ---------------------------------------------------------------------------------------------
# D's objective: low NLL on generated text, high (capped) NLL on real text


def two_patterns(n: int = 64, width: int = 6):
    """Real rows use tokens 4-6, generated rows tokens 7-8 (no EOS)."""
    gen = torch.Generator().manual_seed(0)
    real = torch.randint(4, 7, (n, width), generator=gen)
    fake = torch.randint(7, 9, (n, width), generator=gen)
    return real, fake


def test_training_lowers_the_loss_and_gives_generated_text_the_lower_nll():
    model = lm_reward(scale=1.0)
    real, fake = two_patterns()
    tokens, is_real = torch.cat([real, fake]), torch.arange(128) < 64
    with torch.no_grad():
        before = model.loss(tokens, is_real)
    metrics = fit_reward_model(model, real, fake, epochs=8, batch_size=32, rng=torch.Generator().manual_seed(0))
    with torch.no_grad():
        after = model.loss(tokens, is_real)
    assert float(after["d_loss"]) < float(before["d_loss"]) - 1.0
    assert float(after["d_fake_nll"]) < float(before["d_fake_nll"]) - 0.5  # generated text got likelier
    assert float(after["d_real_nll"]) > float(before["d_real_nll"]) + 0.5  # real text got less likely
    assert metrics["d_fake_nll"] < metrics["d_real_nll"] - 1.0
    assert metrics["d_accuracy"] == 1.0
    assert set(metrics) == {"d_loss", "d_real_nll", "d_fake_nll", "d_accuracy"}


def test_the_real_term_stops_at_its_cap_and_real_weight_zero_ignores_real_rows():
    real, _ = two_patterns(16)
    is_real = torch.ones(16, dtype=torch.bool)
    for kwargs, moves in (({}, True), ({"real_cap": 1e-3}, False), ({"real_weight": 0.0}, False)):
        model = lm_reward(scale=1.0, **kwargs)
        start = [p.detach().clone() for p in model.lm.parameters()]
        nll_before = float(model.sentence_nll(real).mean())
        model.train_step(real, is_real)
        changed = any(not torch.equal(p, q) for p, q in zip(model.lm.parameters(), start))
        assert changed == moves, kwargs
        if moves:
            assert float(model.sentence_nll(real).mean()) > nll_before  # pushed away from real text


def test_evaluate_counts_correctly_ranked_pairs():
    model = lm_reward()
    real, fake = random_tokens((5, 4), seed=4), random_tokens((7, 4), seed=5)
    metrics = model.evaluate(real, fake)
    real_nll, fake_nll = model.sentence_nll(real), model.sentence_nll(fake)
    pairs = [(r > f) + 0.5 * (r == f) for r in real_nll.tolist() for f in fake_nll.tolist()]
    assert metrics["d_accuracy"] == pytest.approx(sum(pairs) / len(pairs))
    assert 0 < metrics["d_accuracy"] < 1
    assert metrics["d_real_nll"] == pytest.approx(float(real_nll.mean()))
    assert model.evaluate(real, real)["d_accuracy"] == pytest.approx(0.5)  # ties count half


# ---------------------------------------------------------------------------------------------
# The GAN entry: settings and build


def test_gan_builds_the_lm_at_the_run_sizes_and_settings():
    config = SeqGANConfig(g_embed_dim=6, g_hidden_dim=10)
    context = RewardContext(
        config=config, settings=DPGANSettings(hidden_dim=12, real_cap=3.0), vocab_size=VOCAB, max_len=5,
        real_tokens=torch.zeros(2, 5, dtype=torch.long), pad_id=0, eos_id=EOS, bos_id=1, device=torch.device("cpu"),
    )  # fmt: skip
    model = DPGAN.build_reward(context)
    assert (model.lm.config.embed_dim, model.lm.config.hidden_dim) == (6, 12)
    assert (model.lm.config.bos_id, model.lm.config.eos_id, model.lm.config.pad_id) == (1, EOS, 0)
    assert model.real_cap == 3.0 and model.max_len == 5 and model.optimizer.param_groups[0]["lr"] == 0.01
    assert set(model.checkpoint_items()) == {"dpgan_lm", "dpgan_lm_optimizer"}
    assert agent_settings(SeqGANConfig(gan="dpgan"), DPGAN).values == "return"
    assert DPGANReward(model.lm).real_cap == 12.0
    with pytest.raises(ValueError, match="real_cap"):
        DPGANSettings(real_cap=0.0)


def make_trainer(tmp_path, name, **overrides):
    """The tiny preset on a small grammar corpus, with --gan dpgan."""
    rng = random.Random(0)
    lines = [f"{rng.choice(['ab', 'cd', 'ef'])}{rng.choice('xy')}{rng.choice(['gh', 'ij', 'kl'])}." for _ in range(160)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(corpus), "gan": "dpgan", **overrides})
    config.validate()
    data = prepare_data(config)
    config.max_len = data.max_len
    run = create_run(tmp_path / name, config, data)
    device = torch.device("cpu")
    return textgan.gans.build_trainer(config, run, data.tokenizer, data.train, data.test, device, quiet=True)


def test_the_trainer_runs_dpgan_without_rollouts_and_resumes_exactly(tmp_path):
    straight = make_trainer(tmp_path, "a", rounds=2)
    assert straight.envs.config.rollouts == 0  # the agent sums token rewards: no Monte Carlo search
    straight.train()
    adversarial = [r for r in straight.run.read_log() if r["phase"] == "adversarial"]
    assert len(adversarial) == 2
    assert all({"d_loss", "d_real_nll", "d_fake_nll", "d_accuracy", "mean_reward"} <= set(r) for r in adversarial)
    assert all(r["mean_reward"] > 0 for r in adversarial)  # token NLLs
    first = make_trainer(tmp_path, "b", rounds=1)
    first.train()
    config = first.config
    config.rounds = 2
    resumed = textgan.gans.build_trainer(
        config, first.run, first.tokenizer, first.train_tokens, first.test_tokens, torch.device("cpu"), quiet=True
    )
    resumed.load()
    resumed.train()
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(straight.reward_model.lm.state_dict().values(), resumed.reward_model.lm.state_dict().values()):
        assert_close(a, b, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# In the env: each step pays the LM's NLL of the token just written


def test_env_pays_each_tokens_nll_and_the_sum_when_a_sequence_ends():
    model = lm_reward()
    width = 5
    envs = SeqGANVectorEnv(4, vocab_size=VOCAB, max_len=width, rollouts=0, reward_model=model, eos_id=EOS, tensors=True)
    actions = torch.tensor([[5, 6, 7, 8, 4], [3, 4, EOS, 6, 6], [EOS, 5, 5, 5, 5], [8, 8, 3, 4, 5]])
    ends = [width - 1, 2, 0, width - 1]  # the step each row's episode ends
    written = torch.zeros_like(actions)
    for row, end in enumerate(ends):
        written[row, : end + 1] = actions[row, : end + 1]
    expected = torch.stack([naive_token_nll(model.lm, row) for row in written])
    envs.reset(seed=0)
    for t in range(width):
        _, rewards, terminated, _, info = envs.step(actions[:, t])
        for row, end in enumerate(ends):
            if t <= end:
                assert_close(rewards[row], expected[row, t])
                assert bool(terminated[row]) == (t == end)
                if t == end:  # the episode's score is its return: the sum of its token rewards
                    assert_close(info["d_score"][row], expected[row].sum())


# ---------------------------------------------------------------------------------------------
# Learning: REINFORCE over the returns of a fixed LM's NLL


NOVEL = (5, 6)
"""the tokens a fixed LM finds improbable (NLL about 4 nats above the others'): the high reward"""


def fixed_novelty_lm() -> DPGANReward:
    lm = Generator(GeneratorConfig(vocab_size=8, eos_id=None))
    with torch.no_grad():  # next-token logits = the output bias alone: a fixed unigram LM
        lm.output.weight.zero_()
        lm.output.bias.zero_()
        lm.output.bias[list(NOVEL)] = -4.0
    return DPGANReward(lm)


def novel_share(policy: Generator) -> float:
    samples = policy.sample(256, 4, generator=torch.Generator().manual_seed(123))
    return float(torch.isin(samples, torch.tensor(NOVEL)).float().mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reinforce_on_returns_learns_to_write_what_the_lm_finds_novel(seed):
    envs = SeqGANVectorEnv(
        32, vocab_size=8, max_len=4, rollouts=0, eos_id=None, autoreset_mode="SameStep", tensors=True
    )
    envs.set_reward_model(fixed_novelty_lm())
    torch.manual_seed(seed)
    policy = Generator(GeneratorConfig(vocab_size=8, eos_id=None))
    start = novel_share(policy)
    agent = ReinforceAgent(policy, agent_settings(SeqGANConfig(gan="dpgan"), DPGAN), seed=seed)  # DPGAN's defaults
    for _ in range(40):
        agent.update(envs)
    assert start < 0.4  # about 2/8 at the start
    assert novel_share(policy) > 0.9
