"""DPGAN's reward model (Xu et al. 2018): a language model whose cross-entropy is the reward.

The discriminator is an LSTM language model ``D``. Each token's reward is its cross-entropy under
``D``, ``r_t = c_t = -log D(y_t | y_<t)`` (BOS is the first input; an EOS token is scored), and a
sentence's reward is the mean, ``R(y) = (1/K) sum_t c_t``. ``D`` is trained the paper's way round:
it *lowers* the NLL of generated text and *raises* the NLL of real text,

    J_D = E_gen[R(y)] - real_weight * E_real[R_cap(y)],

so text the generator keeps repeating becomes cheap (low reward) while novel, real-like text stays
surprising (high reward). The real term alone is unbounded below; ``R_cap`` caps each real token's
NLL at ``real_cap`` nats (default 12, the bound the authors' code puts on a token's reward) so the
term stops pushing there. The cap is ours, not the paper's: well above ``log V``, it still lets D
make real text less likely than text it has seen in neither set.

The teacher-forced LSTM is causal (token ``t``'s reward reads tokens ``1..t`` only), so rewards are
paid per token and no Monte Carlo rollouts are needed; an agent summing rewards from ``t`` on
(REINFORCE ``values="return"``) gets the paper's word-level return ``sum_{tau>=t} c_tau``.

Examples:
    >>> from textgan.models import Generator, GeneratorConfig
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> reward = DPGANReward(Generator(GeneratorConfig(vocab_size=8, embed_dim=4, hidden_dim=4)))
    >>> rewards = reward.score(torch.tensor([[[5, 3, 2, 0], [4, 4, 4, 4]]]))  # row 0 ends at EOS (2)
    >>> rewards.shape, bool((rewards[0, 0, :3] > 0).all()), rewards[0, 0, 3].item()
    (torch.Size([1, 2, 4]), True, 0.0)
"""

from __future__ import annotations

import math

import torch

from runcore.optim import adam
from textgan.models.generator import Generator


