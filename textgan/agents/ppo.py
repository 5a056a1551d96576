"""PPO for the generator: clipped objective, a value head on the LSTM state, GAE.

The policy is recurrent, so experience is stored as whole columns ``(num_steps, B)`` with the
LSTM input of each step and where episodes started; every epoch re-runs the LSTM over the
columns of a minibatch (state reset to zero at each episode start) to get the new log-probs and
values. Minibatches split the sub-environments, never the time axis.

Rewards: ``terminal`` and ``shaped`` are ordinary MDP rewards (GAE over them). With ``mc`` each
reward already is the action value Q(s_t, a_t) from rollouts (see ``ReinforceAgent``), so the
advantage is ``Q_t - V(s_t)`` and V regresses on Q, without summing rewards.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from textgan.agents.base import policy_inputs
from textgan.env.vector_env import SeqGANVectorEnv, final_scores
from textgan.models.generator import Generator
from textgan.models.sampling import sample_from_logits


@dataclass
class PPOConfig:
    """Hyper-parameters of the PPO update."""

    learning_rate: float = 3e-3
    """Adam step size for the policy and the value head"""
    num_steps: int | None = None
    """env steps per update in each sub-environment; None = max_len"""
    update_epochs: int = 4
    """passes over the collected experience per update"""
    num_minibatches: int = 4
    """minibatches per epoch; each holds whole columns (sub-environments)"""
    gamma: float = 1.0
    """discount; 1 because an episode's value is D of the whole sequence"""
    gae_lambda: float = 0.95
    """GAE lambda (terminal and shaped modes)"""
    clip_coef: float = 0.2
    """the probability-ratio clip of the surrogate objective"""
    ent_coef: float = 0.0
    """weight of the entropy bonus"""
    vf_coef: float = 0.5
    """weight of the value loss (the value head shares the generator's LSTM)"""
    grad_clip: float = 0.5
    """global gradient-norm clip"""
    norm_adv: bool = True
    """normalise advantages within each minibatch"""
    target_kl: float | None = None
    """stop the epochs early once the approximate KL exceeds this"""


