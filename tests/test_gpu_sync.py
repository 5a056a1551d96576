"""SeqGAN's hot loops without host waits (issue 14, item 1).

CPU tests: the device-side counter stream (range, exactness against a Python splitmix64,
independence of the other rows, reproducibility, uniformity), the env's sync-free code path
(``sync_free=True``, the GPU default, run on the CPU) against the plain env, exact enumeration
and the default path, its deferred checks, and an audit that the path reads nothing back to the
host (every host read of a tensor raises while it runs).

CUDA test (skipped without a GPU): a few SeqGAN rounds (REINFORCE with MC rollouts, the
discriminator's fit, sampling, MLE) with ``torch.cuda.set_sync_debug_mode``: ``"error"`` around
the env's hot loop and sampling, ``"warn"`` around whole rounds, whose remaining waits are
listed and must lie outside the env and the generator.
"""

from __future__ import annotations

import contextlib
import linecache
import math
import warnings

import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from torch.testing import assert_close

from tests.test_env import exact_q, naive_mc_value, random_policy, small_discriminator
from textgan.env.copy_task import TargetDiscriminator
from textgan.env.episodes import rows_scored_alone
from textgan.env.seqgan_env import SeqGANEnv
from textgan.env.streams import counter_uniforms
from textgan.env.vector_env import INFO_KEYS, SeqGANVectorEnv, step_q_values
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, sample_from_logits
from textgan.rewards import CallableReward, ProbRealReward
from textgan.rewards.base import RewardScoresError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# ---------------------------------------------------------------------------------------------
# The counter stream

_M = (1 << 64) - 1


def _mix(x: int) -> int:
    x &= _M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M
    return x ^ (x >> 31)


def python_uniforms(seed: int, draw: int, k: int, width: int) -> list[float]:
    """The stream's definition, in plain Python integers."""
    key = _mix(_mix((seed & _M) ^ 0x5DEECE66D2C3F1A7) + draw * 0x9E3779B97F4A7C15)
    return [(_mix(key + (i + 1) * 0x9E3779B97F4A7C15) >> 40) / 2**24 for i in range(k * width)]


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**31 - 1, 2**63 - 1, -5])
def test_counter_uniforms_equal_a_python_splitmix64(seed):
    u = counter_uniforms(torch.tensor([seed]), torch.tensor([3]), 2, 5)
    assert u.dtype == torch.float32 and u.shape == (1, 2, 5)
    assert u.flatten().tolist() == python_uniforms(seed, 3, 2, 5)


def test_counter_uniforms_lie_in_the_unit_interval_and_repeat_by_seed():
    seeds, draws = torch.arange(64) * 7919 - 100, torch.arange(64) % 5
    u = counter_uniforms(seeds, draws, 16, 20)
    assert bool((u >= 0).all()) and bool((u < 1).all())
    assert torch.equal(u, counter_uniforms(seeds.clone(), draws.clone(), 16, 20))
    assert not torch.equal(u, counter_uniforms(seeds + 1, draws, 16, 20))
    assert not torch.equal(u, counter_uniforms(seeds, draws + 1, 16, 20))


def test_a_rows_draws_depend_only_on_its_own_seed_and_draw():
    seeds, draws = torch.tensor([10, 11, 12, 99]), torch.tensor([0, 4, 1, 2])
    together = counter_uniforms(seeds, draws, 3, 6)
    for row in range(4):  # alone, and in another company in another order
        assert torch.equal(counter_uniforms(seeds[row : row + 1], draws[row : row + 1], 3, 6)[0], together[row])
    shuffled = torch.tensor([3, 1, 0, 2])
    others = counter_uniforms(torch.cat([seeds[shuffled], torch.tensor([5, 6])]), torch.cat([draws[shuffled], torch.tensor([0, 0])]), 3, 6)
    assert torch.equal(others[: len(shuffled)], together[shuffled])


