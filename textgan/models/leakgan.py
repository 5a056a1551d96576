"""LeakGAN's hierarchical generator (Guo et al. 2018): a manager reads D's leaked features and
sets goals, a worker picks tokens towards them.

After reading token x_t (x_0 = BOS) the prefix s_t = x_1..x_t has the discriminator's features
f_t = F(s_t) (``features(tokens, lengths)``, the highway layer of SeqGAN's CNN). Then, with c
the step size and k the goal size:

    manager:  h^M_t = LSTM_M(f_t, h^M_{t-1}),  g_t = normalise(W_M h^M_t)         (g_t in R^F)
    worker:   h^W_t = LSTM_W(embed(x_t), h^W_{t-1}),  O_t = (W_O h^W_t + b_O) as a V x k matrix
    goal:     w_t = normalise(W_psi (g_{t-1} + ... + g_{t-c}))                     (w_t in R^k)
    policy:   pi(x_{t+1} | s_t) = softmax(O_t w_t)

The goals before the first one (g_{-1} .. g_{-c}) are one learnt vector (ours: the paper does not
say; the authors' code learns a start goal per batch row). The worker's softmax reads the goals
detached, as in the authors' code: the manager learns only from its own loss
(``textgan.agents.leakgan``), the worker only from its log-likelihoods.

The policy works wherever textgan's LSTM generator does: ``forward`` (teacher forcing),
``token_nll``, ``sample``, and the env's rollout interface (``initial_state``, ``cell``,
``sample_next``, ``prefix_states``) with a state tuple whose first part is the next-token logits,
so the env's batched Monte Carlo completions (``textgan.env.rewards.complete_prefixes``) run it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn
from torch.nn import functional as F

from textgan.models.generator import no_classes, sequence_mask
from textgan.models.sampling import host_to_device, sample_from_logits
from textgan.rewards.base import PerPrefix

Features = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``features(tokens (N, T), lengths (N,)) -> (N, F)``: the reward model's features of each prefix"""


