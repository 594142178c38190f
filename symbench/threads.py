"""One thread limiter for the whole project.

The project trains many tiny models: one thread per process is fastest
(thread synchronisation dominates small matrices), keeps timings stable on a
loaded machine, and makes results independent of the core count. Two ways:

* :func:`one_thread` — a context manager (the checker, the test suite): torch
  and the BLAS/OpenMP pools (threadpoolctl) at one thread inside, restored
  after;
* :func:`limit_threads` — for a worker process that does nothing else: the
  same limits, for good.
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        threadpool_limits = None
    try:
        if threadpool_limits is None:
            yield
        else:
            with threadpool_limits(1):
                yield
    finally:
        torch.set_num_threads(before)


def limit_threads() -> None:
    import torch

    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass
