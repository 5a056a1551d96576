"""Fixtures for the imagegan tests: one torch thread (tiny tensors on a shared machine)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield
