"""RankGAN: the ranker's features, rank scores against a naive loop, row independence, the sets,
the ranker's training step, the GAN entry, and REINFORCE learning a target through the ranker."""

from __future__ import annotations

import copy
import doctest
import math

import numpy as np
import pytest
import torch
from gymnasium.vector import SyncVectorEnv
from torch.testing import assert_close

import textgan.rewards.rankgan
from textgan.agents import ReinforceAgent, ReinforceConfig
from runcore.checkpoint import load_modules, save_modules
from runcore.cli import field_docs
from textgan.env.seqgan_env import SeqGANEnv
from textgan.env.vector_env import INFO_KEYS, SeqGANVectorEnv
from textgan.gans.base import RewardContext, agent_settings
from textgan.gans.rankgan import RANKGAN, RankGANSettings
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from textgan.rewards.rankgan import RankGANReward, Ranker, discriminator_features
from textgan.rewards.training import fit_reward_model
from textgan.seqgan.config import SeqGANConfig

VOCAB, MAX_LEN, TARGET = 8, 4, (5, 3, 6, 4)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_discriminator(seed: int = 0, dropout: float = 0.25) -> Discriminator:
    torch.manual_seed(seed)
    config = DiscriminatorConfig(VOCAB, MAX_LEN, embed_dim=8, filter_sizes=(1, 2, 3), num_filters=(4, 6, 5), dropout=dropout)
    return Discriminator(config)


def random_tokens(seed: int, *shape: int) -> torch.Tensor:
    return torch.randint(VOCAB, (*shape, MAX_LEN), generator=torch.Generator().manual_seed(seed))


def small_reward(seed: int = 0, **kwargs) -> RankGANReward:
    options = dict(reference_size=5, comparison_size=7, gamma=3.0, seed=seed, learning_rate=1e-2)
    return RankGANReward(small_discriminator(seed), random_tokens(100 + seed, 40), **{**options, **kwargs})


def test_doctests():
    result = doctest.testmod(textgan.rewards.rankgan, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------------------------------------
# The ranker's features


def test_features_helper_is_the_discriminators_forward_before_its_output_layer():
    d = small_discriminator(seed=1).eval()
    tokens = random_tokens(0, 9)
    features = discriminator_features(d, tokens)
    assert features.shape == (9, 15) and bool((features >= 0).all())
    assert_close(d.output(features).squeeze(-1), d(tokens))
    ranker = Ranker(d)
    assert_close(ranker.features(tokens), features)
    # the ranker shares the trunk and has no output layer of its own
    assert ranker.embedding is d.embedding and not any(name.startswith("output") for name, _ in ranker.named_parameters())
    assert len(list(ranker.parameters())) == len(list(d.parameters())) - 2
    ranker.train()
    assert not torch.allclose(ranker(tokens), features)  # dropout in training mode only
    assert ranker.training  # features() restores the mode


# ---------------------------------------------------------------------------------------------
# Rank scores


def test_scores_have_the_shape_and_range_and_pad_short_sequences():
    reward = small_reward()
    low, high = reward.reward_range
    assert high == 0.0 and low == pytest.approx(-math.log1p(7 * math.exp(2 * 3.0)))
    for seed, groups, n in ((0, 1, 1), (1, 3, 5), (2, 2, 17)):
        scores = reward.score(random_tokens(seed, groups, n))
        assert scores.shape == (groups, n) and scores.dtype == torch.float32
        # the ranker's features are >= 0, so cosines are in [0, 1]: log R >= -log(1 + |C| e^gamma)
        assert bool((scores <= 0).all()) and bool((scores >= -math.log1p(7 * math.exp(3.0)) - 1e-5).all())
    short = random_tokens(3, 1, 4)[..., :2]
    assert_close(reward.score(short), reward.score(torch.nn.functional.pad(short, (0, 2))))
    probabilities = small_reward(log=False)
    assert probabilities.reward_range == pytest.approx((math.exp(low), 1.0))
    tokens = random_tokens(4, 2, 3)
    assert_close(probabilities.score(tokens), reward.score(tokens).exp())


def naive_log_rank(features, references, comparison, gamma: float) -> list[float]:
    """log R(s|U, C) by element-wise loops over s, u and C (C' = C + {s})."""

    def cos(a, b):
        dot = sum(x * y for x, y in zip(a, b))
        return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))

    out = []
    for s in features.tolist():
        total = 0.0
        for u in references.tolist():
            mine = math.exp(gamma * cos(s, u))
            total += mine / (mine + sum(math.exp(gamma * cos(c, u)) for c in comparison.tolist()))
        out.append(math.log(total / len(references)))
    return out


