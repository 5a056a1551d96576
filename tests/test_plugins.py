"""Plug-ins: agents and reward models chosen by flag or written by a user; the stabilisers.

- ``--agent NAME`` builds the agent with its own defaults; ``--<agent>.<setting>`` changes one.
- ``--gan NAME`` picks the family member; every member trains end to end through the CLI.
- A reward function and an agent written here with the public API alone train together.
- RLOO and the KL penalty against naive loops; the KL penalty holds the policy near its reference.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.testing import assert_close

from tests.test_cli import TINY, assert_one_line_error, run_cli
from tests.test_seqgan_training import grammar_corpus, make_trainer
from textgan.agents import AGENTS, KLPenalty, PPOConfig, ReinforceConfig, collect_rollout, replay, subtract_baseline
from textgan.cli import main
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.gans import GANS
from textgan.models import Generator, GeneratorConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------------------------------------
# Agents and GANs chosen on the command line


def test_agent_ppo_is_built_with_its_own_defaults(tmp_path):
    trainer = make_trainer(tmp_path, "ppo", agent="ppo")  # the tiny preset sets no PPO setting
    assert trainer.agent.config == PPOConfig()
    assert trainer.agent.config.clip_coef == 0.2 and trainer.agent.config.grad_clip == 0.5
    assert trainer.agent.optimizer.param_groups[0]["lr"] == PPOConfig().learning_rate
    assert trainer.envs.config.rollouts == 0  # PPO with GAE uses no Monte Carlo values


def test_an_agent_flag_changes_that_setting_only(tmp_path):
    corpus = grammar_corpus(tmp_path / "corpus.txt")
    out = tmp_path / "run"
    code = main(["train", "--corpus", str(corpus), "--out", str(out), *TINY, "--rounds", "1",
                 "--agent", "ppo", "--ppo.clip-coef", "0.1", "--ppo.no-norm-adv"])  # fmt: skip
    assert code == 0
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["agent_settings"] == {"ppo": {"clip_coef": 0.1, "norm_adv": False}}
    from textgan.gans import build_trainer
    from textgan.seqgan.runs import open_run

    opened = open_run(out)
    trainer = build_trainer(opened.config, opened.run, opened.tokenizer, opened.train, opened.test, torch.device("cpu"), quiet=True)
    assert trainer.agent.config == PPOConfig(clip_coef=0.1, norm_adv=False)


def test_agent_settings_cannot_change_on_resume(tmp_path, capsys):
    corpus = grammar_corpus(tmp_path / "corpus.txt")
    out = tmp_path / "run"
    assert main(["train", "--corpus", str(corpus), "--out", str(out), *TINY, "--rounds", "1"]) == 0
    before = (out / "config.json").read_text(encoding="utf-8")
    code = main(["train", "--resume", str(out), "--quiet", "--reinforce.learning-rate", "0.5"])
    assert_one_line_error(code, capsys, "--reinforce.* cannot change when resuming")
    assert (out / "config.json").read_text(encoding="utf-8") == before


def test_the_default_preset_changes_reinforce_only():
    from textgan.seqgan.config import preset_values

    assert preset_values("default")["agent_settings"] == {"reinforce": {"learning_rate": 0.002}}


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--agent", "sac"], ["--agent 'sac' is not known", "reinforce, ppo"]),
        (["--gan", "textgan9"], ["--gan 'textgan9' is not known"]),
        (["--ppo.clip-coef", "0.1"], ["--ppo.* settings were given but --agent is reinforce", "Pass --agent ppo"]),
        (["--reinforce.values", "q"], ["--reinforce.*: unknown values 'q'"]),
        (["--reinforce.learning-rate", "-1"], ["--reinforce.learning-rate -1.0 must be positive"]),
    ],
)
def test_bad_agent_and_gan_settings_are_one_line_errors(tmp_path, capsys, args, fragments):
    corpus = grammar_corpus(tmp_path / "corpus.txt")
    out = tmp_path / "run"
    assert_one_line_error(main(["train", "--corpus", str(corpus), "--out", str(out), *TINY, *args]), capsys, *fragments)
    assert not out.exists()  # nothing was written


def test_help_lists_every_agent_and_gan_setting_with_its_docstring():
    result = run_cli("train", "--help")
    assert result.returncode == 0
    for flag in ("--ppo.clip-coef", "--reinforce.values", "--reinforce.kl-coef", "--gan", "--agent"):
        assert flag in result.stdout, flag
    assert "the probability-ratio clip of the surrogate objective" in " ".join(result.stdout.split())


@pytest.mark.parametrize("gan", sorted(name for name, gan in GANS.items() if not gan.needs_labels))  # those: test_conditional.py
def test_every_gan_trains_end_to_end_through_the_cli(tmp_path, capsys, gan):
    corpus = grammar_corpus(tmp_path / "corpus.txt")
    out = tmp_path / gan
    code = main(["train", "--corpus", str(corpus), "--out", str(out), *TINY, "--gan", gan])  # in-process: no start-up per GAN
    assert code == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["gan"] == gan
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sum(r["phase"] == "adversarial" for r in log) == 2
    assert (out / "checkpoints" / "final.safetensors").exists()


# ---------------------------------------------------------------------------------------------
# A user's own reward function and agent, with the public API only


class SignAgent:
    """A user's agent: REINFORCE whose value is +1 above the batch's median D score, -1 below."""

    def __init__(self, policy: Generator, learning_rate: float = 0.05, seed: int = 0):
        self.policy = policy
        self.generator = torch.Generator().manual_seed(seed)
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)

    uses_q_values = False

    def checkpoint_items(self):
        return {"optimizer": self.optimizer}

    def update(self, envs) -> dict[str, float]:
        rollout = collect_rollout(envs, self.policy, self.generator)
        log_probs, _, _ = replay(self.policy, rollout.inputs, rollout.starts, rollout.actions)
        episode_score = rollout.scores.sum(0)  # one episode per column (max_len steps, no EOS)
        sign = torch.sign(episode_score - episode_score.median())
        loss = -(log_probs.sum(0) * sign).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"score": float(episode_score.mean())}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_reward_function_and_an_agent_written_here_train_together(seed):
    def vowels(tokens: torch.Tensor) -> torch.Tensor:  # a fixed reward: the share of tokens 5 and 6
        return ((tokens == 5) | (tokens == 6)).float().mean(dim=1)

    envs = SeqGANVectorEnv(32, vocab_size=8, max_len=5, eos_id=None, tensors=True, autoreset_mode="SameStep",
                           reward_model=vowels)  # fmt: skip
    torch.manual_seed(seed)
    policy = Generator(GeneratorConfig(vocab_size=8, eos_id=None))
    agent = SignAgent(policy, seed=seed)
    first = agent.update(envs)["score"]
    for _ in range(40):
        last = agent.update(envs)["score"]
    assert first < 0.4 and last > 0.9, (first, last)  # chance is 2/8


# ---------------------------------------------------------------------------------------------
# Stabilisers against naive loops


def test_mean_and_leave_one_out_baselines_equal_naive_loops():
    torch.manual_seed(0)
    values = torch.randn(5, 4)
    valid = torch.rand(5, 4) > 0.3
    for kind in ("mean", "rloo"):
        expected = values.clone()
        for t in range(5):
            rows = [b for b in range(4) if valid[t, b]]
            for b in range(4):
                others = [r for r in rows if r != b] if kind == "rloo" else rows
                if others:
                    expected[t, b] -= sum(float(values[t, r]) for r in others) / len(others)
        assert_close(subtract_baseline(values, valid, kind)[valid], expected[valid])
    assert torch.equal(subtract_baseline(values, valid, "none"), values)


def test_kl_costs_are_beta_times_the_log_ratio_and_the_adaptive_coefficient_follows_its_rule():
    torch.manual_seed(0)
    policy = Generator(GeneratorConfig(vocab_size=6, eos_id=None))
    envs = SeqGANVectorEnv(4, vocab_size=6, max_len=3, eos_id=None, tensors=True, autoreset_mode="SameStep")
    penalty = KLPenalty(policy, coef=0.3, target=0.01, horizon=100)
    reference = Generator(GeneratorConfig(vocab_size=6, eos_id=None))
    reference.load_state_dict(policy.state_dict())  # what the penalty will freeze at its first use
    rollout = collect_rollout(envs, policy, torch.Generator().manual_seed(0))
    costs, kl = penalty.costs(rollout)
    assert_close(costs, torch.zeros_like(costs))  # the policy is its own reference at first
    with torch.no_grad():
        for parameter in policy.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    rollout = collect_rollout(envs, policy, torch.Generator().manual_seed(1))
    beta = float(penalty.coef)  # already adapted once: the first KL (0) was below the target
    assert beta == pytest.approx(0.3 * (1 - 0.2 * 12 / 100))
    costs, kl = penalty.costs(rollout)
    naive = torch.zeros_like(costs)
    with torch.no_grad():
        for t in range(rollout.num_steps):
            for b in range(4):
                context = [1] + rollout.actions[:t, b].tolist()  # one episode per column: no restarts
                x = torch.tensor([context])
                own = torch.log_softmax(policy(torch.cat([x[:, 1:], rollout.actions[t : t + 1, b : b + 1]], 1))[0, t], -1)
                ref = torch.log_softmax(reference(torch.cat([x[:, 1:], rollout.actions[t : t + 1, b : b + 1]], 1))[0, t], -1)
                naive[t, b] = beta * (own[rollout.actions[t, b]] - ref[rollout.actions[t, b]])
    assert_close(costs, naive, atol=1e-5, rtol=1e-4)
    assert kl == pytest.approx(float((naive / beta).mean()), rel=1e-4)
    expected_coef = beta * (1 + min(max(kl / 0.01 - 1, -0.2), 0.2) * 12 / 100)
    assert float(penalty.coef) == pytest.approx(expected_coef)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_kl_penalty_holds_the_policy_near_its_reference(seed):
    from tests.test_agents import TARGET, VOCAB, copy_task, train
    from textgan.agents import ReinforceAgent

    drift = {}
    for coef in (0.0, 1.0):
        envs, _, policy = copy_task(4, seed=seed)
        start = Generator(policy.config)
        start.load_state_dict(policy.state_dict())
        agent = ReinforceAgent(policy, ReinforceConfig(learning_rate=0.02, kl_coef=coef), seed=seed)
        train(agent, envs, policy, updates=30)
        samples = policy.sample(512, len(TARGET), generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            own, mask = policy.token_nll(samples)
            ref, _ = start.token_nll(samples)
        drift[coef] = float(((ref - own) * mask).sum() / mask.sum())  # KL(policy || start) per token
    assert drift[1.0] < 0.5 * drift[0.0], drift
    assert VOCAB == 8
