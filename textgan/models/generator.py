"""The generator: an LSTM policy over the next token.

The same module serves MLE pre-training (teacher forcing over whole sequences), the RL agent
(one step at a time) and the rollout policy of the environment (batched completions from cached
states). It holds no training logic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from textgan.models.sampling import host_to_device, sample_from_logits

LSTMState = tuple[torch.Tensor, torch.Tensor]


def sequence_mask(tokens: torch.Tensor, eos_id: int | None) -> torch.Tensor:
    """True at the positions of ``(N, T)`` up to and including the first ``eos_id`` (all when None)."""
    if eos_id is None:
        return torch.ones_like(tokens, dtype=torch.bool)
    is_eos = tokens == eos_id
    # positions strictly after the first EOS are padding
    return (is_eos.cumsum(dim=1) - is_eos.long()) == 0


def no_classes(labels: torch.Tensor | None) -> None:
    """For a policy that is not class-conditional: refuse rows' classes rather than ignore them."""
    if labels is not None:
        raise ValueError("this policy is not class-conditional; class labels need an LSTM or Transformer policy built with num_classes (--conditional)")


@dataclass
class GeneratorConfig:
    """Sizes and special ids of a generator.

    ``eos_id=None`` means sequences have no end token and always run to ``max_len`` (the paper's
    synthetic oracle data); ``bos_id`` is the input at the first step (the paper uses token 0).
    """

    vocab_size: int
    embed_dim: int = 32
    """token embedding size (paper: 32)"""
    hidden_dim: int = 32
    """LSTM hidden size (paper: 32)"""
    bos_id: int = 1
    eos_id: int | None = 2
    pad_id: int = 0


