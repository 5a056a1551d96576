"""DDP on the CPU with gloo: two processes, each with half the batch, take the same step as one
process with the whole batch, and stay equal to each other; `imagegan train` under torchrun trains,
resumes and exits cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.testing import assert_close

from imagegan.models import Batch
from imagegan.trainer import recorded_step
from runcore import load_tensors
from runcore.device import leave_process_group
from tests.imagegan.helpers import tiny_model

WORLD = 2
N = 8


def make_inputs():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(N, 3, 16, 16, generator=g) * 2 - 1
    return images, torch.randn(N, 16, generator=g), torch.randn(N, 16, generator=g)


def one_step(model, images, z_d, z_g):
    model.d_step(Batch(images, z=z_d))
    model.g_step(Batch(images, z=z_g))


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        images, z_d, z_g = make_inputs()
        half = slice(rank * N // WORLD, (rank + 1) * N // WORLD)
        states = {}
        for name in ("gan", "wgan-gp"):
            model = tiny_model(name).accelerate(torch.device("cpu"), ddp=True)
            one_step(model, images[half], z_d[half], z_g[half])
            # parameters only: batch-norm running statistics stay per replica, as DDP leaves them
            states[name] = {k: v.detach().clone() for k, v in model.named_parameters()}
            del model
        torch.save(states, f"{out_dir}/rank{rank}.pt")
        leave_process_group()  # the models are dropped above: the group is torn down here, not at exit
    finally:
        if dist.is_initialized():  # a rank that failed leaves without waiting for the other
            dist.destroy_process_group()


def test_replicas_match_each_other_and_one_process_on_the_whole_batch(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for name in ("gan", "wgan-gp"):  # wgan-gp: the gradient penalty's double backward under DDP
        for key, value in ranks[0][name].items():
            assert_close(ranks[1][name][key], value, msg=f"{name} {key} differs between replicas")
    # GAN has no batch statistics, so halves averaged by DDP equal the whole batch at once
    single = tiny_model("gan")
    before = {k: v.detach().clone() for k, v in single.named_parameters()}
    one_step(single, *make_inputs())
    for key, value in single.named_parameters():
        assert not torch.equal(value.detach(), before[key])
        assert_close(ranks[0]["gan"][key], value.detach(), msg=f"gan {key}: DDP step differs from the single-process step")


def _torchrun(*flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(WORLD),
               "-m", "imagegan.cli", "train", *flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def test_imagegan_train_under_torchrun_trains_resumes_and_leaves_cleanly(tmp_path):
    run = tmp_path / "run"
    flags = ["--device", "cpu", "--no-compile", "--quiet", "--log-every", "5"]
    first = _torchrun("--model", "gan", "--data", "shapes", "--image-size", "16", "--limit", "64", "--steps", "10",
                      "--batch-size", "4", "--width", "4", "--out", str(run), *flags)
    assert first.returncode == 0, first.stderr[-2000:]
    second = _torchrun("--resume", str(run), "--steps", "15", *flags)
    assert second.returncode == 0, second.stderr[-2000:]
    for result in (first, second):  # the process group is torn down before exit: no aborted threads
        assert "terminate called" not in result.stderr, result.stderr[-2000:]
    _, metadata = load_tensors(run / "checkpoints/final.safetensors")
    assert recorded_step(metadata) == 15
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [5, 10, 15]  # one writer: rank 0 alone logs
    assert all(r["images_per_s"] > 0 for r in log)