class DPGANReward:
    """Per-token rewards ``c_t = -log D(y_t | y_<t)`` from a language model ``D`` trained adversarially.

    Args:
        lm: the language model (a ``Generator``: teacher-forced logits, BOS input, its config's
            ``eos_id`` ends a sequence); trained in place.
        optimizer: its optimiser; default Adam at ``learning_rate``.
        learning_rate: the default optimiser's step size (TextGAN-PyTorch: 0.01).
        grad_clip: global gradient-norm clip of each step (TextGAN-PyTorch: 5).
        real_weight: weight of the push away from real text (1: the paper; 0: what the authors'
            code effectively runs, MLE on generated text only).
        real_cap: per-token cap, in nats, on real text's NLL in D's loss (ours, not the paper's).
        reward_clip: clip each token's reward at this many nats (the authors' code: 12); None: off.
        max_len: the longest sequences it is meant for (None: any; the LSTM scores any length).

    Examples:
        >>> from textgan.models import GeneratorConfig
        >>> reward = DPGANReward(Generator(GeneratorConfig(vocab_size=6, embed_dim=4, hidden_dim=4)))
        >>> tokens = torch.tensor([[4, 5, 2], [3, 3, 3]])
        >>> sorted(reward.train_step(tokens, torch.tensor([True, False])))
        ['d_fake_nll', 'd_loss', 'd_real_nll']
    """

    dense = True

    def __init__(
        self,
        lm: Generator,
        optimizer: torch.optim.Optimizer | None = None,
        learning_rate: float = 0.01,
        grad_clip: float = 5.0,
        real_weight: float = 1.0,
        real_cap: float = 12.0,
        reward_clip: float | None = None,
        max_len: int | None = None,
    ):
        if real_weight < 0:
            raise ValueError(f"real_weight must be >= 0, got {real_weight}")
        for name, value in (("real_cap", real_cap), ("reward_clip", reward_clip), ("grad_clip", grad_clip)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.lm = lm
        self.optimizer = optimizer or adam(lm.parameters(), lr=learning_rate)
        self.grad_clip, self.real_weight, self.reward_clip = grad_clip, float(real_weight), reward_clip
        self.real_cap = float(real_cap)
        self.vocab_size, self.max_len = lm.vocab_size, max_len
        self.reward_range = (0.0, float(reward_clip) if reward_clip is not None else math.inf)

    # -- scoring ------------------------------------------------------------------------------

    def token_nll(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``c_t`` of ``(N, T)`` sequences (0 after each one's end) and the mask of scored positions."""
        return self.lm.token_nll(tokens)

    @torch.no_grad()
    def score(self, tokens: torch.Tensor, chunk_rows: int = 1024) -> torch.Tensor:
        """Token rewards ``(G, N, T)``: each token's NLL under D (clipped if set), 0 after the end."""
        groups, n, width = tokens.shape
        self.lm.eval()
        rows = tokens.reshape(groups * n, width)
        # in chunks: the (rows, T, V) logits of a whole rollout batch need not fit at once
        nll = torch.cat([self.token_nll(chunk)[0] for chunk in rows.split(chunk_rows)]) if len(rows) else rows.float()
        if self.reward_clip is not None:
            nll = nll.clamp_max(self.reward_clip)
        return nll.view(groups, n, width)

    @torch.no_grad()
    def sentence_nll(self, tokens: torch.Tensor, chunk_rows: int = 1024) -> torch.Tensor:
        """The sentence reward ``R(y)``: mean token NLL of each of ``(N, T)`` sequences ``(N,)``."""
        self.lm.eval()
        return torch.cat([_masked_mean(*self.token_nll(chunk)) for chunk in tokens.split(chunk_rows)])

    # -- training -----------------------------------------------------------------------------

    def loss(self, tokens: torch.Tensor, is_real: torch.Tensor) -> dict[str, torch.Tensor]:
        """``J_D`` of a mixed minibatch, with the mean sentence NLL of its real and generated rows.

        ``J_D = mean_gen R(y) - real_weight * mean_real R_cap(y)``, where ``R_cap`` averages
        ``min(c_t, real_cap)``: once a real token's NLL passes the cap it gets no more gradient.
        A side with no rows in the batch contributes 0.
        """
        nll, mask = self.token_nll(tokens)
        sentence = _masked_mean(nll, mask)
        capped = _masked_mean(nll.clamp_max(self.real_cap), mask)
        real, fake = is_real.bool(), ~is_real.bool()
        fake_term = sentence[fake].mean() if bool(fake.any()) else sentence.new_zeros(())
        real_term = capped[real].mean() if bool(real.any()) else sentence.new_zeros(())
        return {
            "d_loss": fake_term - self.real_weight * real_term,
            "d_real_nll": sentence[real].mean().detach() if bool(real.any()) else sentence.new_zeros(()),
            "d_fake_nll": fake_term.detach(),
        }

    def train_step(self, tokens: torch.Tensor, is_real: torch.Tensor) -> dict[str, torch.Tensor]:
        self.lm.train()
        out = self.loss(tokens, is_real)
        self.optimizer.zero_grad()
        out["d_loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.lm.parameters(), self.grad_clip)
        self.optimizer.step()
        return {name: value.detach() for name, value in out.items()}

    @torch.no_grad()
    def evaluate(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        """Mean sentence NLL of the real and generated rows, and D's pairwise accuracy.

        ``d_accuracy`` is the share of (real, generated) pairs that D ranks the way it is trained
        to, the real row's NLL above the generated row's (ties count half): 0.5 is chance.
        """
        real_nll, fake_nll = self.sentence_nll(real), self.sentence_nll(fake)
        fake_sorted = fake_nll.sort().values
        below = torch.searchsorted(fake_sorted, real_nll, side="left").double()
        at_or_below = torch.searchsorted(fake_sorted, real_nll, side="right").double()
        pairs = (below + at_or_below).sum() / 2  # fakes strictly below, plus half the ties
        return {
            "d_real_nll": float(real_nll.mean()),
            "d_fake_nll": float(fake_nll.mean()),
            "d_accuracy": float(pairs) / (len(real_nll) * len(fake_nll)),
        }

    def checkpoint_items(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {"dpgan_lm": self.lm, "dpgan_lm_optimizer": self.optimizer}


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each row's counted positions ``(N,)``."""
    return (values * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1)
