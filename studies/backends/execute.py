"""What a worker does with one batch: run it and return the rows to store.

A worker receives the study's reference (a name or an import path, looked up
again on the worker), the config and the batch's ``TrialSpec`` s (coordinates
and seeds): never arrays. Every data set a trial reads is built (or read from
the data folder) on the worker from those; only the process that runs
``symbench run`` writes the rows it returns.
"""

from __future__ import annotations

import functools
import platform
import time
import traceback
from typing import Any, Mapping, Sequence

from studies import registry
from studies.spec import Outcome, TrialSpec
from symbench import threads


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """The versions of the libraries a result depends on (recorded with every trial)."""
    from importlib.metadata import PackageNotFoundError, version

    import numpy, scipy, sklearn, torch  # noqa: E401

    try:
        own = version("symbench")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        own = "source"
    return {
        "symbench": own, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": numpy.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__,
    }


def error_line(exc: BaseException) -> str:
    """``Type: first line of the message``: the one line a report shows."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".strip().rstrip(":")


def failed_outcome(exc: BaseException, where: str | None = None) -> Outcome:
    """A ``failed`` outcome: the error's line, and its whole traceback in ``metrics['traceback']``."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if where:
        tb = f"{where}\n{tb}"
    return Outcome("failed", {"traceback": tb}, error=error_line(exc))


def _run(study, config, batch: Sequence[TrialSpec]) -> list[Outcome]:
    outcomes = study.run_batch(config, batch)
    if len(outcomes) != len(batch):
        raise RuntimeError(f"{study.name}.run_batch returned {len(outcomes)} outcomes for {len(batch)} trials")
    return list(outcomes)


def execute_batch(study_ref: str, config: Mapping[str, Any], batch: list[TrialSpec],
                  limit_threads: bool = True) -> list[dict[str, Any]]:
    """Run one batch and return its rows. A batch that raises is rerun trial by
    trial, so that one bad trial is recorded ``failed`` (with its traceback) and
    the others still succeed."""
    if limit_threads:
        threads.limit_threads()
    study = registry.get(study_ref)
    start = time.perf_counter()
    try:
        outcomes = _run(study, config, batch)
        durations = [(time.perf_counter() - start) / len(batch)] * len(batch)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, the sweep goes on
        if len(batch) == 1:
            outcomes, durations = [failed_outcome(exc)], [time.perf_counter() - start]
        else:  # isolate the failing trial(s)
            outcomes, durations = [], []
            for spec in batch:
                t0 = time.perf_counter()
                try:
                    outcomes += _run(study, config, [spec])
                except Exception as exc:  # noqa: BLE001 - any failure is recorded, the sweep goes on
                    outcomes.append(failed_outcome(exc))
                durations.append(time.perf_counter() - t0)
    return rows_of(study, config, batch, outcomes, durations)


def rows_of(study, config: Mapping[str, Any], batch: Sequence[TrialSpec], outcomes: Sequence[Outcome],
            durations: Sequence[float]) -> list[dict[str, Any]]:
    """The store's rows of a batch's outcomes."""
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


def failed_rows(study_ref: str, config: Mapping[str, Any], batch: Sequence[TrialSpec], exc: BaseException,
                where: str) -> list[dict[str, Any]]:
    """Rows that record every trial of ``batch`` as failed with ``exc`` (e.g. its worker kept dying)."""
    study = registry.get(study_ref)
    outcome = failed_outcome(exc, where)
    return rows_of(study, config, batch, [outcome] * len(batch), [0.0] * len(batch))
