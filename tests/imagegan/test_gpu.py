"""On a GPU, training rounds queue their work without waiting for the device.

A host read of a device value inside a step (``.item()``, a copy from ordinary CPU memory, packing
a sequence by lengths held on the GPU) stops the host from running ahead of the GPU, and each step
then pays its launch time on top of its GPU time: the DCGAN throughput measured on an H200 lost
what bf16 and compile saved that way (docs/imagegan.md). CI has no GPU; the GPU sessions run this.
"""

from __future__ import annotations

import pytest
import torch

from imagegan.data import load_dataset
from imagegan.models import GANSpec, build_model
from imagegan.trainer import TrainingData
from runcore import run_adversarial

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

SIZES = {"gan": 16, "cgan": 16, "infogan": 16, "dcgan": 32, "stackgan": 32, "wgan": 32, "wgan-gp": 32}


@pytest.mark.parametrize("name", sorted(SIZES))
@pytest.mark.parametrize("precision", ["auto", "fp32"])
def test_training_rounds_never_wait_for_the_gpu(name, precision):
    device = torch.device("cuda")
    dataset = load_dataset("shapes", image_size=SIZES[name], limit=64)
    torch.manual_seed(0)
    spec = GANSpec(SIZES[name], 3, dataset.num_classes, 62 if name == "infogan" else 16, 8)
    model = build_model(name, spec).accelerate(device, precision=precision)
    data = TrainingData.of(dataset, device, channels_last=model.convolutional)
    batches = torch.Generator(device=device).manual_seed(0)

    def batch():
        return data.batch(torch.randint(len(data), (8,), generator=batches, device=device), device)

    def rounds():  # as the trainer runs them, without its logging (which reads values on purpose)
        run_adversarial(model.schedule(2, d_steps=2), lambda r: model.g_step(batch()), lambda r: model.d_step(batch()))

    rounds()  # first use may wait (allocations, library set-up)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        rounds()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
