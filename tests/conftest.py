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
