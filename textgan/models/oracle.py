"""The oracle LSTM of SeqGAN's synthetic experiment: a fixed language model that plays "real data".

The equations are those of ../shared/data/README.md (the paper's TensorFlow ``TARGET_LSTM``),
written out gate by gate rather than through ``nn.LSTM`` so that the arrays of the paper's file
load as they are, with no re-ordering of gates. With x the embedding of the previous token and
(h, c) starting at zero::

    i = σ(x·Wi + h·Ui + bi)      f = σ(x·Wf + h·Uf + bf)      o = σ(x·Wog + h·Uog + bog)
    c̃ = tanh(x·Wc + h·Uc + bc)   c = f∘c + i∘c̃                h = o∘tanh(c)
    logits = h·Wo + bo

The first input is token 0 (the paper's start token, also an ordinary token); sequences have no
end token and are ``seq_len`` (20) tokens long.

Examples:
    >>> oracle = Oracle.random(seed=0, vocab_size=50, dim=8, seq_len=6)
    >>> tokens = oracle.sample(4, generator=torch.Generator().manual_seed(0))
    >>> tokens.shape
    torch.Size([4, 6])
    >>> oracle.log_prob(tokens).shape
    torch.Size([4, 6])
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from runcore.errors import UserError
from textgan.models.sampling import sample_from_logits

START_TOKEN = 0
GATES = ("i", "f", "og", "c")
ARRAY_NAMES = ("g_embeddings", *(f"{kind}{gate}" for gate in GATES for kind in ("W", "U", "b")), "Wo", "bo")


class Oracle(nn.Module):
    """A fixed oracle LSTM: exact log-probabilities and samples, batched. It is never trained.

    Build one with :meth:`load` (the paper's ``.npz``) or :meth:`random` (N(0, 1) weights, as the
    paper drew its oracle). Every array is a buffer, so ``.to(device)`` moves it and no optimiser
    ever sees it.

    Args:
        arrays: the named arrays of ``ARRAY_NAMES`` (shapes as in the paper's file).
        seq_len: length of every sequence (the paper: 20).
    """

    def __init__(self, arrays: dict[str, np.ndarray | torch.Tensor], seq_len: int = 20):
        super().__init__()
        _check_arrays(arrays)
        for name in ARRAY_NAMES:
            self.register_buffer(name, torch.as_tensor(np.asarray(arrays[name]), dtype=torch.float32).clone())
        self.seq_len = seq_len
        # The four input (and recurrent) matrices side by side: one matmul per step for all gates.
        self.register_buffer("W_gates", torch.cat([getattr(self, f"W{g}") for g in GATES], dim=1), persistent=False)
        self.register_buffer("U_gates", torch.cat([getattr(self, f"U{g}") for g in GATES], dim=1), persistent=False)
        self.register_buffer("b_gates", torch.cat([getattr(self, f"b{g}") for g in GATES]), persistent=False)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def random(cls, seed: int = 0, vocab_size: int = 5000, dim: int = 32, seq_len: int = 20) -> Oracle:
        """A seeded random oracle with every weight drawn from N(0, 1) (the paper's recipe).

        The same seed gives the same oracle on any machine (numpy's PCG64 stream).
        """
        rng = np.random.default_rng(seed)
        shapes = _shapes(vocab_size, dim)
        return cls({name: rng.standard_normal(shapes[name]).astype(np.float32) for name in ARRAY_NAMES}, seq_len)

    @classmethod
    def load(cls, path: str | os.PathLike, seq_len: int = 20) -> Oracle:
        """The oracle stored in an ``.npz`` of plain arrays (the paper's, converted; or :meth:`save`'s).

        Raises:
            UserError: the file is missing, not an npz, or lacks or mis-shapes an array.
        """
        path = Path(path)
        fix = "pass --oracle ../shared/data/oracle/seqgan_oracle_lstm.npz, or leave --oracle out for a seeded random oracle"
        if not path.is_file():
            raise UserError(f"oracle file {path} not found", fix)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            raise UserError(f"oracle file {path} is not a readable .npz ({type(error).__name__}: {error})", fix) from None
        try:
            return cls(arrays, seq_len)
        except ValueError as error:
            raise UserError(f"oracle file {path}: {error}", fix) from None

    def save(self, path: str | os.PathLike) -> Path:
        """Write the arrays as an ``.npz`` in the paper file's format (``load`` reads it back)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez(f, **{name: getattr(self, name).cpu().numpy() for name in ARRAY_NAMES})
        return path

    @property
    def vocab_size(self) -> int:
        return self.g_embeddings.shape[0]

    # -- the model ----------------------------------------------------------------------------

    def cell(self, previous: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of the equations: the new ``(h, c)`` after reading tokens ``previous (N,)``."""
        h, c = state
        gates = self.g_embeddings[previous] @ self.W_gates + h @ self.U_gates + self.b_gates
        i, f, o, c_tilde = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(c_tilde)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def initial_state(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = self.g_embeddings.new_zeros(n, self.g_embeddings.shape[1])
        return zeros, zeros.clone()

    @torch.no_grad()
    def log_prob(self, tokens: torch.Tensor, chunk_rows: int = 1024) -> torch.Tensor:
        """log p_oracle of every token given its prefix: ``(N, T)`` for ``tokens (N, T)``.

        The recurrence runs over all rows at once (it is only ``dim`` wide); the ``V``-wide output
        layer then runs ``chunk_rows`` positions at a time, so no ``(N·T, V)`` block is ever held.
        """
        if tokens.ndim != 2:
            raise ValueError(f"tokens must be (N, T), got shape {tuple(tokens.shape)}")
        tokens = tokens.to(self.g_embeddings.device)
        n, length = tokens.shape
        hidden = self.g_embeddings.new_empty(n, length, self.g_embeddings.shape[1])
        state = self.initial_state(n)
        previous = torch.full((n,), START_TOKEN, dtype=torch.long, device=tokens.device)
        for t in range(length):
            state = self.cell(previous, state)
            hidden[:, t] = state[0]
            previous = tokens[:, t]
        flat_hidden, flat_tokens = hidden.reshape(n * length, -1), tokens.reshape(-1)
        log_probs = [
            -F.cross_entropy(torch.addmm(self.bo, rows, self.Wo), targets, reduction="none")
            for rows, targets in zip(flat_hidden.split(chunk_rows), flat_tokens.split(chunk_rows))
        ]
        return torch.cat(log_probs).reshape(n, length) if log_probs else hidden.new_zeros(n, length)

    def nll(self, tokens: torch.Tensor) -> float:
        """NLL-oracle: the mean over all tokens of −log p_oracle(token | prefix)."""
        if tokens.numel() == 0:
            raise ValueError("nll needs at least one token")
        return float(-self.log_prob(tokens).double().mean())

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, batch_size: int = 2048) -> torch.Tensor:
        """``n`` sequences ``(n, seq_len)`` drawn from the oracle (uniforms from the CPU ``generator``)."""
        device = self.g_embeddings.device
        uniforms = torch.rand(n, self.seq_len, generator=generator).to(device)
        tokens = torch.empty(n, self.seq_len, dtype=torch.long, device=device)
        for start in range(0, n, batch_size):
            rows = slice(start, min(start + batch_size, n))
            m = rows.stop - rows.start
            state = self.initial_state(m)
            previous = torch.full((m,), START_TOKEN, dtype=torch.long, device=device)
            for t in range(self.seq_len):
                state = self.cell(previous, state)
                previous = sample_from_logits(torch.addmm(self.bo, state[0], self.Wo), uniforms[rows, t])
                tokens[rows, t] = previous
        return tokens


def _shapes(vocab_size: int, dim: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"g_embeddings": (vocab_size, dim), "Wo": (dim, vocab_size), "bo": (vocab_size,)}
    for gate in GATES:
        shapes.update({f"W{gate}": (dim, dim), f"U{gate}": (dim, dim), f"b{gate}": (dim,)})
    return shapes


def _check_arrays(arrays: dict) -> None:
    missing = [name for name in ARRAY_NAMES if name not in arrays]
    if missing:
        raise ValueError(f"missing arrays {', '.join(missing)}")
    vocab_size, dim = np.shape(arrays["g_embeddings"]) if np.ndim(arrays["g_embeddings"]) == 2 else (0, 0)
    for name, shape in _shapes(vocab_size, dim).items():
        if tuple(np.shape(arrays[name])) != shape or vocab_size == 0:
            raise ValueError(f"array {name} has shape {tuple(np.shape(arrays[name]))}, expected {shape}")
