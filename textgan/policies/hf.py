"""A Hugging Face causal LM as a policy: built from a config, randomly initialised, no download.

``transformers`` is an optional extra (``pip install 'textgan[hf]'``); only this module imports
it. :class:`HFCausalLMPolicy` builds ``AutoModelForCausalLM.from_config`` for a model type
(GPT-2 by default) with the project's vocabulary size and special ids, so the project's own
tokenizer is used, and maps the model onto the policy interface: its state is the same
fixed-size key/value cache as :class:`TransformerPolicy`'s (:class:`TransformerState`), handed to
the model as a ``DynamicCache`` with a mask of each row's positions and the row's position ids;
the new position's keys and values are written back at the row's own position.

Examples:
    >>> policy = HFCausalLMPolicy(HFPolicyConfig(vocab_size=10, max_len=6))
    >>> policy.sample(3, 6, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([3, 6])
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass

import torch
from torch import nn

try:
    from transformers import AutoConfig, AutoModelForCausalLM, DynamicCache
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError("textgan.policies.hf needs transformers; install it with `pip install 'textgan[hf]'`") from error

from textgan.models.generator import Generator, no_classes
from textgan.policies.transformer import TransformerState, cache_after_prefixes


@dataclass
class HFPolicyConfig:
    """What the model is built from; ``model_settings`` go to ``AutoConfig.for_model``."""

    vocab_size: int
    max_len: int
    """positions the model reads (its ``max_position_embeddings``)"""
    model_type: str = "gpt2"
    model_settings: dict = dataclasses.field(
        default_factory=lambda: {"n_embd": 64, "n_layer": 2, "n_head": 4, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}
    )
    """GPT-2's sizes; dropout off, as in the project's policies: an agent's log-probs of the same
    actions must agree between collection and replay (PPO's ratio starts at 1)"""
    bos_id: int = 1
    eos_id: int | None = 2
    pad_id: int = 0


class HFCausalLMPolicy(Generator):
    """A ``transformers`` causal LM behind the policy interface (see the module docstring).

    ``model`` is the wrapped ``PreTrainedModel``: ``policy(tokens)`` equals
    ``policy.model(input_ids=policy.shifted_inputs(tokens)).logits``.
    """

    def __init__(self, config: HFPolicyConfig):
        nn.Module.__init__(self)  # Generator's LSTM layers are not built; its methods are shared
        self.config = config
        hf_config = AutoConfig.for_model(
            config.model_type,
            vocab_size=config.vocab_size,
            bos_token_id=config.bos_id,
            eos_token_id=config.eos_id,
            pad_token_id=config.pad_id,
            **config.model_settings,
        )
        hf_config.max_position_embeddings = config.max_len
        self.model = AutoModelForCausalLM.from_config(hf_config)
        self.layers, self.heads = hf_config.num_hidden_layers, hf_config.num_attention_heads
        self.head_dim = hf_config.hidden_size // self.heads
        # the past's keyword: `cache` in recent 5.x releases, `past_key_values` before
        parameters = inspect.signature(self.model.base_model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"

    @property
    def output(self) -> nn.Module:
        """the model's output layer (a property, not a second name for its weights in checkpoints)"""
        return self.model.get_output_embeddings()

    @property
    def body(self) -> nn.Module:
        """the model without its output layer"""
        return self.model.base_model

    @property
    def max_positions(self) -> int:
        return self.config.max_len

    @property
    def feature_dim(self) -> int:
        return self.output.in_features

    def _read(self, inputs: torch.Tensor, **kwargs):
        # a whole sequence is read under the causal mask alone: padding comes after what is kept
        kwargs.setdefault("attention_mask", torch.ones_like(inputs))
        out = self.body(input_ids=inputs, use_cache=True, **kwargs)
        cache = getattr(out, "cache", None) or out.past_key_values
        keys = torch.stack([layer.keys for layer in cache.layers], 1)
        values = torch.stack([layer.values for layer in cache.layers], 1)
        return out.last_hidden_state, keys, values

    def initial_state(
        self, n: int, device: torch.device | str | None = None, labels: torch.Tensor | None = None
    ) -> TransformerState:
        no_classes(labels)
        device = device or self.device
        cache = torch.zeros(n, self.layers, self.heads, self.config.max_len, self.head_dim, device=device)
        lengths = torch.zeros(n, dtype=torch.long, device=device)
        return TransformerState(torch.zeros(n, self.feature_dim, device=device), cache, cache.clone(), lengths, torch.zeros_like(lengths))

    def features(self, state: TransformerState) -> torch.Tensor:
        return state.features

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: logits ``(N, T, V)`` whose position t predicts ``tokens[:, t]``."""
        no_classes(labels)
        hidden, _, _ = self._read(self.shifted_inputs(tokens))
        return self.output(hidden)

    def cell(self, previous: torch.Tensor, state: TransformerState) -> TransformerState:
        """Read one token per row at the row's next position (the model sees the row's cache)."""
        n, capacity = len(previous), self.config.max_len
        at = state.lengths.clamp_max(capacity - 1)
        cache = DynamicCache(ddp_cache_data=[(state.keys[:, i], state.values[:, i]) for i in range(self.layers)])
        past = torch.arange(capacity, device=at.device) < at.unsqueeze(1)
        mask = torch.cat([past, torch.ones_like(past[:, :1])], 1).long()  # the new position sits after the cache
        hidden, keys, values = self._read(
            previous.unsqueeze(1), attention_mask=mask, position_ids=at.unsqueeze(1), **{self._cache_argument: cache}
        )
        index = at.view(n, 1, 1, 1, 1).expand(n, self.layers, self.heads, 1, self.head_dim)
        keys = state.keys.scatter(3, index, keys[:, :, :, -1:])
        values = state.values.scatter(3, index, values[:, :, :, -1:])
        return TransformerState(hidden[:, 0], keys, values, (at + 1).clamp_max(capacity), state.labels)

    @torch.no_grad()
    def prefix_states(
        self, tokens: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, TransformerState]:
        """The state after BOS and each row's prefix: one causal pass, as ``TransformerPolicy``'s."""
        no_classes(labels)
        state = cache_after_prefixes(*self._read(self.shifted_inputs(tokens)), lengths, self.config.max_len)
        return self.output(state.features), state