class PPOAgent:
    """Trains ``policy`` with PPO through a batched SeqGAN environment made with ``tensors=True``.

    Args:
        policy: the generator (updated in place).
        config: hyper-parameters.
        seed: seeds the agent's action sampling and the minibatch order.

    Examples:
        >>> from textgan.models import Generator, GeneratorConfig
        >>> envs = SeqGANVectorEnv(num_envs=4, vocab_size=8, max_len=3, reward_mode="terminal",
        ...                        tensors=True, autoreset_mode="SameStep")
        >>> agent = PPOAgent(Generator(GeneratorConfig(vocab_size=8)), PPOConfig(num_minibatches=2))
        >>> sorted(agent.update(envs))[:3]
        ['approx_kl', 'clip_frac', 'd_score']
    """

    def __init__(self, policy: Generator, config: PPOConfig | None = None, seed: int = 0):
        self.policy = policy
        self.config = config or PPOConfig()
        if self.config.num_minibatches < 1 or self.config.update_epochs < 1:
            raise ValueError("num_minibatches and update_epochs must be >= 1")
        device = policy.output.weight.device
        self.value_head = nn.Linear(policy.config.hidden_dim, 1).to(device)
        with torch.no_grad():  # start from V = 0: no opinion before the first return is seen
            self.value_head.weight.mul_(0.01)
            self.value_head.bias.zero_()
        parameters = [*policy.parameters(), *self.value_head.parameters()]
        self.optimizer = torch.optim.Adam(parameters, lr=self.config.learning_rate, eps=1e-5)
        self.generator = torch.Generator().manual_seed(seed)

    def checkpoint_items(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """What a checkpoint must hold besides the policy: the value head and the optimiser."""
        return {"value_head": self.value_head, "optimizer": self.optimizer}

    def state_dict(self) -> dict:
        return {"value_head": self.value_head.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.value_head.load_state_dict(state["value_head"])
        self.optimizer.load_state_dict(state["optimizer"])

    # -- experience ---------------------------------------------------------------------------

    @torch.no_grad()
    def collect(self, envs: SeqGANVectorEnv) -> dict[str, torch.Tensor]:
        """Run the policy for ``num_steps`` steps from fresh episodes; ``(num_steps, B)`` tensors."""
        steps, batch, device = self.config.num_steps or envs.config.max_len, envs.num_envs, envs.device
        buffer = {
            name: torch.zeros(steps, batch, dtype=dtype, device=device)
            for name, dtype in (
                ("inputs", torch.long), ("starts", torch.bool), ("actions", torch.long), ("log_probs", torch.float),
                ("values", torch.float), ("rewards", torch.float), ("ends", torch.bool), ("valid", torch.bool),
                ("d_scores", torch.float),
            )
        }  # fmt: skip
        observation, _ = envs.reset(seed=int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator)))
        state = None
        pending_reset = torch.zeros(batch, dtype=torch.bool, device=device)
        next_step = envs.autoreset_mode.name == "NEXT_STEP"
        for t in range(steps):
            buffer["starts"][t] = observation["length"].squeeze(1) == 0
            previous, state = policy_inputs(self.policy, observation, state)
            logits, state = self.policy.step(previous, state)
            uniforms = torch.rand(batch, generator=self.generator).to(device)
            action = sample_from_logits(logits, uniforms)
            buffer["inputs"][t], buffer["actions"][t] = previous, action
            buffer["log_probs"][t] = torch.log_softmax(logits, -1).gather(1, action.unsqueeze(1)).squeeze(1)
            buffer["values"][t] = self.value_head(state[0]).squeeze(1)
            observation, reward, terminated, truncated, info = envs.step(action)
            done = terminated | truncated
            # NEXT_STEP: the step after an episode's end only resets it; its action is ignored
            buffer["valid"][t] = ~pending_reset
            buffer["rewards"][t], buffer["ends"][t], buffer["d_scores"][t] = reward, done, final_scores(info)
            if next_step:
                pending_reset = done
        previous, state = policy_inputs(self.policy, observation, state)
        hidden, _ = self.policy.cell(previous, state)
        buffer["next_value"] = self.value_head(hidden).squeeze(1)
        return buffer

    def advantages(self, buffer: dict[str, torch.Tensor], reward_mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Advantages and value targets ``(num_steps, B)``."""
        rewards, values = buffer["rewards"], buffer["values"]
        if reward_mode == "mc":  # rewards are action values already
            return rewards - values, rewards
        return generalized_advantages(
            rewards, values, buffer["ends"], buffer["next_value"], self.config.gamma, self.config.gae_lambda
        )

    # -- the update ---------------------------------------------------------------------------

    def evaluate(self, inputs: torch.Tensor, starts: torch.Tensor, actions: torch.Tensor):
        """Log-probs, entropies and values ``(steps, b)`` of ``actions`` under the current weights."""
        state = self.policy.initial_state(inputs.shape[1], inputs.device)
        log_probs, entropies, values = [], [], []
        for t in range(len(inputs)):
            keep = (~starts[t]).unsqueeze(1).to(state[0].dtype)  # a new episode starts from zeros
            logits, state = self.policy.step(inputs[t], (state[0] * keep, state[1] * keep))
            log_prob_all = torch.log_softmax(logits, dim=-1)
            log_probs.append(log_prob_all.gather(1, actions[t].unsqueeze(1)).squeeze(1))
            entropies.append(-(log_prob_all.exp() * log_prob_all).sum(-1))
            values.append(self.value_head(state[0]).squeeze(1))
        return torch.stack(log_probs), torch.stack(entropies), torch.stack(values)

    def update(self, envs: SeqGANVectorEnv) -> dict[str, float]:
        """Collect ``num_steps`` steps of every sub-environment and run the PPO epochs on them."""
        if not envs.tensors:
            raise ValueError("PPOAgent needs a SeqGANVectorEnv made with tensors=True")
        cfg = self.config
        buffer = self.collect(envs)
        advantages, returns = self.advantages(buffer, envs.config.reward_mode)
        batch = envs.num_envs
        minibatch = max(1, batch // cfg.num_minibatches)
        stats: dict[str, list[float]] = {"pg_loss": [], "v_loss": [], "entropy": [], "approx_kl": [], "clip_frac": []}
        for _ in range(cfg.update_epochs):
            order = torch.randperm(batch, generator=self.generator).to(envs.device)
            for columns in order.split(minibatch):
                valid = buffer["valid"][:, columns]
                new_log_probs, entropy, new_values = self.evaluate(
                    buffer["inputs"][:, columns], buffer["starts"][:, columns], buffer["actions"][:, columns]
                )
                log_ratio = (new_log_probs - buffer["log_probs"][:, columns])[valid]
                ratio = log_ratio.exp()
                advantage = advantages[:, columns][valid]
                if cfg.norm_adv and advantage.numel() > 1:
                    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
                pg_loss = torch.max(
                    -advantage * ratio, -advantage * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)
                ).mean()
                v_loss = 0.5 * (new_values[valid] - returns[:, columns][valid]).square().mean()
                entropy_mean = entropy[valid].mean()
                loss = pg_loss - cfg.ent_coef * entropy_mean + cfg.vf_coef * v_loss
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_([*self.policy.parameters(), *self.value_head.parameters()], cfg.grad_clip)
                self.optimizer.step()
                with torch.no_grad():
                    stats["pg_loss"].append(float(pg_loss))
                    stats["v_loss"].append(float(v_loss))
                    stats["entropy"].append(float(entropy_mean))
                    stats["approx_kl"].append(float(((ratio - 1) - log_ratio).mean()))  # the k3 estimator
                    stats["clip_frac"].append(float(((ratio - 1).abs() > cfg.clip_coef).float().mean()))
            if cfg.target_kl is not None and stats["approx_kl"][-1] > cfg.target_kl:
                break
        return {**{name: sum(v) / len(v) for name, v in stats.items()}, **episode_metrics(buffer)}


def episode_metrics(buffer: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean reward per decision, and the final reward and D's score over finished episodes."""
    valid, ends = buffer["valid"], buffer["ends"]
    finished = buffer["rewards"][ends]
    return {
        "mean_reward": float(buffer["rewards"][valid].mean()),
        "final_reward": float(finished.mean()) if len(finished) else float("nan"),
        "d_score": float(buffer["d_scores"][ends].mean()) if len(finished) else float("nan"),
    }


def generalized_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    ends: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over ``(steps, B)`` columns; an episode end cuts the bootstrap.

    Args:
        rewards, values: per step; ``values[t]`` is V of the state the step acted in.
        ends: True where the step ended its episode (terminated or truncated by the env).
        next_value: ``(B,)`` V of the state after the last step (used when it did not end).

    Returns:
        Advantages and returns (advantages + values), both ``(steps, B)``.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(next_value)
    following = next_value
    for t in range(len(rewards) - 1, -1, -1):
        alive = (~ends[t]).to(rewards.dtype)
        delta = rewards[t] + gamma * following * alive - values[t]
        running = delta + gamma * gae_lambda * alive * running
        advantages[t] = running
        following = values[t]
    return advantages, advantages + values