def test_counter_uniforms_are_uniform_and_uncorrelated():
    # adjacent seeds (sub-environments) and adjacent draws of one seed: the keys the env uses
    seeds = torch.arange(256).repeat_interleave(8)
    draws = torch.arange(8).repeat(256)
    u = counter_uniforms(seeds, draws, 16, 20).double()  # 655,360 numbers
    flat = u.flatten()
    n = len(flat)
    # Kolmogorov-Smirnov against U(0, 1): the 99.9% critical value is 1.95 / sqrt(n)
    ordered = flat.sort().values
    grid = torch.arange(1, n + 1, dtype=torch.float64) / n
    ks = float(torch.maximum(grid - ordered, ordered - (grid - 1 / n)).max())
    assert ks < 1.95 / math.sqrt(n)
    # chi-square over 1,000 bins: mean 999, sd about 44.7; bound at 6 sd
    counts = torch.bincount((flat * 1000).long(), minlength=1000).double()
    chi2 = float(((counts - n / 1000) ** 2 / (n / 1000)).sum())
    assert abs(chi2 - 999) < 6 * math.sqrt(2 * 999)
    # neighbours: adjacent seeds, adjacent draws, adjacent positions; |r| below 5 sd of 0
    rows = u.view(256, 8, 320)
    for a, b in ((rows[:-1], rows[1:]), (rows[:, :-1], rows[:, 1:]), (rows[..., :-1], rows[..., 1:])):
        a, b = a.flatten() - 0.5, b.flatten() - 0.5
        r = float((a * b).mean() / (a.std() * b.std()))
        assert abs(r) < 5 / math.sqrt(len(a))


# ---------------------------------------------------------------------------------------------
# The sync-free path (the GPU's), run on the CPU


