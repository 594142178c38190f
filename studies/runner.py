"""The runner: expand a study into trials, skip the stored ones, run the rest in
parallel batches, and store every outcome.

* Trials with the same ``batch_key`` run together in one ``run_batch`` call
  (a study vectorises them), at most ``max_batch`` at a time.
* Batches run in joblib (loky) worker processes, one BLAS/torch thread each,
  over ``jobs`` cores; the parent alone writes to SQLite, one transaction per
  finished batch, so killing the run loses only batches in flight.
* A batch that raises is rerun trial by trial, so one bad trial is recorded as
  ``failed`` (with its error) and the others still succeed.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from studies import config as config_mod
from studies import registry, store
from studies.spec import Outcome, Study, TrialSpec
from symbench import threads


@dataclass
class RunSummary:
    study: str
    db: Path
    config: dict[str, Any]
    total: int
    skipped: int
    counts: dict[str, int]
    seconds: float

    def line(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items())) or "nothing new"
        return (f"{self.study}: {self.total} trials, {self.skipped} already stored, {counts} "
                f"in {self.seconds:.1f} s -> {self.db}")


def versions() -> dict[str, str]:
    import numpy, scipy, sklearn, torch  # noqa: E401  (the libraries a result depends on)

    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("symbench")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        own = "source"
    return {
        "symbench": own, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": numpy.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__,
    }


def plan_batches(study: Study, specs: Sequence[TrialSpec], max_batch: int) -> list[list[TrialSpec]]:
    groups: dict[Any, list[TrialSpec]] = {}
    for spec in specs:
        groups.setdefault(study.batch_key(spec.coords), []).append(spec)
    batches = []
    for members in groups.values():
        for start in range(0, len(members), max_batch):
            batches.append(members[start:start + max_batch])
    return batches


def _error_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()


def execute_batch(study_ref: str, config: Mapping[str, Any], batch: list[TrialSpec],
                  limit_threads: bool = True) -> list[dict[str, Any]]:
    """Run one batch (in a worker process) and return the rows to store.

    ``study_ref`` is what ``registry.get`` takes (a name or an import path):
    worker processes look the study up again rather than unpickling it."""
    if limit_threads:
        threads.limit_threads()
    study = registry.get(study_ref)
    start = time.perf_counter()
    try:
        outcomes = study.run_batch(config, batch)
        if len(outcomes) != len(batch):
            raise RuntimeError(f"run_batch returned {len(outcomes)} outcomes for {len(batch)} trials")
        durations = [(time.perf_counter() - start) / len(batch)] * len(batch)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, the sweep goes on
        if len(batch) == 1:
            outcomes = [Outcome("failed", error=_error_line(exc))]
            durations = [time.perf_counter() - start]
        else:  # isolate the failing trial(s)
            outcomes, durations = [], []
            for spec in batch:
                t0 = time.perf_counter()
                try:
                    outcomes.append(study.run_batch(config, [spec])[0])
                except Exception as exc:  # noqa: BLE001 - any failure is recorded, the sweep goes on
                    outcomes.append(Outcome("failed", error=_error_line(exc)))
                durations.append(time.perf_counter() - t0)
    trial_config = study.trial_config(config)
    vers = versions()
    return [
        {
            "trial_key": spec.key, "study": spec.study, "config_hash": spec.config_hash,
            "config": trial_config, "coords": dict(spec.coords), "seed": spec.seed,
            "status": out.status, "metrics": out.metrics, "error": out.error,
            "duration_s": dur, "versions": vers,
        }
        for spec, out, dur in zip(batch, outcomes, durations)
    ]


def _results(study_ref: str, config: Mapping[str, Any], batches: list[list[TrialSpec]], jobs: int) -> Iterator[list[dict]]:
    if jobs <= 1 or len(batches) <= 1:
        for batch in batches:
            yield execute_batch(study_ref, config, batch, limit_threads=False)
        return
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="loky", inner_max_num_threads=1):
        yield from Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(execute_batch)(study_ref, config, batch) for batch in batches
        )


def run_study(name: str, *, quick: bool = False, config_file: str | Path | None = None,
              assignments: Sequence[str] = (), overrides: Mapping[str, Any] | None = None,
              db: str | Path = store.DEFAULT_DB, jobs: int | None = None, progress: bool = True,
              max_batch: int | None = None) -> RunSummary:
    """Run (or resume) a study; returns a summary. Raises ``ConfigError`` or
    ``ValueError`` before anything is written if the study or config is bad."""
    study = registry.get(name)
    config = config_mod.resolve(study, quick=quick, config_file=config_file,
                                assignments=list(assignments), overrides=overrides)
    specs = study.trial_specs(config)
    db = Path(db)
    done = store.stored_keys(db, study.name)
    todo = [s for s in specs if s.key not in done]
    batches = plan_batches(study, todo, max_batch or study.max_batch)
    jobs = jobs or min(2, os.cpu_count() or 1)
    counts: dict[str, int] = {}
    start = time.perf_counter()
    con = store.connect(db)
    try:
        from tqdm.auto import tqdm

        with tqdm(total=len(todo), desc=study.name, unit="trial", disable=not progress or not todo) as bar:
            for rows in _results(name, config, batches, jobs):
                store.insert(con, rows)
                for row in rows:
                    counts[row["status"]] = counts.get(row["status"], 0) + 1
                bar.update(len(rows))
    finally:
        con.close()
    return RunSummary(study.name, db, config, len(specs), len(specs) - len(todo), counts,
                      time.perf_counter() - start)
