"""Where a sweep's batches run: ``local`` processes (the default) or a ``dask`` cluster.

A backend is a context manager (entering it connects: a bad address fails
before anything is written) with ``run(study_ref, config, batches)``, an
iterator of each finished batch's rows, in any order. Backends only compute:
the runner alone writes the results store, as the rows arrive.
"""

from __future__ import annotations

from studies.errors import SymbenchError

BACKENDS = {
    "local": "this machine: the runner's process (--jobs 1) or --jobs worker processes (joblib)",
    "dask": "a dask.distributed cluster (--scheduler tcp://HOST:PORT; none: a local one of --jobs workers)",
}


def make(name: str, *, jobs: int, scheduler: str | None = None, scheduler_timeout: float = 10.0):
    """The backend called ``name`` (see :data:`BACKENDS`)."""
    if name == "local":
        if scheduler is not None:
            raise SymbenchError(f"--scheduler {scheduler!r} needs --backend dask (the local backend uses no scheduler)")
        from studies.backends.local import LocalBackend

        return LocalBackend(jobs)
    if name == "dask":
        from studies.backends.dask_cluster import DaskBackend, check_address

        if scheduler is not None:
            check_address(scheduler)
        return DaskBackend(scheduler, workers=jobs, timeout=scheduler_timeout)
    raise SymbenchError(f"unknown backend {name!r}; accepted: {', '.join(BACKENDS)}")