@pytest.mark.parametrize("random_stream", ["counter", "generator"])
@pytest.mark.parametrize("autoreset_mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("reward_mode", ["direct", "shaped"])
def test_sync_free_batched_env_matches_plain_envs(autoreset_mode, reward_mode, random_stream):
    num_envs = 3
    kwargs = dict(vocab_size=6, max_len=4, reward_mode=reward_mode, rollouts=4, random_stream=random_stream)
    policy, discriminator = random_policy(6, seed=1), small_discriminator(6, 4)
    batched = SeqGANVectorEnv(num_envs, autoreset_mode=autoreset_mode, sync_free=True, **kwargs)
    reference = SyncVectorEnv([lambda: SeqGANEnv(**kwargs) for _ in range(num_envs)], autoreset_mode=autoreset_mode)
    assert batched.episodes.sync_free and not reference.envs[0].episodes.sync_free
    for env in (batched, *reference.envs):
        env.set_discriminator(discriminator)
        env.sync_rollout_policy(policy, 0.0)
    assert_close(batched.reset(seed=7)[0], reference.reset(seed=7)[0])
    rng, ended = np.random.default_rng(0), 0
    for _ in range(25):
        actions = rng.choice([0, 2, 3, 4, 5], size=num_envs)
        obs_a, reward_a, term_a, _, info_a = batched.step(actions)
        obs_b, reward_b, term_b, _, info_b = reference.step(actions)
        assert_close(obs_a, obs_b)
        assert_close(reward_a, reward_b, check_dtype=False)
        np.testing.assert_array_equal(term_a, term_b)
        for key in INFO_KEYS:
            assert_close(info_a[key], info_b[key], check_dtype=False)
        ended += int(term_a.sum())
    assert ended >= 5


@torch.no_grad()
@pytest.mark.parametrize("sync_free", [False, True])
def test_counter_stream_mc_values_equal_a_naive_loop_with_the_same_numbers(sync_free):
    vocab_size, max_len, k, seed = 5, 4, 6, 10
    policy = random_policy(vocab_size, seed=4, scale=0.8)
    discriminator = TargetDiscriminator([3, 4, 0, 3], vocab_size, weights=[4, 3, 2, 1])
    envs = SeqGANVectorEnv(3, vocab_size=vocab_size, max_len=max_len, rollouts=k, tensors=True, random_stream="counter",
                           sync_free=sync_free)  # fmt: skip
    envs.set_discriminator(discriminator)
    envs.sync_rollout_policy(policy, 0.0)
    envs.reset(seed=seed)
    draws, prefixes = [0, 0, 0], [[], [], []]  # sub-env i is seeded seed + i; a draw per rollout call
    for actions in ([3, 0, 4], [4, 2, 0], [0, 0, 3]):  # row 1 ends with EOS at the second step
        _, _, terminated, _, info = envs.step(torch.tensor(actions))
        for row, action in enumerate(actions):
            if prefixes[row] and prefixes[row][-1] == 2:
                continue  # in the NEXT_STEP mode this step only reset the row
            prefixes[row].append(action)
            if terminated[row]:
                padded = prefixes[row] + [0] * (max_len - len(prefixes[row]))
                expected = float(discriminator.prob_real(torch.tensor([padded]))[0])
            else:
                u = counter_uniforms(torch.tensor([seed + row]), torch.tensor([draws[row]]), k, max_len)[0]
                draws[row] += 1
                expected = naive_mc_value(policy, discriminator, prefixes[row], max_len, u[:, : max_len - len(prefixes[row])])
            assert_close(float(info["q_value"][row]), expected, msg=f"row {row}, prefix {prefixes[row]}")


@torch.no_grad()
def test_sync_free_mc_values_match_exact_action_values():
    vocab_size, max_len, k = 5, 4, 4000
    policy = random_policy(vocab_size, seed=4, scale=0.8)
    discriminator = TargetDiscriminator([3, 4, 0, 3], vocab_size, weights=[4, 3, 2, 1])
    envs = SeqGANVectorEnv(3, vocab_size=vocab_size, max_len=max_len, rollouts=k, tensors=True, sync_free=True,
                           random_stream="counter")  # fmt: skip
    envs.set_discriminator(discriminator)
    envs.sync_rollout_policy(policy, 0.0)
    envs.reset(seed=0)
    tolerance = 4 * 0.5 / k**0.5
    prefixes = [[], [], []]
    for actions in ([3, 0, 4], [4, 4, 0], [0, 3, 2]):
        info = envs.step(torch.tensor(actions))[4]
        expected = []
        for row, action in enumerate(actions):
            prefixes[row].append(action)
            expected.append(exact_q(policy, discriminator, prefixes[row], max_len))
        assert_close(info["q_value"], torch.tensor(expected), atol=tolerance, rtol=0)


def _maligan_like(tokens):
    """A group-aware score: each row's share of fours relative to its group's mean."""
    share = (tokens == 4).float().mean(dim=1)
    return (share - share.mean()).clamp(-1, 1)


@pytest.mark.parametrize("case", ["discriminator", "dense", "shaped", "group-aware", "no-eos"])
@torch.no_grad()
def test_sync_free_and_default_paths_give_the_same_numbers(case):
    kwargs = dict(vocab_size=6, max_len=5, rollouts=6, autoreset_mode="SameStep", tensors=True, random_stream="counter")
    reward = small_discriminator(6, 5)
    if case == "dense":
        reward = CallableReward(lambda t: t.float() / 10, reward_range=(0.0, 0.6), dense=True)
        reward.row_independent = True  # declared: a plain callable is otherwise taken as group-aware
    elif case == "shaped":
        kwargs["reward_mode"] = "shaped"
    elif case == "group-aware":
        reward = CallableReward(_maligan_like, reward_range=(-1.0, 1.0))
        reward.row_independent = False  # declared: scored only in the groups of rows that ended
    elif case == "no-eos":
        kwargs["eos_id"] = None
    envs = [SeqGANVectorEnv(4, sync_free=flag, **kwargs) for flag in (False, True)]
    policy = random_policy(6, seed=2, eos_id=kwargs.get("eos_id", 2))
    for env in envs:
        env.set_reward_model(reward)
        env.sync_rollout_policy(policy, 0.0)
        env.reset(seed=3)
    assert rows_scored_alone(envs[1].reward_model) == (case != "group-aware")
    rng = np.random.default_rng(1)
    for _ in range(12):
        actions = torch.as_tensor(rng.choice([1, 2, 3, 4, 5], size=4))
        a, b = envs[0].step(actions), envs[1].step(actions)
        assert_close(a[0], b[0])
        for x, y in zip(a[1:4], b[1:4]):
            assert_close(x, y)
        assert_close(step_q_values(a[4]), step_q_values(b[4]))
        assert_close(a[4]["d_score"], b[4]["d_score"])


def test_sync_free_tensor_mode_defers_checks_to_the_next_reset():
    envs = SeqGANVectorEnv(2, vocab_size=6, max_len=3, rollouts=2, tensors=True, sync_free=True)
    envs.reset(seed=0)
    envs.step(torch.tensor([1, 9]))  # recorded, not raised: raising would read the device
    with pytest.raises(ValueError, match=r"action 9 is outside Discrete\(6\)"):
        envs.reset(seed=0)
    envs.reset(seed=0)  # the check cleared what it raised
    envs.step(torch.tensor([-3, 7]))
    with pytest.raises(ValueError, match=r"action -3 is outside"):
        envs.check()
    # a NaN score after the model's first (fully checked) scores
    calls = []

    def flaky(tokens):
        calls.append(1)
        return torch.full((len(tokens),), float("nan") if len(calls) > 2 else 0.5)

    envs.set_reward_model(CallableReward(flaky))
    envs.reset(seed=0)
    for _ in range(3):
        envs.step(torch.tensor([3, 4]))
    with pytest.raises(RewardScoresError, match="NaN or infinite"):
        envs.check()
    # numpy mode, and the plain env, still raise at the step
    eager = SeqGANVectorEnv(2, vocab_size=6, max_len=3, sync_free=True)
    eager.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 9 is outside"):
        eager.step(np.array([1, 9]))


@contextlib.contextmanager
def no_host_reads():
    """Every way Python reads a tensor's values on the host raises (the CPU stand-in for
    ``set_sync_debug_mode("error")``); indexing with a bool mask, a hidden ``nonzero``, too."""

    def forbidden(name):
        def method(self, *args, **kwargs):
            raise AssertionError(f"host read: Tensor.{name}")

        return method

    def getitem(self, index):
        for part in index if isinstance(index, tuple) else (index,):
            if torch.is_tensor(part) and part.dtype == torch.bool:
                raise AssertionError("host read: indexing with a bool mask")
        return original["__getitem__"](self, index)

    def setitem(self, index, value):
        for part in index if isinstance(index, tuple) else (index,):
            if torch.is_tensor(part) and part.dtype == torch.bool:
                raise AssertionError("host read: assigning through a bool mask")
        return original["__setitem__"](self, index, value)

    names = ("__bool__", "__int__", "__float__", "__index__", "item", "tolist", "numpy", "nonzero", "cpu")
    original = {name: getattr(torch.Tensor, name) for name in (*names, "__getitem__", "__setitem__")}
    try:
        for name in names:
            setattr(torch.Tensor, name, forbidden(name))
        torch.Tensor.__getitem__, torch.Tensor.__setitem__ = getitem, setitem
        yield
    finally:
        for name, value in original.items():
            setattr(torch.Tensor, name, value)


def test_the_audit_catches_host_reads():
    x = torch.arange(3)
    for read in (lambda: bool(x.any()), lambda: x.tolist(), lambda: x[x > 0], lambda: int(x.max())):
        with no_host_reads(), pytest.raises(AssertionError, match="host read"):
            read()
    assert x.tolist() == [0, 1, 2]  # restored


def hot_loop(envs: SeqGANVectorEnv, policy: Generator, steps: int, seed: int = 0) -> torch.Tensor:
    """What ``collect_rollout`` does per step, with the action uniforms drawn on the device."""
    device, batch = envs.device, envs.num_envs
    observation = envs.episodes  # the env's own tensors, already reset
    state = policy.initial_state(batch, device)
    previous = torch.full((batch,), policy.config.bos_id, dtype=torch.long, device=device)
    seeds = torch.arange(batch, device=device) + seed
    total = torch.zeros((), device=device)
    for t in range(steps):
        logits, state = policy.step(previous, state)
        u = counter_uniforms(seeds, torch.full((batch,), t, dtype=torch.long, device=device), 1, 1).view(batch)
        action = sample_from_logits(logits, u)
        _, reward, terminated, truncated, info = envs.step(action)
        total = total + reward.sum() + step_q_values(info).sum()
        fresh = (observation.lengths == 0).unsqueeze(1)
        state = tuple(torch.where(fresh, torch.zeros_like(s), s) for s in state)
        previous = torch.where(fresh.squeeze(1), policy.config.bos_id, action)
    return total


@pytest.mark.parametrize("reward_mode", ["direct", "shaped"])
@torch.no_grad()
def test_the_sync_free_hot_loop_reads_nothing_on_the_host(reward_mode):
    torch.manual_seed(0)
    vocab, max_len = 12, 6
    envs = SeqGANVectorEnv(8, vocab_size=vocab, max_len=max_len, rollouts=4, reward_mode=reward_mode,
                           autoreset_mode="SameStep", tensors=True, sync_free=True, random_stream="counter")  # fmt: skip
    envs.set_reward_model(ProbRealReward(small_discriminator(vocab, max_len)))
    policy = Generator(GeneratorConfig(vocab, embed_dim=8, hidden_dim=8))
    envs.sync_rollout_policy(policy, 0.0)  # replaces the default rollout policy (another size)
    envs.sync_rollout_policy(policy, 0.8)
    envs.reset(seed=0)
    hot_loop(envs, policy, 1)  # the reward model's first scores are checked in full (one read)
    with no_host_reads():
        total = hot_loop(envs, policy, 3 * max_len, seed=1)
        tokens = policy.sample(16, max_len, generator=torch.Generator().manual_seed(0))
        loss = policy.mle_loss(tokens)
    envs.check()
    assert math.isfinite(float(total)) and math.isfinite(float(loss))


# ---------------------------------------------------------------------------------------------
# On a GPU: the device itself reports every wait


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@contextlib.contextmanager
def sync_debug(mode: str):
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(mode)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)


