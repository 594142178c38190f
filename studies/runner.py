"""The runner: expand a study into trials, skip the stored ones, run the rest in
batches on a backend, and store every outcome as it arrives.

Order of work, so that bad input fails before anything is written:

1. resolve the config (:mod:`studies.config`) and the trial specs;
2. read which trials are stored (read-only: a bad database fails here);
3. ``study.prepare``: load and check the data the trials read, once (a bad
   file fails here), and say on the terminal when a substitute is used;
4. connect the backend (a scheduler that does not answer fails here);
5. only then open the database for writing and run the sweep.

* Trials with the same ``batch_key`` run together in one ``run_batch`` call
  (a study vectorises them), at most ``max_batch`` at a time.
* Backends (:mod:`studies.backends`): ``local`` (this process, or joblib
  worker processes) or ``dask``. Every process computes with one BLAS/torch
  thread, so a trial's numbers depend on neither ``jobs`` nor the backend.
* This process alone writes to SQLite, one transaction per finished batch, so
  killing the run loses only batches in flight (:mod:`studies.store`).
* A batch that raises is rerun trial by trial, so one bad trial is recorded as
  ``failed`` (its error line, and its whole traceback in
  ``metrics['traceback']``) and the others still succeed.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from studies import backends
from studies import config as config_mod
from studies import registry, store
from studies.backends.execute import execute_batch, versions  # noqa: F401  (public since the first runner)
from studies.spec import Study, TrialSpec


@dataclass
class RunSummary:
    study: str
    db: Path
    config: dict[str, Any]
    total: int
    skipped: int
    counts: dict[str, int]
    seconds: float
    #: trials of this run's plan that a concurrent run stored first (left to it, or computed here and
    #: kept as that run stored them)
    stored_by_others: int = 0
    #: stored ``failed`` trials of this sweep that were not run again (see ``retry_failed``)
    failed_before: int = 0
    notes: list[str] = field(default_factory=list)
    backend: str = "local"

    @property
    def failed(self) -> int:
        """Trials of this sweep recorded ``failed``: by this run, or earlier and not retried."""
        return self.counts.get("failed", 0) + self.failed_before

    def line(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items())) or "nothing new"
        text = (f"{self.study}: {self.total} trials, {self.skipped} already stored, {counts} "
                f"in {self.seconds:.1f} s -> {self.db}")
        if self.stored_by_others:
            text += f" ({self.stored_by_others} stored by a concurrent run)"
        if self.failed_before:
            text += f" ({self.failed_before} stored earlier as failed; --retry-failed runs them again)"
        return text


def plan_batches(study: Study, specs: Sequence[TrialSpec], max_batch: int) -> list[list[TrialSpec]]:
    groups: dict[Any, list[TrialSpec]] = {}
    for spec in specs:
        groups.setdefault(study.batch_key(spec.coords), []).append(spec)
    batches = []
    for members in groups.values():
        for start in range(0, len(members), max_batch):
            batches.append(members[start:start + max_batch])
    return batches


class _FreshBatches:
    """The planned batches, each pruned just before it is handed out of the trials that a
    concurrent run (another ``symbench run`` on the same database) has stored meanwhile, so
    that two runs share the work instead of both doing all of it. Thread-safe: joblib may
    draw the next batch from its own thread."""

    def __init__(self, db: Path, batches: list[list[TrialSpec]], retry_failed: bool):
        self.db, self.batches, self.retry_failed = db, batches, retry_failed
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            stored = store.stored_status_of(self.db, [s.key for s in batch])
            fresh = [s for s in batch if s.key not in stored or (self.retry_failed and stored[s.key] == "failed")]
            self.dropped += len(batch) - len(fresh)
            if fresh:
                yield fresh


def _stderr_note(line: str) -> None:
    print(f"symbench: note: {line}", file=sys.stderr, flush=True)


def run_study(name: str, *, quick: bool = False, config_file: str | Path | None = None,
              assignments: Sequence[str] = (), overrides: Mapping[str, Any] | None = None,
              db: str | Path = store.DEFAULT_DB, jobs: int | None = None, progress: bool = True,
              max_batch: int | None = None, backend: str = "local", scheduler: str | None = None,
              scheduler_timeout: float = 10.0, retry_failed: bool = False,
              echo: Callable[[str], None] | None = None) -> RunSummary:
    """Run (or resume) a study; returns a summary.

    Raises a one-line error (``studies.errors.SymbenchError`` or ValueError)
    before anything is written if the study, config, database, data or
    backend is bad. ``backend`` is ``"local"`` (``jobs`` processes) or
    ``"dask"`` (``scheduler`` address; None: a local cluster of ``jobs``
    workers). ``retry_failed`` runs stored ``failed`` trials again. ``echo``
    receives the notes for the terminal (default: stderr when ``progress``)."""
    study = registry.get(name)
    config = config_mod.resolve(study, quick=quick, config_file=config_file,
                                assignments=list(assignments), overrides=overrides)
    specs = study.trial_specs(config)
    db = Path(db)
    stored = store.stored_status(db, study.name)
    todo = [s for s in specs if s.key not in stored or (retry_failed and stored[s.key] == "failed")]
    failed_before = sum(stored.get(s.key) == "failed" for s in specs) if not retry_failed else 0
    jobs = jobs or min(2, os.cpu_count() or 1)
    if echo is None:
        echo = _stderr_note if progress else (lambda line: None)
    counts: dict[str, int] = {}
    notes: list[str] = []
    stored_by_others = 0
    start = time.perf_counter()
    executor = backends.make(backend, jobs=jobs, scheduler=scheduler, scheduler_timeout=scheduler_timeout)
    if todo:
        notes = list(study.prepare(config, todo))
        for note in notes:
            echo(note)
        with executor:
            con = store.connect(db)
            batches = _FreshBatches(db, plan_batches(study, todo, max_batch or study.max_batch),
                                    retry_failed)
            try:
                from tqdm.auto import tqdm

                with tqdm(total=len(todo), desc=study.name, unit="trial", disable=not progress) as bar:
                    for rows in executor.run(name, config, batches):
                        for row, new in zip(rows, store.insert(con, rows, replace_failed=retry_failed)):
                            if new:
                                counts[row["status"]] = counts.get(row["status"], 0) + 1
                            else:
                                stored_by_others += 1
                        bar.update(len(rows))
                    bar.update(batches.dropped)  # left to a concurrent run
            finally:
                con.close()
            stored_by_others += batches.dropped
    return RunSummary(study.name, db, config, len(specs), len(specs) - len(todo), counts,
                      time.perf_counter() - start, stored_by_others, failed_before, notes, executor.describe())
