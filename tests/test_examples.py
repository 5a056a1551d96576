"""The examples/ scripts run end to end (tiny budgets, as subprocesses)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def test_train_custom_agent_runs_with_a_tiny_budget(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_custom_agent.py"), "--tiny", "--metrics-file", str(metrics)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "round   2" in result.stdout
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["round"] for r in records] == [1, 2]
    for record in records:
        assert 0.0 <= record["d_score"] <= 1.0 and record["env_steps"] > 0
        assert {"pg_loss", "v_loss", "entropy", "d_loss", "d_accuracy"} <= set(record)


def test_the_plug_in_your_own_algorithm_snippet_runs(tmp_path):
    text = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("## Plug in your own RL algorithm", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "snippet.py"
    script.write_text("import torch\ntorch.manual_seed(0)\n" + snippet, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")[:3]
    assert [line.split()[0] for line in lines] == ["0", "1", "2"]
    assert all(0.0 <= float(line.split()[1]) <= 1.0 for line in lines)
