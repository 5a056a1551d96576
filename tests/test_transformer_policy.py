"""The Transformer policy: its cache against full passes, MC rewards against naive loops and
exact values, cache reuse counted, learning with REINFORCE, PPO and SB3, the CLI, the HF adapter."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch.testing import assert_close

import textgan.policies.registry
import textgan.policies.state
import textgan.policies.transformer
from tests.test_agents import TARGET, THRESHOLD, VOCAB, copy_task, sampled_score, train
from tests.test_cli import assert_one_line_error
from tests.test_env import exact_q, naive_mc_value
from tests.test_gpu_sync import no_host_reads
from tests.test_seqgan_training import grammar_corpus
from textgan.agents import AGENTS, PPOAgent, PPOConfig, ReinforceAgent, ReinforceConfig, collect_rollout
from textgan.agents.base import policy_inputs
from textgan.cli import main
from textgan.env.copy_task import TargetDiscriminator
from textgan.env.streams import counter_uniforms
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.gans import GANS
from textgan.policies import TransformerConfig, TransformerPolicy
from textgan.rewards import ConstantReward

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_transformer(vocab_size: int, max_len: int, seed: int, eos_id: int | None = 2, layers: int = 2) -> TransformerPolicy:
    """A Transformer whose next-token probabilities clearly depend on the prefix (GPT-2's 0.02
    initialisation is nearly uniform)."""
    torch.manual_seed(seed)
    policy = TransformerPolicy(TransformerConfig(vocab_size, max_len, dim=16, layers=layers, heads=2, eos_id=eos_id))
    with torch.no_grad():
        for parameter in policy.parameters():
            if parameter.dim() > 1:
                parameter.normal_(std=0.4)
    return policy


def test_doctests_of_the_policy_modules():
    for module in (textgan.policies.transformer, textgan.policies.state, textgan.policies.registry):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# ---------------------------------------------------------------------------------------------
# The cache


@torch.no_grad()
def test_cached_steps_equal_a_full_forward_pass_at_every_position():
    policy = random_transformer(9, 7, seed=0)
    tokens = torch.randint(3, 9, (5, 7), generator=torch.Generator().manual_seed(1))
    full = policy(tokens)  # (N, T, V): position t predicts tokens[:, t]
    assert (full[:, 1:] - full[:, :1]).abs().max() > 1.0  # the prefix matters: a wrong cache would show
    state, previous = policy.initial_state(5), torch.full((5,), policy.config.bos_id)
    for t in range(7):
        logits, state = policy.step(previous, state)
        assert_close(logits, full[:, t], msg=f"position {t}")
        assert state.lengths.tolist() == [t + 1] * 5
        previous = tokens[:, t]


@torch.no_grad()
def test_prefix_states_of_rows_of_different_lengths_continue_as_a_full_pass():
    policy = random_transformer(9, 7, seed=2)
    tokens = torch.randint(3, 9, (5, 7), generator=torch.Generator().manual_seed(3))
    full = policy(tokens)
    lengths = torch.tensor([0, 1, 3, 4, 6])
    logits, state = policy.prefix_states(tokens, lengths)
    assert_close(logits, full[torch.arange(5), lengths])
    assert state.lengths.tolist() == (lengths + 1).tolist()
    # the rows step together from their own positions: row b reads tokens[b, lengths[b] + j]
    for j in range(6):
        at = (lengths + j).clamp_max(6)
        logits, state = policy.step(tokens[torch.arange(5), at], state)
        going = (lengths + j + 1 < 7).nonzero().squeeze(1)  # rows whose next token is still inside T
        assert_close(logits[going], full[going, lengths[going] + j + 1], msg=f"step {j}")


@torch.no_grad()
def test_a_rows_cache_ignores_the_other_rows_and_its_own_padding():
    policy = random_transformer(9, 6, seed=4)
    tokens = torch.tensor([[3, 4, 5, 6, 7, 8], [3, 4, 0, 0, 0, 0]])
    logits, _ = policy.prefix_states(tokens, torch.tensor([2, 2]))
    alone, _ = policy.prefix_states(tokens[1:, :3], torch.tensor([2]))  # a narrower batch
    assert_close(logits[0], logits[1])  # same prefix, other padding
    assert_close(logits[1], alone[0])


# ---------------------------------------------------------------------------------------------
# Monte Carlo rewards with the Transformer as the rollout policy


def _env(k: int, seed: int, **kwargs) -> tuple[SeqGANVectorEnv, TransformerPolicy, TargetDiscriminator]:
    vocab_size, max_len = 5, 4
    policy = random_transformer(vocab_size, max_len, seed=5)
    discriminator = TargetDiscriminator([3, 4, 0, 3], vocab_size, weights=[4, 3, 2, 1])
    envs = SeqGANVectorEnv(3, vocab_size=vocab_size, max_len=max_len, rollouts=k, tensors=True, **kwargs)
    envs.set_discriminator(discriminator)
    envs.sync_rollout_policy(policy, 0.0)  # replaces the default LSTM rollout policy
    envs.reset(seed=seed)
    return envs, policy, discriminator


@torch.no_grad()
@pytest.mark.parametrize("stream", ["generator", "counter", "counter-sync-free"])
def test_mc_rewards_equal_a_naive_loop_with_the_same_random_numbers(stream):
    k, seed, max_len = 6, 10, 4
    kwargs = {"random_stream": stream.split("-")[0], "sync_free": stream.endswith("sync-free")}
    envs, policy, discriminator = _env(k, seed, **kwargs)
    assert type(envs.episodes.rollout_policy) is TransformerPolicy
    streams = [torch.Generator().manual_seed(seed + row) for row in range(3)]  # sub-env i is seeded seed + i
    draws, prefixes = [0, 0, 0], [[], [], []]
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
                width = max_len - len(prefixes[row])
                if kwargs["random_stream"] == "generator":
                    uniforms = torch.rand((k, width), generator=streams[row])
                else:
                    uniforms = counter_uniforms(torch.tensor([seed + row]), torch.tensor([draws[row]]), k, max_len)[0, :, :width]
                    draws[row] += 1
                expected = naive_mc_value(policy, discriminator, prefixes[row], max_len, uniforms)
            assert_close(float(info["q_value"][row]), expected, msg=f"row {row}, prefix {prefixes[row]}")


@torch.no_grad()
def test_mc_rewards_match_exact_action_values():
    k = 4000
    envs, policy, discriminator = _env(k, seed=0)
    tolerance = 4 * 0.5 / k**0.5  # four standard deviations of a mean of K scores in [0, 1]
    prefixes = [[], [], []]
    for actions in ([3, 0, 4], [4, 4, 0], [0, 3, 2]):
        info = envs.step(torch.tensor(actions))[4]
        expected = []
        for row, action in enumerate(actions):
            prefixes[row].append(action)
            expected.append(exact_q(policy, discriminator, prefixes[row], 4))
        assert_close(info["q_value"], torch.tensor(expected), atol=tolerance, rtol=0)
        assert max(expected) - min(expected) > 3 * tolerance  # a value given to the wrong row fails


@torch.no_grad()
def test_rollouts_reuse_the_prefix_cache_and_compute_one_position_per_rollout_step():
    batch, k, max_len = 4, 3, 6
    policy = random_transformer(7, max_len, seed=6, layers=2)
    envs = SeqGANVectorEnv(batch, vocab_size=7, max_len=max_len, rollouts=k, tensors=True, eos_id=None)
    envs.set_reward_model(TargetDiscriminator([3, 4, 5, 6, 3, 4], 7))
    envs.sync_rollout_policy(policy, 0.0)
    envs.reset(seed=0)
    rollout_policy = envs.episodes.rollout_policy
    calls: list[tuple[int, int]] = []  # (rows, new positions) of each pass through the first block
    hook = rollout_policy.blocks[0].register_forward_hook(lambda module, args, out: calls.append(tuple(args[0].shape[:2])))
    try:
        for written in range(1, max_len):
            calls.clear()
            envs.step(torch.full((batch,), 3))
            # the env reads the new token (one position per row); then each of the T - t - 1 rollout
            # steps after the first sampled token reads one position per rollout: never the prefix again
            assert calls == [(batch, 1)] + [(batch * k, 1)] * (max_len - written - 1), written
        calls.clear()
        envs.sync_rollout_policy(policy, 0.5)  # a new rollout policy: the prefixes are read again, once
        assert calls == [(batch, max_len)]
    finally:
        hook.remove()


@torch.no_grad()
def test_the_sync_free_path_with_a_transformer_reads_nothing_on_the_host():
    vocab, max_len, batch = 9, 5, 6
    envs = SeqGANVectorEnv(batch, vocab_size=vocab, max_len=max_len, rollouts=3, autoreset_mode="SameStep", tensors=True,
                           sync_free=True, random_stream="counter", reward_model=TargetDiscriminator([3, 4, 5, 6, 7], vocab))  # fmt: skip
    policy = random_transformer(vocab, max_len, seed=7)
    envs.sync_rollout_policy(policy, 0.0)
    envs.reset(seed=0)
    envs.step(torch.full((batch,), 4))  # the reward model's first scores are checked in full (one read)
    observation, state, total = {"tokens": envs.episodes.tokens, "length": envs.episodes.lengths.unsqueeze(1)}, None, 0.0
    with no_host_reads():
        for t in range(3 * max_len):
            previous, state = policy_inputs(policy, observation, state)
            logits, state = policy.step(previous, state)
            action = logits.argmax(-1)
            _, reward, _, _, info = envs.step(action)
            total = total + reward.sum() + info["q_value"].sum()
            observation = {"tokens": envs.episodes.tokens, "length": envs.episodes.lengths.unsqueeze(1)}
        tokens = policy.sample(8, max_len, generator=torch.Generator().manual_seed(0))
        loss = policy.mle_loss(tokens)
    envs.check()
    assert np.isfinite(float(total)) and np.isfinite(float(loss))


def test_a_policy_too_short_for_the_episodes_is_refused():
    envs = SeqGANVectorEnv(2, vocab_size=5, max_len=6, rollouts=2)
    with pytest.raises(ValueError, match="at most 4 positions"):
        envs.sync_rollout_policy(random_transformer(5, 4, seed=0), 0.0)


# ---------------------------------------------------------------------------------------------
# Learning the copy task


def transformer_copy_task(rollouts: int, seed: int, **kwargs):
    envs, discriminator, _ = copy_task(rollouts, seed=seed, **kwargs)
    torch.manual_seed(seed)
    config = TransformerConfig(VOCAB, len(TARGET), dim=32, layers=1, heads=2, eos_id=kwargs.get("eos_id"))
    return envs, discriminator, TransformerPolicy(config)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reinforce_with_mc_values_learns_the_copy_task(seed):
    envs, discriminator, policy = transformer_copy_task(4, seed)
    agent = ReinforceAgent(policy, ReinforceConfig(learning_rate=0.003, values="mc", baseline="rloo"), seed=seed)
    train(agent, envs, policy, updates=100)
    assert sampled_score(policy, discriminator) > THRESHOLD


def test_a_constant_reward_does_not_teach_the_transformer_the_target():
    envs, discriminator, policy = transformer_copy_task(4, 0)
    envs.set_reward_model(ConstantReward(1.0))
    agent = ReinforceAgent(policy, ReinforceConfig(learning_rate=0.003, values="mc", baseline="rloo"), seed=0)
    train(agent, envs, policy, updates=100)
    assert sampled_score(policy, discriminator) < 0.4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppo_learns_the_copy_task(seed):
    # a smaller step than the LSTM's 0.01: the LayerNorm-ed features make each Adam step move the
    # logits more (at 3e-3 an update's approximate KL reached 1 on seed 1 and runs stuck at 0.5-0.75)
    envs, discriminator, policy = transformer_copy_task(0, seed)
    agent = PPOAgent(policy, PPOConfig(learning_rate=3e-4, num_steps=2 * len(TARGET)), seed=seed)
    train(agent, envs, policy, updates=40)
    assert sampled_score(policy, discriminator) > THRESHOLD


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sb3_ppo_with_the_transformer_extractor_learns_the_copy_task(seed):
    sb3 = pytest.importorskip("stable_baselines3")
    from textgan.agents.sb3 import make_sb3_vec_env, token_transformer_policy_kwargs

    venv = make_sb3_vec_env(16, vocab_size=VOCAB, max_len=len(TARGET), reward_mode="direct", eos_id=None)
    venv.set_discriminator(TargetDiscriminator(TARGET, VOCAB))
    model = sb3.PPO(
        "MultiInputPolicy", venv, n_steps=16, batch_size=64, n_epochs=4, learning_rate=1e-3, gamma=1.0,
        policy_kwargs=token_transformer_policy_kwargs(dim=32, layers=1, heads=2), seed=seed, device="cpu",
    )  # fmt: skip
    model.learn(total_timesteps=4096)
    venv.seed(7)
    observation, scores = venv.reset(), []
    while len(scores) < 128:
        actions, _ = model.predict(observation, deterministic=False)
        observation, _, dones, infos = venv.step(actions)
        scores += [info["d_score"] for info, done in zip(infos, dones) if done]
    assert np.mean(scores) > THRESHOLD


def test_the_sb3_extractor_reads_the_transformer_at_each_prefixs_length():
    pytest.importorskip("stable_baselines3")
    from textgan.agents.sb3 import TokenTransformerExtractor

    envs = SeqGANVectorEnv(2, vocab_size=VOCAB, max_len=4)
    extractor = TokenTransformerExtractor(envs.single_observation_space, dim=16, layers=1, heads=2)
    tokens = torch.tensor([[5.0, 3.0, 0.0, 0.0], [5.0, 3.0, 6.0, 4.0]])
    features = extractor({"tokens": tokens, "length": torch.tensor([[2.0], [2.0]])})
    assert_close(features[0], features[1])  # the same prefix, whatever follows it
    whole, _, _ = extractor.transformer.hidden_states(torch.tensor([[1, 5, 3]]))
    assert_close(features[0], whole[0, 2])


# ---------------------------------------------------------------------------------------------
# textgan train --policy transformer


TINY = ["--preset", "tiny", "--quiet", "--policy", "transformer", "--g-hidden-dim", "16", "--g-heads", "2", "--g-layers", "1"]


def _tensors(path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as f:
        return {key: f.get_tensor(key) for key in f.keys()}


def test_train_with_the_transformer_resumes_to_the_uninterrupted_result_and_samples(tmp_path, capsys):
    corpus = grammar_corpus(tmp_path / "corpus.txt", n=96)
    assert main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "straight"), *TINY, "--rounds", "3"]) == 0
    assert main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "resumed"), *TINY, "--rounds", "1"]) == 0
    assert main(["train", "--resume", str(tmp_path / "resumed"), "--rounds", "3", "--quiet"]) == 0
    config = json.loads((tmp_path / "resumed" / "config.json").read_text())
    assert (config["policy"], config["g_layers"], config["g_heads"]) == ("transformer", 1, 2)
    straight, resumed = (_tensors(tmp_path / name / "checkpoints" / "final.safetensors") for name in ("straight", "resumed"))
    assert sorted(straight) == sorted(resumed) and any("blocks.0.qkv" in key for key in straight)
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "resumed"), "-n", "3", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


@pytest.mark.parametrize("agent", sorted(AGENTS))
@pytest.mark.parametrize(  # (conditional GANs: the LSTM only; LeakGAN: a generator of its own)
    "gan", sorted(name for name, gan in GANS.items() if not gan.needs_labels and gan.build_agent is None)
)
def test_every_gan_and_agent_trains_a_transformer(tmp_path, agent, gan):
    corpus = grammar_corpus(tmp_path / "corpus.txt", n=48)
    quick = ["--mle-epochs", "1", "--d-pretrain-steps", "1", "--rounds", "1", "--eval-samples", "0"]
    args = ["--corpus", str(corpus), "--out", str(tmp_path / "run"), *TINY, *quick, "--agent", agent, "--gan", gan]
    assert main(["train", *args]) == 0
    log = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r for r in log if r["phase"] == "adversarial" and np.isfinite(r["nll_test"])]


def test_transformer_sizes_that_do_not_fit_are_one_line_errors(tmp_path, capsys):
    corpus = grammar_corpus(tmp_path / "corpus.txt", n=48)
    code = main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "run"), *TINY, "--g-hidden-dim", "15"])
    assert_one_line_error(code, capsys, "--g-hidden-dim 15", "--g-heads 2")
    assert_one_line_error(main(["train", "--corpus", str(corpus), "--policy", "gru"]), capsys, "--policy", "transformer")
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------------
# A Hugging Face causal LM through the adapter (skipped without `transformers`)


@torch.no_grad()
def test_the_hf_adapters_logits_equal_the_models_own():
    pytest.importorskip("transformers")
    from textgan.policies.hf import HFCausalLMPolicy, HFPolicyConfig

    torch.manual_seed(0)
    policy = HFCausalLMPolicy(HFPolicyConfig(vocab_size=11, max_len=7, model_settings={"n_embd": 16, "n_layer": 2, "n_head": 2}))
    policy.model.eval()  # GPT-2's own dropout (these settings keep it): the model's and the adapter's passes agree
    tokens = torch.randint(3, 11, (4, 7), generator=torch.Generator().manual_seed(1))
    own = policy.model(input_ids=policy.shifted_inputs(tokens)).logits
    assert_close(policy(tokens), own)
    state, previous = policy.initial_state(4), torch.full((4,), 1)
    for t in range(7):  # cached steps: the model sees its past as a cache with a mask of each row's positions
        logits, state = policy.step(previous, state)
        assert_close(logits, own[:, t], msg=f"position {t}")
        previous = tokens[:, t]
    lengths = torch.tensor([0, 2, 3, 6])
    logits, state = policy.prefix_states(tokens, lengths)
    assert_close(logits, own[torch.arange(4), lengths])
    logits, _ = policy.step(tokens[torch.arange(4), lengths.clamp_max(5)], state)  # rows at different positions
    assert_close(logits[:3], own[torch.arange(3), lengths[:3] + 1])


@torch.no_grad()
def test_mc_rewards_with_the_hf_adapter_equal_a_naive_loop():
    pytest.importorskip("transformers")
    from textgan.policies.hf import HFCausalLMPolicy, HFPolicyConfig

    torch.manual_seed(0)
    settings = {"n_embd": 16, "n_layer": 1, "n_head": 2, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}
    policy = HFCausalLMPolicy(HFPolicyConfig(vocab_size=5, max_len=4, model_settings=settings))
    with torch.no_grad():
        for parameter in policy.parameters():
            if parameter.dim() > 1:
                parameter.normal_(std=0.4)
    discriminator = TargetDiscriminator([3, 4, 0, 3], 5, weights=[4, 3, 2, 1])
    envs = SeqGANVectorEnv(2, vocab_size=5, max_len=4, rollouts=4, tensors=True, reward_model=discriminator)
    envs.sync_rollout_policy(policy, 0.0)
    envs.reset(seed=3)
    streams = [torch.Generator().manual_seed(3 + row) for row in range(2)]
    info = envs.step(torch.tensor([3, 4]))[4]
    for row, prefix in enumerate([[3], [4]]):
        expected = naive_mc_value(policy, discriminator, prefix, 4, torch.rand((4, 3), generator=streams[row]))
        assert_close(float(info["q_value"][row]), expected)
    rollout = collect_rollout(envs, policy, torch.Generator().manual_seed(0))  # an agent acts with it too
    assert rollout.hidden.shape == (4, 2, 16)


def test_train_and_sample_with_policy_gpt2(tmp_path, capsys):
    pytest.importorskip("transformers")
    corpus = grammar_corpus(tmp_path / "corpus.txt", n=48)
    args = [*TINY[:4], "gpt2", *TINY[5:], "--mle-epochs", "1", "--rounds", "1"]
    assert main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "run"), *args]) == 0
    saved = _tensors(tmp_path / "run" / "checkpoints" / "final.safetensors")
    assert any("model.transformer.h.0.attn" in key for key in saved)
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "run"), "-n", "2", "--seed", "0"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_policy_gpt2_without_transformers_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else find_spec(name, *a))
    corpus = grammar_corpus(tmp_path / "corpus.txt", n=48)
    code = main(["train", "--corpus", str(corpus), "--out", str(tmp_path / "run"), "--policy", "gpt2", "--quiet"])
    assert_one_line_error(code, capsys, "--policy gpt2", "pip install 'textgan[hf]'")
    assert not (tmp_path / "run").exists()
