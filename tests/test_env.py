"""The SeqGAN environment: checkers, batched vs plain, Monte Carlo rewards, bad input, registration."""

from __future__ import annotations

import doctest
import itertools
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from torch.testing import assert_close

import textgan.env.copy_task
import textgan.env.registration
import textgan.env.seqgan_env
import textgan.env.vector_env
from textgan.env.copy_task import TargetDiscriminator
from textgan.env.registration import ENV_ID, register_envs
from textgan.env.seqgan_env import SeqGANEnv
from textgan.env.vector_env import INFO_KEYS, SeqGANVectorEnv
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, sample_from_logits
from textgan.rewards import CallableReward, ConstantReward, ProbRealReward

REWARD_MODES = ("direct", "shaped")
OBSERVATIONS = ("dict", "tokens")
SMALL = dict(vocab_size=6, max_len=4, rollouts=3)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_policy(vocab_size: int, seed: int, scale: float = 1.0, eos_id: int | None = 2) -> Generator:
    """A rollout policy with clearly non-uniform next-token probabilities."""
    torch.manual_seed(seed)
    policy = Generator(GeneratorConfig(vocab_size=vocab_size, embed_dim=8, hidden_dim=8, eos_id=eos_id))
    with torch.no_grad():
        for parameter in policy.parameters():
            parameter.mul_(scale / 0.1)
    return policy


def small_discriminator(vocab_size: int, max_len: int) -> Discriminator:
    torch.manual_seed(3)
    return Discriminator(
        DiscriminatorConfig(vocab_size, max_len, embed_dim=8, filter_sizes=(1, 2), num_filters=(4, 4), dropout=0.0)
    )


def test_doctests_of_env_modules():
    for module in (textgan.env.seqgan_env, textgan.env.vector_env, textgan.env.registration, textgan.env.copy_task):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# ---------------------------------------------------------------------------------------------
# The libraries' checkers


@pytest.mark.parametrize("checker", ["gymnasium", "stable_baselines3"])
@pytest.mark.parametrize("reward_mode,observation", itertools.product(REWARD_MODES, OBSERVATIONS))
def test_env_checkers_pass_without_warnings(checker, reward_mode, observation):
    if checker == "gymnasium":
        check_env = gym_check_env
    else:
        check_env = pytest.importorskip("stable_baselines3.common.env_checker").check_env
    env = gym.make(ENV_ID, reward_mode=reward_mode, observation=observation, render_mode="ansi", **SMALL).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker's warning is a failure here
        check_env(env)
    _, info = env.reset(seed=0)
    _, _, _, _, step_info = env.step(5)
    assert set(info) == set(step_info) == set(INFO_KEYS)  # the same keys at every step


# ---------------------------------------------------------------------------------------------
# Batched vs plain: SeqGANVectorEnv against Gymnasium's own SyncVectorEnv over plain envs


