"""The discriminator: SeqGAN's CNN over token embeddings.

Filter widths 1-10, 15 and 20 with 100/200/200/200/200/100/100/100/100/100/160/160 feature maps,
max-over-time pooling, one highway layer, dropout, and a linear output. The paper's two-class
softmax is written as one logit (``P(real) = sigmoid(logit)``): the same model, one output fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

PAPER_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
PAPER_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)
PRECISIONS = ("fp32", "bf16")


@dataclass
class DiscriminatorConfig:
    """Sizes of the discriminator (defaults: the paper's)."""

    vocab_size: int
    max_len: int
    embed_dim: int = 64
    filter_sizes: tuple[int, ...] = PAPER_FILTER_SIZES
    num_filters: tuple[int, ...] = PAPER_NUM_FILTERS
    dropout: float = 0.25
    """the paper keeps 75% of the features"""
    l2_reg: float = 0.2
    """L2 penalty on the output layer, as ``l2_reg * sum(w**2) / 2`` (the paper's tf.nn.l2_loss)"""
    precision: str = "fp32"
    """``bf16``: convolutions and linears under bf16 autocast (weights, logits and loss stay fp32);
    faster where the machine has bf16 matrix units (AMX, AVX512-BF16, any recent GPU)"""

    def __post_init__(self):
        self.filter_sizes = tuple(self.filter_sizes)
        self.num_filters = tuple(self.num_filters)
        if len(self.filter_sizes) != len(self.num_filters):
            raise ValueError("filter_sizes and num_filters must have the same length")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


def max_gradient(values: torch.Tensor, best: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """The gradient of ``best = values.amax(dim=0)`` with respect to ``values``, ``grad`` the gradient of ``best``.

    ``grad`` goes to the entries that reach the max, split equally among ties: ``amax``'s own
    backward, bit for bit. The tie mask is ``sign(values - best) + 1`` (``values - best`` is 0
    exactly where they are equal, and negative elsewhere), in float passes only.
    """
    ties = torch.sub(values, best).sign_().add_(1)
    return ties.mul_(grad / ties.sum(dim=0))


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout(x, p, training)``, bit for bit and with the same draws from torch's global
    generator, faster on the CPU (0.35 ms off the paper's D step, about 1%: docs/RESULTS.md §5).

    On the CPU, dropout draws its mask with ``bernoulli_(1 - p)``: one uniform double per entry,
    kept where it is below ``1 - p``, drawn one at a time. ``torch.rand`` in float64 draws the same
    doubles from the same generator, faster, so comparing them with ``1 - p`` gives the same mask
    and leaves the generator where dropout would (tests/test_fast_paths.py checks both against
    ``F.dropout``). The mask is then scaled and multiplied in as dropout does it. Elsewhere (CUDA's
    fused kernel), and for p = 0 or 1, it is ``F.dropout`` itself.
    """
    if not training or x.device.type != "cpu" or not 0 < p < 1:
        return F.dropout(x, p, training)
    keep = 1 - p
    return x * (torch.rand(x.shape, dtype=torch.float64) < keep).to(x.dtype).div_(keep)


class Dropout(nn.Dropout):
    """``nn.Dropout`` through :func:`dropout`: the same bits and random draws, faster on the CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


def taps_major(weight: torch.Tensor) -> torch.Tensor:
    """A Conv1d weight ``(F, E, w)`` with the same values, its memory laid out ``(F, w, E)``.

    Each map's weights are then its taps in order (tap 0's E weights, then tap 1's, ...): the
    matrix that :class:`_WindowBank` multiplies the windows' rows by is a view of the weight, and
    the weight's gradient, computed in that order, is the weight's layout, so autograd takes it
    without a copy. :class:`Discriminator` lays its filters out so.
    """
    return weight.permute(0, 2, 1).contiguous().permute(0, 2, 1)


def _window_rows(x: torch.Tensor, w: int) -> torch.Tensor:
    """``((T - w + 1) N, w E)``: the windows of ``x`` ``(T, N, E)`` as rows (im2col), row ``(s, i)``
    holding ``x_s .. x_{s+w-1}`` of sequence i."""
    positions, n, dim = x.shape
    return x.unfold(0, w, 1).transpose(2, 3).reshape((positions - w + 1) * n, w * dim)


class _WindowBank(torch.autograd.Function):
    """Every filter's maximum over its windows, ``(N, F)``, as one autograd node with a backward
    pass written for D's training shapes.

    ``x`` is ``(T, N, E)`` (position-major), ``params`` each filter's Conv1d weight ``(F_k, E, w_k)``
    and bias in turn. The forward pass is, per filter, one matrix product of its windows laid out
    as rows (im2col) with its taps (the weight with each map's taps in order: tap 0's E weights,
    then tap 1's, ...; a view of a :func:`taps_major` weight, a copy of any other), and a max over
    windows.

    The backward pass does what autograd would do for that forward pass, in fewer passes over
    memory and fewer operations:

    - The max's gradient goes to the windows that reach it, split equally among ties, as
      ``amax``'s does, bit for bit (:func:`max_gradient`, without amax's boolean passes).
    - The input gradient is never laid out as rows and folded back onto the positions
      (``unfold``'s backward: as slow as the product itself at these shapes). Where a filter has
      no more taps than windows, each tap's product accumulates straight into the positions it
      read. Otherwise the few windows' rows are added onto them. All filters accumulate into one
      input gradient.
    - A weight's gradient is one product in the taps' order, returned with a :func:`taps_major`
      layout (a weight laid out so takes it as it is).
    - A bias's gradient is the sum of its max's gradient over the batch.
    - The whole bank is one node: the per-filter nodes (a function each, the taps' permute and
      reshape, the concatenation) cost more than their arithmetic at batch 64.
    - Under bf16 autocast :func:`window_maxes` hands it ``x`` already cast, so the windows' rows
      are laid out in bf16 (half the bytes, and no cast of each filter's rows for its product), and
      it keeps bf16 taps for the backward pass instead of casting them again there: 6-9% off the
      paper's D step in bf16 on a 2-core Intel Xeon with AMX (``benchmarks/d_step_ab.py``,
      docs/RESULTS.md §5).

    It is differentiable once: a gradient of D's gradient (a gradient penalty) raises an error.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, widths: tuple[int, ...], *params: torch.Tensor) -> torch.Tensor:
        positions, n, _ = x.shape
        maxes, saved = [], []
        for k, w in enumerate(widths):
            weight, bias = params[2 * k], params[2 * k + 1]
            rows = _window_rows(x, w)
            taps = weight.permute(0, 2, 1).reshape(weight.shape[0], -1).to(rows.dtype)  # bf16 ones saved for the backward
            values = torch.addmm(bias, rows, taps.t()).view(positions - w + 1, n, -1)  # under autocast: its dtype
            best = values.amax(dim=0)
            maxes.append(best)
            saved += [rows, taps, values, best]
        ctx.save_for_backward(*saved)
        ctx.widths, ctx.x_shape = widths, x.shape
        ctx.param_dtypes = [p.dtype for p in params]
        return torch.cat(maxes, dim=1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        saved = ctx.saved_tensors
        positions, n, dim = ctx.x_shape
        x_dtype, products_dtype = saved[0].dtype, saved[2].dtype  # the first filter's rows' and values'
        dx = None
        if ctx.needs_input_grad[0]:
            dx = grad.new_zeros(ctx.x_shape, dtype=products_dtype)
            flat = dx.view(positions * n, dim)
        grads, at = [], 0
        for k, w in enumerate(ctx.widths):
            rows, taps, values, best = saved[4 * k : 4 * k + 4]
            windows, _, maps = values.shape
            grad_k = grad[:, at : at + maps]
            at += maps
            g = max_gradient(values, best, grad_k.to(values.dtype)).view(windows * n, maps)
            taps = taps.to(g.dtype)  # a no-op where x came cast as window_maxes casts it
            if dx is not None:
                if w <= windows:
                    for j in range(w):  # tap j of window s read x_{s+j}
                        flat[j * n : (j + windows) * n].addmm_(g, taps[:, j * dim : (j + 1) * dim])
                else:
                    window_rows = g.mm(taps).view(windows, n, w, dim)
                    for s in range(windows):  # window s read x_s..x_{s+w-1}
                        dx[s : s + w].add_(window_rows[s].transpose(0, 1))
            dweight = dbias = None
            if ctx.needs_input_grad[2 + 2 * k]:  # Conv1d's (F, E, w) shape, taps-major memory
                dweight = g.t().mm(rows.to(g.dtype)).view(maps, w, dim).permute(0, 2, 1).to(ctx.param_dtypes[2 * k])
            if ctx.needs_input_grad[3 + 2 * k]:
                dbias = grad_k.sum(dim=0).to(ctx.param_dtypes[2 * k + 1])
            grads += [dweight, dbias]
        if dx is not None:
            dx = dx.to(x_dtype)
        return (dx, None, *grads)


def window_maxes(embedded: torch.Tensor, convs) -> torch.Tensor:
    """``(N, F)``: each feature map's maximum over its windows of ``embedded`` ``(N, T, E)``.

    Where autograd records (a training step), each filter is one matrix product of the windows
    laid out as rows (im2col), and the bank has a backward pass of its own (:class:`_WindowBank`).
    At D's training shapes (batch 64) that is faster than oneDNN's convolution backward:
    ``benchmarks/seqgan_units.py``'s d_epoch went from 31.7 s to 18.6 s on a 2-core AMD EPYC with
    AVX2 (docs/RESULTS.md §5). Against autograd through the same products, the backward pass of
    its own with the bank as one node takes 8-10% off the paper's D step and 17% off the default
    preset's (``benchmarks/windows_backward.py``). Without autograd (scoring, often thousands of
    rows) the convolution itself is as fast and needs no copy of the windows. The two agree to
    float rounding (tests/test_fast_paths.py).

    Both read a :func:`taps_major` weight best: the products take it as a view and its gradient
    as computed, and the convolution gets it channels-last like its input. Against Conv1d's own
    layout that took 1-2% off the paper's D step and 8-19% off scoring 64-4,096 rows
    (``benchmarks/filter_layout.py``).
    """
    if not torch.is_grad_enabled():
        x = embedded.transpose(1, 2)  # (N, E, T) for Conv1d
        return torch.cat([conv(x).amax(dim=2) for conv in convs], dim=1)
    params = [p for conv in convs for p in (conv.weight, conv.bias)]
    x = embedded.transpose(0, 1)  # (T, N, E): a window's rows of all sequences are one block
    if torch.is_autocast_enabled(x.device.type):  # the products would cast each filter's rows: cast x once
        x = x.to(torch.get_autocast_dtype(x.device.type))
    return _WindowBank.apply(x, tuple(conv.kernel_size[0] for conv in convs), *params)


def highway(pooled: torch.Tensor, transform: nn.Linear, gate: nn.Linear) -> torch.Tensor:
    """The paper's highway layer over pooled features: ``g * relu(W p) + (1 - g) * p``, ``g = sigmoid(W_g p)``."""
    g = torch.sigmoid(gate(pooled))
    return g * F.relu(transform(pooled)) + (1 - g) * pooled


def trunk(embedded: torch.Tensor, d: nn.Module) -> torch.Tensor:
    """The highway features ``(N, F)`` of embedded rows ``(N, T, E)``, for anything with D's
    ``convs``, ``highway_transform`` and ``highway_gate`` (a :class:`Discriminator`, RankGAN's ranker).

    Max-over-time of ReLU = ReLU of the max (ReLU is monotone), so the ReLU runs on ``(N, F)``,
    not ``(N, F, T)``.
    """
    return highway(F.relu(window_maxes(embedded, d.convs)), d.highway_transform, d.highway_gate)


class Discriminator(nn.Module):
    """Scores whole sequences ``(N, T)``: a logit per row, positive for "real".

    Filters wider than ``max_len`` can never fit a sequence and are left out.

    Examples:
        >>> d = Discriminator(DiscriminatorConfig(vocab_size=10, max_len=6))
        >>> d(torch.zeros(3, 6, dtype=torch.long)).shape
        torch.Size([3])
    """

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = config
        widths = [(w, n) for w, n in zip(config.filter_sizes, config.num_filters) if w <= config.max_len]
        if not widths:
            raise ValueError(f"no filter fits max_len={config.max_len}")
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.convs = nn.ModuleList(nn.Conv1d(config.embed_dim, n, w) for w, n in widths)
        for conv in self.convs:  # the layout window_maxes reads, training and scoring
            conv.weight = nn.Parameter(taps_major(conv.weight.detach()))
        features = sum(n for _, n in widths)
        self.highway_transform = nn.Linear(features, features)
        self.highway_gate = nn.Linear(features, features)
        self.dropout = Dropout(config.dropout)
        self.output = nn.Linear(features, 1)

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def feature_dim(self) -> int:
        """F, the size of the highway features (the sum of the feature maps that fit)."""
        return self.output.in_features

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        with torch.autocast(tokens.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16"):
            logits = self.output(self.dropout(self._highway(self.embedding(tokens)))).squeeze(-1)
        return logits.float()  # the loss and P(real) in fp32 whatever the compute precision

    def _highway(self, embedded: torch.Tensor) -> torch.Tensor:
        return trunk(embedded, self)

    def _pooled_highway(self, pooled: torch.Tensor) -> torch.Tensor:
        return highway(pooled, self.highway_transform, self.highway_gate)

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The highway features ``(N, F)`` before dropout and the output layer (LeakGAN's leak).

        With ``lengths`` (``(N,)``) the rows are prefixes: positions at or after a row's length
        embed as zeros, so a prefix reads the same whatever its padding holds (the authors' code
        gives its padding a dedicated embedding; a zero vector needs no new weight).
        """
        with torch.autocast(tokens.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16"):
            embedded = self.embedding(tokens)
            if lengths is not None:
                inside = torch.arange(tokens.shape[1], device=tokens.device) < lengths.unsqueeze(1)
                embedded = embedded * inside.unsqueeze(-1).to(embedded.dtype)
            features = self._highway(embedded)
        return features.float()

    def prefix_features(self, tokens: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """``(N, steps + 1, F)``: :meth:`features` of every prefix ``tokens[:, :t]``, t = 0..steps.

        Equal to ``features(row, lengths=t)`` on each row repeated ``steps + 1`` times (the prefix
        read at ``tokens``' full width, zeros after it), without running the convolutions once per
        prefix. A window of width w starting at s reads, for prefix t, the first
        ``k = clamp(t - s, 0, w)`` of its taps: its value is the bias plus a partial sum along the
        window's diagonal of the per-tap products ``W_j x_p`` (one matrix product per width, as
        one convolution costs). The max over windows then splits into the windows wholly inside
        the prefix (a running max over s), the w - 1 windows it cuts and the empty ones (0), so
        every prefix costs O(w F) instead of a convolution: a T-fold saving for LeakGAN's manager,
        which reads every prefix of every sequence (``steps`` defaults to ``tokens.shape[1]``).
        """
        n, width = tokens.shape
        steps = width if steps is None else steps
        if not 0 <= steps <= width:
            raise ValueError(f"steps must be in [0, {width}], got {steps}")
        t = torch.arange(steps + 1, device=tokens.device)
        with torch.autocast(tokens.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16"):
            embedded = self.embedding(tokens)
            pooled = []
            for conv in self.convs:
                w, maps = conv.kernel_size[0], conv.out_channels
                windows = width - w + 1
                if windows < 1:  # rows narrower than a filter: pad them to max_len first, as features' callers do
                    raise ValueError(f"tokens of width {width} are narrower than a filter of width {w}")
                taps = (embedded @ conv.weight.permute(1, 2, 0).reshape(embedded.shape[-1], w * maps)).float().view(n, width, w, maps)
                diagonal = torch.stack([taps[:, j : j + windows, j] for j in range(w)], dim=2)  # [s, j] = W_j x_{s+j}
                partial = diagonal.cumsum(dim=2)  # [s, k - 1]: the window at s with its first k taps read
                low = torch.finfo(partial.dtype).min
                # windows wholly inside prefix t: s <= t - w, their running max over s
                inside = partial[:, :, w - 1].cummax(dim=1).values[:, (t - w).clamp(0, windows - 1)]
                best = inside.masked_fill((t < w).view(1, -1, 1), low)
                if w > 1:  # windows cut by the prefix's end: s = t - k reads k = 1..w-1 taps
                    k = torch.arange(1, w, device=tokens.device)
                    start = t.view(-1, 1) - k
                    cut = partial[:, start.clamp(0, windows - 1), k - 1]  # (N, steps + 1, w - 1, F)
                    cut = cut.masked_fill(((start < 0) | (start >= windows)).view(1, steps + 1, w - 1, 1), low)
                    best = torch.maximum(best, cut.amax(dim=2))
                # windows wholly after the prefix (s >= t) read only zeros
                best = torch.where((t < windows).view(1, -1, 1), best.clamp_min(0), best)
                pooled.append(best + conv.bias)
            features = self._pooled_highway(F.relu(torch.cat(pooled, dim=2)))
        return features.float()

    # -- the features of a growing prefix, one token at a time (LeakGAN's sampling and rollouts)

    def feature_state(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        """``(N, S)``: the state of :meth:`read_token` for ``n`` empty prefixes.

        Per filter of width w with F maps: the w windows that the prefix's last token is in, each
        with the taps it has read summed (``w F``), and the running max of the windows wholly
        inside the prefix (``F``, the dtype's lowest value while there is none).
        """
        device = device or self.embedding.weight.device
        parts = []
        for conv in self.convs:
            w, maps = conv.kernel_size[0], conv.out_channels
            parts += [torch.zeros(n, w * maps, device=device), torch.full((n, maps), torch.finfo(torch.float32).min, device=device)]
        return torch.cat(parts, dim=1)

    def read_token(
        self, state: torch.Tensor, token: torch.Tensor, length: torch.Tensor, advance: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows where ``advance`` read ``token`` as their prefix's ``length``-th token; every row then
        gets the :meth:`features` ``(N, F)`` of its prefix of ``length`` tokens (at ``max_len``
        columns, zeros after it) and the new state.

        Reading a token costs one product of its embedding with each filter's taps (no convolution
        over the prefix): the windows it falls in add their next tap, the window it completes
        joins the running max, and the max over windows is that running max, the windows the
        prefix's end cuts, and 0 for the windows after it (see :meth:`prefix_features`).
        """
        width = self.config.max_len
        low = torch.finfo(torch.float32).min
        with torch.autocast(token.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16"):
            embedded = self.embedding(token)
            weights = torch.cat([conv.weight.permute(1, 2, 0).reshape(embedded.shape[-1], -1) for conv in self.convs], dim=1)
            taps = (embedded @ weights).float()
            parts, pooled, at, tap_at = [], [], 0, 0
            for conv in self.convs:
                w, maps = conv.kernel_size[0], conv.out_channels
                windows = width - w + 1
                read = state[:, at : at + w * maps].view(-1, w, maps)
                best = state[:, at + w * maps : at + (w + 1) * maps]
                at += (w + 1) * maps
                step = taps[:, tap_at : tap_at + w * maps].view(-1, w, maps)
                tap_at += w * maps
                grown = torch.cat([read.new_zeros(read.shape[0], 1, maps), read[:, :-1]], dim=1) + step  # [k - 1]: k taps
                completes = advance & (length >= w)  # the window starting at length - w is now whole
                best = torch.where(completes.unsqueeze(1), torch.maximum(best, grown[:, w - 1]), best)
                read = torch.where(advance.view(-1, 1, 1), grown, read)
                parts += [read.flatten(1), best]
                value = best
                if w > 1:  # the windows the prefix's end cuts: start length - k, k = 1..w-1 taps read
                    start = length.unsqueeze(1) - torch.arange(1, w, device=token.device)
                    cut = read[:, : w - 1].masked_fill(((start < 0) | (start >= windows)).unsqueeze(-1), low)
                    value = torch.maximum(value, cut.amax(dim=1))
                value = torch.where((length < windows).unsqueeze(1), value.clamp_min(0), value)  # windows after it: 0
                pooled.append(value + conv.bias)
            features = self._pooled_highway(F.relu(torch.cat(pooled, dim=1)))
        return features.float(), torch.cat(parts, dim=1)

    def loss(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy against ``labels`` (1 real, 0 generated) plus the output L2 term."""
        bce = F.binary_cross_entropy_with_logits(self(tokens), labels.float())
        l2 = (self.output.weight.square().sum() + self.output.bias.square().sum()) / 2
        return bce + self.config.l2_reg * l2

    @torch.no_grad()
    def prob_real(self, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """``P(real)`` per row in eval mode (no dropout), in chunks to bound memory."""
        was_training = self.training
        self.eval()
        try:
            return torch.cat([torch.sigmoid(self(chunk)) for chunk in tokens.split(batch_size)]) if len(tokens) else tokens.new_zeros(0, dtype=torch.float)
        finally:
            self.train(was_training)
