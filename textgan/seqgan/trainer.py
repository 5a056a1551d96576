"""SeqGAN training: MLE pre-training, D pre-training, adversarial rounds.

The trainer is given its agent (what trains the generator, e.g. REINFORCE) and its reward model
(what scores text, e.g. the CNN discriminator); it keeps the books (progress, logs, checkpoints,
resume) and runs the phases. The work is done by the models, the environment, the agent and
``fit_reward_model``. ``textgan.gans.build_trainer`` builds one from a config (what the CLI does).
Its state between phases is one small dict, ``position`` = {phase, done}, saved with every
checkpoint (by ``runcore.Checkpointer``, with every random stream) so that ``--resume`` continues
at the next epoch or round exactly as an uninterrupted run would. After each epoch or round it
checks its numbers (a NaN stops the run) and whether a stop was asked for (Ctrl-C: it saves and
raises ``runcore.Interrupted``).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import torch
from gymnasium.vector import AutoresetMode

from textgan.agents.base import Agent
from runcore import LATEST, Checkpointer, Interrupted, RunDir, adam, console, make_progress, require_finite_metrics, stop_requested, write_text_atomic
from runcore.distributed import average_metrics, global_mean, rank_seed, sync_gradients, world_any
from runcore.errors import UserError
from runcore.loop import AdversarialSchedule, run_adversarial
from textgan.data import Tokenizer
from textgan.data.labels import ClassLabels
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.models import Generator
from textgan.policies.registry import POLICIES
from runcore.errors import CheckpointError
from textgan.rewards.base import RewardModel
from textgan.rewards.training import fit_reward_model
from textgan.seqgan.config import SeqGANConfig
from textgan.seqgan.early_stopping import BestWeights, patience_spent

PHASES = ("mle", "d_pretrain", "adversarial", "done")
SAMPLES_PER_FILE = 100


def build_generator(
    config: SeqGANConfig, tokenizer: Tokenizer, max_len: int | None = None, labels: ClassLabels | None = None
) -> Generator:
    """The ``--policy`` generator for sequences of ``max_len`` tokens (default ``config.max_len``),
    conditioned on the class when the run has ``labels``."""
    max_len = max_len or config.max_len
    if max_len is None:
        raise ValueError("build_generator needs the sequences' max_len")
    sizes = config.policy_sizes(
        tokenizer.vocab_size, max_len, tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id,
        num_classes=0 if labels is None else labels.num_classes,
    )  # fmt: skip
    return POLICIES[config.policy].build(sizes)


def rank_batch_size(batch_size: int, world_size: int) -> int:
    """Each rank's share of the global batch under ``torchrun``.

    Raises:
        UserError: the batch does not split evenly over the processes.
    """
    if batch_size % world_size:
        raise UserError(
            f"--batch-size {batch_size} does not split over {world_size} processes", f"pass a multiple of {world_size}, or another --nproc-per-node"
        )
    return batch_size // world_size


@torch.no_grad()
def mean_nll(generator: Generator, tokens: torch.Tensor, batch_size: int = 512, labels: torch.Tensor | None = None) -> float:
    """Mean negative log-likelihood per token (EOS included, padding excluded); of each row given
    its class ``labels`` for a conditional generator."""
    was_training = generator.training
    generator.eval()
    total, count = 0.0, 0
    label_batches = labels.split(batch_size) if labels is not None else itertools.repeat(None)
    for batch, batch_labels in zip(tokens.split(batch_size), label_batches):
        nll, mask = generator.token_nll(batch, batch_labels)
        total += float(nll.sum())
        count += int(mask.sum())
    generator.train(was_training)
    return total / max(count, 1)


class SeqGANTrainer:
    """Runs (or continues) one text-GAN run in a run directory.

    Args:
        config: the run's settings (``max_len`` resolved).
        run: the run directory (config, tokenizer and data already written).
        tokenizer: decodes samples.
        train_tokens, test_tokens: encoded splits ``(N, max_len)``.
        device: where models and the environment live.
        agent: trains the generator, ``agent.policy`` (e.g. ``ReinforceAgent``).
        reward_model: scores text in the env; trained in the D phases when it has ``train_step``.
        quiet: no progress bars (tests, logs).
        evaluate: called with the generator after every MLE epoch and adversarial round; the
            numbers it returns (e.g. ``{"nll_oracle": ...}``) join that epoch's log record.
        rank, world_size: this process's place under ``torchrun`` (data-parallel; see below).
        labels: the classes of a conditional run (``agent.policy`` a ``ConditionalGenerator``):
            MLE on each row given its class, the env asks each episode for a class (drawn
            uniformly), negatives are sampled for uniformly drawn classes, and a class-aware
            reward model (SentiGAN's) trains on the rows' classes.
        val_tokens: validation rows ``(K, max_len)``, none of them in ``train_tokens`` (of classes
            ``labels.val``): MLE pre-training keeps its best epoch (below). None: the last epoch.

    Early stopping (``val_tokens`` given): after each MLE epoch the validation NLL is logged
    (``nll_val``, with ``best_epoch`` so far); the best epoch's weights are kept (a
    ``BestWeights`` checkpoint item, ``mle_best``; its epoch and NLL in ``position["mle_best"]``);
    after ``mle_patience`` epochs without a better one, or after the last epoch, the generator
    gets the best epoch's weights back before ``after-mle`` is saved, and one ``mle_kept`` record
    says which epoch that was (``kept_epoch``, ``epochs_run``, ``nll_val``, ``stopped_early``).
    When an earlier epoch is put back, the MLE optimiser's state is cleared (its moments belong to
    the later weights): MLE continued from ``after-mle`` starts a fresh Adam from the kept weights. The random streams go on from where the last epoch left
    them, and nothing else is touched (the agent's optimiser, the rollout policy and the reward
    model see no MLE step), so the GAN phases start from the kept model.

    Data-parallel (``world_size > 1``, a process group initialised): ``config.batch_size`` is the
    global batch and each rank takes ``batch_size / world_size`` of its rows — of each MLE
    batch (the same shuffled order on every rank), of the negatives and real rows of each D
    step, and of the sub-environments the agent samples and rolls out in. Every optimiser's
    gradients are averaged over the ranks before it steps (``runcore.distributed``), so the
    models stay identical; the logged numbers are the ranks' means. Only rank 0 writes (``run``
    is None on the others). Each rank's own streams (negatives, actions, rollouts, dropout) are
    seeded from the run's seed, the rank and the step, so a resumed run goes on as it would have.
    """

    def __init__(
        self,
        config: SeqGANConfig,
        run: RunDir | None,
        tokenizer: Tokenizer,
        train_tokens: torch.Tensor,
        test_tokens: torch.Tensor,
        device: torch.device,
        agent: Agent,
        reward_model: RewardModel,
        quiet: bool = False,
        evaluate: Callable[[Generator], dict[str, float]] | None = None,
        rank: int = 0,
        world_size: int = 1,
        labels: ClassLabels | None = None,
        val_tokens: torch.Tensor | None = None,
    ):
        self.config, self.run, self.tokenizer, self.device, self.quiet = config, run, tokenizer, device, quiet
        self.evaluate = evaluate
        self.rank, self.world_size = rank, world_size
        self.local_batch = rank_batch_size(config.batch_size, world_size)
        self.rng = torch.Generator().manual_seed(config.seed)  # shared: the same draws on every rank
        # this rank's own draws (negatives, D orders); with one process the run's one stream
        self.rank_rng = self.rng if world_size == 1 else torch.Generator()
        self.train_tokens, self.test_tokens = train_tokens.to(device), test_tokens.to(device)
        self.labels = labels
        self.train_labels = None if labels is None else labels.train.to(device)
        self.test_labels = None if labels is None else labels.test.to(device)
        self.max_len = train_tokens.shape[1]
        self.val_tokens = None if val_tokens is None else val_tokens.to(device)
        self.val_labels = None if val_tokens is None or labels is None else labels.val.to(device)
        self.agent, self.reward_model = agent, reward_model
        self.generator = agent.policy
        self.mle_optimizer = adam(self.generator.parameters(), lr=config.mle_lr)
        self.best_weights = None if val_tokens is None else BestWeights(self.generator)
        self.envs = SeqGANVectorEnv(
            num_envs=self.local_batch,
            vocab_size=tokenizer.vocab_size,
            max_len=self.max_len,
            reward_mode=config.reward_mode,
            # Monte Carlo rollouts only for an agent that uses their values (or shaped rewards)
            rollouts=config.rollouts if (agent.uses_q_values or config.reward_mode == "shaped") else 0,
            device=device,
            bos_id=tokenizer.bos_id,
            eos_id=tokenizer.eos_id,
            pad_id=tokenizer.pad_id,
            autoreset_mode=AutoresetMode.SAME_STEP,
            tensors=True,
            reward_model=reward_model,
            num_classes=0 if labels is None else labels.num_classes,
        )
        self.envs.sync_rollout_policy(self.generator, 0.0)
        self.position: dict[str, Any] = {"phase": "mle", "done": 0}
        self.books = None if run is None else Checkpointer(run, self._stateful, self._generators(), device)
        if world_size > 1:
            sync_gradients(p for item in self._stateful().values() if isinstance(item, torch.optim.Optimizer) for g in item.param_groups for p in g["params"])

    # -- checkpoints ------------------------------------------------------------------------

    def _generators(self) -> dict[str, torch.Generator]:
        return {"rng": self.rng, "agent_rng": self.agent.generator}

    def _stateful(self) -> dict[str, Any]:
        reward_items = self.reward_model.checkpoint_items() if hasattr(self.reward_model, "checkpoint_items") else {}
        return {
            "generator": self.generator,
            "rollout_policy": self.envs.episodes.rollout_policy,
            "mle_optimizer": self.mle_optimizer,
            **({} if self.best_weights is None else {"mle_best": self.best_weights}),
            **reward_items,
            **{f"agent_{name}": item for name, item in self.agent.checkpoint_items().items()},
        }

    def save(self, *names: str) -> None:
        """Write the whole training state under each name (with its samples), then as ``latest``
        (nothing on DDP ranks other than 0)."""
        if self.books is not None:
            self.books.save(self.position, names, outputs=self.write_samples)

    def load(self, name: str = LATEST, strict: bool = True, source: RunDir | None = None) -> None:
        """Continue from checkpoint ``name``; ``strict=False`` skips what it lacks (another GAN's
        checkpoint: the generator and the random streams carry over, the reward model does not).
        A trainer without a run (DDP ranks other than 0) reads ``source``'s checkpoint."""
        books = self.books or Checkpointer(source, self._stateful, self._generators(), self.device, read_only=True)
        self.position, _ = books.load(name, strict=strict)  # the trainer's generators are on the CPU
        if self.position.get("phase") not in PHASES or not isinstance(self.position.get("done"), int):
            raise CheckpointError(f"checkpoint {name} of {books.run.path} holds no valid position ({self.position})", "resume from an earlier checkpoint, or train again")
        if self.position["phase"] == "done" and self.position.get("rounds", 0) < self.config.rounds:
            # resumed with a larger --rounds: continue the adversarial phase
            self.position = {**self._kept(), "phase": "adversarial", "done": self.position["rounds"]}
        self.envs.episodes.refresh_rollout_states()  # the loaded weights change the cached states

    def _step_done(self, due: bool) -> None:
        """After an epoch's or round's log record: the periodic checkpoint, one because
        ``checkpoint_minutes`` have passed since the last, or one because a stop was asked for
        (then stop; on every rank when asked on one)."""
        stopping = world_any(stop_requested())
        if due or stopping or (self.books is not None and self.books.overdue(self.config.checkpoint_minutes)):
            self.save()
        if stopping:
            raise Interrupted(self.run.path if self.run is not None else ".", f"after {self.position['phase']} step {self.position['done']}")

    def _seed_rank_streams(self, step: int) -> None:
        """Data-parallel: seed this rank's own streams for the coming step of the phase, from
        the run's seed, the rank and the step (a resumed run draws what it would have)."""
        if self.world_size == 1:
            return  # one process: its streams go on from the checkpoint
        seed = rank_seed(self.config.seed, self.rank, PHASES.index(self.position["phase"]), step)
        self.rank_rng.manual_seed(seed)
        self.agent.generator.manual_seed(seed + 1)
        torch.manual_seed(seed + 2)  # dropout

    # -- the run ----------------------------------------------------------------------------

    def train(self) -> None:
        with make_progress(disable=self.quiet or self.rank != 0) as progress:
            self.progress = progress
            if self.position["phase"] == "mle":
                self._mle_phase()
            if self.position["phase"] == "d_pretrain":
                self._d_pretrain_phase()
            if self.position["phase"] == "adversarial":
                self._adversarial_phase()
        self.write_samples("final")

    def _kept(self) -> dict[str, Any]:
        """What of the position outlives its phase: the best MLE epoch, when there is one."""
        return {key: self.position[key] for key in ("mle_best",) if key in self.position}

    def _advance(self, phase: str, checkpoint: str) -> None:
        self.position = {**self._kept(), "phase": PHASES[PHASES.index(phase) + 1], "done": 0}
        if phase == "adversarial":
            self.position["rounds"] = self.config.rounds
        self.save(checkpoint)

    def _log(self, record: dict[str, Any]) -> None:
        if self.evaluate is not None and record["phase"] in ("mle", "adversarial"):
            record = {**record, **self.evaluate(self.generator)}
        record = average_metrics(record)  # data-parallel: the ranks' means
        require_finite_metrics(record, f"{record['phase']} step {record['step']}")
        if self.run is not None:
            self.run.log({k: (round(v, 6) if isinstance(v, float) else v) for k, v in record.items()})

    def _mle_phase(self) -> None:
        cfg = self.config
        task = self.progress.add_task("MLE pre-training", total=cfg.mle_epochs, completed=self.position["done"], status="")
        while self.position["done"] < cfg.mle_epochs and not patience_spent(self.position.get("mle_best"), self.position["done"], cfg.mle_patience):
            epoch = self.position["done"]
            start = time.perf_counter()
            self._seed_rank_streams(epoch)
            order = torch.randperm(len(self.train_tokens), generator=self.rng).to(self.device)
            order = order[: len(order) - len(order) % self.world_size]  # every batch splits evenly over the ranks
            losses = []
            for batch_index in order.split(cfg.batch_size):
                rows = batch_index.tensor_split(self.world_size)[self.rank]
                losses.append(self.mle_step(self.train_tokens[rows], None if self.labels is None else self.train_labels[rows]))
            nll_test = mean_nll(self.generator, self.test_tokens, labels=self.test_labels)
            mle_loss = float(torch.stack(losses).mean())  # read once per epoch: no host wait per step
            self.position["done"] = epoch + 1
            record = {"phase": "mle", "step": epoch + 1, "mle_loss": mle_loss, "nll_test": nll_test}
            if self.val_tokens is not None:
                record.update(self._validate(epoch + 1))
            self._log({**record, "seconds": time.perf_counter() - start})
            self.progress.update(task, advance=1, status=_status(record, ("mle_loss", "nll_val", "nll_test")))
            self._step_done((epoch + 1) % cfg.checkpoint_every == 0)
        if self.val_tokens is not None:
            self._keep_best_epoch()
        self._advance("mle", "after-mle")

    def _validate(self, epoch: int) -> dict[str, Any]:
        """Epoch ``epoch``'s validation NLL; its weights are kept when it is the best so far."""
        nll_val = mean_nll(self.generator, self.val_tokens, labels=self.val_labels)
        best = self.position.get("mle_best")
        if best is None or nll_val < best["nll_val"]:
            self.best_weights.keep(self.generator)
            self.position["mle_best"] = best = {"epoch": epoch, "nll_val": nll_val}
        return {"nll_val": nll_val, "best_epoch": best["epoch"]}

    def _keep_best_epoch(self) -> None:
        """The end of MLE with early stopping: the best epoch's weights back into the generator."""
        best, done = self.position.get("mle_best"), self.position["done"]
        if best is None:
            return  # no MLE epoch ran
        if best["epoch"] != done:
            self.best_weights.restore(self.generator)
            self.mle_optimizer.state.clear()  # Adam's moments belonged to the later weights
        stopped = done < self.config.mle_epochs
        self._log({
            "phase": "mle_kept", "step": best["epoch"], "kept_epoch": best["epoch"], "epochs_run": done, "nll_val": best["nll_val"],
            "stopped_early": stopped,
        })  # fmt: skip (at the kept epoch's step: in the plot, a mark on its validation NLL)
        if not self.quiet and self.rank == 0:
            why = f"stopped early after {done} of {self.config.mle_epochs} epochs" if stopped else f"after {done} epochs"
            console().print(f"MLE pre-training {why}: kept epoch {best['epoch']} (validation NLL {best['nll_val']:.4f})")

    def mle_step(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One clipped MLE step on this rank's rows ``tokens`` (of classes ``labels``) of a batch;
        the loss is the mean NLL per token over the whole batch (every rank's rows), as this
        rank's share of it."""
        self.generator.train()
        nll, mask = self.generator.token_nll(tokens, labels)
        loss = global_mean(nll.sum(), mask.sum())
        self.mle_optimizer.zero_grad()
        loss.backward()  # under torchrun the gradients are averaged here, before the clip
        torch.nn.utils.clip_grad_norm_(self.generator.parameters(), self.config.grad_clip)
        self.mle_optimizer.step()
        return loss.detach()

    def _d_step(self) -> dict[str, float]:
        """Fresh negatives, then ``d_epochs`` passes of the reward model over real + generated."""
        if not hasattr(self.reward_model, "train_step"):
            return {}  # a fixed reward has nothing to learn
        cfg = self.config
        num = max(1, (cfg.num_negatives or min(len(self.train_tokens), 10_000)) // self.world_size)  # per rank
        chosen = torch.randperm(len(self.train_tokens), generator=self.rng)[: num * self.world_size]
        rows = chosen.tensor_split(self.world_size)[self.rank].to(self.device)
        real = self.train_tokens[rows]
        fake_labels = self._draw_labels(num)
        fake = self.generator.sample(num, self.max_len, generator=self.rank_rng, labels=fake_labels).to(self.device)
        if self.labels is None:
            return fit_reward_model(self.reward_model, real, fake, cfg.d_epochs, self.local_batch, self.rank_rng)
        return fit_reward_model(
            self.reward_model, real, fake, cfg.d_epochs, self.local_batch, self.rank_rng, self.train_labels[rows], fake_labels.to(self.device)
        )

    def _draw_labels(self, n: int) -> torch.Tensor | None:
        """``n`` classes drawn uniformly from this rank's stream (None in a run without classes)."""
        if self.labels is None:
            return None
        return torch.randint(self.labels.num_classes, (n,), generator=self.rank_rng)

    def _d_pretrain_phase(self) -> None:
        cfg = self.config
        task = self.progress.add_task(
            "D pre-training", total=cfg.d_pretrain_steps, completed=self.position["done"], status=""
        )
        for step in range(self.position["done"], cfg.d_pretrain_steps):
            self._seed_rank_streams(step)
            metrics = self._d_step()
            self.position["done"] = step + 1
            self._log({"phase": "d_pretrain", "step": step + 1, **metrics})
            self.progress.update(task, advance=1, status=_status(metrics, ("d_loss", "d_accuracy")))
            self._step_done((step + 1) % cfg.checkpoint_every == 0)
        self._advance("d_pretrain", "after-d-pretrain")

    def _adversarial_phase(self) -> None:
        cfg = self.config
        schedule = AdversarialSchedule(rounds=cfg.rounds, g_steps=cfg.g_steps, d_steps=cfg.d_steps)
        task = self.progress.add_task("adversarial", total=cfg.rounds, completed=self.position["done"], status="")

        def g_step(_round: int) -> dict[str, float]:
            return self.agent.update(self.envs)

        def d_step(_round: int) -> dict[str, float]:
            return self._d_step()

        def on_round_end(round_index: int, metrics: dict[str, float]) -> None:
            # the rollout policy follows the generator with a delay (SeqGAN's rollout update)
            self.envs.sync_rollout_policy(self.generator, cfg.rollout_rate)
            nll_test = mean_nll(self.generator, self.test_tokens, labels=self.test_labels)
            self.position["done"] = round_index + 1
            self._log({"phase": "adversarial", "step": round_index + 1, "nll_test": nll_test, **metrics})
            self.progress.update(
                task, advance=1, status=_status({**metrics, "nll_test": nll_test}, ("final_reward", "d_accuracy", "nll_test"))
            )
            if (round_index + 1) % cfg.checkpoint_every == 0:
                self.save(f"round-{round_index + 1:04d}")
            self._step_done(False)
            self._seed_rank_streams(round_index + 1)

        self._seed_rank_streams(self.position["done"])
        run_adversarial(schedule, g_step, d_step, on_round_end, start_round=self.position["done"])
        self._advance("adversarial", "final")

    # -- samples ----------------------------------------------------------------------------

    def sample_text(self, n: int, temperature: float = 1.0, seed: int | None = None) -> list[str]:
        """``n`` decoded samples; in a conditional run the classes in turn, each line
        ``label<TAB>text`` (the corpus's format)."""
        generator = torch.Generator(device="cpu").manual_seed(self.config.seed if seed is None else seed)
        labels = None if self.labels is None else torch.arange(n) % self.labels.num_classes
        tokens = self.generator.sample(n, self.max_len, generator=generator, temperature=temperature, labels=labels)
        lines = [self.tokenizer.decode(row.tolist()) for row in tokens.cpu()]
        if labels is None:
            return lines
        return [f"{self.labels.names[label]}\t{line}" for label, line in zip(labels.tolist(), lines)]

    def write_samples(self, name: str) -> list[str]:
        if self.run is None:
            return []
        lines = self.sample_text(SAMPLES_PER_FILE)
        write_text_atomic(self.run.samples / f"{name}.txt", "\n".join(lines) + "\n")
        return lines


def _status(metrics: dict[str, Any], keys: tuple[str, ...]) -> str:
    """A short progress-bar status: the few numbers worth watching."""
    shown = [(k, metrics.get(k)) for k in keys]
    return "  ".join(f"{k} {v:.3f}" for k, v in shown if isinstance(v, float) and math.isfinite(v))
