"""Shared test fixtures."""

import pytest
import torch


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
    import os

    before = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3-logs"))
    yield
    if before is None:
        os.environ.pop("SB3_LOGDIR", None)
    else:
        os.environ["SB3_LOGDIR"] = before
