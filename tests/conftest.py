"""Shared test settings.

The suite trains many tiny networks: one torch thread is fastest for them
(thread synchronisation dominates), keeps timings stable on a loaded machine,
and makes results independent of the core count.
"""

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
