"""The results store: one SQLite row per trial.

Only the runner's parent process writes, one transaction per finished batch, so
a SIGKILL loses at most the batches in flight and never leaves a half-written
row. ``trial_key`` is the primary key: a trial is stored exactly once, and a
rerun skips what is already there.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from studies.spec import STATUSES, canonical_json

DEFAULT_DB = Path("results") / "symbench.db"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS trials (
    trial_key   TEXT PRIMARY KEY,
    study       TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    config      TEXT NOT NULL,
    coords      TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    metrics     TEXT NOT NULL,
    error       TEXT,
    duration_s  REAL NOT NULL,
    versions    TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS trials_by_study ON trials (study, config_hash);
"""


class StoreError(RuntimeError):
    pass


def connect(db: str | Path) -> sqlite3.Connection:
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(db, timeout=60)
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{db}: not a symbench results database ({exc})") from None
    return con


def stored_keys(db: str | Path, study: str) -> set[str]:
    with closing(connect(db)) as con:
        return {row[0] for row in con.execute("SELECT trial_key FROM trials WHERE study = ?", (study,))}


def insert(con: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Insert finished trials in one transaction; already-stored keys are kept as they are."""
    now = time.time()
    values = [
        (
            r["trial_key"], r["study"], r["config_hash"], canonical_json(r["config"]),
            canonical_json(r["coords"]), int(r["seed"]), r["status"], canonical_json(r["metrics"]),
            r.get("error"), float(r["duration_s"]), canonical_json(r["versions"]), now,
        )
        for r in rows
    ]
    with con:
        cur = con.executemany("INSERT OR IGNORE INTO trials VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", values)
    return cur.rowcount


def load(db: str | Path = DEFAULT_DB, study: str | None = None, status: str | None = None) -> pd.DataFrame:
    """All stored trials as a DataFrame: one row per trial, coordinates and metrics
    flattened into columns (``coords`` and ``metrics`` keep the original dicts)."""
    db = Path(db)
    if not db.exists():
        raise StoreError(f"{db}: no such results database (run a study first: symbench run STUDY)")
    query, params = "SELECT * FROM trials", []
    clauses = []
    if study is not None:
        clauses.append("study = ?")
        params.append(study)
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if clauses:
        query += " WHERE " + " AND ".join(clauses)
    with closing(connect(db)) as con:
        raw = pd.read_sql_query(query + " ORDER BY created_at, trial_key", con, params=params)
    for col in ("config", "coords", "metrics", "versions"):
        raw[col] = raw[col].map(json.loads)
    if raw.empty:
        return raw
    coords = pd.json_normalize(raw["coords"].tolist())
    metrics = pd.json_normalize(raw["metrics"].tolist())
    metrics = metrics.drop(columns=[c for c in metrics.columns if c in coords.columns])
    flat = pd.concat([raw.reset_index(drop=True), coords, metrics], axis=1)
    return flat


def studies_in(db: str | Path) -> list[str]:
    with closing(connect(db)) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT study FROM trials ORDER BY study")]
