"""A text GAN is a reward model plus an agent: the family's one registry entry type, and the
composition root that turns a run's settings into a trainer.

Each family member is a :class:`GAN`: how to build its reward model from the run's settings, the
settings of its own (a dataclass; each field is a ``--<gan>.<field>`` flag), and which agent
settings it needs changed from the agent's defaults (e.g. MaliGAN's REINFORCE sums its rewards
instead of reading Monte Carlo values). Everything else — the env, the agents, the trainer, the
checkpoints — is shared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from textgan.agents import AGENTS
from textgan.agents.base import Agent
from runcore import RunDir
from textgan.data import Tokenizer
from textgan.data.labels import ClassLabels
from runcore.errors import UserError
from runcore.ranges import SettingError, check_ranges
from textgan.models import Discriminator, DiscriminatorConfig, Generator
from textgan.rewards.base import RewardModel
from textgan.seqgan.config import SeqGANConfig
from textgan.seqgan.trainer import SeqGANTrainer, build_generator, rank_batch_size


@dataclass
class RewardContext:
    """What a GAN's reward model may be built from."""

    config: SeqGANConfig
    settings: Any
    """the GAN's own settings (an instance of ``GAN.settings``), or None"""
    vocab_size: int
    max_len: int
    real_tokens: torch.Tensor
    """``(N, max_len)`` the training split, for reward models that compare with real text"""
    pad_id: int
    eos_id: int | None
    bos_id: int
    device: torch.device
    num_classes: int = 0
    """k, the classes of a conditional run (0: none)"""


@dataclass(frozen=True)
class GAN:
    """One member of the family."""

    name: str
    description: str
    build_reward: Callable[[RewardContext], RewardModel]
    settings: type | None = None
    agent_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    """per agent name, settings that differ from the agent's own defaults"""
    data_parallel: bool = True
    """whether it trains under ``torchrun`` (its reward model's steps are the same backward
    passes on every rank, whatever a rank's rows hold)"""
    needs_labels: bool = False
    """its reward model scores text against a class: only for ``--conditional`` runs"""
    build_agent: Callable[[RewardContext, RewardModel], Agent] | None = None
    """a member with a generator of its own (LeakGAN's manager and worker) builds it and the
    agent that trains it from the reward model; None: the run's ``--agent`` on the LSTM generator"""


def agent_name(config: SeqGANConfig) -> str:
    """What trains the run's generator, in words: the ``--agent``, or the GAN's own agent."""
    from textgan.gans import GANS

    return config.agent if GANS[config.gan].build_agent is None else f"its own agent ({config.gan}'s)"


def build_discriminator(config: SeqGANConfig, vocab_size: int, max_len: int) -> Discriminator:
    """SeqGAN's CNN + highway discriminator at the run's sizes (``--d-*`` flags)."""
    return Discriminator(discriminator_config(config, vocab_size, max_len))


def discriminator_config(config: SeqGANConfig, vocab_size: int, max_len: int) -> DiscriminatorConfig:
    """The run's discriminator sizes (``--d-*`` flags)."""
    return DiscriminatorConfig(
        vocab_size=vocab_size,
        max_len=max_len,
        embed_dim=config.d_embed_dim,
        filter_sizes=config.d_filter_sizes,
        num_filters=config.d_num_filters,
        dropout=config.d_dropout,
        l2_reg=config.d_l2,
        precision=config.d_precision,
    )


