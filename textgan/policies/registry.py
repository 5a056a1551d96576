"""The policies ``textgan train --policy`` builds, from a run's sizes.

Examples:
    >>> sizes = PolicySizes(vocab_size=10, max_len=6, embed_dim=8, hidden_dim=16, layers=1, heads=2)
    >>> type(POLICIES["transformer"].build(sizes)).__name__, POLICIES["lstm"].build(sizes).feature_dim
    ('TransformerPolicy', 16)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class PolicyKind:
    description: str
    build: Callable[[PolicySizes], Generator]
    problem: Callable[[PolicySizes], str | None] = lambda sizes: None
    """what makes the sizes unusable, in words (None: nothing)"""


def _lstm(s: PolicySizes) -> Generator:
    return Generator(GeneratorConfig(s.vocab_size, s.embed_dim, s.hidden_dim, s.bos_id, s.eos_id, s.pad_id))


def _transformer(s: PolicySizes) -> TransformerPolicy:
    config = TransformerConfig(
        s.vocab_size, s.max_len, dim=s.hidden_dim, layers=s.layers, heads=s.heads, bos_id=s.bos_id, eos_id=s.eos_id, pad_id=s.pad_id
    )
    return TransformerPolicy(config)


def _heads_problem(s: PolicySizes) -> str | None:
    return f"--g-hidden-dim {s.hidden_dim} is not a multiple of --g-heads {s.heads}" if s.hidden_dim % s.heads else None


POLICIES: dict[str, PolicyKind] = {
    "lstm": PolicyKind("the paper's LSTM (--g-embed-dim, --g-hidden-dim)", _lstm),
    "transformer": PolicyKind(
        "a causal Transformer: --g-hidden-dim wide, --g-layers blocks of --g-heads heads", _transformer, _heads_problem
    ),
}
