"""SeqGAN's policy gradient (REINFORCE with Monte Carlo action values).

The environment's ``mc`` reward at step t is already Q(Y_{1:t-1}, y_t), so the loss is
``-sum_t log pi(y_t | Y_{1:t-1}) * Q_t`` averaged over sequences, with no return summing (as in
the paper). With other reward modes the agent sums rewards-to-go instead, which is the
ordinary REINFORCE estimator for a sparse or shaped reward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textgan.agents.base import policy_inputs
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models.generator import Generator
from textgan.models.sampling import sample_from_logits


@dataclass
class ReinforceConfig:
    """Hyper-parameters of the policy-gradient update (defaults: SeqGAN's code)."""

    learning_rate: float = 0.01
    """Adam step size for adversarial updates (the paper's code uses 0.01)"""
    grad_clip: float = 5.0
    """global gradient-norm clip"""
    baseline: str = "none"
    """none (the paper) or mean: subtract the batch mean of Q at each position"""
    num_steps: int | None = None
    """env steps per update; None = max_len, one sequence per sub-environment"""


class ReinforceAgent:
    """Trains ``policy`` with SeqGAN's REINFORCE through a batched SeqGAN environment.

    Args:
        policy: the generator (updated in place).
        config: hyper-parameters.
        seed: seeds the agent's own action sampling.
    """

    def __init__(self, policy: Generator, config: ReinforceConfig | None = None, seed: int = 0):
        self.policy = policy
        self.config = config or ReinforceConfig()
        if self.config.baseline not in ("none", "mean"):
            raise ValueError(f"unknown baseline {self.config.baseline!r}; choose none or mean")
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=self.config.learning_rate)
        self.generator = torch.Generator().manual_seed(seed)

    def checkpoint_items(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def update(self, envs: SeqGANVectorEnv) -> dict[str, float]:
        if not envs.tensors:
            raise ValueError("ReinforceAgent needs a SeqGANVectorEnv made with tensors=True")
        num_steps = self.config.num_steps or envs.config.max_len
        observation, _ = envs.reset(seed=int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator)))
        log_probs, rewards, valid, ends = [], [], [], []
        state = None
        pending_reset = torch.zeros(envs.num_envs, dtype=torch.bool, device=envs.device)
        for _ in range(num_steps):
            previous, state = policy_inputs(self.policy, observation, state)
            logits, state = self.policy.step(previous, state)
            log_prob_all = torch.log_softmax(logits, dim=-1)
            uniforms = torch.rand(envs.num_envs, generator=self.generator).to(envs.device)
            action = sample_from_logits(logits.detach(), uniforms)
            log_probs.append(log_prob_all.gather(1, action.unsqueeze(1)).squeeze(1))
            observation, reward, terminated, truncated, _ = envs.step(action)
            # in NEXT_STEP mode the step after an episode's end only resets it: not a decision
            valid.append(~pending_reset)
            rewards.append(reward)
            done = terminated | truncated
            ends.append(done)
            if envs.autoreset_mode.name == "NEXT_STEP":
                pending_reset = done
        log_probs, rewards = torch.stack(log_probs), torch.stack(rewards)
        valid, ends = torch.stack(valid).float(), torch.stack(ends)
        values = rewards if envs.config.reward_mode == "mc" else rewards_to_go(rewards, ends)
        if self.config.baseline == "mean":
            values = values - (values * valid).sum(1, keepdim=True) / valid.sum(1, keepdim=True).clamp_min(1)
        episodes = ends.sum().clamp_min(1)
        loss = -(log_probs * values.detach() * valid).sum() / episodes
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.grad_clip)
        self.optimizer.step()
        final = rewards[ends]
        return {
            "pg_loss": float(loss.detach()),
            "mean_reward": float((rewards * valid).sum() / valid.sum()),
            "final_reward": float(final.mean()) if len(final) else float("nan"),
            "grad_norm": float(grad_norm),
        }


def rewards_to_go(rewards: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Undiscounted sum of future rewards within each episode; ``(steps, B)`` in and out."""
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + running * (~ends[t]).float()
        out[t] = running
    return out
