"""The policies ``textgan train --policy`` builds, from a run's sizes.

Examples:
    >>> sizes = PolicySizes(vocab_size=10, max_len=6, embed_dim=8, hidden_dim=16, layers=1, heads=2)
    >>> type(POLICIES["transformer"].build(sizes)).__name__, POLICIES["lstm"].build(sizes).feature_dim
    ('TransformerPolicy', 16)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from textgan.models.conditional import ConditionalGenerator, ConditionalGeneratorConfig
from textgan.models.generator import Generator, GeneratorConfig
from textgan.policies.transformer import TransformerConfig, TransformerPolicy


@dataclass(frozen=True)
class PolicySizes:
    """A run's generator settings (``--g-*``) and its data's sizes and special ids."""

    vocab_size: int
    max_len: int
    embed_dim: int
    hidden_dim: int
    layers: int
    heads: int
    bos_id: int = 1
    eos_id: int | None = 2
    pad_id: int = 0
    num_classes: int = 0
    """classes of a conditional generator (``--conditional``); 0: unconditional"""


@dataclass(frozen=True)
class PolicyKind:
    description: str
    build: Callable[[PolicySizes], Generator]
    state_floats: Callable[[PolicySizes], int]
    """floats of state per row (what each env row and rollout holds; for the memory estimate)"""
    problem: Callable[[PolicySizes], tuple[str, str] | None] = lambda sizes: None
    """what makes the sizes unusable and its fix, in words (None: nothing)"""


def _lstm(s: PolicySizes) -> Generator:
    sizes = (s.vocab_size, s.embed_dim, s.hidden_dim, s.bos_id, s.eos_id, s.pad_id)
    if s.num_classes:  # the class is the initial state (textgan.models.conditional)
        return ConditionalGenerator(ConditionalGeneratorConfig(*sizes, num_classes=s.num_classes))
    return Generator(GeneratorConfig(*sizes))


def _transformer(s: PolicySizes) -> TransformerPolicy:
    config = TransformerConfig(
        s.vocab_size, s.max_len, dim=s.hidden_dim, layers=s.layers, heads=s.heads, bos_id=s.bos_id, eos_id=s.eos_id, pad_id=s.pad_id,
        num_classes=s.num_classes,  # the class embedded at every position (textgan.policies.transformer)
    )
    return TransformerPolicy(config)


def _gpt2(s: PolicySizes) -> Generator:
    from textgan.policies.hf import HFCausalLMPolicy, HFPolicyConfig

    no_dropout = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}
    settings = {"n_embd": s.hidden_dim, "n_layer": s.layers, "n_head": s.heads, **no_dropout}
    return HFCausalLMPolicy(HFPolicyConfig(s.vocab_size, s.max_len, "gpt2", settings, s.bos_id, s.eos_id, s.pad_id))


def _heads_problem(s: PolicySizes) -> tuple[str, str] | None:
    if s.hidden_dim % s.heads:
        return f"--g-hidden-dim {s.hidden_dim} is not a multiple of --g-heads {s.heads}", "change one of them"
    return None


def _gpt2_problem(s: PolicySizes) -> tuple[str, str] | None:
    if importlib.util.find_spec("transformers") is None:
        return "--policy gpt2 needs the transformers package", "install it with pip install 'textgan[hf]'"
    if s.num_classes:
        return "--policy gpt2 is not class-conditional (the adapter has no class input)", "use --policy transformer or --policy lstm with --conditional"
    return _heads_problem(s)


def _cache_floats(s: PolicySizes) -> int:
    return s.hidden_dim * (1 + 2 * s.layers * s.max_len)  # features, and keys and values of every position and layer


POLICIES: dict[str, PolicyKind] = {
    "lstm": PolicyKind("the paper's LSTM (--g-embed-dim, --g-hidden-dim)", _lstm, lambda s: 2 * s.hidden_dim),
    "transformer": PolicyKind(
        "a causal Transformer: --g-hidden-dim wide, --g-layers blocks of --g-heads heads", _transformer, _cache_floats, _heads_problem
    ),
    "gpt2": PolicyKind(
        "Hugging Face GPT-2 built from a config, randomly initialised (the transformers extra), sized like the transformer",
        _gpt2, _cache_floats, _gpt2_problem,
    ),  # fmt: skip
}
