"""Every setting of a SeqGAN run, and the presets.

A run is fully described by one ``SeqGANConfig``; it is written to the run directory as JSON and
read back on ``--resume``. Presets are partial settings applied before the user's flags.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from runcore.errors import UserError
from runcore.settings import settings_from_json
from runcore.ranges import SEED, Range, at_least, between, check_ranges, positive
from textgan.data.tokenizers import TOKENIZER_KINDS
from textgan.models.discriminator import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, PRECISIONS
from textgan.policies.registry import POLICIES, PolicySizes
from textgan.seqgan.memory import check_memory


@dataclass
class SeqGANConfig:
    # data
    corpus: str = "poems"
    """a built-in corpus name (`textgan corpora`) or a UTF-8 text file, one sample per line (with --conditional also a folder of one file per class)"""
    test_file: str | None = None
    """held-out text; default: a seeded split of the corpus"""
    test_fraction: float = 0.1
    """fraction of the corpus held out when no --test-file is given"""
    val_fraction: float = 0.0
    """fraction of the training split held out (seeded) for validation: MLE pre-training then keeps
    the epoch with the best validation NLL (early stopping); 0: no validation split, the last epoch"""
    tokenizer: str = "auto"
    """auto, char, word, treebank or spm; auto: words for text whose lines are words separated by
    spaces (spm when there are more distinct words than the vocabulary holds), characters
    otherwise; treebank: nltk's Treebank words of the lower-cased text (punctuation split off, as
    Texygen's English corpora); the run's config records the kind chosen"""
    vocab_size: int | None = None
    """vocabulary size for spm (and a cap for word)"""
    max_len: int | None = None
    """longest sequence in tokens; default: the longest training line (at most 64)"""
    long_lines: str = "drop"
    """what to do with lines longer than max_len: drop or cut"""
    conditional: bool = False
    """class-conditional generation: every corpus line is label<TAB>text, or the corpus is a folder of one text file per class (docs/conditional.md)"""
    # models
    policy: str = "lstm"
    """the generator: lstm (the paper's), transformer (causal; --g-hidden-dim wide, --g-layers, --g-heads)
    or gpt2 (Hugging Face's, built from a config at the transformer's sizes; needs the transformers extra)"""
    g_embed_dim: int = 32
    """the LSTM's token embedding size"""
    g_hidden_dim: int = 32
    """the LSTM's hidden size; the Transformer's width"""
    g_layers: int = 2
    """Transformer blocks"""
    g_heads: int = 4
    """Transformer attention heads (--g-hidden-dim must be a multiple)"""
    d_embed_dim: int = 64
    d_filter_sizes: tuple[int, ...] = PAPER_FILTER_SIZES
    d_num_filters: tuple[int, ...] = PAPER_NUM_FILTERS
    d_dropout: float = 0.25
    d_l2: float = 0.2
    d_precision: str = "fp32"
    """the discriminator's compute precision: fp32, or bf16 (autocast; faster on machines with bf16
    matrix units — AMX, AVX512-BF16, GPUs; weights and loss stay fp32)"""
    # MLE pre-training
    batch_size: int = 64
    mle_epochs: int = 120
    mle_lr: float = 0.01
    mle_patience: int = 0
    """with --val-fraction: stop MLE pre-training after this many epochs without a better validation
    NLL (the best epoch is kept either way); 0: run every --mle-epochs"""
    grad_clip: float = 5.0
    # discriminator
    d_lr: float = 1e-4
    d_pretrain_steps: int = 50
    """D pre-training steps, each on fresh negatives"""
    d_epochs: int = 3
    """passes over real + fresh negatives per D step (the paper's k)"""
    num_negatives: int | None = None
    """generated sequences per D step; default: as many as training sequences (at most 10,000)"""
    # adversarial training
    rounds: int = 200
    g_steps: int = 1
    d_steps: int = 5
    rollouts: int = 16
    """K, Monte Carlo rollouts per prefix"""
    rollout_rate: float = 0.8
    """rollout <- rate * rollout + (1 - rate) * generator after each round"""
    reward_mode: str = "direct"
    """direct: the reward model's rewards as they fall due; shaped: Q_t - V(s_{t-1}) (needs rollouts)"""
    gan: str = "seqgan"
    """the text GAN: its reward model and the agent settings it needs (`textgan train --help` lists them)"""
    agent: str = "reinforce"
    """what trains the generator: reinforce or ppo; its settings are the --<agent>.* flags"""
    agent_settings: dict = dataclasses.field(default_factory=dict)
    """per agent, the settings changed from its defaults (set by --<agent>.<setting> flags)"""
    gan_settings: dict = dataclasses.field(default_factory=dict)
    """per GAN, the settings changed from its defaults (set by --<gan>.<setting> flags)"""
    # run
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 10
    """rounds between checkpoints (there is one after every phase too)"""
    checkpoint_minutes: float = 10.0
    """minutes at most between checkpoints, whatever --checkpoint-every says: one is written after
    the epoch, D step or round that passes them, so a run killed without warning loses at most
    about this much work (0: after every one)"""
    eval_samples: int = 8
    """samples printed and written after each phase"""
    preset: str = "default"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SeqGANConfig:
        return settings_from_json(cls, values, "the run's config.json")

    def validate(self) -> None:
        """Raise UserError for values no run can use, naming the option.

        Every number is checked against :data:`RANGES` (floats must also be finite), and the
        memory the settings ask for against the machine's (a lower bound until the data's sizes
        are known: :meth:`check_sizes` repeats it with them).
        """
        check_ranges(self, RANGES)
        if self.mle_patience and not self.val_fraction:
            raise UserError(
                f"--mle-patience {self.mle_patience} needs a validation split", "give --val-fraction (e.g. 0.05), or --mle-patience 0"
            )
        if len(self.d_filter_sizes) != len(self.d_num_filters) or not self.d_filter_sizes:
            raise UserError(
                "--d-filter-sizes and --d-num-filters must be non-empty and of equal length",
                "give one number of maps per filter width",
            )
        choices = {
            "reward_mode": ("direct", "shaped"),
            "tokenizer": ("auto", *TOKENIZER_KINDS),
            "long_lines": ("drop", "cut"),
            "d_precision": PRECISIONS,
            "policy": tuple(POLICIES),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"--{name.replace('_', '-')} {getattr(self, name)!r} is not known", f"choose one of {', '.join(allowed)}"
                )
        problem = POLICIES[self.policy].problem(self.policy_sizes(MIN_VOCAB_SIZE, 1, num_classes=2 if self.conditional else 0))
        if problem:
            raise UserError(*problem)
        self.check_sizes(self.vocab_size or MIN_VOCAB_SIZE, self.max_len, sequences=0)  # prepare_data: with the data's

    def policy_sizes(
        self, vocab_size: int, max_len: int, bos_id: int = 1, eos_id: int | None = 2, pad_id: int = 0, num_classes: int = 0
    ) -> PolicySizes:
        """What ``--policy`` builds the generator from: these settings and the data's sizes
        (``num_classes`` > 0: a class-conditional generator)."""
        return PolicySizes(
            vocab_size, max_len, self.g_embed_dim, self.g_hidden_dim, self.g_layers, self.g_heads, bos_id, eos_id, pad_id,
            num_classes,
        )  # fmt: skip

    def check_sizes(self, vocab_size: int, max_len: int | None, sequences: int) -> None:
        """Raise UserError when sequences of ``max_len`` tokens cannot be trained with these
        settings: no discriminator filter fits them, or the run needs more memory than the machine
        has (``max_len`` None and ``sequences`` 0: not known yet, a lower bound is checked)."""
        if max_len is not None and min(self.d_filter_sizes) > max_len:
            raise UserError(
                f"--d-filter-sizes {' '.join(map(str, self.d_filter_sizes))}: no filter fits sequences of {max_len} tokens",
                f"give at least one width of {max_len} or less (wider filters are left out)",
            )
        check_memory(self, vocab_size, max_len, sequences)


MIN_VOCAB_SIZE = 5  # the four special tokens and one more

RANGES: dict[str, Range] = {
    "test_fraction": between(0, 1, open_low=True, open_high=True, fix="pass a fraction such as 0.1, or give --test-file"),
    "val_fraction": between(0, 1, open_high=True, fix="pass a fraction such as 0.05, or 0 for no validation split"),
    "vocab_size": at_least(MIN_VOCAB_SIZE, "the four special tokens need one more beside them"),
    "max_len": at_least(1),
    "g_embed_dim": at_least(1),
    "g_hidden_dim": at_least(1),
    "g_layers": at_least(1),
    "g_heads": at_least(1),
    "d_embed_dim": at_least(1),
    "d_filter_sizes": at_least(1, "filter widths are counted in tokens"),
    "d_num_filters": at_least(1),
    "d_dropout": between(0, 1, open_high=True, fix="the paper uses 0.25"),
    "d_l2": at_least(0, "the paper uses 0.2; 0 turns it off"),
    "batch_size": at_least(1),
    "mle_epochs": at_least(0, "pass 0 to skip that phase"),
    "mle_lr": positive(),
    "mle_patience": at_least(0, "pass 0 to run every MLE epoch (the best is still kept)"),
    "grad_clip": positive(),
    "d_lr": positive(),
    "d_pretrain_steps": at_least(0, "pass 0 to skip that phase"),
    "d_epochs": at_least(1),
    "num_negatives": at_least(1),
    "rounds": at_least(0, "pass 0 to skip that phase"),
    "g_steps": at_least(1),
    "d_steps": at_least(0, "pass 0 to skip that phase"),
    "rollouts": at_least(1),
    "rollout_rate": between(0, 1, fix="the paper uses 0.8"),
    "seed": SEED,
    "checkpoint_every": at_least(1),
    "checkpoint_minutes": at_least(0, "e.g. 10; 0 checkpoints after every epoch, D step and round"),
    "eval_samples": at_least(0),
}
"""The allowed values of every numeric setting (``None`` passes: it means "choose for me")."""


# The paper's settings (SeqGAN, Yu et al. 2017, and its code): batch 64, K=16, 120 MLE epochs,
# 50 x 3 D pre-training, 200 rounds of 1 G step + 5 x 3 D epochs.
PAPER = dict(
    g_embed_dim=32, g_hidden_dim=32, batch_size=64, rollouts=16, mle_epochs=120, d_pretrain_steps=50,
    d_epochs=3, rounds=200, g_steps=1, d_steps=5, rollout_rate=0.8, mle_lr=0.01, d_lr=1e-4,
)

# Fits about 15 minutes on 2 CPU cores for the poems corpus and shows both phases working: a
# larger generator than the paper's (readable poems need it), a slimmer D, fewer rounds; MLE
# pre-training keeps its best epoch on 5% of the training lines held out (stopping after 2
# epochs without a better validation NLL).
DEFAULT = dict(
    g_embed_dim=64, g_hidden_dim=64, batch_size=64, rollouts=8, mle_epochs=6, d_pretrain_steps=3,
    d_epochs=1, num_negatives=5000, rounds=30, g_steps=1, d_steps=1, rollout_rate=0.8, mle_lr=0.01,
    val_fraction=0.05, mle_patience=2,
    agent_settings={"reinforce": {"learning_rate": 0.002}}, d_lr=1e-4, d_num_filters=(50, 100, 100, 100, 100, 50, 50, 50, 50, 50, 80, 80),
    checkpoint_every=5,
)

# Seconds on a laptop: for smoke tests and trying options.
TINY = dict(
    g_embed_dim=16, g_hidden_dim=16, batch_size=16, rollouts=2, mle_epochs=2, d_pretrain_steps=1,
    d_epochs=1, num_negatives=64, rounds=2, g_steps=1, d_steps=1, d_embed_dim=16,
    d_filter_sizes=(1, 2, 3), d_num_filters=(8, 8, 8), checkpoint_every=1, eval_samples=4,
)

PRESETS: dict[str, dict[str, Any]] = {"default": DEFAULT, "paper": PAPER, "tiny": TINY}


def preset_values(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}", f"choose one of {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name])


def config_fields() -> list[dataclasses.Field]:
    """The fields that are plain command-line settings (the preset is chosen by its own flag;
    agent and GAN settings come from their own ``--<name>.<setting>`` flags)."""
    return [f for f in dataclasses.fields(SeqGANConfig) if f.name not in ("preset", "agent_settings", "gan_settings")]
