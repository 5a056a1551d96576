"""A small causal Transformer policy beside the LSTM, with the same interface.

Token and learned position embeddings, pre-LayerNorm blocks (causal self-attention, a GELU
feed-forward), a final LayerNorm and the output projection. Its state is a key/value cache of a
fixed ``max_len`` positions per row and layer, plus each row's count of positions read and its
features after the last one (:class:`TransformerState`): reading a token (``cell``) computes one
new position per row, writes its keys and values at that row's own position and attends over the
row's positions so far, so rows with prefixes of different lengths step together, and Monte
Carlo rollouts from a prefix repeat its cache and compute only the new positions. Every shape is
fixed and rows are told apart by masks, so a step never waits on the host.

Sampling, the MLE loss and ``step`` are the LSTM's (:class:`textgan.models.Generator`), written
once over ``cell``/``features``/``output``.

With ``num_classes = k > 0`` it is class-conditional: a learned class embedding is added to the
token and position embeddings at every position it reads, and the state keeps each row's class
(``TransformerState.labels``), so ``cell`` — and every Monte Carlo rollout continued from a
row's cache — reads the next token in the row's class. As for the conditional LSTM, only what
starts from nothing takes ``labels (N,)``: ``initial_state``, ``prefix_states``, teacher forcing
and ``sample``; ``step``/``cell`` take a state.

Examples:
    >>> policy = TransformerPolicy(TransformerConfig(vocab_size=10, max_len=6))
    >>> tokens = policy.sample(4, max_len=6, generator=torch.Generator().manual_seed(0))
    >>> tokens.shape
    torch.Size([4, 6])
    >>> logits, state = policy.prefix_states(tokens, torch.tensor([0, 2, 3, 5]))
    >>> state.lengths.tolist()  # BOS and the prefix
    [1, 3, 4, 6]
    >>> conditional = TransformerPolicy(TransformerConfig(vocab_size=10, max_len=6, num_classes=3))
    >>> conditional.sample(2, max_len=6, labels=torch.tensor([0, 2])).shape
    torch.Size([2, 6])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from textgan.models.generator import Generator, no_classes


@dataclass
class TransformerConfig:
    """Sizes and special ids of a Transformer policy (ids as in ``GeneratorConfig``)."""

    vocab_size: int
    max_len: int
    """positions it can read: BOS and ``max_len - 1`` tokens, enough for sequences of ``max_len``"""
    dim: int = 64
    """model width (embeddings, attention, the features agents see)"""
    layers: int = 2
    heads: int = 4
    """attention heads; ``dim`` must be a multiple"""
    ff_mult: int = 4
    """the feed-forward layer's width in multiples of ``dim``"""
    bos_id: int = 1
    eos_id: int | None = 2
    pad_id: int = 0
    num_classes: int = 0
    """classes of a class-conditional policy (a class embedding at every position); 0: unconditional"""

    def __post_init__(self):
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not a multiple of heads {self.heads}")
        if min(self.vocab_size, self.max_len, self.dim, self.layers, self.heads, self.ff_mult) < 1:
            raise ValueError(f"every size must be >= 1, got {self}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")


class TransformerState(NamedTuple):
    """Per row: features after the last position read, its key/value cache and its count of positions."""

    features: torch.Tensor
    """``(N, dim)``, after the final LayerNorm"""
    keys: torch.Tensor
    """``(N, layers, heads, max_len, dim // heads)``; positions at and past ``lengths`` are unused"""
    values: torch.Tensor
    lengths: torch.Tensor
    """``(N,)`` int64, positions read (BOS counts)"""
    labels: torch.Tensor
    """``(N,)`` int64, each row's class (zeros for a policy without classes)"""