def test_scores_equal_a_naive_loop_over_s_u_and_c():
    reward = small_reward(seed=2, gamma=5.0)
    tokens = random_tokens(5, 2, 6)
    ranker = reward.ranker
    expected = naive_log_rank(
        ranker.features(tokens.view(-1, MAX_LEN)), ranker.features(reward.reference_tokens),
        ranker.features(reward.comparison_tokens), 5.0,
    )  # fmt: skip
    assert_close(reward.score(tokens), torch.tensor(expected).view(2, 6), rtol=1e-5, atol=1e-5)


def test_empty_comparison_gives_one_and_equal_features_give_one_over_c_plus_one():
    real = torch.tensor([TARGET]).repeat(12, 1)
    assert_close(small_reward(comparison_size=0).score(random_tokens(6, 1, 5)), torch.zeros(1, 5))
    assert small_reward(comparison_size=0).reward_range == (0.0, 0.0)
    reward = RankGANReward(small_discriminator(), real, reference_size=3, comparison_size=5, gamma=4.0)
    # every cosine is 1: each of the |C| + 1 sentences gets the same share
    assert_close(reward.score(real[:2].unsqueeze(0)), torch.full((1, 2), -math.log(6.0)))
    assert len(RankGANReward(small_discriminator(), real, comparison_size=50).comparison_tokens) == 12  # capped at N


def test_a_rows_score_does_not_depend_on_the_rest_of_its_batch():
    reward = small_reward(seed=3)
    tokens = random_tokens(7, 3, 4)
    scores = reward.score(tokens)
    for g in range(3):
        for i in range(4):
            assert_close(reward.score(tokens[g : g + 1, i : i + 1])[0, 0], scores[g, i])
    order = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    assert_close(reward.score(tokens.view(1, 12, MAX_LEN)[:, order]), scores.view(1, 12)[:, order])
    assert_close(reward.score(tokens.view(2, 6, MAX_LEN)), scores.view(2, 6))


def test_the_batched_env_matches_plain_envs_with_the_ranker():
    kwargs = dict(vocab_size=VOCAB, max_len=MAX_LEN, rollouts=3, eos_id=2, autoreset_mode="SameStep")
    reward = small_reward(seed=4)
    torch.manual_seed(1)
    policy = Generator(GeneratorConfig(vocab_size=VOCAB, embed_dim=8, hidden_dim=8))
    batched = SeqGANVectorEnv(3, **kwargs)
    plain = {k: v for k, v in kwargs.items() if k != "autoreset_mode"}
    reference = SyncVectorEnv([lambda: SeqGANEnv(**plain) for _ in range(3)], autoreset_mode="SameStep")
    for env in (batched, *reference.envs):
        env.set_reward_model(reward)
        env.sync_rollout_policy(policy, 0.0)
    batched.reset(seed=3)
    reference.reset(seed=3)
    rng, ended = np.random.default_rng(0), 0
    for _ in range(12):
        actions = rng.choice([2, 3, 4, 5, 6], size=3)
        _, reward_a, term_a, _, info_a = batched.step(actions)
        _, reward_b, term_b, _, info_b = reference.step(actions)
        assert_close(reward_a, reward_b, check_dtype=False)
        np.testing.assert_array_equal(term_a, term_b)
        for key in INFO_KEYS:
            assert_close(info_a[key], info_b[key], check_dtype=False)
        ended += int(term_a.sum())
    assert ended >= 3  # sequences ended (terminal scores) and others were valued by rollouts


# ---------------------------------------------------------------------------------------------
# The sets U and C+


def test_resample_changes_the_sets_and_the_same_seed_reproduces_them():
    a, b = small_reward(seed=0), small_reward(seed=0)
    tokens = random_tokens(8, 2, 5)
    assert torch.equal(a.reference_tokens, b.reference_tokens) and torch.equal(a.comparison_tokens, b.comparison_tokens)
    assert_close(a.score(tokens), b.score(tokens), rtol=0, atol=0)
    before = (a.reference_tokens.clone(), a.comparison_tokens.clone(), a.score(tokens))
    assert_close(a.score(tokens), before[2], rtol=0, atol=0)  # scoring draws nothing
    a.resample()
    assert not torch.equal(a.reference_tokens, before[0]) and not torch.equal(a.comparison_tokens, before[1])
    assert not torch.allclose(a.score(tokens), before[2])
    assert len(set(a.sets.comparison_index.tolist())) == 7  # C+ is drawn without replacement
    b.resample()
    assert_close(a.score(tokens), b.score(tokens), rtol=0, atol=0)
    other = RankGANReward(small_discriminator(0), random_tokens(100, 40), reference_size=5, comparison_size=7, seed=9)
    assert not torch.equal(other.sets.reference_index, small_reward(seed=0).sets.reference_index)


