"""LeakGAN (Guo et al. 2018): SeqGAN's discriminator leaks its features to a hierarchical generator.

The reward model is SeqGAN's CNN + highway discriminator (``--d-*`` flags), unchanged; its
highway features of each prefix feed the generator's manager (``textgan.models.leakgan``), and
LeakGAN's own agent (``textgan.agents.leakgan``) trains manager and worker. Its settings are the
``--leakgan.*`` flags; ``--agent`` does not apply.

Examples:
    >>> LEAKGAN.data_parallel, sorted(vars(LeakGANSettings()))[:3]
    (False, ['delta', 'goal_dim', 'grad_clip'])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from textgan.agents.leakgan import LeakGANAgent, LeakGANAgentConfig
from textgan.gans.base import GAN, RewardContext
from textgan.gans.seqgan import seqgan_reward
from textgan.models.leakgan import LeakGANConfig, LeakGANPolicy
from textgan.rewards.discriminator import DiscriminatorReward


@dataclass
class LeakGANSettings(LeakGANAgentConfig):
    """The generator's goal sizes and the agent's hyper-parameters (defaults: the authors' code)."""

    goal_dim: int = 16
    """k, the worker's goal embedding size (the LSTMs take --g-embed-dim and --g-hidden-dim)"""
    step_size: int = 4
    """c: goals summed per step, the manager's horizon, the Monte Carlo values' spacing"""

    def __post_init__(self):
        super().__post_init__()
        for name in ("goal_dim", "step_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def leakgan_agent(context: RewardContext, reward_model: DiscriminatorReward) -> LeakGANAgent:
    settings = context.settings or LeakGANSettings()
    config = context.config
    policy = LeakGANPolicy(
        LeakGANConfig(
            vocab_size=context.vocab_size, max_len=context.max_len, feature_dim=reward_model.feature_dim,
            embed_dim=config.g_embed_dim, hidden_dim=config.g_hidden_dim, goal_dim=settings.goal_dim,
            step_size=settings.step_size, bos_id=context.bos_id, eos_id=context.eos_id, pad_id=context.pad_id,
        ),
        reward_model,
    ).to(context.device)  # fmt: skip
    agent_fields = {f.name for f in dataclasses.fields(LeakGANAgentConfig)}
    agent_config = LeakGANAgentConfig(**{k: v for k, v in vars(settings).items() if k in agent_fields})
    return LeakGANAgent(policy, agent_config, seed=config.seed, real_tokens=context.real_tokens)


LEAKGAN = GAN(
    "leakgan",
    "LeakGAN: D's features leak to a manager-worker generator (Guo et al. 2018)",
    seqgan_reward,
    settings=LeakGANSettings,
    data_parallel=False,
    build_agent=leakgan_agent,
)