class Block(nn.Module):
    """A pre-LN decoder block over new positions ``x (N, S, dim)``.

    Without ``past`` the keys and values are those of ``x`` itself (a whole sequence, under a
    causal ``mask``); with ``past`` each row has one new position, written into the row's cache at
    ``at``. Returns the block's output and the keys and values it attended over.
    """

    def __init__(self, dim: int, heads: int, ff_mult: int):
        super().__init__()
        self.heads = heads
        self.attention_norm, self.qkv, self.projection = nn.LayerNorm(dim), nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Linear(ff_mult * dim, dim))

    def forward(self, x, mask, past: tuple[torch.Tensor, torch.Tensor] | None = None, at: torch.Tensor | None = None):
        n, s, dim = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).view(n, s, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        if past is not None:  # out of place: the old state stays valid (the env's cache, repeated for rollouts)
            index = at.view(n, 1, 1, 1).expand(n, self.heads, 1, dim // self.heads)
            k, v = past[0].scatter(2, index, k), past[1].scatter(2, index, v)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.projection(attended.transpose(1, 2).reshape(n, s, dim))
        return x + self.ff(self.ff_norm(x)), k, v


class TransformerPolicy(Generator):
    """A causal Transformer language model used as a policy (see the module docstring).

    It is a :class:`Generator` in everything but its recurrence: the same ``step``, ``sample``,
    ``sample_next``, ``mle_loss`` and ``token_nll``, over its own ``cell``, ``features``,
    ``initial_state``, ``prefix_states`` and teacher-forced ``forward``.
    """

    def __init__(self, config: TransformerConfig):
        nn.Module.__init__(self)  # Generator's LSTM layers are not built; its methods are shared
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.dim)
        self.position_embedding = nn.Embedding(config.max_len, config.dim)
        self.class_embedding = nn.Embedding(config.num_classes, config.dim) if config.num_classes else None
        self.blocks = nn.ModuleList(Block(config.dim, config.heads, config.ff_mult) for _ in range(config.layers))
        self.final_norm = nn.LayerNorm(config.dim)
        self.output = nn.Linear(config.dim, config.vocab_size)
        for name, parameter in self.named_parameters():  # GPT-2-like: weights from N(0, 0.02), biases 0, LayerNorms 1
            if parameter.dim() > 1:
                nn.init.normal_(parameter, std=0.02)
            elif "norm" not in name:
                nn.init.zeros_(parameter)

    @property
    def max_positions(self) -> int:
        return self.config.max_len

    @property
    def feature_dim(self) -> int:
        return self.config.dim

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def row_classes(self, n: int, device: torch.device | str, labels: torch.Tensor | None) -> torch.Tensor:
        """``(n,)`` int64: the rows' classes ``labels`` (required with classes, refused without;
        zeros then)."""
        if self.class_embedding is None:
            no_classes(labels)
            return torch.zeros(n, dtype=torch.long, device=device)
        if labels is None:
            raise ValueError("a conditional policy needs each row's class: pass labels (n,)")
        labels = torch.as_tensor(labels, device=device).to(torch.long).reshape(-1)
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for {n} rows")
        return labels

    def embed(self, inputs: torch.Tensor, positions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The blocks' input at ``inputs (N, S)`` read at ``positions`` (``(S,)`` or ``(N, S)``) by rows of classes ``labels (N,)``."""
        x = self.token_embedding(inputs) + self.position_embedding(positions)
        if self.class_embedding is not None:  # the class at every position
            x = x + self.class_embedding(labels).unsqueeze(1)
        return x

    def initial_state(
        self, n: int, device: torch.device | str | None = None, labels: torch.Tensor | None = None
    ) -> TransformerState:
        """The state before BOS (an empty cache) of rows of classes ``labels (n,)`` (for a policy with classes)."""
        cfg, device = self.config, device or self.device
        classes = self.row_classes(n, device, labels)
        cache = torch.zeros(n, cfg.layers, cfg.heads, cfg.max_len, cfg.dim // cfg.heads, device=device)
        lengths = torch.zeros(n, dtype=torch.long, device=device)
        return TransformerState(torch.zeros(n, cfg.dim, device=device), cache, cache.clone(), lengths, classes)

    def features(self, state: TransformerState) -> torch.Tensor:
        return state.features

    def hidden_states(
        self, inputs: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Read ``inputs (N, S)`` at positions ``0..S-1`` (``S <= max_len``) under a causal mask,
        the rows of classes ``labels (N,)`` (for a policy with classes).

        Returns the features ``(N, S, dim)`` and the keys and values ``(N, layers, heads, S, dim // heads)``.
        """
        n, s = inputs.shape
        if s > self.config.max_len:
            raise ValueError(f"{s} positions do not fit a Transformer policy of max_len {self.config.max_len}")
        x = self.embed(inputs, torch.arange(s, device=inputs.device), self.row_classes(n, inputs.device, labels))
        causal = torch.ones(s, s, dtype=torch.bool, device=inputs.device).tril()
        keys, values = [], []
        for block in self.blocks:
            x, k, v = block(x, causal)
            keys.append(k)
            values.append(v)
        return self.final_norm(x), torch.stack(keys, 1), torch.stack(values, 1)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: logits ``(N, T, V)`` whose position t predicts ``tokens[:, t]``."""
        features, _, _ = self.hidden_states(self.shifted_inputs(tokens), labels)
        return self.output(features)

    def cell(self, previous: torch.Tensor, state: TransformerState) -> TransformerState:
        """Read one token per row at the row's next position (one new position per row and layer).

        A row whose cache is full (a finished episode, stepped under a mask) rewrites its last
        position; its result is never used.
        """
        capacity = self.config.max_len
        at = state.lengths.clamp_max(capacity - 1)
        x = self.embed(previous.unsqueeze(1), at.unsqueeze(1), state.labels)
        mask = (torch.arange(capacity, device=at.device) <= at.unsqueeze(1)).view(-1, 1, 1, capacity)
        keys, values = [], []
        for layer, block in enumerate(self.blocks):
            x, k, v = block(x, mask, (state.keys[:, layer], state.values[:, layer]), at)
            keys.append(k)
            values.append(v)
        features = self.final_norm(x.squeeze(1))
        return TransformerState(features, torch.stack(keys, 1), torch.stack(values, 1), (at + 1).clamp_max(capacity), state.labels)

    @torch.no_grad()
    def prefix_states(
        self, tokens: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, TransformerState]:
        """The state after reading BOS and each row's prefix ``tokens[b, :lengths[b]]`` (of class ``labels[b]``).

        One causal pass over every row's padded tokens: position ``p`` sees only positions up to
        ``p``, so the padding after a short prefix changes nothing it keeps. Returns the
        next-token logits ``(N, V)`` and the state (rows with ``lengths == T`` get the state
        before their last token: finished rows, never used).
        """
        classes = self.row_classes(len(tokens), tokens.device, labels)
        passed = self.hidden_states(self.shifted_inputs(tokens), labels)
        state = cache_after_prefixes(*passed, lengths, self.config.max_len, classes)
        return self.output(state.features), state


def cache_after_prefixes(
    features: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, lengths: torch.Tensor, capacity: int,
    labels: torch.Tensor | None = None,
) -> TransformerState:
    """The state after each row's prefix, from one causal pass over the rows' ``T`` inputs.

    ``features (N, T, dim)`` and ``keys``/``values (N, layers, heads, T, head_dim)`` of the pass
    (by rows of classes ``labels (N,)``; None: zeros, a policy without classes); the cache is
    padded to ``capacity`` positions, and a row's features are those at its prefix's end
    (``lengths == T``, a finished row: at ``T - 1``).
    """
    width = features.shape[1]
    keys, values = (F.pad(x, (0, 0, 0, capacity - width)) for x in (keys, values))
    last = lengths.clamp_max(width - 1)
    features = features[torch.arange(len(features), device=features.device), last]
    if labels is None:
        labels = torch.zeros(len(features), dtype=torch.long, device=features.device)
    return TransformerState(features, keys, values, (last + 1).clamp_max(capacity), labels)
