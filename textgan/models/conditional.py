"""A class-conditional generator: the LSTM policy whose initial state is its row's class.

Conditioning through the state before BOS, ``(h0, c0) = (E_h[y], E_c[y])`` (learned, one pair per
class), keeps everything else of the policy as it is: ``step``/``cell`` take a token and a state,
so the environment's cached rollout states, batched Monte Carlo completions and the agents' step
loop need no label at all — a rollout continues from its row's state and so keeps its row's
class. Only what starts a sequence from nothing takes the labels: ``initial_state``,
``prefix_states``, teacher forcing (``forward``/``token_nll``/``mle_loss``) and ``sample``.

Examples:
    >>> g = ConditionalGenerator(ConditionalGeneratorConfig(vocab_size=10, num_classes=3))
    >>> tokens = g.sample(4, max_len=6, generator=torch.Generator().manual_seed(0), labels=torch.tensor([0, 1, 2, 0]))
    >>> tokens.shape, g.mle_loss(tokens, torch.tensor([0, 1, 2, 0])).shape
    (torch.Size([4, 6]), torch.Size([]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from textgan.models.generator import Generator, GeneratorConfig, LSTMState


@dataclass
class ConditionalGeneratorConfig(GeneratorConfig):
    """A generator's sizes plus its number of classes."""

    num_classes: int = 2

    def __post_init__(self):
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")


class ConditionalGenerator(Generator):
    """``Generator`` whose state before BOS is learned per class (see the module docstring)."""

    config: ConditionalGeneratorConfig

    def __init__(self, config: ConditionalGeneratorConfig):
        super().__init__(config)
        self.class_state = nn.Embedding(config.num_classes, 2 * config.hidden_dim)
        nn.init.normal_(self.class_state.weight, std=0.1)  # as every other weight (the paper's init)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def initial_state(
        self, n: int, device: torch.device | str | None = None, labels: torch.Tensor | None = None
    ) -> LSTMState:
        """The state before BOS of rows of classes ``labels (n,)`` (required)."""
        if labels is None:
            raise ValueError("a conditional generator needs each row's class: pass labels (n,)")
        device = device or self.output.weight.device
        labels = torch.as_tensor(labels, device=device).to(torch.long).reshape(-1)
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for {n} rows")
        h, c = self.class_state(labels).chunk(2, dim=-1)
        return h.contiguous(), c.contiguous()