@cuda
def test_counter_uniforms_are_the_same_on_the_gpu():
    seeds, draws = torch.arange(-50, 50) * 104729, torch.arange(100) % 7
    assert torch.equal(counter_uniforms(seeds.cuda(), draws.cuda(), 16, 20).cpu(), counter_uniforms(seeds, draws, 16, 20))


def _seqgan_on_cuda(vocab: int = 40, max_len: int = 10, batch: int = 16, k: int = 16, reward_mode: str = "direct"):
    device = torch.device("cuda")
    torch.manual_seed(0)
    from textgan.rewards.discriminator import DiscriminatorReward

    discriminator = Discriminator(DiscriminatorConfig(vocab, max_len, embed_dim=16, filter_sizes=(2, 3), num_filters=(8, 8))).to(device)
    reward = DiscriminatorReward(discriminator, learning_rate=1e-3)
    envs = SeqGANVectorEnv(batch, vocab_size=vocab, max_len=max_len, rollouts=k, autoreset_mode="SameStep",
                           tensors=True, device=device, reward_model=reward, reward_mode=reward_mode)  # fmt: skip
    policy = Generator(GeneratorConfig(vocab, embed_dim=16, hidden_dim=16)).to(device)
    return envs, reward, policy


@cuda
@pytest.mark.parametrize("reward_mode", ["direct", "shaped"])
@torch.no_grad()
def test_env_steps_rollouts_and_sampling_never_wait_for_the_gpu(reward_mode):
    envs, reward, policy = _seqgan_on_cuda(reward_mode=reward_mode)
    envs.sync_rollout_policy(policy, 0.0)  # replaces the default rollout policy (another size)
    envs.sync_rollout_policy(policy, 0.8)
    envs.reset(seed=0)
    hot_loop(envs, policy, 1)  # first scores: checked in full
    stream = torch.Generator().manual_seed(0)
    policy.sample(64, 10, generator=stream)  # warm the pinned-memory pool
    with sync_debug("error"):
        total = hot_loop(envs, policy, 3 * envs.config.max_len, seed=1)
        tokens = policy.sample(64, 10, generator=stream)
    with torch.enable_grad(), sync_debug("error"):
        loss = policy.mle_loss(tokens)
        loss.backward()
    envs.check()
    assert math.isfinite(float(total)) and math.isfinite(float(loss))


