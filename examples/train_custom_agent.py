"""Train the SeqGAN generator with an RL algorithm written here, not in the package (CleanRL style).

The algorithm is advantage actor-critic (A2C): the generator is the actor, a linear value head on
its LSTM state is the critic, and each update uses one batch of fresh sequences. The script only
uses textgan's public pieces: the registered environment (``gymnasium.make_vec``), the shared
rollout collection (``textgan.agents.collect_rollout``, ``replay``), the models, and
``textgan.adversarial.train_discriminator`` for the discriminator's turn.

    python examples/train_custom_agent.py                   # poems, a few minutes on a CPU
    python examples/train_custom_agent.py --tiny            # a seconds-long smoke run
    python examples/train_custom_agent.py --reward-mode shaped --rollouts 8
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import time
from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import nn

import textgan  # noqa: F401  (registers textgan/SeqGAN-v0)
from textgan.adversarial import train_discriminator
from textgan.agents import collect_rollout, replay
from textgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig


@dataclass
class Args:
    seed: int = 1
    """seed of the run (models, sampling, environment)"""
    corpus: str = "poems"
    """a built-in corpus name or a UTF-8 text file with one sample per line"""
    max_len: int = 0
    """longest sequence in tokens; 0: the corpus's longest line"""
    reward_mode: str = "direct"
    """direct (D's score at the end) or shaped (differences of Monte Carlo values; see docs/rl.md)"""
    rollouts: int = 0
    """Monte Carlo rollouts per prefix (the shaped mode needs them)"""
    num_envs: int = 64
    """sequences generated in parallel (the batch of one update)"""
    mle_steps: int = 300
    """teacher-forcing minibatches before the adversarial rounds"""
    d_pretrain_steps: int = 3
    """discriminator steps before the adversarial rounds"""
    rounds: int = 30
    """adversarial rounds"""
    g_steps: int = 1
    """generator updates per round"""
    d_steps: int = 1
    """discriminator steps per round (each with fresh negatives)"""
    d_epochs: int = 1
    """passes over real + generated rows per discriminator step"""
    num_negatives: int = 1024
    """generated (and as many real) sequences per discriminator step"""
    batch_size: int = 64
    """rows per minibatch for MLE and the discriminator"""
    learning_rate: float = 1e-3
    """Adam step size of the actor and critic"""
    mle_learning_rate: float = 1e-2
    """Adam step size of MLE pre-training"""
    d_learning_rate: float = 1e-4
    """Adam step size of the discriminator"""
    gamma: float = 1.0
    """discount (1: the return is D of the whole sequence)"""
    ent_coef: float = 0.01
    """weight of the entropy bonus"""
    vf_coef: float = 0.5
    """weight of the critic's loss"""
    max_grad_norm: float = 5.0
    """global gradient-norm clip"""
    rollout_rate: float = 0.8
    """the rollout policy keeps this share of its weights at each sync (SeqGAN's delay)"""
    metrics_file: str = ""
    """write one JSON line of metrics per round here ("" for none)"""
    tiny: bool = False
    """a seconds-long smoke run: overrides the sizes above with tiny ones"""


TINY = dict(num_envs=8, mle_steps=2, d_pretrain_steps=1, rounds=2, num_negatives=16, batch_size=8)


def parse_args() -> Args:
    """Command-line flags from the fields of ``Args``, with their docstrings as help."""
    docs = {}  # field name -> the string literal under it
    body = ast.parse(inspect.getsource(Args)).body[0].body
    for node, following in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(following, ast.Expr):
            docs[node.target.id] = following.value.value
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in dataclasses.fields(Args):
        flag = "--" + field.name.replace("_", "-")
        if field.type == "bool":
            parser.add_argument(flag, action="store_true", help=docs.get(field.name))
        else:
            parser.add_argument(flag, type=type(field.default), default=field.default, help=docs.get(field.name))
    args = Args(**vars(parser.parse_args()))
    return dataclasses.replace(args, **TINY) if args.tiny else args


# ---------------------------------------------------------------------------------------------
# The algorithm: A2C on the generator, written against the env's public API only


