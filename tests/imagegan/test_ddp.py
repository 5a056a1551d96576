"""DDP on the CPU with gloo: two processes, each with half the batch, take the same step as one
process with the whole batch, and stay equal to each other."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.testing import assert_close

from imagegan.models import Batch
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
        torch.save(states, f"{out_dir}/rank{rank}.pt")
    finally:
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
