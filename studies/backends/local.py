"""The default backend: batches in this process (``jobs=1``) or in joblib (loky) worker processes.

Either way each process computes with one BLAS/torch thread
(:mod:`symbench.threads`), so a trial's numbers do not depend on ``jobs``.
"""

from __future__ import annotations

from typing import Any, Collection, Iterator, Mapping

from studies.backends.execute import execute_batch
from studies.spec import TrialSpec
from symbench import threads


class LocalBackend:
    name = "local"

    def __init__(self, jobs: int):
        self.jobs = jobs

    def __enter__(self) -> "LocalBackend":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def describe(self) -> str:
        return f"local, {self.jobs} process{'es' if self.jobs > 1 else ''}"

    def run(self, study_ref: str, config: Mapping[str, Any],
            batches: Collection[list[TrialSpec]]) -> Iterator[list[dict[str, Any]]]:
        """The rows of each batch, as batches finish (in any order). ``batches`` is drawn
        lazily, one batch as a process frees up (it may prune itself as it goes)."""
        if self.jobs <= 1 or len(batches) <= 1:
            with threads.one_thread():
                for batch in batches:
                    yield execute_batch(study_ref, config, batch, limit_threads=False)
            return
        from joblib import Parallel, delayed, parallel_config

        with parallel_config(backend="loky", inner_max_num_threads=1):
            yield from Parallel(n_jobs=self.jobs, return_as="generator_unordered")(
                delayed(execute_batch)(study_ref, config, batch) for batch in batches
            )