@runtime_checkable
class Leak(Protocol):
    """What the manager reads: a reward model's features of prefixes (``ProbRealReward`` is one).

    ``features(tokens (N, T), lengths (N,)) -> (N, F)``: of the prefixes ``tokens[b, :lengths[b]]``;
    ``prefix_features(tokens (N, T)) -> (N, T + 1, F)``: of every prefix of each row at once;
    ``feature_state(n, device) -> (N, S)`` and ``read_feature(state, token, length, advance) ->
    (features (N, F), state)``: of a prefix growing by one token per call.
    """

    def features(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor: ...

    def prefix_features(self, tokens: torch.Tensor) -> torch.Tensor: ...

    def feature_state(self, n: int, device: torch.device | str | None = None) -> torch.Tensor: ...

    def read_feature(
        self, state: torch.Tensor, token: torch.Tensor, length: torch.Tensor, advance: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass
class LeakGANConfig:
    """Sizes and special ids of LeakGAN's generator (defaults: the authors' code at length 20)."""

    vocab_size: int
    max_len: int
    feature_dim: int
    """F, the size of the discriminator's features (the goals live in that space)"""
    embed_dim: int = 32
    hidden_dim: int = 32
    """the worker's and the manager's LSTM size"""
    goal_dim: int = 16
    """k, the size of the worker's goal embedding w_t"""
    step_size: int = 4
    """c, the goals summed into w_t and the horizon of the manager's loss"""
    bos_id: int = 1
    eos_id: int | None = 2
    pad_id: int = 0

    def __post_init__(self):
        for name in ("vocab_size", "max_len", "feature_dim", "embed_dim", "hidden_dim", "goal_dim", "step_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class Hierarchy:
    """Teacher-forced pass over ``(N, T)`` tokens (see :meth:`LeakGANPolicy.hierarchy`)."""

    logits: torch.Tensor
    """``(N, T, V)``: position t predicts ``tokens[:, t]``"""
    goals: torch.Tensor
    """``(N, T + 1, F)``: g_0 .. g_T, with the manager's graph"""
    features: torch.Tensor
    """``(N, T + 1, F)``: f_0 .. f_T (f_0: the empty prefix), no graph"""


def normalise(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, dim=-1)


def intrinsic_rewards(goals: torch.Tensor, features: torch.Tensor, step_size: int) -> torch.Tensor:
    """The worker's reward of each token, ``(N, T)`` from ``(N, T + 1, F)`` goals and features:

        r_t = (1/c) sum_{i=1..c, i <= t} cos(f_t - f_{t-i}, g_{t-i})      (the paper's intrinsic reward)

    for token x_t at column t - 1 (terms before the sequence's start count 0).
    """
    steps = features.shape[1] - 1
    rewards = features.new_zeros(features.shape[0], steps)
    for i in range(1, step_size + 1):
        if i > steps:
            break
        cos = F.cosine_similarity(features[:, i:] - features[:, :-i], goals[:, :-i], dim=-1)  # t = i .. T
        rewards[:, i - 1 :] += cos
    return rewards / step_size


def manager_loss(
    goals: torch.Tensor, features: torch.Tensor, lengths: torch.Tensor, step_size: int, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """The manager's loss: ``-mean_t weight_t * cos(f_{t+c} - f_t, g_t)`` over every t with
    ``t + c <= length`` (the paper's adversarial loss with weight Q_t; its pre-training loss with weight 1).

    Args:
        goals, features: ``(N, T + 1, F)``.
        lengths: ``(N,)`` each row's sequence length L (its features stop at f_L).
        weights: ``(N, T + 1 - c)`` the value of each goal's move (None: 1).
    """
    c = step_size
    if features.shape[1] <= c:
        return goals.sum() * 0.0
    cos = F.cosine_similarity(features[:, c:] - features[:, :-c], goals[:, :-c], dim=-1)  # t = 0 .. T - c
    t = torch.arange(cos.shape[1], device=cos.device)
    valid = (t + c <= lengths.unsqueeze(1)).to(cos.dtype)
    if weights is not None:
        cos = cos * weights
    return -(cos * valid).sum() / valid.sum().clamp_min(1)


class LeakGANPolicy(nn.Module):
    """Manager and worker; see the module docstring.

    Args:
        config: sizes.
        features: the reward model's features of prefixes (e.g. ``DiscriminatorReward.features``);
            kept as a plain callable, so D's weights are neither the policy's parameters nor in
            its checkpoint, and D's training shows at once.

    Examples:
        >>> from textgan.models import Discriminator, DiscriminatorConfig
        >>> d = Discriminator(DiscriminatorConfig(vocab_size=10, max_len=6, filter_sizes=(2,), num_filters=(8,)))
        >>> g = LeakGANPolicy(LeakGANConfig(vocab_size=10, max_len=6, feature_dim=8), d.features)
        >>> g.sample(4, max_len=6, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 6])
    """

    def __init__(self, config: LeakGANConfig, leak: Leak | Features):
        super().__init__()
        self.config = config
        self.leak = leak if isinstance(leak, Leak) else PerPrefix(leak, config.max_len)
        """the reward model's features of prefixes (a bare ``features`` callable reads each prefix whole)"""
        v, e, h, k, f = config.vocab_size, config.embed_dim, config.hidden_dim, config.goal_dim, config.feature_dim
        # the worker
        self.embedding = nn.Embedding(v, e)
        self.lstm = nn.LSTM(e, h, batch_first=True)
        self.output = nn.Linear(h, v * k)  # O_t, V x k
        self.goal_projection = nn.Linear(f, k, bias=False)  # W_psi
        self.initial_goal = nn.Parameter(torch.empty(f))  # g_{-1} .. g_{-c}
        # the manager
        self.manager_lstm = nn.LSTM(f, h, batch_first=True)
        self.manager_output = nn.Linear(h, f)
        for parameter in self.parameters():  # N(0, 0.1), as the authors' code and SeqGAN's
            nn.init.normal_(parameter, std=0.1)

    max_positions = None  # (the policy interface: any length up to the env's max_len)

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def device(self) -> torch.device:
        return self.output.weight.device

    def features(self, state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """What ``sample_next`` samples from: the state's first part, the next token's logits."""
        return state[0]

    def manager_parameters(self) -> list[nn.Parameter]:
        return [*self.manager_lstm.parameters(), *self.manager_output.parameters()]

    def worker_parameters(self) -> list[nn.Parameter]:
        manager = {id(p) for p in self.manager_parameters()}
        return [p for p in self.parameters() if id(p) not in manager]

    def rollout_copy(self) -> LeakGANPolicy:
        """A new policy of the same sizes reading the same features (the env's rollout policy)."""
        return LeakGANPolicy(self.config, self.leak)

    # -- the worker's output ----------------------------------------------------------------

    def worker_logits(self, hidden: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """``O_t w_t``: logits ``(..., V)`` from worker states ``(..., H)`` and goal embeddings ``(..., k)``.

        Computed as ``(w outer h) W + w b`` so that the ``(..., V, k)`` matrix O_t is never built.
        """
        v, k, h = self.config.vocab_size, self.config.goal_dim, self.config.hidden_dim
        outer = (goal.unsqueeze(-1) * hidden.unsqueeze(-2)).flatten(-2)  # (..., k * H)
        weight = self.output.weight.view(v, k, h).reshape(v, k * h)
        return outer @ weight.T + goal @ self.output.bias.view(v, k).T

    def _goal_embedding(self, goal_sum: torch.Tensor) -> torch.Tensor:
        return normalise(self.goal_projection(goal_sum))

    # -- teacher forcing ----------------------------------------------------------------------

    def shifted_inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        bos = torch.full_like(tokens[:, :1], self.config.bos_id)
        return torch.cat([bos, tokens[:, :-1]], dim=1)

    def prefix_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(N, T + 1, F)``: the features of every prefix x_1..x_t, t = 0..T, in one call."""
        return self.leak.prefix_features(tokens).detach()

    def hierarchy(self, tokens: torch.Tensor) -> Hierarchy:
        """The manager's goals and the worker's logits over whole sequences ``(N, T)``."""
        c = self.config.step_size
        features = self.prefix_features(tokens)
        manager_hidden, _ = self.manager_lstm(features)
        goals = normalise(self.manager_output(manager_hidden))  # g_0 .. g_T
        n, steps = tokens.shape
        start = normalise(self.initial_goal).expand(n, c, -1)
        padded = torch.cat([start, goals.detach()], dim=1)  # index j holds g_{j - c}
        sums = torch.cat([padded.new_zeros(n, 1, padded.shape[-1]), padded.cumsum(dim=1)], dim=1)
        windows = sums[:, c : c + steps] - sums[:, :steps]  # sum_{i=1..c} g_{t-i}, t = 0..T-1
        hidden, _ = self.lstm(self.embedding(self.shifted_inputs(tokens)))
        logits = self.worker_logits(hidden, self._goal_embedding(windows))
        return Hierarchy(logits=logits, goals=goals, features=features)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: logits ``(N, T, V)`` whose position t predicts ``tokens[:, t]``."""
        no_classes(labels)
        return self.hierarchy(tokens).logits

    def loss_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        return sequence_mask(tokens, self.config.eos_id)

    def token_nll(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The worker's NLL per token ``(N, T)`` and the mask of counted positions.

        The values are the NLL alone. Their gradient also holds the manager's pre-training loss
        (``manager_loss`` on these real rows, added as ``m - m.detach()``, whose value is 0): so
        the trainer's one MLE step pre-trains both modules, the worker by MLE and the manager to
        point its goals where real text's features move (the paper's pre-training).
        """
        no_classes(labels)
        out = self.hierarchy(tokens)
        nll = F.cross_entropy(out.logits.reshape(-1, out.logits.shape[-1]), tokens.reshape(-1), reduction="none")
        mask = self.loss_mask(tokens)
        nll = nll.view_as(tokens) * mask
        if not torch.is_grad_enabled():
            return nll, mask
        pretrain = manager_loss(out.goals, out.features, mask.sum(1), self.config.step_size)
        return nll + (pretrain - pretrain.detach()) * mask, mask

    def mle_loss(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        nll, mask = self.token_nll(tokens, labels)
        return nll.sum() / mask.sum().clamp_min(1)

    # -- one step at a time (acting, sampling, the env's rollouts) ------------------------------

    def initial_state(
        self, n: int, device: torch.device | str | None = None, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        """(logits, worker h, c, manager h, c, the last c goals, the prefix, inputs read, the leak's state)."""
        no_classes(labels)
        cfg = self.config
        device = device or self.output.weight.device
        zeros = torch.zeros(n, cfg.hidden_dim, device=device)
        goals = normalise(self.initial_goal.detach()).to(device).expand(n, cfg.step_size, -1).clone()
        return (
            torch.zeros(n, cfg.vocab_size, device=device), zeros, zeros.clone(), zeros.clone(), zeros.clone(), goals,
            torch.full((n, cfg.max_len), cfg.pad_id, dtype=torch.long, device=device),
            torch.zeros(n, 1, dtype=torch.long, device=device), self.leak.feature_state(n, device),
        )  # fmt: skip

    def cell(self, previous: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """Read one input token (BOS first): the prefix grows, the manager reads its features and
        emits a goal, and the first part of the new state is the next token's logits."""
        _, worker_h, worker_c, manager_h, manager_c, goals, prefix, read, leak_state = state
        written = read.squeeze(1)
        at = (written - 1).clamp(0, self.config.max_len - 1).unsqueeze(1)
        kept = prefix.gather(1, at).squeeze(1)
        advance = (written >= 1) & (written <= self.config.max_len)  # BOS is not text
        prefix = prefix.scatter(1, at, torch.where(advance, previous, kept).unsqueeze(1))
        lengths = written.clamp_max(self.config.max_len)
        worker_h, worker_c = torch._VF.lstm_cell(
            self.embedding(previous), (worker_h, worker_c),
            self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.lstm.bias_ih_l0, self.lstm.bias_hh_l0,
        )  # fmt: skip
        features, leak_state = self.leak.read_feature(leak_state, previous, lengths, advance)
        features = features.detach()
        manager_h, manager_c = torch._VF.lstm_cell(
            features, (manager_h, manager_c),
            self.manager_lstm.weight_ih_l0, self.manager_lstm.weight_hh_l0, self.manager_lstm.bias_ih_l0,
            self.manager_lstm.bias_hh_l0,
        )  # fmt: skip
        goal = normalise(self.manager_output(manager_h))
        logits = self.worker_logits(worker_h, self._goal_embedding(goals.sum(1)))  # w_t: g_{t-1} .. g_{t-c}
        goals = torch.cat([goals[:, 1:], goal.detach().unsqueeze(1)], dim=1)
        return logits, worker_h, worker_c, manager_h, manager_c, goals, prefix, read + 1, leak_state

    @staticmethod
    def text_of(state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """The prefix a state has read, ``(N, T)`` tokens (PAD after it), and its lengths ``(N,)``."""
        return state[6], (state[7].squeeze(1) - 1).clamp_min(0)

    def step(self, previous: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One step: logits ``(N, V)`` for the next token given the previous token ``(N,)``."""
        state = self.cell(previous, state)
        return state[0], state

    def sample_next(self, logits: torch.Tensor, uniforms: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Sample next tokens from the state's first part (the next-token logits)."""
        return sample_from_logits(logits, uniforms, temperature)

    @torch.no_grad()
    def prefix_states(
        self, tokens: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The next-token logits and the state after reading each row's prefix ``tokens[b, :lengths[b]]``."""
        no_classes(labels)
        n = tokens.shape[0]
        bos = torch.full((n,), self.config.bos_id, dtype=torch.long, device=tokens.device)
        state = self.cell(bos, self.initial_state(n, tokens.device))
        out = tuple(part.clone() for part in state)
        longest = int(lengths.max()) if n and tokens.device.type == "cpu" else (tokens.shape[1] if n else 0)
        for length in range(1, longest + 1):
            state = self.cell(tokens[:, length - 1], state)
            reached = lengths == length
            out = tuple(torch.where(reached.view(-1, *([1] * (new.dim() - 1))), new, old) for new, old in zip(state, out))
        return out[0], out

    @torch.no_grad()
    def sample(
        self, n: int, max_len: int, generator: torch.Generator | None = None, temperature: float = 1.0,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample ``n`` sequences ``(n, max_len)``; after an EOS the rest is PAD."""
        no_classes(labels)
        cfg = self.config
        device = self.output.weight.device
        tokens = torch.full((n, max_len), cfg.pad_id, dtype=torch.long, device=device)
        previous = torch.full((n,), cfg.bos_id, dtype=torch.long, device=device)
        finished = torch.zeros(n, dtype=torch.bool, device=device)
        state = self.initial_state(n, device)
        uniforms = host_to_device(torch.rand(n, max_len, generator=generator), device)
        for position in range(max_len):
            state = self.cell(previous, state)
            token = self.sample_next(state[0], uniforms[:, position], temperature)
            token = torch.where(finished, torch.full_like(token, cfg.pad_id), token)
            tokens[:, position] = token
            if cfg.eos_id is not None:
                finished |= token == cfg.eos_id
            previous = token
        return tokens
