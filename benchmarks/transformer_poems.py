"""The Transformer policy on the poems task of ``agents_curves.py``: REINFORCE, PPO and SB3 PPO.

Run from the repository root (about 10 minutes on 2 CPU cores):

    python benchmarks/transformer_poems.py               # 50 updates of 32 sequences per agent
    python benchmarks/transformer_poems.py --updates 4   # a quick look

As in ``agents_curves.py``'s poems task: a Transformer policy (width 32, 2 blocks of 4 heads) is
MLE-trained briefly on the built-in corpus (V=5680, T=24), a small CNN D is trained against its
samples and then kept fixed, and each agent starts from that generator (SB3 PPO from its own
untrained Transformer extractor). Printed: the mean D(Y) of the sequences finished in the first
update, at half the budget, in the last update, and the best.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from agents_curves import Task, at_fraction, run_builtin
from textgan.adversarial import train_discriminator
from textgan.agents import PPOAgent, PPOConfig, ReinforceAgent, ReinforceConfig
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models import Discriminator, DiscriminatorConfig
from textgan.policies import TransformerConfig, TransformerPolicy

SIZES = dict(dim=32, layers=2, heads=4)


def poems_task(updates: int, seed: int) -> Task:
    probe = SeqGANVectorEnv(1, corpus="poems")
    real, tokenizer = probe.real_tokens, probe.tokenizer
    vocab_size, max_len = tokenizer.vocab_size, real.shape[1]
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    policy = TransformerPolicy(TransformerConfig(vocab_size, max_len, **SIZES))
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    for _ in range(150):
        loss = policy.mle_loss(real[torch.randint(len(real), (64,), generator=rng)])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    d = Discriminator(DiscriminatorConfig(vocab_size, max_len, embed_dim=32, filter_sizes=(2, 3, 4, 5), num_filters=(32,) * 4))
    d_optimizer = torch.optim.Adam(d.parameters(), lr=1e-3)
    for _ in range(4):
        metrics = train_discriminator(d, d_optimizer, real[torch.randperm(len(real), generator=rng)[:1024]], policy, 1024, 1, 64, rng)
    d.eval()
    print(f"MLE loss {float(loss.detach()):.2f}, D accuracy {metrics['d_accuracy']:.2f} "
          f"(real {metrics['d_real_prob']:.2f}, MLE samples {metrics['d_fake_prob']:.2f})")  # fmt: skip
    return Task("poems", dict(real_tokens=real, tokenizer=tokenizer), d, policy, 32, updates)


def sb3_scores(task: Task, seed: int) -> tuple[float, float]:
    """Mean D(Y) of 128 sampled sequences before and after SB3 PPO's training."""
    from stable_baselines3 import PPO

    from textgan.agents.sb3 import SeqGANSB3VecEnv, token_transformer_policy_kwargs

    venv = SeqGANSB3VecEnv(task.envs(0, autoreset_mode="SameStep"))
    n_steps = 2 * task.max_len
    model = PPO(
        "MultiInputPolicy", venv, n_steps=n_steps, batch_size=4 * n_steps, n_epochs=4, learning_rate=1e-3, gamma=1.0,
        policy_kwargs=token_transformer_policy_kwargs(**SIZES), seed=seed, device="cpu",
    )  # fmt: skip

    def score() -> float:
        venv.seed(7)
        observation, scores = venv.reset(), []
        while len(scores) < 128:
            actions, _ = model.predict(observation, deterministic=False)
            observation, _, dones, infos = venv.step(actions)
            scores += [info["d_score"] for info, done in zip(infos, dones) if done]
        return float(np.mean(scores))

    before = score()
    model.learn(total_timesteps=task.updates * task.num_envs * task.max_len)
    return before, score()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = poems_task(args.updates, args.seed)
    agents = {
        "REINFORCE (mc, K=4)": (ReinforceAgent, ReinforceConfig(learning_rate=1e-3, baseline="mean", values="mc")),
        "PPO": (PPOAgent, PPOConfig(learning_rate=3e-4)),
    }
    for name, (agent_cls, config) in agents.items():
        start = time.perf_counter()
        steps, scores = run_builtin(task, agent_cls, config, args.seed)
        print(f"{name:20s} D(Y) first {scores[0]:.3f}  50% {at_fraction(steps, scores, 0.5):.3f}  last {scores[-1]:.3f}  "
              f"best {max(scores):.3f}  ({steps[-1]} env steps, {time.perf_counter() - start:.0f}s)")  # fmt: skip
    start = time.perf_counter()
    before, after = sb3_scores(task, args.seed)
    print(f"{'SB3 PPO':20s} D(Y) of samples before {before:.3f}  after {after:.3f}  ({time.perf_counter() - start:.0f}s)")


if __name__ == "__main__":
    main()
