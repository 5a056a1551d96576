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

REWARD_MODES = ("mc", "terminal", "shaped", "constant")
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
@pytest.mark.parametrize("reward_mode", ["mc", "shaped"])
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
    kwargs = dict(SMALL, reward_mode="mc", autoreset_mode="SameStep")
    arrays, tensors = SeqGANVectorEnv(2, **kwargs), SeqGANVectorEnv(2, tensors=True, **kwargs)
    arrays.reset(seed=3)
    tensors.reset(seed=3)
    for actions in ([4, 5], [2, 3], [5, 5]):
        a = arrays.step(np.array(actions))
        b = tensors.step(torch.tensor(actions))
        assert torch.is_tensor(b[1]) and torch.is_tensor(b[0]["tokens"])
        assert_close(torch.as_tensor(a[0]["tokens"]), b[0]["tokens"])
        assert_close(torch.as_tensor(a[1]), b[1])


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
        _, rewards, terminated, _, info = envs.step(torch.tensor(actions))
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
        _, rewards, terminated, _, _ = envs.step(torch.tensor(actions))
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


def test_terminal_constant_and_log_d_rewards():
    d = TargetDiscriminator([1, 2, 3], 6)
    for mode, log_d, expected_last in (("terminal", False, 2 / 3), ("terminal", True, np.log(2 / 3)), ("constant", False, 0.5)):
        env = SeqGANEnv(vocab_size=6, max_len=3, reward_mode=mode, log_d=log_d, constant_reward=0.5, eos_id=None)
        env.set_discriminator(d)
        env.reset(seed=0)
        rewards = [env.step(a)[1] for a in (1, 2, 5)]
        assert rewards[:2] == ([0.5, 0.5] if mode == "constant" else [0.0, 0.0])
        assert rewards[2] == pytest.approx(expected_last, abs=1e-6)
    env = SeqGANEnv(vocab_size=6, max_len=3, reward_mode="constant", eos_id=None)
    env.set_discriminator(d)
    env.reset(seed=0)
    infos = [env.step(a)[4] for a in (1, 2, 3)]
    assert [i["d_score"] for i in infos] == [0.0, 0.0, pytest.approx(1.0)]  # D's opinion, not rewarded


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
    env = SeqGANEnv(vocab_size=6, max_len=2, reward_mode="terminal")
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
    with pytest.raises(ValueError, match="unknown reward_mode 'ppo'; choose one of mc, terminal, shaped, constant"):
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
    with pytest.raises(ValueError, match="discriminator's vocabulary has 7 tokens but the env's has 6"):
        envs.set_discriminator(small_discriminator(7, 4))
    with pytest.raises(ValueError, match="policy's vocabulary has 9 tokens but the env's has 6"):
        envs.sync_rollout_policy(Generator(GeneratorConfig(vocab_size=9)), 0.8)
    with pytest.raises(ValueError, match="discriminator max_len 3 is shorter than the env's 4"):
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
    env = SeqGANEnv(real_tokens=envs.real_tokens, tokenizer=envs.tokenizer, render_mode="ansi", reward_mode="terminal")
    env.reset(seed=0)
    for text in "cab":
        env.step(envs.tokenizer.encode(text)[0])
    assert env.render() == "cab"


def test_make_and_make_vec_through_the_registry():
    env = gym.make(ENV_ID, reward_mode="terminal", **SMALL)
    assert isinstance(env.unwrapped, SeqGANEnv) and env.unwrapped.config.rollouts == 3
    envs = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", autoreset_mode="SameStep", **SMALL)
    assert isinstance(envs, SeqGANVectorEnv) and envs.num_envs == 4
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=0)
    assert obs["tokens"].shape == (4, 4) and obs["tokens"].dtype == np.int64
    default = gym.make(ENV_ID)  # `make` alone gives a working env: untrained D, uniform policy
    default.reset(seed=0)
    assert 0.0 < default.step(7)[1] < 1.0
    register_envs()  # a second registration changes nothing
    assert gym.spec(ENV_ID).vector_entry_point == "textgan.env.vector_env:SeqGANVectorEnv"


def test_module_prefix_make_works_without_a_prior_import():
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'textgan' not in sys.modules\n"
        "env = gym.make('textgan:SeqGAN-v0', vocab_size=8, max_len=3, reward_mode='terminal')\n"
        "env.reset(seed=0)\n"
        "print(type(env.unwrapped).__name__, env.step(4)[2])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SeqGANEnv False"
