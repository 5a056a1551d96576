"""Learning curves of every generator agent on the copy task and on the poems corpus, short budgets.

Run from the repository root (about 5 minutes on 2 CPU cores):

    python benchmarks/agents_curves.py                       # writes benchmarks/agents_curves.png
    python benchmarks/agents_curves.py --updates-scale 0.25  # a quick look

Agents: SeqGAN's REINFORCE (with Monte Carlo values, K=4, as published, and with ``direct``
rewards), the built-in PPO, Stable-Baselines3 PPO (token-LSTM extractor), and the A2C written in
``examples/train_custom_agent.py``. All but the mc run use ``direct`` rewards (D(Y) at the end). The y value is
the mean D(Y) of the episodes finished in each update (SB3: in each rollout), against env steps.

- copy: V=8, T=4, a fixed D that scores the share of positions equal to (5, 3, 6, 4); every
  agent starts from scratch. Chance is 0.125; 1 is the target.
- poems: the built-in corpus (V=5680, T=24). A small CNN D is trained to tell real poems from a
  briefly MLE-trained generator, then kept fixed, so the curves compare agents on one reward.
  The generator-based agents start from that MLE generator; SB3 has its own network and starts
  from scratch, so its curve is not comparable at the start.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import torch

from textgan.adversarial import train_discriminator
from textgan.agents import PPOAgent, PPOConfig, ReinforceAgent, ReinforceConfig
from textgan.env.copy_task import TargetDiscriminator
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
AGENT_NAMES = ("REINFORCE (mc, K=4)", "REINFORCE", "PPO", "SB3 PPO", "example A2C")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "agents_curves.png")
    parser.add_argument("--updates-scale", type=float, default=1.0, help="multiply every budget by this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these sizes)")
    return parser.parse_args()


def load_example():
    path = REPO_ROOT / "examples" / "train_custom_agent.py"
    spec = importlib.util.spec_from_file_location("train_custom_agent", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# Tasks: an env factory, a discriminator, a starting generator


class Task:
    def __init__(self, name, env_kwargs, discriminator, start_policy, num_envs, updates):
        self.name, self.env_kwargs, self.discriminator = name, env_kwargs, discriminator
        self.start_policy, self.num_envs, self.updates = start_policy, num_envs, updates

    def envs(self, rollouts: int, **kwargs) -> SeqGANVectorEnv:
        envs = SeqGANVectorEnv(self.num_envs, rollouts=rollouts, **self.env_kwargs, **kwargs)
        envs.set_discriminator(self.discriminator)
        return envs

    @property
    def max_len(self) -> int:
        return self.discriminator.config.max_len


def copy_task(scale: float, seed: int) -> Task:
    torch.manual_seed(seed)
    policy = Generator(GeneratorConfig(vocab_size=8, eos_id=None))
    kwargs = dict(vocab_size=8, max_len=4, eos_id=None)
    return Task("copy task", kwargs, TargetDiscriminator((5, 3, 6, 4), 8), policy, 32, max(2, round(40 * scale)))


def poems_task(scale: float, seed: int) -> Task:
    start = time.perf_counter()
    probe = SeqGANVectorEnv(1, corpus="poems")
    real, tokenizer = probe.real_tokens, probe.tokenizer
    vocab_size, max_len = tokenizer.vocab_size, real.shape[1]
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    policy = Generator(GeneratorConfig(vocab_size=vocab_size, embed_dim=32, hidden_dim=32))
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
    for _ in range(max(2, round(150 * scale))):
        loss = policy.mle_loss(real[torch.randint(len(real), (64,), generator=rng)])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    d = Discriminator(
        DiscriminatorConfig(vocab_size, max_len, embed_dim=32, filter_sizes=(2, 3, 4, 5), num_filters=(32,) * 4)
    )
    d_optimizer = torch.optim.Adam(d.parameters(), lr=1e-3)
    for _ in range(max(1, round(4 * scale))):
        positives = real[torch.randperm(len(real), generator=rng)[:1024]]
        metrics = train_discriminator(d, d_optimizer, positives, policy, 1024, 1, 64, rng)
    d.eval()
    print(
        f"poems: MLE loss {float(loss.detach()):.2f}, D accuracy {metrics['d_accuracy']:.2f} "
        f"(real {metrics['d_real_prob']:.2f}, MLE samples {metrics['d_fake_prob']:.2f}), "
        f"setup {time.perf_counter() - start:.0f}s"
    )
    kwargs = dict(real_tokens=real, tokenizer=tokenizer)
    return Task("poems", kwargs, d, policy, 32, max(2, round(50 * scale)))


# ---------------------------------------------------------------------------------------------
# Agents: each returns (env steps, mean D(Y)) per update


def run_builtin(task: Task, agent_cls, config, seed: int):
    policy = copy.deepcopy(task.start_policy)
    agent = agent_cls(policy, config, seed=seed)
    envs = task.envs(4 if agent.uses_q_values else 0, autoreset_mode="SameStep", tensors=True)
    steps, scores = [], []
    per_update = task.num_envs * (getattr(config, "num_steps", None) or task.max_len)
    for update in range(task.updates):
        envs.sync_rollout_policy(policy, 0.0)
        metrics = agent.update(envs)
        steps.append((update + 1) * per_update)
        scores.append(metrics.get("d_score", metrics.get("final_reward")))
    return steps, scores


def run_example(task: Task, example, seed: int):
    policy = copy.deepcopy(task.start_policy)
    envs = task.envs(0, autoreset_mode="SameStep", tensors=True)
    value_head = torch.nn.Linear(policy.config.hidden_dim, 1)
    args = example.Args(learning_rate=1e-2 if task.name == "copy task" else 1e-3, ent_coef=0.0)
    optimizer = torch.optim.Adam([*policy.parameters(), *value_head.parameters()], lr=args.learning_rate)
    rng = torch.Generator().manual_seed(seed)
    steps, scores = [], []
    for update in range(task.updates):
        metrics = example.a2c_update(policy, value_head, optimizer, envs, args, rng)
        steps.append((update + 1) * task.num_envs * task.max_len)
        scores.append(metrics["d_score"])
    return steps, scores


def run_sb3(task: Task, seed: int):
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from textgan.agents.sb3 import SeqGANSB3VecEnv, token_lstm_policy_kwargs

    venv = SeqGANSB3VecEnv(task.envs(0, autoreset_mode="SameStep"))
    n_steps = 2 * task.max_len

    class Scores(BaseCallback):
        def __init__(self):
            super().__init__()
            self.steps, self.scores, self.pending = [], [], []

        def _on_step(self) -> bool:
            self.pending += [info["d_score"] for info, done in zip(self.locals["infos"], self.locals["dones"]) if done]
            return True

        def _on_rollout_end(self) -> None:
            self.steps.append(self.num_timesteps)
            self.scores.append(float(np.mean(self.pending)) if self.pending else float("nan"))
            self.pending = []

    lr = 3e-3 if task.name == "copy task" else 1e-3
    model = PPO(
        "MultiInputPolicy", venv, n_steps=n_steps, batch_size=4 * n_steps, n_epochs=4, learning_rate=lr,
        gamma=1.0, policy_kwargs=token_lstm_policy_kwargs(hidden_dim=64), seed=seed, device="cpu",
    )  # fmt: skip
    callback = Scores()
    model.learn(total_timesteps=task.updates * task.num_envs * task.max_len, callback=callback)
    return callback.steps, callback.scores


def run_all(task: Task, example, seed: int) -> dict[str, tuple[list[int], list[float]]]:
    lr = 0.02 if task.name == "copy task" else 1e-3
    runs = {
        "REINFORCE (mc, K=4)": lambda: run_builtin(
            task, ReinforceAgent, ReinforceConfig(learning_rate=lr, baseline="mean", values="mc"), seed
        ),
        "REINFORCE": lambda: run_builtin(
            task, ReinforceAgent, ReinforceConfig(learning_rate=lr, baseline="mean", values="return"), seed
        ),
        "PPO": lambda: run_builtin(
            task, PPOAgent, PPOConfig(learning_rate=0.01 if task.name == "copy task" else 1e-3), seed
        ),
        "SB3 PPO": lambda: run_sb3(task, seed),
        "example A2C": lambda: run_example(task, example, seed),
    }
    curves = {}
    for name in AGENT_NAMES:
        start = time.perf_counter()
        curves[name] = runs[name]()
        steps, scores = curves[name]
        print(f"  {task.name:9s} {name:20s} {steps[-1]:6d} steps  final D(Y) {scores[-1]:.3f}  "
              f"{time.perf_counter() - start:5.1f}s")  # fmt: skip
    return curves


# ---------------------------------------------------------------------------------------------
# Output


def at_fraction(steps, scores, fraction: float) -> float:
    """The score of the first update at or past ``fraction`` of the run's steps."""
    target = fraction * steps[-1]
    return next(score for step, score in zip(steps, scores) if step >= target)