def _settings_object(cls: type, values: dict[str, Any], flag_prefix: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        flags = ", ".join(f"--{flag_prefix}.{n.replace('_', '-')}" for n in unknown)
        raise UserError(f"unknown setting {flags}", f"see 'textgan train --help' for the --{flag_prefix}.* settings")
    try:
        settings = cls(**values)
        check_ranges(settings, {}, flag_prefix="")  # every float finite, whatever the class checks itself
    except SettingError as error:
        flag = f"--{flag_prefix}.{error.name.replace('_', '-')}"
        raise SettingError(flag, error.name, error.value, error.requirement, error.fix) from None
    except (TypeError, ValueError) as error:
        raise UserError(f"--{flag_prefix}.*: {error}", "see 'textgan train --help'") from None
    return settings


def agent_settings(config: SeqGANConfig, gan: GAN) -> Any:
    """The agent's settings object: its defaults, then the GAN's, then the run's changes."""
    _, settings_cls = AGENTS[config.agent]
    values = {**gan.agent_defaults.get(config.agent, {}), **config.agent_settings.get(config.agent, {})}
    return _settings_object(settings_cls, values, config.agent)


def gan_settings(config: SeqGANConfig, gan: GAN) -> Any:
    if gan.settings is None:
        return None
    return _settings_object(gan.settings, config.gan_settings.get(gan.name, {}), gan.name)


def check_settings(config: SeqGANConfig) -> None:
    """Raise UserError for an unknown GAN or agent, or settings given to one not chosen."""
    from textgan.gans import GANS

    if config.gan not in GANS:
        raise UserError(f"--gan {config.gan!r} is not known", f"choose one of {', '.join(GANS)}")
    if config.agent not in AGENTS:
        raise UserError(f"--agent {config.agent!r} is not known", f"choose one of {', '.join(AGENTS)}")
    for kind, chosen, given in (("agent", config.agent, config.agent_settings), ("gan", config.gan, config.gan_settings)):
        for name, values in given.items():
            if name != chosen and values:
                raise UserError(
                    f"--{name}.* settings were given but --{kind} is {chosen}", f"pass --{kind} {name}, or drop those flags"
                )
    gan = GANS[config.gan]
    if gan.needs_labels and not config.conditional:
        raise UserError(f"--gan {gan.name} scores text against its class", "pass --conditional with a label<TAB>text corpus (docs/conditional.md)")
    if gan.build_agent is not None and config.agent != "reinforce":  # (--reinforce.* of a preset do not apply)
        raise UserError(f"--gan {gan.name} trains its own generator with its own agent", f"drop --agent; its settings are --{gan.name}.*")
    if gan.build_agent is not None and (config.policy != "lstm" or config.conditional):  # its own generator
        what = "--conditional" if config.conditional else f"--policy {config.policy}"
        raise UserError(f"--gan {gan.name} trains a generator of its own, not {what}", f"drop {what}")
    agent_settings(config, gan)
    gan_settings(config, gan)


def check_data_parallel(config: SeqGANConfig, world_size: int) -> None:
    """Raise UserError where the run cannot train over ``world_size`` processes (``torchrun``)."""
    from textgan.gans import GANS

    if world_size == 1:
        return
    if not GANS[config.gan].data_parallel:
        raise UserError(f"--gan {config.gan} does not train under torchrun yet", "run it in one process (textgan train, without torchrun)")
    rank_batch_size(config.batch_size, world_size)


def build_agent(config: SeqGANConfig, generator: Generator) -> Agent:
    from textgan.gans import GANS

    agent_cls, _ = AGENTS[config.agent]
    return agent_cls(generator, agent_settings(config, GANS[config.gan]), seed=config.seed)


def reward_context(
    config: SeqGANConfig, tokenizer: Tokenizer, train_tokens: torch.Tensor, device: torch.device, num_classes: int = 0
) -> RewardContext:
    from textgan.gans import GANS

    gan = GANS[config.gan]
    return RewardContext(
        config=config, settings=gan_settings(config, gan), vocab_size=tokenizer.vocab_size, max_len=train_tokens.shape[1],
        real_tokens=train_tokens.to(device), pad_id=tokenizer.pad_id, eos_id=tokenizer.eos_id, bos_id=tokenizer.bos_id,
        device=device, num_classes=num_classes,
    )  # fmt: skip


def build_reward_model(
    config: SeqGANConfig, tokenizer: Tokenizer, train_tokens: torch.Tensor, device: torch.device, num_classes: int = 0
) -> RewardModel:
    from textgan.gans import GANS

    return GANS[config.gan].build_reward(reward_context(config, tokenizer, train_tokens, device, num_classes))


def build_trainer(
    config: SeqGANConfig,
    run: RunDir | None,
    tokenizer: Tokenizer,
    train_tokens: torch.Tensor,
    test_tokens: torch.Tensor,
    device: torch.device,
    quiet: bool = False,
    evaluate: Callable[[Generator], dict[str, float]] | None = None,
    rank: int = 0,
    world_size: int = 1,
    labels: ClassLabels | None = None,
    val_tokens: torch.Tensor | None = None,
) -> SeqGANTrainer:
    """The trainer a run's settings describe: its generator, agent and reward model built here.
    ``val_tokens``: validation rows (not in ``train_tokens``): MLE pre-training keeps its best epoch.

    Under ``torchrun`` (``world_size > 1``, the process group initialised) every rank builds the
    same models from the run's seed, and ``run`` is None on ranks other than 0. ``labels``: the
    classes of a conditional run (the policy is built with its classes)."""
    check_settings(config)
    check_data_parallel(config, world_size)
    from textgan.gans import GANS

    torch.manual_seed(config.seed)  # the models' initial weights (and dropout) come from the global stream
    own = GANS[config.gan].build_agent
    if own is not None:  # its generator reads the reward model: built after it, by the GAN
        context = reward_context(config, tokenizer, train_tokens, device)
        reward_model = GANS[config.gan].build_reward(context)
        agent = own(context, reward_model)
    else:
        generator = build_generator(config, tokenizer, train_tokens.shape[1], labels).to(device)
        reward_model = build_reward_model(config, tokenizer, train_tokens, device, 0 if labels is None else labels.num_classes)
        agent = build_agent(config, generator)
    return SeqGANTrainer(
        config, run, tokenizer, train_tokens, test_tokens, device, agent=agent, reward_model=reward_model,
        quiet=quiet, evaluate=evaluate, rank=rank, world_size=world_size, labels=labels, val_tokens=val_tokens,
    )  # fmt: skip