def test_checkpoint_items_restore_weights_sets_and_the_stream(tmp_path):
    a = small_reward(seed=0)
    a.train_step(random_tokens(9, 16), torch.arange(16) % 2 == 0)
    tokens = random_tokens(10, 1, 6)
    path = tmp_path / "ranker.safetensors"
    save_modules(path, a.checkpoint_items())
    b = RankGANReward(small_discriminator(5), a.real_tokens, reference_size=5, comparison_size=7, gamma=3.0, seed=5)
    assert not torch.equal(b.sets.reference_index, a.sets.reference_index)  # other weights, sets and stream
    b.score(tokens)  # fill its cache, which loading must drop
    load_modules(path, b.checkpoint_items())
    assert set(a.checkpoint_items()) == {"ranker", "ranker_optimizer", "ranker_sets"}
    assert_close(b.score(tokens), a.score(tokens), rtol=0, atol=0)
    a.resample()
    b.resample()
    assert torch.equal(a.sets.reference_index, b.sets.reference_index)


# ---------------------------------------------------------------------------------------------
# The ranker's training step


def test_the_training_step_separates_real_from_generated_rows():
    real = torch.tensor([[5, 3, 5, 3]]).repeat(64, 1)
    reward = RankGANReward(small_discriminator(1), real, reference_size=4, comparison_size=8, gamma=4.0, learning_rate=1e-2)
    fake = torch.tensor([[6, 4, 6, 4]]).repeat(64, 1)
    rng = torch.Generator().manual_seed(0)
    first = fit_reward_model(reward, real, fake, epochs=1, batch_size=16, rng=rng)
    last = fit_reward_model(reward, real, fake, epochs=10, batch_size=16, rng=rng)
    assert last["d_loss"] < first["d_loss"] - 1.0
    # the optimum: real rows at log(e^4 / (e^4 + |C-|)) ~ 0, generated at ~ -4 - log |C+|
    assert last["d_accuracy"] == 1.0 and last["d_real_score"] > last["d_fake_score"] + 3.0
    mixed = torch.cat([real[:3], fake[:3]]).unsqueeze(0)
    scores = reward.score(mixed)[0]
    assert float(scores[:3].min()) > float(scores[3:].max())


def test_the_training_step_is_the_papers_objective_and_draws_new_sets():
    reward = small_reward(seed=2)
    reward.ranker.dropout.p = 0.0  # a deterministic loss to recompute
    tokens, is_real = random_tokens(11, 10), torch.tensor([True, False] * 5)
    references = reward.reference_tokens.clone()
    ranker = copy.deepcopy(reward.ranker)
    sets_before = reward.sets.reference_index.clone()
    loss = reward.train_step(tokens, is_real)["d_loss"]
    # recompute with the weights before the step, element by element
    real_f, fake_f, ref_f = ranker.features(tokens[is_real]), ranker.features(tokens[~is_real]), ranker.features(references)
    expected = np.mean(naive_log_rank(fake_f, ref_f, real_f, 3.0)) - np.mean(naive_log_rank(real_f, ref_f, fake_f, 3.0))
    assert float(loss) == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert not torch.equal(reward.sets.reference_index, sets_before)
    # the scores use the new weights and sets (the cached features were dropped)
    probe = random_tokens(12, 1, 5)
    fresh = naive_log_rank(
        reward.ranker.features(probe[0]), reward.ranker.features(reward.reference_tokens),
        reward.ranker.features(reward.comparison_tokens), 3.0,
    )  # fmt: skip
    assert_close(reward.score(probe)[0], torch.tensor(fresh), rtol=1e-5, atol=1e-5)
    # one kind of row only: empty comparison sets, R = 1, loss 0, and no step
    weights = [p.clone() for p in reward.ranker.parameters()]
    assert float(reward.train_step(tokens, torch.ones(10, dtype=torch.bool))["d_loss"]) == 0.0
    assert all(torch.equal(p, w) for p, w in zip(reward.ranker.parameters(), weights))


# ---------------------------------------------------------------------------------------------
# The GAN entry