def a2c_update(policy, value_head, optimizer, envs, args: Args, rng: torch.Generator) -> dict[str, float]:
    """Generate ``max_len`` steps in every sub-environment, then one actor-critic gradient step."""
    # textgan collects the experience (seeded reset, sampling, episode restarts) ...
    rollout = collect_rollout(envs, policy, rng)
    # ... and the algorithm is ours: re-run the policy with gradients, bootstrap, A2C loss
    log_probs, entropies, hidden = replay(policy, rollout.inputs, rollout.starts, rollout.actions)
    values = value_head(hidden).squeeze(-1)
    with torch.no_grad():  # bootstrap the episodes the rollout cut off
        following = value_head(policy.features(policy.cell(rollout.next_input, rollout.next_state))).squeeze(1)
    returns = torch.zeros_like(rollout.rewards)
    for t in reversed(range(rollout.num_steps)):
        following = rollout.rewards[t] + args.gamma * following * (~rollout.ends[t]).float()
        returns[t] = following
    advantages = (returns - values).detach()

    pg_loss = -(log_probs * advantages).mean()
    v_loss = 0.5 * (returns - values).square().mean()
    entropy = entropies.mean()
    loss = pg_loss + args.vf_coef * v_loss - args.ent_coef * entropy
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_([*policy.parameters(), *value_head.parameters()], args.max_grad_norm)
    optimizer.step()
    finished = rollout.scores[rollout.ends]
    return {
        "pg_loss": float(pg_loss.detach()),
        "v_loss": float(v_loss.detach()),
        "entropy": float(entropy.detach()),
        "d_score": float(finished.mean()) if len(finished) else float("nan"),
    }


# ---------------------------------------------------------------------------------------------
# Boilerplate: seeding, data, models, and the adversarial loop


def main(args: Args) -> None:
    torch.manual_seed(args.seed)
    rng = torch.Generator().manual_seed(args.seed)

    envs = gym.make_vec(
        "textgan/SeqGAN-v0",
        num_envs=args.num_envs,
        vectorization_mode="vector_entry_point",
        corpus=args.corpus,
        max_len=args.max_len or None,
        reward_mode=args.reward_mode,
        rollouts=args.rollouts,
        autoreset_mode="SameStep",
        tensors=True,
    )
    tokenizer, real = envs.unwrapped.tokenizer, envs.unwrapped.real_tokens
    vocab_size, max_len = envs.single_action_space.n, real.shape[1]
    print(f"corpus {args.corpus}: {len(real)} sequences, vocabulary {vocab_size}, max_len {max_len}")

    policy = Generator(GeneratorConfig(vocab_size=vocab_size, embed_dim=32, hidden_dim=64))
    value_head = nn.Linear(64, 1)
    discriminator = Discriminator(
        DiscriminatorConfig(vocab_size, max_len, embed_dim=32, filter_sizes=(2, 3, 4, 5), num_filters=(32,) * 4)
    )
    optimizer = torch.optim.Adam([*policy.parameters(), *value_head.parameters()], lr=args.learning_rate)
    mle_optimizer = torch.optim.Adam(policy.parameters(), lr=args.mle_learning_rate)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=args.d_learning_rate)

    def d_step() -> dict[str, float]:
        positives = real[torch.randperm(len(real), generator=rng)[: args.num_negatives]]
        return train_discriminator(
            discriminator, d_optimizer, positives, policy, args.num_negatives, args.d_epochs, args.batch_size, rng
        )

    start = time.perf_counter()
    mle_loss = float("nan")
    for _ in range(args.mle_steps):  # teacher forcing, so that the discriminator has something to judge
        loss = policy.mle_loss(real[torch.randint(len(real), (args.batch_size,), generator=rng)])
        mle_optimizer.zero_grad()
        loss.backward()
        mle_optimizer.step()
        mle_loss = float(loss.detach())
    print(f"MLE: {args.mle_steps} steps, last loss {mle_loss:.3f}")
    for _ in range(args.d_pretrain_steps):
        d_metrics = d_step()
    envs.unwrapped.set_discriminator(discriminator)
    envs.unwrapped.sync_rollout_policy(policy, 0.0)

    metrics_file = open(args.metrics_file, "w") if args.metrics_file else None
    env_steps = 0
    for round_index in range(1, args.rounds + 1):
        for _ in range(args.g_steps):
            g_metrics = a2c_update(policy, value_head, optimizer, envs, args, rng)
            env_steps += args.num_envs * max_len
        for _ in range(args.d_steps):
            d_metrics = d_step()
        envs.unwrapped.sync_rollout_policy(policy, args.rollout_rate)
        record = {"round": round_index, "env_steps": env_steps, **g_metrics, **d_metrics}
        if metrics_file:
            metrics_file.write(json.dumps(record) + "\n")
        sample = tokenizer.decode(policy.sample(1, max_len, generator=rng)[0])
        print(
            f"round {round_index:3d}  D(Y) {g_metrics['d_score']:.3f}  v_loss {g_metrics['v_loss']:.4f}  "
            f"d_loss {d_metrics['d_loss']:.3f}  d_acc {d_metrics['d_accuracy']:.2f}  sample {sample}"
        )
    if metrics_file:
        metrics_file.close()
    envs.close()
    print(f"done in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main(parse_args())
