"""The results store: one SQLite row per trial.

Promises (each tested; see docs/reliability.md):

* Crash safety. Only the process that runs ``symbench run`` writes (never a
  worker), one transaction per finished batch, in WAL mode: a SIGKILL at any
  point loses at most the batches in flight and never leaves a half-written row
  or a corrupt file.
* Each trial once. ``trial_key`` is the primary key and rows are inserted with
  ``INSERT ... ON CONFLICT DO NOTHING``: two runs on one database at once
  (or a rerun) never store a trial twice; the second writer of a key is told
  (``insert`` returns what it actually stored).
* Readers never write. :func:`load`, :func:`studies_in` and
  :func:`stored_status` open the file read-only (a ``mode=ro`` URI): they
  never create a database, add a table, or change a byte of the file.
* Only our own files. A file that is not SQLite, or an SQLite database without
  symbench's ``trials`` table, is refused with a one-line :class:`StoreError`
  before anything is written to it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from studies.errors import SymbenchError
from studies.spec import STATUSES, canonical_json

DEFAULT_DB = Path("results") / "symbench.db"
#: seconds a writer waits for another writer's transaction (two runs on one database)
BUSY_TIMEOUT_S = 60.0

COLUMNS = ("trial_key", "study", "config_hash", "config", "coords", "seed", "status", "metrics", "error",
           "duration_s", "versions", "created_at")
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


class StoreError(SymbenchError):
    """The results database is missing, not a database, not symbench's, or cannot be written."""


def _not_ours(db: Path, exc: BaseException | str) -> StoreError:
    return StoreError(f"{db}: not a symbench results database ({exc}); "
                      "accepted: a file written by `symbench run`, or a path where none exists yet")


def _check_schema(con: sqlite3.Connection, db: Path) -> bool:
    """True when the database holds symbench's trials table; False when it holds no table
    at all (a new or empty file); a StoreError for anyone else's database."""
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "trials" not in tables:
            if tables:
                raise _not_ours(db, f"no trials table; it holds {', '.join(sorted(tables))}")
            return False
        columns = tuple(r[1] for r in con.execute("PRAGMA table_info(trials)"))
    except sqlite3.DatabaseError as exc:
        raise _not_ours(db, exc) from None
    if columns != COLUMNS:
        raise _not_ours(db, f"its trials table has columns {', '.join(columns)}")
    return True


def connect(db: str | Path) -> sqlite3.Connection:
    """A connection for writing (the runner's): creates the database if there is none."""
    db = Path(db)
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{db}: cannot create the folder of the results database ({exc.strerror or exc})") from None
    if db.is_dir():
        raise StoreError(f"{db}: is a folder; --db takes the path of a results database file")
    try:
        con = sqlite3.connect(db, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise StoreError(f"{db}: cannot open the results database ({exc})") from None
    try:
        ours = _check_schema(con, db)
        con.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; a crash never corrupts
        con.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; WAL keeps it consistent
        if not ours:
            con.executescript(_SCHEMA)
    except StoreError:
        con.close()
        raise
    except sqlite3.DatabaseError as exc:
        con.close()
        if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc).replace(" ", ""):
            raise StoreError(f"{db}: the results database is read-only ({exc})") from None
        raise _not_ours(db, exc) from None
    return con


def connect_readonly(db: str | Path, new_is_empty: bool = False) -> sqlite3.Connection | None:
    """A read-only connection (``mode=ro``): never creates the file or changes a byte of it.

    A database without any table yet (one that a concurrent run has just created)
    is an error, or, with ``new_is_empty``, None: no results yet."""
    db = Path(db)
    if db.is_dir():
        raise StoreError(f"{db}: is a folder; --db takes the path of a results database file")
    if not db.is_file():
        raise StoreError(f"{db}: no such results database (run a study first: symbench run STUDY --db {db})")
    try:
        con = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise StoreError(f"{db}: cannot open the results database ({exc})") from None
    try:
        if not _check_schema(con, db):
            if new_is_empty:
                con.close()
                return None
            raise _not_ours(db, "it holds no trials table")
    except StoreError:
        con.close()
        raise
    return con


def stored_status(db: str | Path, study: str) -> dict[str, str]:
    """{trial_key: status} of the study's stored trials ({} when the database does not exist yet)."""
    con = connect_readonly(db, new_is_empty=True) if Path(db).exists() else None
    if con is None:
        return {}
    with closing(con):
        return dict(con.execute("SELECT trial_key, status FROM trials WHERE study = ?", (study,)))


def stored_status_of(db: str | Path, keys: list[str]) -> dict[str, str]:
    """{trial_key: status} of those of ``keys`` that are stored (a cheap look-up by primary key)."""
    con = connect_readonly(db, new_is_empty=True) if keys and Path(db).exists() else None
    if con is None:
        return {}
    with closing(con):
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):  # SQLite limits the number of parameters
            chunk = keys[start:start + 500]
            found.update(con.execute(f"SELECT trial_key, status FROM trials WHERE trial_key IN "
                                     f"({','.join('?' * len(chunk))})", chunk))
        return found


def stored_keys(db: str | Path, study: str) -> set[str]:
    return set(stored_status(db, study))


def insert(con: sqlite3.Connection, rows: Iterable[dict[str, Any]], replace_failed: bool = False) -> list[bool]:
    """Store finished trials in one transaction; returns, per row, whether it was stored.

    A key already stored is kept as it is (False: another run stored it first),
    except that with ``replace_failed`` a stored ``failed`` trial is replaced."""
    now = time.time()
    values = [
        (
            r["trial_key"], r["study"], r["config_hash"], canonical_json(r["config"]),
            canonical_json(r["coords"]), int(r["seed"]), r["status"], canonical_json(r["metrics"]),
            r.get("error"), float(r["duration_s"]), canonical_json(r["versions"]), now,
        )
        for r in rows
    ]
    conflict = "DO NOTHING"
    if replace_failed:
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        conflict = f"DO UPDATE SET {updates} WHERE trials.status = 'failed'"
    sql = f"INSERT INTO trials VALUES ({','.join('?' * len(COLUMNS))}) ON CONFLICT (trial_key) {conflict}"
    stored = []
    with con:  # one transaction: all of the batch or none of it
        for value in values:
            stored.append(con.execute(sql, value).rowcount == 1)
    return stored


def load(db: str | Path = DEFAULT_DB, study: str | None = None, status: str | None = None) -> pd.DataFrame:
    """All stored trials as a DataFrame: one row per trial, coordinates and metrics
    flattened into columns (``coords`` and ``metrics`` keep the original dicts).
    Opens the database read-only."""
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
    with closing(connect_readonly(db)) as con:
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
    with closing(connect_readonly(db)) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT study FROM trials ORDER BY study")]


def integrity(db: str | Path) -> str:
    """SQLite's ``PRAGMA integrity_check`` of the file ('ok' when sound), read-only."""
    with closing(connect_readonly(db)) as con:
        return "; ".join(r[0] for r in con.execute("PRAGMA integrity_check"))


def count_rows(db: str | Path) -> int:
    """Trials stored so far, for watching a run from outside: 0 while the file or its
    table does not exist yet, or while a writer holds it past the timeout."""
    if not Path(db).exists():
        return 0
    try:
        with closing(sqlite3.connect(db, timeout=5)) as con:
            return con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
