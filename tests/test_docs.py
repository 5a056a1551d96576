"""Every snippet of docs/rl.md and docs/family.md runs as written."""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def blocks(name: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / name).read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("name,index", [(n, i) for n in ("rl.md", "family.md") for i in range(len(blocks(n, "python")))])
def test_python_snippets_run(tmp_path, name, index):
    script = tmp_path / "snippet.py"
    script.write_text(blocks(name, "python")[index], encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=ENV)
    assert result.returncode == 0, result.stderr


def test_family_commands_run(tmp_path):
    commands = [line for block in blocks("family.md", "bash") for line in block.splitlines() if line.startswith("textgan ")]
    assert commands
    for command in commands:
        args = shlex.split(command)[1:]
        result = subprocess.run(
            [sys.executable, "-m", "textgan", *args, "--quiet"], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=ENV
        )
        assert result.returncode == 0, (command, result.stderr)
        assert (tmp_path / args[args.index("--out") + 1] / "checkpoints" / "final.safetensors").exists()
