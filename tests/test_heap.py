"""runcore.heap: freed training buffers stay in the heap instead of page-faulting back in."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from runcore.heap import glibc_mallopt, retain_freed_memory

# Frees and reallocates three 11.8 MB buffers (the size of the paper discriminator's highway
# weight gradients), first with glibc's mmap threshold pinned to its 128 KiB start value (each
# buffer mapped on its own and unmapped on free, as the dynamic threshold does on some runs),
# then after retain_freed_memory(): the page faults per round, in a fresh process.
SCRIPT = """
import json, resource, torch
from runcore.heap import _M_MMAP_THRESHOLD, glibc_mallopt, retain_freed_memory
torch.set_num_threads(1)
def faults_per_round(rounds=20):
    def once():
        buffers = [torch.empty(1720, 1720).fill_(1.0) for _ in range(3)]
        del buffers
    for _ in range(3):
        once()
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        once()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / rounds
assert glibc_mallopt()(_M_MMAP_THRESHOLD, 128 * 1024)
before = faults_per_round()
took = retain_freed_memory()
print(json.dumps({"before": before, "took": took, "after": faults_per_round()}))
"""


@pytest.mark.skipif(glibc_mallopt() is None, reason="the C library is not glibc")
def test_retained_buffers_do_not_fault_again():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    faults = json.loads(out.stdout)
    pages = 3 * 1720 * 1720 * 4 / 4096
    assert faults["before"] > 0.9 * pages  # every page of every buffer faulted in again
    assert faults["took"] is True
    assert faults["after"] < 0.01 * pages


def test_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert retain_freed_memory() is False
