"""The Dask backend: a sweep's batches as tasks on a ``dask.distributed`` cluster.

* Workers receive the study's reference, the config and each batch's trial
  specs (coordinates and seeds), never arrays; each worker computes with one
  thread (:mod:`symbench.threads`), so results equal the local backend's.
* Only the client (the ``symbench run`` process) writes the store, as results
  arrive: each batch's future resolves once, whichever worker ran it.
* A worker that dies (killed, out of memory, a segfault) loses its task; the
  scheduler resubmits it to another worker, up to
  ``distributed.scheduler.allowed-failures`` times (default 3). A batch still
  failing then (``KilledWorker``) is split into single trials, resubmitted,
  and a trial that kills its worker again is stored ``failed`` with the
  traceback; the sweep goes on.
* ``scheduler=None`` starts a ``LocalCluster`` of ``workers`` processes on
  127.0.0.1 for the run (what ``symbench cluster local`` serves for many runs).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any, Iterable, Iterator, Mapping

from studies.backends.execute import execute_batch, failed_rows
from studies.errors import ClusterError
from studies.spec import TrialSpec

SCHEMES = ("tcp", "tls")
_ADDRESS = re.compile(r"(?P<scheme>[a-z]+)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})")
INSTALL_HINT = "install the cluster extra: pip install -e '.[cluster]' (or pip install 'dask[distributed]')"


def check_address(address: str) -> str:
    """``address`` if it reads ``tcp://HOST:PORT`` (or ``tls://``), else a one-line ClusterError."""
    match = _ADDRESS.fullmatch(address.strip()) if isinstance(address, str) else None
    if match is None or match["scheme"] not in SCHEMES or not 0 < int(match["port"]) < 65536:
        raise ClusterError(f"bad scheduler address {address!r}; accepted: {' or '.join(f'{s}://HOST:PORT' for s in SCHEMES)}"
                           " with PORT in 1..65535 (symbench cluster local prints one)")
    return address.strip()


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--backend dask needs dask.distributed, which is not installed; {INSTALL_HINT}") from None
    return distributed


def start_local_cluster(workers: int, *, port: int = 0, threads_per_worker: int = 1, quiet: bool = True):
    """A ``LocalCluster`` of ``workers`` processes on 127.0.0.1 (one thread each). Its HTTP
    server (health checks; the dashboard where bokeh is installed) listens on 127.0.0.1 too,
    on a free port: never 0.0.0.0, never a clash with another cluster's 8787."""
    distributed = _distributed()
    return distributed.LocalCluster(
        n_workers=workers, threads_per_worker=threads_per_worker, processes=True, host="127.0.0.1",
        scheduler_port=port, dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR if quiet else logging.WARNING,
    )


class DaskBackend:
    name = "dask"

    def __init__(self, scheduler: str | None, *, workers: int = 2, timeout: float = 10.0):
        self.scheduler, self.workers, self.timeout = scheduler, workers, timeout
        self.client = None
        self._cluster = None

    def describe(self) -> str:
        where = self.scheduler or f"a local cluster of {self.workers} workers"
        return f"dask, {where}"

    # ------------------------------------------------------------------ connection
    def __enter__(self) -> "DaskBackend":
        distributed = _distributed()
        if self.scheduler is None:
            self._cluster = start_local_cluster(self.workers)
            address = self._cluster.scheduler_address
        else:
            address = self.scheduler
        try:
            self.client = distributed.Client(address, timeout=self.timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            self._close_cluster()
            raise ClusterError(
                f"no Dask scheduler answers at {address} within {self.timeout:g} s ({type(exc).__name__}); "
                "accepted: the address of a running scheduler (start one with `symbench cluster local`)"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        self._close_cluster()

    def _close_cluster(self) -> None:
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    # ------------------------------------------------------------------ the sweep
    def run(self, study_ref: str, config: Mapping[str, Any],
            batches: Iterable[list[TrialSpec]]) -> Iterator[list[dict[str, Any]]]:
        """The rows of each batch, as their futures complete (in any order). Every batch is
        submitted at once (the scheduler balances them over the workers)."""
        distributed = _distributed()
        client = self.client
        if client is None:
            raise RuntimeError("DaskBackend.run outside its `with` block")
        config = dict(config)
        run_id = uuid.uuid4().hex[:8]
        pending: dict[Any, list[TrialSpec]] = {}

        def submit(batch: list[TrialSpec], label: str):
            # pure=False: a resubmitted batch is a new task, never a cached result of a dead one
            future = client.submit(execute_batch, study_ref, config, batch, key=f"symbench-{run_id}-{label}",
                                   pure=False)
            pending[future] = batch
            return future

        completed = distributed.as_completed([submit(b, str(i)) for i, b in enumerate(batches)], loop=client.loop)
        for future in completed:
            batch = pending.pop(future)
            try:
                rows = future.result()
            except distributed.KilledWorker as exc:
                if len(batch) > 1:  # find the trial that kills its workers: resubmit them one by one
                    for spec in batch:
                        completed.add(submit([spec], spec.key))
                    continue
                rows = failed_rows(study_ref, config, batch, exc, "the workers running this trial kept dying "
                                   "(resubmitted by the Dask scheduler until allowed-failures was exceeded)")
            except (distributed.CancelledError, OSError) as exc:
                raise ClusterError(f"lost the Dask scheduler at {self.scheduler or 'the local cluster'} "
                                   f"({type(exc).__name__}); the results stored so far are kept: rerun to resume"
                                   ) from None
            except Exception as exc:  # noqa: BLE001 - e.g. the study cannot be imported on the worker
                rows = failed_rows(study_ref, config, batch, exc, "the batch raised on its Dask worker")
            yield rows