class Generator(nn.Module):
    """An LSTM language model used as a policy.

    Examples:
        >>> g = Generator(GeneratorConfig(vocab_size=10))
        >>> tokens = g.sample(4, max_len=6, generator=torch.Generator().manual_seed(0))
        >>> tokens.shape
        torch.Size([4, 6])
    """

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_dim, batch_first=True)
        self.output = nn.Linear(config.hidden_dim, config.vocab_size)
        # The paper initialises every weight from N(0, 0.1); it keeps early samples diverse.
        for parameter in self.parameters():
            nn.init.normal_(parameter, std=0.1)

    max_positions: int | None = None
    """the longest sequence the policy can read (None: any)"""

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def device(self) -> torch.device:
        return self.output.weight.device

    @property
    def feature_dim(self) -> int:
        """the size of ``features(state)`` (what a value head reads)"""
        return self.config.hidden_dim

    def features(self, state: LSTMState) -> torch.Tensor:
        """``(N, feature_dim)``: what the output layer reads after the last input (``h``)."""
        return state[0]

    def initial_state(
        self, n: int, device: torch.device | str | None = None, labels: torch.Tensor | None = None
    ) -> LSTMState:
        """The state before BOS: zeros (``labels``, each row's class, matter only to a conditional
        generator, ``textgan.models.conditional``, whose state starts from its class)."""
        device = device or self.device
        zeros = torch.zeros(n, self.config.hidden_dim, device=device)
        return zeros, zeros.clone()

    def _lstm_state(self, tokens: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``nn.LSTM``'s ``hx`` for teacher forcing: ``initial_state`` with a layer axis."""
        h, c = self.initial_state(len(tokens), tokens.device, labels)
        return h.unsqueeze(0), c.unsqueeze(0)

    def shifted_inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """The inputs that predict ``tokens``: BOS followed by all but the last token."""
        bos = torch.full_like(tokens[:, :1], self.config.bos_id)
        return torch.cat([bos, tokens[:, :-1]], dim=1)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: logits ``(N, T, V)`` whose position t predicts ``tokens[:, t]``."""
        hidden, _ = self.lstm(self.embedding(self.shifted_inputs(tokens)), self._lstm_state(tokens, labels))
        return self.output(hidden)

    def step(self, previous: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """One step: logits ``(N, V)`` for the next token given the previous token ``(N,)``."""
        state = self.cell(previous, state)
        return self.output(self.features(state)), state

    def sample_next(
        self, hidden: torch.Tensor, uniforms: torch.Tensor, temperature: float = 1.0, chunk_rows: int = 128
    ) -> torch.Tensor:
        """Sample next tokens ``(N,)`` from features ``hidden (N, H)`` (``features(state)``) without keeping all logits.

        On the CPU the output projection and the sampling run in chunks of rows so that each
        ``(chunk, V)`` block stays in cache (about 2.5x faster at V=5000 than one big block); on
        a GPU the whole batch is one kernel launch each.
        """
        if hidden.device.type != "cpu":
            return sample_from_logits(self.output(hidden), uniforms, temperature)
        return torch.cat(
            [
                sample_from_logits(self.output(rows), row_uniforms, temperature)
                for rows, row_uniforms in zip(hidden.split(chunk_rows), uniforms.split(chunk_rows))
            ]
        ) if len(hidden) else uniforms.new_zeros(0, dtype=torch.long)

    def cell(self, previous: torch.Tensor, state: LSTMState) -> LSTMState:
        """Advance the LSTM state by one input token (no output projection)."""
        return torch._VF.lstm_cell(  # the fused cell nn.LSTMCell calls, on nn.LSTM's weights
            self.embedding(previous),
            state,
            self.lstm.weight_ih_l0,
            self.lstm.weight_hh_l0,
            self.lstm.bias_ih_l0,
            self.lstm.bias_hh_l0,
        )

    def loss_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        """True where a position is part of the sequence: up to and including the first EOS."""
        return sequence_mask(tokens, self.config.eos_id)

    def token_nll(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token negative log-likelihood ``(N, T)`` and the mask of counted positions."""
        logits = self(tokens, labels)
        # over rows of (N*T, V): softmax along the contiguous last axis (the (N, V, T) layout
        # cross_entropy takes for sequences is 3x slower on the CPU)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1), reduction="none")
        nll = nll.view_as(tokens)
        mask = self.loss_mask(tokens)
        return nll * mask, mask

    def mle_loss(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Mean NLL per counted token (the MLE objective)."""
        nll, mask = self.token_nll(tokens, labels)
        return nll.sum() / mask.sum().clamp_min(1)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        max_len: int,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample ``n`` sequences ``(n, max_len)``; after an EOS the rest is PAD (``labels``: the
        class of each row, for a conditional generator)."""
        if self.max_positions is not None and max_len > self.max_positions:
            raise ValueError(f"this policy reads at most {self.max_positions} positions, not {max_len}")
        device = self.device
        tokens = torch.full((n, max_len), self.config.pad_id, dtype=torch.long, device=device)
        previous = torch.full((n,), self.config.bos_id, dtype=torch.long, device=device)
        finished = torch.zeros(n, dtype=torch.bool, device=device)
        state = self.initial_state(n, device, None if labels is None else labels.to(device))
        # a CPU stream, so the same samples on any device; one copy per call, queued without a host wait
        uniforms = host_to_device(torch.rand(n, max_len, generator=generator), device)
        for position in range(max_len):
            state = self.cell(previous, state)
            token = self.sample_next(self.features(state), uniforms[:, position], temperature)
            token = torch.where(finished, torch.full_like(token, self.config.pad_id), token)
            tokens[:, position] = token
            if self.config.eos_id is not None:
                finished |= token == self.config.eos_id
            previous = token
        return tokens

    @torch.no_grad()
    def prefix_states(
        self, tokens: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, LSTMState]:
        """The state after reading each row's prefix ``tokens[b, :lengths[b]]`` (of class ``labels[b]``).

        Returns the next-token logits ``(N, V)`` and the LSTM state at that point; used to
        (re)build the environment's cached rollout states. On a GPU it reads every position up to
        ``T`` rather than ask the device for the longest prefix (same results, no host wait).
        """
        n = tokens.shape[0]
        bos = torch.full((n,), self.config.bos_id, dtype=torch.long, device=tokens.device)
        logits, state = self.step(bos, self.initial_state(n, tokens.device, labels))
        out_logits, out_h, out_c = logits.clone(), state[0].clone(), state[1].clone()
        if tokens.device.type == "cpu":
            longest = int(lengths.max()) if n else 0
        else:
            longest = tokens.shape[1]
        for length in range(1, longest + 1):
            logits, state = self.step(tokens[:, length - 1], state)
            reached = (lengths == length).unsqueeze(1)
            out_logits = torch.where(reached, logits, out_logits)
            out_h, out_c = torch.where(reached, state[0], out_h), torch.where(reached, state[1], out_c)
        return out_logits, (out_h, out_c)