def print_table(results: dict[str, dict[str, tuple[list[int], list[float]]]]) -> None:
    print("\n| task | agent | env steps | D(Y) at 0% | 25% | 50% | 100% | best |")
    print("|---|---|---|---|---|---|---|---|")
    for task, curves in results.items():
        for name, (steps, scores) in curves.items():
            points = [scores[0], *(at_fraction(steps, scores, f) for f in (0.25, 0.5, 1.0)), np.nanmax(scores)]
            print(f"| {task} | {name} | {steps[-1]} | " + " | ".join(f"{p:.3f}" for p in points) + " |")


def plot(results, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(results))
    for ax, (task, curves) in zip(np.atleast_1d(axes), results.items()):
        for i, (name, (steps, scores)) in enumerate(curves.items()):
            ax.plot(steps, scores, label=name, color=f"C{i}", linewidth=1.3)
        ax.set_title(task)
        ax.set_xlabel("env steps")
        ax.set_ylabel("mean D(Y) of finished episodes")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    example = load_example()
    start = time.perf_counter()
    results = {}
    for make_task in (copy_task, poems_task):
        task = make_task(args.updates_scale, args.seed)
        results[task.name] = run_all(task, example, args.seed)
    plot(results, args.out)
    print_table(results)
    print(f"\nPNG: {args.out}   total {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
