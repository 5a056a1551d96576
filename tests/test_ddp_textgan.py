"""textgan data-parallel on the CPU with gloo: two processes, each with half of a fixed global
batch, take the same MLE, D and REINFORCE steps as one process with the whole batch; `textgan
train` under torchrun trains, writes from rank 0 alone, resumes and exits cleanly."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from gymnasium.vector import AutoresetMode
from torch.testing import assert_close

from runcore import load_tensors
from runcore.device import leave_process_group
from runcore.distributed import sync_gradients
from textgan.agents.rollout import Rollout, collect_rollout
from textgan.env.vector_env import SeqGANVectorEnv
from textgan.gans import build_trainer
from textgan.seqgan.config import SeqGANConfig, preset_values
from textgan.seqgan.prepare import prepare_data
from textgan.seqgan.runs import create_run, open_run

WORLD = 2
BATCH = 8  # the global batch of every step


def write_corpus(path, n=120, seed=0):
    """Lines of different lengths (so the halves of a batch hold different numbers of tokens)."""
    rng = random.Random(seed)
    words = ["ab", "cd", "efg", "h", "ijkl", "mn"]
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(n)) + "\n", encoding="utf-8")
    return path


def make_run(tmp_path):
    """A run directory for the workers to read: the same data and tokenizer in every process."""
    corpus = write_corpus(tmp_path / "corpus.txt")
    # no dropout: the ranks' masks would differ from the one process's; a clip that bites
    # char tokens, as before the auto default (the controls below were built on these sequences)
    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": str(corpus), "tokenizer": "char", "batch_size": BATCH, "d_dropout": 0.0,
                             "grad_clip": 0.05})  # fmt: skip
    config.validate()
    data = prepare_data(config, quiet=True)
    config.max_len = data.max_len
    return create_run(tmp_path / "run", config, data).path


def columns(rollout: Rollout, index: slice) -> Rollout:
    """The sub-environments ``index`` of a rollout (their log-probs keep the policy's graph)."""
    by_row = {"next_input": rollout.next_input[index], "next_state": tuple(s[index] for s in rollout.next_state)}
    by_step = {
        f.name: getattr(rollout, f.name)[:, index]
        for f in dataclasses.fields(rollout)
        if f.name not in by_row and getattr(rollout, f.name) is not None  # labels: None in a plain env
    }
    return Rollout(**by_step, **by_row)


def three_steps(run_path, rank: int = 0, world_size: int = 1) -> dict:
    """One MLE step, one D step and one REINFORCE step on fixed global batches, each process on
    its part (``tensor_split``); returns the losses and the parameters after them."""
    opened = open_run(run_path)
    trainer = build_trainer(opened.config, None, opened.tokenizer, opened.train, opened.test, torch.device("cpu"), quiet=True, rank=rank, world_size=world_size)
    part = slice(rank * BATCH // world_size, (rank + 1) * BATCH // world_size)
    out = {}
    real = trainer.train_tokens[:BATCH]
    out["mle_loss"] = float(trainer.mle_step(real[part]))
    out["mle_tokens"] = int(trainer.generator.loss_mask(real[part]).sum())

    fake = trainer.generator.sample(BATCH // 2, trainer.max_len, generator=torch.Generator().manual_seed(1))
    tokens = torch.cat([trainer.train_tokens[BATCH : BATCH + BATCH // 2], fake])
    is_real = torch.arange(BATCH) < BATCH // 2
    mixed = torch.randperm(BATCH, generator=torch.Generator().manual_seed(2))  # both kinds in each half
    tokens, is_real = tokens[mixed], is_real[mixed]
    out["d_loss"] = float(trainer.reward_model.train_step(tokens[part], is_real[part])["d_loss"])

    # the whole batch's episodes, the same in every process; each learns from its columns
    tok = opened.tokenizer
    envs = SeqGANVectorEnv(
        num_envs=BATCH, vocab_size=tok.vocab_size, max_len=trainer.max_len, rollouts=2, tensors=True, bos_id=tok.bos_id,
        eos_id=tok.eos_id, pad_id=tok.pad_id, autoreset_mode=AutoresetMode.SAME_STEP, reward_model=trainer.reward_model,
    )  # fmt: skip
    envs.sync_rollout_policy(trainer.generator, 0.0)
    rollout = collect_rollout(envs, trainer.generator, torch.Generator().manual_seed(3), grad=True, needs_q_values=True)
    out["episodes"] = int(rollout.ends[:, part].sum())
    out["pg_loss"] = trainer.agent.learn(columns(rollout, part))["pg_loss"]

    out["generator"] = {k: v.detach().clone() for k, v in trainer.generator.named_parameters()}
    out["discriminator"] = {k: v.detach().clone() for k, v in trainer.reward_model.discriminator.named_parameters()}
    return out


def _worker(rank: int, init_file: str, run_path: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        torch.save(three_steps(run_path, rank, WORLD), f"{out_dir}/rank{rank}.pt")
        leave_process_group()
    finally:
        if dist.is_initialized():  # a rank that failed leaves without waiting for the other
            dist.destroy_process_group()


def test_two_ranks_on_halves_take_the_steps_of_one_process_on_the_whole_batch(tmp_path):
    run_path = make_run(tmp_path)
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(run_path), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    single = three_steps(run_path)
    # the controls: the halves hold different numbers of tokens and of episodes, so a mean per
    # rank averaged over the ranks would not be the whole batch's mean
    assert ranks[0]["mle_tokens"] != ranks[1]["mle_tokens"]
    assert ranks[0]["episodes"] != ranks[1]["episodes"]
    for name in ("mle_loss", "d_loss", "pg_loss"):  # each rank's share; their mean is the batch's
        assert_close(sum(r[name] for r in ranks) / WORLD, single[name], msg=name)
    for model in ("generator", "discriminator"):
        for key, value in single[model].items():
            assert_close(ranks[1][model][key], ranks[0][model][key], msg=f"{model} {key} differs between the ranks")
            assert_close(ranks[0][model][key], value, msg=f"{model} {key}: two ranks differ from one process")


def _sync_worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(0)
        layer = torch.nn.Linear(3, 1)
        sync_gradients([*layer.parameters(), *layer.parameters()])  # named twice: synced once
        x = torch.full((1, 3), float(rank + 1))
        layer(x).sum().backward()
        layer(2 * x).sum().backward()  # accumulated over two passes: the average of the sums
        torch.save(layer.weight.grad, f"{out_dir}/grad{rank}.pt")
        leave_process_group()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_synced_gradients_are_the_mean_of_the_ranks_also_when_accumulated(tmp_path):
    mp.spawn(_sync_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    # rank r's gradient is 3 (r + 1) per weight; the mean over ranks 1 and 2 is 4.5
    for rank in range(WORLD):
        assert_close(torch.load(tmp_path / f"grad{rank}.pt"), torch.full((1, 3), 4.5))


def _torchrun(*flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(WORLD), "-m", "textgan", "train", *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_textgan_train_under_torchrun_trains_writes_from_rank_0_resumes_and_leaves_cleanly(tmp_path):
    corpus, run = write_corpus(tmp_path / "corpus.txt"), tmp_path / "run"
    first = _torchrun("--preset", "tiny", "--corpus", str(corpus), "--rounds", "1", "--device", "cpu", "--quiet", "--out", str(run))
    assert first.returncode == 0, first.stderr[-3000:]
    second = _torchrun("--resume", str(run), "--rounds", "2", "--device", "cpu", "--quiet")
    assert second.returncode == 0, second.stderr[-3000:]
    for result in (first, second):  # the process group is torn down before exit: no aborted threads
        assert "terminate called" not in result.stderr, result.stderr[-3000:]
        assert result.stdout.count("samples from the generator") == 1, result.stdout  # rank 0 alone reports
    assert second.stdout.count("resuming ") == 1
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # one writer: each epoch, step and round once (tiny: 2 MLE epochs, 1 D step, then 1 + 1 rounds)
    assert [(r["phase"], r["step"]) for r in log] == [("mle", 1), ("mle", 2), ("d_pretrain", 1), ("adversarial", 1), ("adversarial", 2)]
    assert all(r["nll_test"] > 0 for r in log if "nll_test" in r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "run"]  # no other rank wrote a run
    assert not list(tmp_path.glob(".*"))  # nor left a partial one
    assert (run / "checkpoints" / "final.safetensors").read_bytes() and (run / "samples" / "final.txt").read_text().strip()
    # each rank's own streams are seeded by rank and step: the resumed run ends where one
    # uninterrupted run ends, every weight and every logged number
    whole = tmp_path / "whole"
    assert _torchrun("--preset", "tiny", "--corpus", str(corpus), "--rounds", "2", "--device", "cpu", "--quiet", "--out", str(whole)).returncode == 0
    untimed = [{k: v for k, v in json.loads(line).items() if k not in ("time", "seconds")} for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert untimed == [{k: v for k, v in r.items() if k not in ("time", "seconds")} for r in log]
    resumed, _ = load_tensors(run / "checkpoints" / "final.safetensors")
    uninterrupted, _ = load_tensors(whole / "checkpoints" / "final.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    for key, value in uninterrupted.items():
        assert torch.equal(resumed[key], value), key


def test_a_global_batch_that_does_not_split_over_the_processes_is_one_line(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.txt")
    result = _torchrun("--preset", "tiny", "--corpus", str(corpus), "--batch-size", "15", "--device", "cpu", "--quiet", "--out", str(tmp_path / "run"))
    assert result.returncode != 0
    assert "--batch-size 15 does not split over 2 processes" in result.stderr
    assert "UserError" not in result.stderr and "/textgan/" not in result.stderr  # one line, not our traceback (torchrun prints its own)
    assert not (tmp_path / "run").exists()


def test_a_gan_that_cannot_train_data_parallel_is_refused():
    from runcore.errors import UserError
    from textgan.gans.base import check_data_parallel

    config = SeqGANConfig(**{**preset_values("tiny"), "corpus": "x", "gan": "rankgan"})
    check_data_parallel(config, 1)
    with pytest.raises(UserError, match="does not train under torchrun"):
        check_data_parallel(config, 2)
