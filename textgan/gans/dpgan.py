"""DPGAN (Xu et al. 2018): a language-model discriminator whose cross-entropy is each token's reward.

The reward model is an LSTM language model trained to give generated text low NLL and real text
high NLL (``textgan.rewards.dpgan``); a token's reward is its NLL, so repeated generator output
earns little and novel, real-like text earns much. The rewards are paid per token, so REINFORCE
sums them from each step on (``values="return"``) and the env runs no Monte Carlo rollouts.

Examples:
    >>> DPGAN.agent_defaults
    {'reinforce': {'values': 'return'}}
"""

from __future__ import annotations

from dataclasses import dataclass

from textgan.gans.base import GAN, RewardContext
from textgan.models.generator import Generator, GeneratorConfig
from textgan.rewards.dpgan import DPGANReward


@dataclass
class DPGANSettings:
    """The language-model discriminator and its loss."""

    embed_dim: int | None = None
    """the LM's token embedding size; default: the generator's (--g-embed-dim)"""
    hidden_dim: int | None = None
    """the LM's LSTM hidden size; default: the generator's (--g-hidden-dim)"""
    learning_rate: float = 0.01
    """Adam step size of the LM (TextGAN-PyTorch's; --d-lr is SeqGAN's CNN's)"""
    grad_clip: float = 5.0
    """global gradient-norm clip of each LM step"""
    real_weight: float = 1.0
    """weight of the push away from real text (1: the paper; 0: the authors' code, MLE on generated text)"""
    real_cap: float = 12.0
    """per-token cap in nats on real text's NLL in D's loss, so it stays bounded (ours, not the paper's)"""
    reward_clip: float | None = None
    """clip each token's reward at this many nats (the authors' code: 12); default: no clip"""

    def __post_init__(self):
        for name in ("embed_dim", "hidden_dim"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        for name in ("learning_rate", "grad_clip", "real_cap", "reward_clip"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.real_weight < 0:
            raise ValueError(f"real_weight must be >= 0, got {self.real_weight}")


def dpgan_reward(context: RewardContext) -> DPGANReward:
    settings = context.settings or DPGANSettings()
    lm = Generator(
        GeneratorConfig(
            vocab_size=context.vocab_size,
            embed_dim=settings.embed_dim or context.config.g_embed_dim,
            hidden_dim=settings.hidden_dim or context.config.g_hidden_dim,
            bos_id=context.bos_id,
            eos_id=context.eos_id,
            pad_id=context.pad_id,
        )
    ).to(context.device)
    return DPGANReward(
        lm, learning_rate=settings.learning_rate, grad_clip=settings.grad_clip, real_weight=settings.real_weight,
        real_cap=settings.real_cap, reward_clip=settings.reward_clip, max_len=context.max_len,
    )  # fmt: skip


DPGAN = GAN(
    "dpgan",
    "DPGAN: an LM discriminator, each token's NLL is its reward, no rollouts (Xu et al. 2018)",
    dpgan_reward,
    settings=DPGANSettings,
    agent_defaults={"reinforce": {"values": "return"}},
)