@cuda
def test_seqgan_rounds_wait_for_the_gpu_only_outside_the_env_and_the_generator():
    from textgan.agents import ReinforceAgent
    from textgan.rewards.training import fit_reward_model

    envs, reward, policy = _seqgan_on_cuda()
    agent = ReinforceAgent(policy, seed=0)
    real = torch.randint(3, 40, (64, 10), device="cuda")
    rng, stream = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    envs.sync_rollout_policy(policy, 0.0)
    agent.update(envs)  # warm-up: first scores, optimiser state, pinned memory
    waits = []
    for _ in range(3):  # adversarial rounds: one generator update, then D on fresh negatives
        with warnings.catch_warnings(record=True) as caught, sync_debug("warn"):
            warnings.simplefilter("always")
            envs.sync_rollout_policy(policy, 0.8)
            metrics = agent.update(envs)
            fake = policy.sample(64, 10, generator=stream)
            fit_reward_model(reward, real, fake, epochs=1, batch_size=32, rng=rng)
        waits += [(w.filename, w.lineno) for w in caught if "synchroniz" in str(w.message).lower()]
        # allowed: the env's one check per update (collect_rollout's reset reads the recorded faults)
        assert math.isfinite(metrics["pg_loss"])
    sites = sorted(set(waits))
    print("host waits per round:", *(f"{path}:{line}" for path, line in sites), sep="\n  ")
    ours = [f"{path}:{line}" for path, line in sites
            if ("/textgan/env/" in path or path.endswith(("models/generator.py", "models/sampling.py")))
            and "self._pending.tolist()" not in linecache.getline(path, line)]  # fmt: skip
    assert not ours, f"the env or the generator waits for the GPU at {ours}"


def test_doctests_of_the_stream_module():
    import doctest

    import textgan.env.streams

    result = doctest.testmod(textgan.env.streams)
    assert result.failed == 0 and result.attempted > 0