@pytest.mark.parametrize("autoreset_mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("reward_mode", ["direct", "shaped"])
def test_batched_env_matches_sync_vector_env_of_plain_envs(autoreset_mode, reward_mode):
    num_envs, kwargs = 3, dict(SMALL, reward_mode=reward_mode, rollouts=4)
    policy, discriminator = random_policy(6, seed=1), small_discriminator(6, 4)
    batched = SeqGANVectorEnv(num_envs, autoreset_mode=autoreset_mode, **kwargs)
    reference = SyncVectorEnv([lambda: SeqGANEnv(**kwargs) for _ in range(num_envs)], autoreset_mode=autoreset_mode)
    for env in (batched, *reference.envs):
        env.set_discriminator(discriminator)
        env.sync_rollout_policy(policy, 0.0)

    obs_a, _ = batched.reset(seed=7)
    obs_b, _ = reference.reset(seed=7)
    assert_close(obs_a, obs_b)
    rng = np.random.default_rng(0)
    episodes_ended = 0
    for _ in range(25):
        actions = rng.choice([0, 2, 3, 4, 5], size=num_envs, p=[0.2, 0.2, 0.2, 0.2, 0.2])  # EOS (2) is common
        obs_a, reward_a, term_a, trunc_a, info_a = batched.step(actions)
        obs_b, reward_b, term_b, trunc_b, info_b = reference.step(actions)
        assert_close(obs_a, obs_b)
        assert_close(reward_a, reward_b, check_dtype=False)
        np.testing.assert_array_equal(term_a, term_b)
        np.testing.assert_array_equal(trunc_a, trunc_b)
        for key in INFO_KEYS:
            assert_close(info_a[key], info_b[key], check_dtype=False)
        assert ("final_obs" in info_a) == ("final_obs" in info_b)
        if "final_obs" in info_a:  # SAME_STEP and an episode ended
            np.testing.assert_array_equal(info_a["_final_obs"], info_b["_final_obs"])
            for row in np.flatnonzero(term_a):
                assert_close({k: v[row] for k, v in info_a["final_obs"].items()}, info_b["final_obs"][row])
            for key in INFO_KEYS:
                ended = info_b["final_info"][f"_{key}"]
                np.testing.assert_array_equal(info_a["final_info"][f"_{key}"], ended)
                assert_close(info_a["final_info"][key][ended], info_b["final_info"][key][ended], check_dtype=False)
        episodes_ended += int(term_a.sum())
    assert episodes_ended >= 5  # the autoreset paths were exercised


def test_tensor_mode_returns_the_same_numbers_as_numpy_mode():
    kwargs = dict(SMALL, reward_mode="direct", autoreset_mode="SameStep")
    arrays, tensors = SeqGANVectorEnv(2, **kwargs), SeqGANVectorEnv(2, tensors=True, **kwargs)
    arrays.reset(seed=3)
    tensors.reset(seed=3)
    for actions in ([4, 5], [2, 3], [5, 5]):
        a = arrays.step(np.array(actions))
        b = tensors.step(torch.tensor(actions))
        assert torch.is_tensor(b[1]) and torch.is_tensor(b[0]["tokens"])
        assert_close(torch.as_tensor(a[0]["tokens"]), b[0]["tokens"])
        assert_close(torch.as_tensor(a[1]), b[1])
        assert_close(torch.as_tensor(a[4]["q_value"]), b[4]["q_value"])


# ---------------------------------------------------------------------------------------------
# Monte Carlo rewards against exact expectations computed by a naive loop


@torch.no_grad()
def exact_q(policy: Generator, discriminator, prefix: list[int], max_len: int) -> float:
    """E[D(Y)] over every completion of ``prefix`` under ``policy``: a naive enumeration."""
    cfg = policy.config

    def expand(tokens: list[int], state, probability: float) -> float:
        # `state` has read BOS and tokens[:-1]; the next input is the last token (BOS if none)
        if len(tokens) == max_len or (tokens and tokens[-1] == cfg.eos_id):
            padded = tokens + [cfg.pad_id] * (max_len - len(tokens))
            return probability * float(discriminator.prob_real(torch.tensor([padded]))[0])
        previous = tokens[-1] if tokens else cfg.bos_id
        logits, next_state = policy.step(torch.tensor([previous]), state)
        probs = torch.softmax(logits[0], dim=-1).tolist()
        return sum(expand(tokens + [v], next_state, probability * probs[v]) for v in range(cfg.vocab_size))

    state = policy.initial_state(1)
    for token in [cfg.bos_id, *prefix[:-1]] if prefix else []:
        state = policy.cell(torch.tensor([token]), state)
    return expand(list(prefix), state, 1.0)


@torch.no_grad()
def test_mc_rewards_match_exact_action_values_row_by_row():
    vocab_size, max_len, k = 5, 4, 4000
    policy = random_policy(vocab_size, seed=4, scale=0.8)
    discriminator = TargetDiscriminator([3, 4, 0, 3], vocab_size, weights=[4, 3, 2, 1])
    envs = SeqGANVectorEnv(3, vocab_size=vocab_size, max_len=max_len, rollouts=k, tensors=True)
    envs.set_discriminator(discriminator)
    envs.sync_rollout_policy(policy, 0.0)
    envs.reset(seed=0)
    tolerance = 4 * 0.5 / k**0.5  # four standard deviations of a mean of K scores in [0, 1]
    prefixes = [[], [], []]
    for actions in ([3, 0, 4], [4, 4, 0], [0, 3, 2]):  # row 2 ends with EOS at the last step
        _, _, terminated, _, info = envs.step(torch.tensor(actions))
        rewards = info["q_value"]
        expected = []
        for row, action in enumerate(actions):
            prefixes[row].append(action)
            expected.append(exact_q(policy, discriminator, prefixes[row], max_len))
        assert_close(rewards, torch.tensor(expected), atol=tolerance, rtol=0)
        # the rows' values differ by more than the tolerance: a reward given to the wrong row fails
        assert max(expected) - min(expected) > 3 * tolerance
    assert terminated.tolist() == [False, False, True]
    assert_close(info["d_score"][2], discriminator.prob_real(torch.tensor([[0, 0, 2, 0]]))[0])


@torch.no_grad()
def naive_mc_value(policy: Generator, discriminator, prefix: list[int], max_len: int, uniforms: torch.Tensor) -> float:
    """Finish ``prefix`` once per row of ``uniforms`` ``(K, max_len - len(prefix))``, one token at a time."""
    cfg, scores = policy.config, []
    for row_uniforms in uniforms:
        tokens, state = [], policy.initial_state(1)
        for token in [cfg.bos_id, *prefix]:
            logits, state = policy.step(torch.tensor([token]), state)
        tokens = list(prefix)
        for u in row_uniforms:
            token = int(sample_from_logits(logits, u.view(1))[0])
            tokens.append(token)
            if token == cfg.eos_id or len(tokens) == max_len:
                break
            logits, state = policy.step(torch.tensor([token]), state)
        scores.append(float(discriminator.prob_real(torch.tensor([tokens + [cfg.pad_id] * (max_len - len(tokens))]))[0]))
    return sum(scores) / len(scores)


@torch.no_grad()
def test_mc_rewards_equal_a_naive_loop_with_the_same_random_numbers():
    vocab_size, max_len, k, seed = 5, 4, 6, 10
    policy = random_policy(vocab_size, seed=4, scale=0.8)
    discriminator = TargetDiscriminator([3, 4, 0, 3], vocab_size, weights=[4, 3, 2, 1])
    envs = SeqGANVectorEnv(3, vocab_size=vocab_size, max_len=max_len, rollouts=k, tensors=True)
    envs.set_discriminator(discriminator)
    envs.sync_rollout_policy(policy, 0.0)
    envs.reset(seed=seed)
    streams = [torch.Generator().manual_seed(seed + row) for row in range(3)]  # sub-env i is seeded seed + i
    prefixes = [[], [], []]
    for actions in ([3, 0, 4], [4, 2, 0], [0, 0, 3]):  # row 1 ends with EOS at the second step
        _, _, terminated, _, info = envs.step(torch.tensor(actions))
        rewards = info["q_value"]
        for row, action in enumerate(actions):
            if prefixes[row] and prefixes[row][-1] == 2:
                continue  # in the NEXT_STEP mode this step only reset the row
            prefixes[row].append(action)
            if terminated[row]:
                padded = prefixes[row] + [0] * (max_len - len(prefixes[row]))
                expected = float(discriminator.prob_real(torch.tensor([padded]))[0])
            else:
                uniforms = torch.rand((k, max_len - len(prefixes[row])), generator=streams[row])
                expected = naive_mc_value(policy, discriminator, prefixes[row], max_len, uniforms)
            assert_close(float(rewards[row]), expected, msg=f"row {row}, prefix {prefixes[row]}")


@torch.no_grad()
def test_shaped_rewards_sum_to_final_score_minus_exact_q0():
    vocab_size, max_len, k = 5, 3, 4000
    policy = random_policy(vocab_size, seed=5, scale=0.8, eos_id=None)
    discriminator = TargetDiscriminator([3, 4, 1], vocab_size, weights=[3, 2, 1])
    env = SeqGANEnv(vocab_size=vocab_size, max_len=max_len, rollouts=k, reward_mode="shaped", eos_id=None)
    env.set_discriminator(discriminator)
    env.sync_rollout_policy(policy, 0.0)
    env.reset(seed=1)
    total, prefix = 0.0, []
    for action in (3, 1, 1):
        _, reward, terminated, _, info = env.step(action)
        prefix.append(action)
        total += reward
    assert terminated
    q0 = exact_q(policy, discriminator, [], max_len)
    assert_close(total, info["d_score"] - q0, atol=4 * 0.5 / k**0.5, rtol=0)


def test_direct_log_d_and_constant_rewards():
    d = TargetDiscriminator([1, 2, 3], 6)
    for model, expected_last in ((d, 2 / 3), (ProbRealReward(d, log=True), np.log(2 / 3)), (ConstantReward(0.5), 0.5)):
        env = SeqGANEnv(vocab_size=6, max_len=3, reward_mode="direct", eos_id=None, rollouts=2, reward_model=model)
        env.reset(seed=0)
        steps = [env.step(a) for a in (1, 2, 5)]
        assert [s[1] for s in steps[:2]] == [0.0, 0.0]  # a sequence-level reward is paid at the end
        assert steps[2][1] == pytest.approx(expected_last, abs=1e-6)
        assert steps[2][4]["q_value"] == pytest.approx(expected_last, abs=1e-6)  # Q_T is the last reward
    env = SeqGANEnv(vocab_size=6, max_len=3, eos_id=None, rollouts=3, reward_model=ConstantReward(0.5))
    env.reset(seed=0)
    # SeqGAN's estimator with a constant reward: every action value is that constant
    assert [env.step(a)[4]["q_value"] for a in (1, 2, 3)] == [0.5, 0.5, 0.5]


def test_reset_with_the_same_seed_repeats_mc_rewards():
    env = SeqGANEnv(**SMALL)
    env.sync_rollout_policy(random_policy(6, seed=2), 0.0)
    runs = []
    for _ in range(2):
        env.reset(seed=11)
        runs.append([env.step(a)[1] for a in (4, 5, 3)])
    assert runs[0] == runs[1]


# ---------------------------------------------------------------------------------------------
# Bad input: a clear exception naming the problem


def test_out_of_range_and_non_integer_actions_are_rejected():
    env = SeqGANEnv(**SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 6 is outside Discrete\(6\)"):
        env.step(6)
    with pytest.raises(ValueError, match=r"action -1 is outside"):
        env.step(-1)
    with pytest.raises(ValueError, match="integer token id"):
        env.step(1.5)
    envs = SeqGANVectorEnv(2, **SMALL)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 9 is outside Discrete\(6\)"):
        envs.step(np.array([1, 9]))
    with pytest.raises(ValueError, match="expected 2 actions"):
        envs.step(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="integer token ids"):
        envs.step(np.array([1.0, 2.0]))


def test_stepping_a_finished_episode_or_before_reset_raises():
    env = SeqGANEnv(vocab_size=6, max_len=2, reward_mode="direct")
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(4)
    env.reset(seed=0)
    env.step(4)
    assert env.step(4)[2]  # terminated at max_len
    with pytest.raises(RuntimeError, match=r"finished episode; call reset\(\) first"):
        env.step(4)
    envs = SeqGANVectorEnv(2, vocab_size=6, max_len=2)
    with pytest.raises(RuntimeError, match="call reset"):
        envs.step(np.array([4, 4]))


def test_unknown_modes_are_rejected():
    with pytest.raises(ValueError, match="unknown reward_mode 'ppo'; choose one of direct, shaped"):
        SeqGANEnv(reward_mode="ppo", **{k: v for k, v in SMALL.items()})
    with pytest.raises(ValueError, match="unknown reward_mode"):
        gym.make(ENV_ID, reward_mode="bogus")
    with pytest.raises(ValueError, match="unknown observation mode 'image'"):
        SeqGANVectorEnv(2, observation="image", **SMALL)
    with pytest.raises(ValueError, match="autoreset_mode must be NEXT_STEP or SAME_STEP"):
        SeqGANVectorEnv(2, autoreset_mode="Disabled", **SMALL)
    with pytest.raises(ValueError, match="eos_id=9 is outside the vocabulary"):
        SeqGANEnv(eos_id=9, **SMALL)


def test_vocabulary_mismatch_of_discriminator_or_policy_is_rejected():
    envs = SeqGANVectorEnv(2, **SMALL)
    with pytest.raises(ValueError, match="reward model's vocabulary has 7 tokens but the env's has 6"):
        envs.set_discriminator(small_discriminator(7, 4))
    with pytest.raises(ValueError, match="policy's vocabulary has 9 tokens but the env's has 6"):
        envs.sync_rollout_policy(Generator(GeneratorConfig(vocab_size=9)), 0.8)
    with pytest.raises(ValueError, match="scores sequences of at most 3 tokens but the env's are 4 long"):
        envs.set_discriminator(small_discriminator(6, 3))


def test_bad_token_data_is_rejected():
    with pytest.raises(ValueError, match="either corpus or real_tokens"):
        SeqGANEnv(corpus="poems", real_tokens=[[4, 5]])
    with pytest.raises(ValueError, match=r"ids in \[0, 7\], outside the vocabulary \[0, 6\)"):
        SeqGANEnv(real_tokens=[[4, 7, 0]], vocab_size=6)
    with pytest.raises(ValueError, match="3 tokens wide but max_len=5"):
        SeqGANEnv(real_tokens=[[4, 5, 0]], max_len=5)
    with pytest.raises(ValueError, match="2-D array of integer token ids"):
        SeqGANEnv(real_tokens=[0.5, 1.0])


# ---------------------------------------------------------------------------------------------
# Data sources and registration


def test_real_tokens_set_the_sizes():
    data = torch.tensor([[4, 5, 2, 0], [6, 7, 8, 2]])
    env = SeqGANEnv(real_tokens=data, rollouts=2)
    assert env.action_space.n == 9 and env.observation_space["tokens"].shape == (4,)
    assert torch.equal(env.real_tokens, data)


def test_corpus_builds_a_char_tokenizer_and_sets_the_sizes(tmp_path):
    corpus = tmp_path / "lines.txt"
    corpus.write_text("abc\nabcd\nbca\nab\n" * 5, encoding="utf-8")
    envs = gym.make_vec(
        ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", corpus=str(corpus), rollouts=2, render_mode=None
    )
    assert envs.tokenizer.kind == "char"
    assert envs.single_action_space.n == 4 + 4  # specials + a, b, c, d
    assert envs.real_tokens.shape[1] == 4  # the longest line
    env = SeqGANEnv(real_tokens=envs.real_tokens, tokenizer=envs.tokenizer, render_mode="ansi", reward_mode="direct")
    env.reset(seed=0)
    for text in "cab":
        env.step(envs.tokenizer.encode(text)[0])
    assert env.render() == "cab"


def test_make_and_make_vec_through_the_registry():
    env = gym.make(ENV_ID, reward_mode="direct", **SMALL)
    assert isinstance(env.unwrapped, SeqGANEnv) and env.unwrapped.config.rollouts == 3
    envs = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", autoreset_mode="SameStep", **SMALL)
    assert isinstance(envs, SeqGANVectorEnv) and envs.num_envs == 4
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=0)
    assert obs["tokens"].shape == (4, 4) and obs["tokens"].dtype == np.int64
    default = gym.make(ENV_ID, rollouts=2)  # `make` alone gives a working env: untrained D, uniform policy
    default.reset(seed=0)
    assert 0.0 < default.step(7)[4]["q_value"] < 1.0
    register_envs()  # a second registration changes nothing
    assert gym.spec(ENV_ID).vector_entry_point == "textgan.env.vector_env:SeqGANVectorEnv"


def test_module_prefix_make_works_without_a_prior_import():
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'textgan' not in sys.modules\n"
        "env = gym.make('textgan:SeqGAN-v0', vocab_size=8, max_len=3, reward_mode='direct')\n"
        "env.reset(seed=0)\n"
        "print(type(env.unwrapped).__name__, env.step(4)[2])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SeqGANEnv False"


# ---------------------------------------------------------------------------------------------
# Defects found by a new user (issue 12): each test failed before its fix


@torch.no_grad()
def test_a_replaced_rollout_policy_ends_rollouts_at_the_envs_eos_not_its_own():
    # the env has no EOS; the policy's config says token 2 is EOS. Rollouts must not stop at 2.
    vocab_size, max_len, k = 6, 3, 4000
    envs = SeqGANVectorEnv(1, vocab_size=vocab_size, max_len=max_len, rollouts=k, eos_id=None, tensors=True)
    policy = Generator(GeneratorConfig(vocab_size, hidden_dim=64))  # another size: it replaces the rollout policy
    with torch.no_grad():  # P(token 2) = 0.9 at every step, the other five share 0.1
        policy.output.weight.zero_()
        policy.output.bias.zero_()
        policy.output.bias[2] = float(np.log(45.0))
    envs.sync_rollout_policy(policy, 0.0)
    envs.set_reward_model(TargetDiscriminator([3, 2, 2], vocab_size))
    envs.reset(seed=0)
    q = float(envs.step(torch.tensor([3]))[4]["q_value"][0])
    exact = 1 / 3 + 1 / 3 * 0.9 + 1 / 3 * 0.9  # stopping at "EOS" 2 would give 0.663
    assert q == pytest.approx(exact, abs=4 * 0.5 / k**0.5)
    assert envs.episodes.rollout_policy.config.hidden_dim == 64


def test_reset_mask_resets_only_the_masked_rows_as_sync_vector_env_does():
    batched = SeqGANVectorEnv(3, rollouts=0, vocab_size=6, max_len=4)
    reference = SyncVectorEnv([lambda: SeqGANEnv(vocab_size=6, max_len=4, rollouts=0) for _ in range(3)])
    for envs in (batched, reference):
        envs.reset(seed=0)
        envs.step(np.array([4, 5, 3]))
    mask = np.array([True, False, True])
    obs_a, _ = batched.reset(options={"reset_mask": mask})
    obs_b, _ = reference.reset(options={"reset_mask": mask})
    assert_close(obs_a, obs_b)
    assert obs_a["length"][:, 0].tolist() == [0, 1, 0] and obs_a["tokens"][1, 0] == 5
    assert batched.step(np.array([4, 4, 4]))[0]["length"][:, 0].tolist() == [1, 2, 1]
    with pytest.raises(ValueError, match="reset_mask must be a bool array of shape"):
        batched.reset(options={"reset_mask": np.array([1, 0, 1])})


@pytest.mark.parametrize("sizes", [dict(max_len=0), dict(vocab_size=0), dict(vocab_size=1), dict(max_len=-3)])
def test_zero_or_negative_sizes_are_rejected_not_replaced_by_defaults(sizes):
    with pytest.raises(ValueError, match="must be an integer >="):
        SeqGANEnv(**sizes)


def test_a_discriminator_built_for_longer_sequences_scores_padded_ones():
    d = small_discriminator(6, 8)  # filters fit 8 tokens; the env writes 3
    d.convs.append(torch.nn.Conv1d(8, 2, 6))  # a filter wider than the env's sequences
    d.config.filter_sizes, d.config.num_filters = (1, 2, 6), (4, 4, 2)
    d.highway_transform = torch.nn.Linear(10, 10)
    d.highway_gate = torch.nn.Linear(10, 10)
    d.output = torch.nn.Linear(10, 1)
    env = SeqGANEnv(vocab_size=6, max_len=3, eos_id=None, rollouts=0, reward_model=d)
    env.reset(seed=0)
    *_, info = [env.step(a) for a in (4, 5, 3)][-1]
    assert_close(info["d_score"], float(d.prob_real(torch.tensor([[4, 5, 3, 0, 0, 0, 0, 0]]))[0]))


def test_making_an_env_leaves_the_global_torch_random_stream_alone():
    state = torch.get_rng_state()
    gym.make(ENV_ID, vocab_size=8, max_len=4)
    gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", vocab_size=8, max_len=4)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("autoreset_mode", ["NextStep", "SameStep"])
def test_record_episode_statistics_works_with_tensor_outputs(autoreset_mode):
    from textgan.env.wrappers import RecordEpisodeStatistics

    envs = RecordEpisodeStatistics(
        SeqGANVectorEnv(2, vocab_size=6, max_len=3, rollouts=0, tensors=True, eos_id=None, autoreset_mode=autoreset_mode,
                        reward_model=TargetDiscriminator([4, 4, 4], 6))
    )  # fmt: skip
    envs.reset(seed=0)
    for _ in range(3):
        _, rewards, _, _, info = envs.step(torch.tensor([4, 5]))
    assert torch.is_tensor(rewards)
    assert info["episode"]["r"].tolist() == pytest.approx([1.0, 0.0]) and info["episode"]["l"].tolist() == [3, 3]
    assert list(envs.return_queue) == pytest.approx([1.0, 0.0])


# ---------------------------------------------------------------------------------------------
# What may score text: callables, modules, protocol objects; outputs checked once


def test_a_plain_callable_and_an_nn_module_score_text():
    def share_of_fours(tokens):
        return (tokens == 4).float().mean(dim=1)

    class Fours(torch.nn.Module):
        def forward(self, tokens):
            return (tokens == 4).float().mean(dim=1)

    for model in (share_of_fours, Fours()):
        env = SeqGANEnv(vocab_size=6, max_len=2, eos_id=None, rollouts=0, reward_model=model)
        env.reset(seed=0)
        env.step(4)
        assert env.step(5)[1] == pytest.approx(0.5)


def test_dense_rewards_are_paid_per_token_and_their_mc_values_are_returns_to_go():
    def token_rewards(tokens):  # causal: each token's reward is its own value / 10
        return tokens.float() / 10

    model = CallableReward(token_rewards, reward_range=(0.0, 0.6), dense=True)
    env = SeqGANEnv(vocab_size=6, max_len=3, eos_id=None, rollouts=4, reward_model=model)
    uniform = Generator(GeneratorConfig(6))
    with torch.no_grad():
        uniform.output.weight.zero_()
        uniform.output.bias.zero_()
    env.sync_rollout_policy(uniform, 0.0)
    env.reset(seed=0)
    steps = [env.step(a) for a in (4, 1, 5)]
    assert [s[1] for s in steps] == pytest.approx([0.4, 0.1, 0.5])
    assert steps[-1][4]["d_score"] == pytest.approx(1.0)  # the return of the finished sequence
    assert steps[-1][4]["q_value"] == pytest.approx(0.5)  # Q_T = r_T
    # Q_2 = r_2 + E[r_3] with a uniform rollout policy: 0.1 + mean of 0..5 / 10 = 0.35 (K=4: within noise)
    assert steps[1][4]["q_value"] == pytest.approx(0.35, abs=0.2)


@pytest.mark.parametrize(
    "output,message",
    [
        (lambda t: torch.full((len(t), 1), 5.0), r"returned shape \(2, 1\) for 2 sequences"),
        (lambda t: torch.full((len(t),), 5.0), r"scores in \[5, 5\], outside its reward_range \(0.0, 1.0\)"),
        (lambda t: torch.full((len(t),), float("nan")), "NaN or infinite scores"),
        (lambda t: torch.ones(len(t), dtype=torch.long), "returned torch.int64 scores"),
    ],
)
def test_bad_reward_outputs_are_reported_in_one_clear_error(output, message):
    envs = SeqGANVectorEnv(2, vocab_size=6, max_len=2, eos_id=None, rollouts=0, reward_model=output)
    envs.reset(seed=0)
    envs.step(np.array([4, 4]))
    with pytest.raises(ValueError, match=message):
        envs.step(np.array([4, 4]))


def test_something_that_cannot_score_text_is_rejected():
    with pytest.raises(TypeError, match="cannot score text with a str"):
        SeqGANEnv(vocab_size=6, max_len=2, reward_model="D")
