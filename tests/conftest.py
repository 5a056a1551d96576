"""Shared test fixtures."""

import os

import pytest
import torch

from runcore.denormals import flush_denormals


def pytest_configure(config):
    """The tests compute as the CLIs do: denormal floats as zero, set before torch starts its
    threads (runcore.denormals)."""
    flush_denormals()


@pytest.fixture
def one_torch_thread():
    """One torch thread for tests of tiny tensors: on a small shared machine, OpenMP threads spinning
    against other processes make each tiny op ~100x slower (a 1 s learning test took 30 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def sb3_logs_in_a_temporary_folder(tmp_path_factory):
    """Stable-Baselines3 makes a log folder for every ``learn()`` (``$SB3_LOGDIR``, else a new
    ``SB3-<time>`` in the system's temporary directory); the tests' go with pytest's own."""
    before = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3-logs"))
    yield
    if before is None:
        os.environ.pop("SB3_LOGDIR", None)
    else:
        os.environ["SB3_LOGDIR"] = before


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (the README's test command): a worker per CPU the process may run on, hardware
    threads counted (xdist would count physical cores where psutil is installed), at most 8 (each
    worker imports torch; some tests hold a few hundred MB)."""
    return min(8, _cpus())


@pytest.fixture(autouse=True, scope="session")
def a_share_of_the_cores_per_worker():
    """Under pytest-xdist each worker and the commands it starts get their share of the cores, not
    all of them each: N workers of N threads would spin N times more OpenMP threads than the
    machine has."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        yield
        return
    threads, before = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    share = max(1, _cpus() // workers)
    torch.set_num_threads(share)
    os.environ["OMP_NUM_THREADS"] = str(share)
    yield
    torch.set_num_threads(threads)
    if before is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = before
