"""``textgan experiment oracle --parallel N``: unfinished seeds side by side, one process each.

Each child is the same command restricted to one seed (``--seeds s --no-aggregate``), writing into
the same ``--out``; a seed's sub-runs keep their own directories and locks, so a finished seed (its
``seed-<s>/summary.json``) is reused and a stopped one resumes, exactly as in a sequential run.
The parent then aggregates in process (every seed already finished: nothing is recomputed).
Children get one torch thread each on the CPU (``OMP_NUM_THREADS=1``) and stop when the parent
stops: a stop request (Ctrl-C, SIGTERM) is passed on to them, the parent terminates any still
running in a ``finally``, and each child watches its parent and stops itself if it disappears
(a parent killed with SIGKILL).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from runcore import EXIT_INTERRUPTED, console, stop_requested

PARENT_ENV = "TEXTGAN_PARENT_PID"


def child_argv(out: Path, seed: int, sweep_seed: int, device: torch.device, seq_len: int) -> list[str]:
    """The same experiment (read back from ``out/experiment.json``) restricted to ``seed``."""
    return [sys.executable, "-m", "textgan", "experiment", "oracle", "--out", str(out), "--seeds", str(seed),
            "--from-folder", str(seq_len), "--sweep-seed", str(sweep_seed), "--no-aggregate", "--quiet", "--device", str(device)]


def experiment_from_folder(out: Path, seeds: tuple[int, ...], seq_len: int = 20):
    """The experiment ``out/experiment.json`` holds, for ``seeds``, and the oracle to pass with it (None: its file)."""
    import json

    from textgan.commands.experiment import OracleExperiment
    from textgan.models.oracle import Oracle

    values = json.loads((out / "experiment.json").read_text(encoding="utf-8"))
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in values.pop("overrides").items()}
    experiment = OracleExperiment(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}, overrides=overrides, seeds=seeds
    )
    # a file oracle is loaded from its file as in the parent; a random (or given) one from the copy in out
    return experiment, None if experiment.oracle is not None else Oracle.load(out / "oracle.npz", seq_len=seq_len)


def run_seeds_in_parallel(experiment, out: Path, device: torch.device, parallel: int, oracle=None) -> int:
    """Run the unfinished seeds in up to ``parallel`` children; 0 when all finished, else an exit status.

    Afterwards ``run_oracle_experiment`` on the same arguments only aggregates. ``oracle``, when
    given, replaces the experiment's one (as in ``run_oracle_experiment``; the children read it
    back from ``out/oracle.npz``).
    """
    from textgan.commands.experiment import run_oracle_experiment

    show = console()
    # the folder's claim and the random oracle's file, once, before any child starts
    run_oracle_experiment(dataclasses.replace(experiment, seeds=()), out, device, quiet=True, oracle=oracle)
    seq_len = oracle.seq_len if oracle is not None else 20  # (the .npz does not hold it)
    todo = [s for s in experiment.seeds if not (out / f"seed-{s}" / "summary.json").is_file()]
    if not todo:
        return 0
    env = {**os.environ, PARENT_ENV: str(os.getpid())}
    if device.type != "cuda":
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    running: dict[int, subprocess.Popen] = {}
    failed: dict[int, int] = {}
    stopping = False
    try:
        while todo or running:
            while todo and len(running) < parallel and not stopping:
                seed = todo.pop(0)
                show.print(f"seed {seed}: started as a separate process (log: {out}/seed-{seed}.log)", markup=False, highlight=False)
                (out / f"seed-{seed}").mkdir(parents=True, exist_ok=True)
                with open(out / f"seed-{seed}.log", "ab") as log:
                    running[seed] = subprocess.Popen(
                        child_argv(out, seed, experiment.seeds[0], device, seq_len), env=env, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,  # a terminal's Ctrl-C reaches the parent only, which passes it on once
                    )
            if stop_requested() and not stopping:
                stopping = True
                todo.clear()
                for proc in running.values():
                    proc.send_signal(signal.SIGINT)  # each saves and exits 130
            for seed, proc in list(running.items()):
                code = proc.poll()
                if code is not None:
                    del running[seed]
                    if code:
                        failed[seed] = code
                        stopping = stopping or code != EXIT_INTERRUPTED
                        if code != EXIT_INTERRUPTED:
                            show.print(f"seed {seed} failed (exit {code}); see {out}/seed-{seed}.log", markup=False, highlight=False)
            time.sleep(0.2)
    finally:
        for proc in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 60
        for proc in running.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if failed:
        if all(c == EXIT_INTERRUPTED for c in failed.values()):
            show.print(f"interrupted; continue with the same command and --out {out}", markup=False, highlight=False)
            return EXIT_INTERRUPTED
        return max(failed.values())
    if stopping:
        return EXIT_INTERRUPTED
    return 0


def watch_parent() -> None:
    """In a ``--parallel`` child: ask this process to stop (as Ctrl-C does) once its parent is gone."""
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return
    import threading

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
        os.kill(os.getpid(), signal.SIGINT)  # the second one stops at once

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()
