"""DCGAN training throughput (images/s): bf16 autocast + torch.compile against fp32 eager.

One step = one D update and one G update on a batch of real images drawn from a dataset held on
the device (random images: the content does not change the arithmetic), exactly as
``imagegan train`` runs them. Images/s = batch size × steps / seconds, timed after warm-up
(which includes compilation) with the device synchronised at both ends.

On CUDA (the issue's setting: batch 128, 64×64, width 64, channels-last)::

    python benchmarks/dcgan_throughput.py                    # fp32 eager, bf16 eager, bf16 + compile
    python benchmarks/dcgan_throughput.py --json out.json    # also write the numbers
    python benchmarks/dcgan_throughput.py --cudnn-benchmark --profile-steps 10   # autotuned; where the time goes

On a machine without a GPU it runs a small fp32-eager measurement only (the GPU comparison is
what the issue asks for; CPU numbers say nothing about it) and says so.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from imagegan.models import GANSpec, build_model
from imagegan.trainer import TrainingData
from imagegan.data import ImageDataset


def measure(device: torch.device, precision: str, compile: bool, batch_size: int, image_size: int, width: int, steps: int, warmup: int,
            profile_steps: int = 0) -> dict:
    torch.manual_seed(0)
    model = build_model("dcgan", GANSpec(image_size=image_size, channels=3, z_dim=100, width=width))
    model.accelerate(device, compile=compile, precision=precision)
    images = torch.rand(max(4 * batch_size, 1024), 3, image_size, image_size) * 2 - 1
    dataset = ImageDataset(images, None, None, 0, [], "random")
    data = TrainingData.of(dataset, device, channels_last=True)
    batches = torch.Generator(device=data.images.device).manual_seed(0)  # as the trainer: no copy, no wait

    def step() -> None:
        model.d_step(data.batch(torch.randint(len(data), (batch_size,), generator=batches, device=batches.device), device))
        model.g_step(data.batch(torch.randint(len(data), (batch_size,), generator=batches, device=batches.device), device))

    start = time.perf_counter()
    for _ in range(warmup):
        step()
    _sync(device)
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    seconds = time.perf_counter() - start
    kernels = _profile(step, profile_steps, device) if profile_steps else None
    return {
        "precision": "bf16 autocast" if precision == "auto" and device.type == "cuda" else "fp32",
        "compile": compile,
        "images_per_s": round(batch_size * steps / seconds, 1),
        "ms_per_step": round(1000 * seconds / steps, 2),
        "warmup_s": round(warmup_s, 1),
        "steps": steps,
        **({"top_kernels": kernels} if kernels else {}),
    }


def _profile(step, steps: int, device: torch.device) -> str:
    """The kernels that take the time over ``steps`` more steps, as torch.profiler's table."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        _sync(device)
    sort_by = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort_by, row_limit=15, max_name_column_width=60)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=None, help="default 128 on CUDA, 16 on CPU")
    parser.add_argument("--image-size", type=int, default=None, help="default 64 on CUDA, 32 on CPU")
    parser.add_argument("--width", type=int, default=None, help="default 64 on CUDA, 16 on CPU")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 200 on CUDA, 10 on CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 30 on CUDA, 2 on CPU)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--cudnn-benchmark", action="store_true",
                        help="let cuDNN time its algorithms for these shapes first (torch.backends.cudnn.benchmark)")
    parser.add_argument("--profile-steps", type=int, default=0,
                        help="after timing, profile this many steps and print the kernels that take the time")
    args = parser.parse_args()
    from runcore import resolve_device

    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    batch_size = args.batch_size or (128 if cuda else 16)
    image_size = args.image_size or (64 if cuda else 32)
    width = args.width or (64 if cuda else 16)
    steps = args.steps or (200 if cuda else 10)
    warmup = args.warmup or (30 if cuda else 2)
    # bf16 eager sits between the two the issue compares: it splits the gain into autocast's and compile's
    configs = [("fp32", False), ("auto", False), ("auto", True)] if cuda else [("fp32", False)]
    machine = torch.cuda.get_device_name(device) if cuda else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    results = {
        "machine": machine,
        "torch": torch.__version__,
        "batch_size": batch_size,
        "image_size": image_size,
        "width": width,
        "channels_last": cuda,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32 if cuda else None,
        "cudnn_benchmark": args.cudnn_benchmark,
        "runs": [measure(device, p, c, batch_size, image_size, width, steps, warmup, args.profile_steps) for p, c in configs],
    }
    print(f"DCGAN throughput on {machine}: batch {batch_size}, {image_size}x{image_size}, width {width}"
          f"{', cuDNN autotuned' if args.cudnn_benchmark and cuda else ''}")
    for run in results["runs"]:
        label = f"{run['precision']}{' + compile' if run['compile'] else ' eager'}"
        print(f"  {label:24s} {run['images_per_s']:10.1f} images/s  ({run['ms_per_step']} ms/step, warm-up {run['warmup_s']} s)")
        if "top_kernels" in run:
            print(run["top_kernels"])
    if cuda:
        base, fast = results["runs"][0], results["runs"][-1]
        results["speedup"] = round(fast["images_per_s"] / base["images_per_s"], 2)
        print(f"  speed-up of bf16 + compile over fp32 eager: {results['speedup']}x")
    else:
        print("  no GPU here: this is a small fp32-eager CPU measurement; the GPU comparison at batch 128, "
              "64x64 is in docs/RESULTS.md (run this script on a GPU to repeat it)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
