"""runcore.denormals: the CLIs treat denormal floats as zero in every torch thread (a trained
model's tiny numbers otherwise make the CPU's arithmetic on them tens of times slower)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# 2^20 products 1e-30 * 1e-10 = 1e-40, a denormal float32, computed over two torch threads: the
# number that stay nonzero, after the given command's main (or none) ran in a fresh process.
SCRIPT = """
import contextlib, io, json, sys, torch
torch.set_num_threads(2)
module = sys.argv[1]
if module != "none":
    main = __import__(module, fromlist=["main"]).main
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(sys.argv[2:])
nonzero = int((torch.full((1 << 20,), 1e-30) * 1e-10).count_nonzero())
print(json.dumps({"nonzero": nonzero, "supported": torch.set_flush_denormal(True)}))
"""


def nonzero_after(*command: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    result = subprocess.run([sys.executable, "-c", SCRIPT, *command], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", [("textgan.cli", "corpora"), ("imagegan.cli", "--help")], ids=["textgan", "imagegan"])
def test_the_clis_flush_denormals_in_every_torch_thread(command):
    control = nonzero_after("none")
    if not control["supported"]:
        pytest.skip("this CPU has no flush-to-zero mode")
    assert control["nonzero"] == 1 << 20  # without the mode every product stays a denormal
    assert nonzero_after(*command)["nonzero"] == 0  # with it none does, in the threads torch started after
