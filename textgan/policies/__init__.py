"""What generates: token policies with one interface, and the operations on their states.

A policy (the LSTM :class:`textgan.models.Generator`, :class:`TransformerPolicy`, or a Hugging
Face causal LM through :class:`textgan.policies.hf.HFCausalLMPolicy`) offers:

- ``initial_state(n, device)``, ``cell(previous, state)`` (read one token per row),
  ``features(state)`` (``(n, feature_dim)``, what the output layer and value heads read),
  ``step(previous, state) -> (logits, state)``;
- ``prefix_states(tokens, lengths) -> (logits, state)``: the state after each row's prefix;
- ``sample_next(features, uniforms)`` (inverse-CDF sampling from per-row uniforms), ``sample``;
- teacher-forced ``forward(tokens)``, ``token_nll`` and ``mle_loss``;
- ``max_positions`` (None: unbounded), ``vocab_size``, ``device`` and ``config`` (its special ids).

A class-conditional policy (the LSTM's :class:`textgan.models.ConditionalGenerator`, a
:class:`TransformerPolicy` with ``num_classes``) takes each row's class ``labels (n,)`` in what
starts from nothing (``initial_state``, ``prefix_states``, ``forward``/``token_nll``/``mle_loss``,
``sample``); its state carries the class, so ``step`` and ``cell`` are unchanged. The others
refuse labels.

States are tuples of row-first tensors; the env and the agents touch them only through
:mod:`textgan.policies.state`. ``POLICIES`` maps ``--policy`` names to their builders.
"""

from textgan.models.generator import Generator, GeneratorConfig
from textgan.policies.state import assign_rows, detach_state, repeat_rows, select_rows, where_rows
from textgan.policies.transformer import TransformerConfig, TransformerPolicy, TransformerState

__all__ = [
    "Generator", "GeneratorConfig", "TransformerConfig", "TransformerPolicy", "TransformerState",
    "assign_rows", "detach_state", "repeat_rows", "select_rows", "where_rows",
]  # fmt: skip
