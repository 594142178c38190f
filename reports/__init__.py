"""Reports: stored results -> tables (Markdown, LaTeX, CSV) and figures (seaborn).

Reports read the results store and never train. Each study with a report has a
module ``reports.<study>`` with ``write(df, out_dir) -> list[Path]``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from studies import store

REPORTS = {"ng2004": "reports.ng2004", "equivariance": "reports.equivariance", "optimizers": "reports.optimizers",
           "atlas": "reports.atlas", "sample_complexity": "reports.sample_complexity"}


def build(db: str | Path = store.DEFAULT_DB, out: str | Path = "results/reports", study: str | None = None) -> list[Path]:
    """Write the report of every stored study (or one); return the paths written."""
    present = store.studies_in(db) if Path(db).exists() else []
    if study is not None:
        if study not in REPORTS:
            raise ValueError(f"no report for study {study!r}; accepted: {', '.join(REPORTS)}")
        if study not in present:
            raise ValueError(f"{db}: no stored results for study {study!r} (stored: {', '.join(present) or 'none'})")
        chosen = [study]
    else:
        chosen = [s for s in present if s in REPORTS]
        if not chosen:
            raise ValueError(f"{db}: no stored results to report (run a study first: symbench run STUDY)")
    paths: list[Path] = []
    for name in chosen:
        module = importlib.import_module(REPORTS[name])
        df = store.load(db, name)
        paths += module.write(df, Path(out) / name)
    return paths