def test_the_gan_builds_the_ranker_at_the_runs_sizes_with_its_settings():
    config = SeqGANConfig(d_embed_dim=8, d_filter_sizes=(1, 2), d_num_filters=(3, 5), d_lr=3e-3, gan="rankgan", seed=4)
    settings = RankGANSettings(reference_size=6, comparison_size=9, gamma=2.5, seed_offset=1)
    context = RewardContext(
        config=config, settings=settings, vocab_size=VOCAB, max_len=MAX_LEN, real_tokens=random_tokens(1, 30),
        pad_id=0, eos_id=2, bos_id=1, device=torch.device("cpu"),
    )  # fmt: skip
    reward = RANKGAN.build_reward(context)
    assert isinstance(reward, RankGANReward) and reward.max_len == MAX_LEN and reward.vocab_size == VOCAB
    assert [conv.out_channels for conv in reward.ranker.convs] == [3, 5] and reward.ranker.embedding.embedding_dim == 8
    assert reward.optimizer.param_groups[0]["lr"] == 3e-3 and reward.gamma == 2.5 and reward.log
    assert len(reward.reference_tokens) == 6 and len(reward.comparison_tokens) == 9
    same_seed = RankGANReward(small_discriminator(), random_tokens(1, 30), reference_size=6, comparison_size=9, seed=5)
    assert torch.equal(reward.sets.reference_index, same_seed.sets.reference_index)
    assert agent_settings(config, RANKGAN).values == "mc"  # the paper's Monte Carlo values
    assert set(field_docs(RankGANSettings)) == {"reference_size", "comparison_size", "gamma", "log", "seed_offset"}
    for bad in (dict(gamma=0.0), dict(reference_size=0), dict(comparison_size=0)):
        with pytest.raises(ValueError):
            RankGANSettings(**bad)


# ---------------------------------------------------------------------------------------------
# Learning: REINFORCE with Monte Carlo values of log R writes the one real sentence


def position_token_discriminator() -> Discriminator:
    """A fixed CNN whose features are the one-hot (position, token) pairs of a sequence, so
    ``cos(y_s, y_target)`` is the share of positions where ``s`` holds the target's token."""
    d = Discriminator(
        DiscriminatorConfig(
            VOCAB, MAX_LEN, embed_dim=VOCAB, filter_sizes=(MAX_LEN,), num_filters=(MAX_LEN * VOCAB,), dropout=0.0
        )
    )
    with torch.no_grad():
        for parameter in d.parameters():
            parameter.zero_()
        d.embedding.weight.copy_(torch.eye(VOCAB))
        for position in range(MAX_LEN):
            for token in range(VOCAB):
                d.convs[0].weight[position * VOCAB + token, token, position] = 1.0
        d.highway_gate.bias.fill_(-30.0)  # gate ~ 0: the highway passes the pooled one-hots through
    return d


def target_share(policy: Generator) -> float:
    samples = policy.sample(256, MAX_LEN, generator=torch.Generator().manual_seed(123))
    return float((samples == torch.tensor(TARGET)).float().mean())


def test_the_fixed_ranker_scores_by_matching_positions():
    real = torch.tensor([TARGET]).repeat(16, 1)
    reward = RankGANReward(position_token_discriminator(), real, reference_size=4, comparison_size=8, gamma=16.0)
    tokens = torch.tensor([[[0, 0, 0, 0], [5, 0, 0, 0], [5, 3, 0, 0], [5, 3, 6, 0], list(TARGET)]])
    matches = torch.arange(5.0)
    logits = 16.0 * matches / 4
    assert_close(reward.score(tokens)[0], logits - torch.logaddexp(logits, torch.tensor(math.log(8.0) + 16.0)))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("comparison_size", [8, 0])
def test_reinforce_with_mc_values_learns_the_real_sentence(seed, comparison_size):
    real = torch.tensor([TARGET]).repeat(16, 1)
    reward = RankGANReward(
        position_token_discriminator(), real, reference_size=4, comparison_size=comparison_size, gamma=16.0, seed=seed
    )
    envs = SeqGANVectorEnv(
        32, vocab_size=VOCAB, max_len=MAX_LEN, rollouts=4, eos_id=None, tensors=True, autoreset_mode="SameStep"
    )
    envs.set_reward_model(reward)
    torch.manual_seed(seed)
    policy = Generator(GeneratorConfig(vocab_size=VOCAB, eos_id=None))
    # the mean baseline only lowers the variance (the paper has none); values are the MC mean of log R
    agent = ReinforceAgent(policy, ReinforceConfig(learning_rate=0.02, baseline="mean"), seed=seed)
    for _ in range(40):
        envs.sync_rollout_policy(policy, 0.0)
        agent.update(envs)
    if comparison_size:
        assert target_share(policy) > 0.9  # chance: 1/8
    else:  # no comparison set: R = 1 for every sentence, nothing to learn
        assert target_share(policy) < 0.3
