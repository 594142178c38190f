"""The results store under concurrency: two writers at once, two `symbench run` processes on
one database, and readers that never write (`symbench report` opens the file read-only)."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from studies import store
from studies.cli import main

TOY = "tests.toy_study:STUDY"
ROOT = Path(__file__).resolve().parents[1]


def _row(key: str, status: str = "ok", value: float = 0.0) -> dict:
    return {"trial_key": key, "study": "toy", "config_hash": "h", "config": {}, "coords": {"k": key}, "seed": 1,
            "status": status, "metrics": {"value": value}, "error": None, "duration_s": 0.0, "versions": {}}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_writers_at_once_store_each_key_once_and_know_who_stored_it(tmp_path):
    db = tmp_path / "w.db"
    store.connect(db).close()
    keys = [f"k{i:03d}" for i in range(300)]
    results: dict[str, list[bool]] = {}

    def writer(name: str, order: list[str]):
        con = store.connect(db)
        flags = []
        for start in range(0, len(order), 7):  # many small transactions, interleaved with the other writer's
            flags += store.insert(con, [_row(k, value=float(name == "b")) for k in order[start:start + 7]])
        con.close()
        results[name] = flags

    threads = [threading.Thread(target=writer, args=("a", keys)), threading.Thread(target=writer, args=("b", keys[::-1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results["a"]) + sum(results["b"]) == len(keys)  # every key stored by exactly one writer
    df = store.load(db, "toy")
    assert len(df) == len(keys) and df.trial_key.is_unique
    stored_by_b = {k for k, new in zip(keys[::-1], results["b"]) if new}
    assert set(df[df.value == 1.0].trial_key) == stored_by_b  # the first writer's row is the one kept
    assert store.integrity(db) == "ok"


def test_a_failed_trial_is_replaced_only_when_asked(tmp_path):
    db = tmp_path / "r.db"
    con = store.connect(db)
    assert store.insert(con, [_row("a", "failed"), _row("b")]) == [True, True]
    assert store.insert(con, [_row("a", value=1.0), _row("b", value=1.0)]) == [False, False]
    assert store.insert(con, [_row("a", value=2.0), _row("b", value=2.0)], replace_failed=True) == [True, False]
    con.close()
    df = store.load(db, "toy").set_index("trial_key")
    assert df.loc["a", "status"] == "ok" and df.loc["a", "value"] == 2.0 and df.loc["b", "value"] == 0.0


def test_two_symbench_runs_on_one_database_at_once(tmp_path):
    db = tmp_path / "c.db"
    cmd = [sys.executable, "-m", "studies.cli", "run", TOY, "--db", str(db), "--jobs", "1", "--no-progress",
           "--set", "reps=30", "--set", "sleep=0.01"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    stored, by_others = 0, 0
    for out, _ in outputs:
        match = re.search(r"toy: 60 trials, (\d+) already stored, (?:(\d+) ok|nothing new)", out)
        assert match, out
        stored += int(match[2] or 0)
        extra = re.search(r"\((\d+) stored by a concurrent run\)", out)
        by_others += int(extra[1]) if extra else 0
        skipped = int(match[1])
        assert int(match[2] or 0) + skipped + (int(extra[1]) if extra else 0) == 60, out
    assert stored == 60  # each trial stored by exactly one of the two runs
    df = store.load(db, "toy")
    assert len(df) == 60 and df.trial_key.is_unique and (df.status == "ok").all()
    assert store.integrity(db) == "ok"


def test_report_never_creates_a_database(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "none.db"
    code = main(["report", "--db", str(missing), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no such results database" in err, err
    assert not missing.exists() and not missing.parent.exists() and not (tmp_path / "out").exists()


def test_readers_open_the_database_read_only(tmp_path, capsys):
    db = tmp_path / "ro.db"
    con = store.connect(db)
    store.insert(con, [_row("a"), _row("b")])
    con.close()
    before = _digest(db)
    assert len(store.load(db, "toy")) == 2 and store.studies_in(db) == ["toy"] and store.integrity(db) == "ok"
    code = main(["report", "--db", str(db), "--out", str(tmp_path / "out")])  # toy has no report: exit 2
    assert code == 2 and "no stored results to report" in capsys.readouterr().err
    assert _digest(db) == before
    # the reader's connection is read-only: SQLite itself refuses a write through it
    ro = store.connect_readonly(db)
    try:
        ro.execute("DELETE FROM trials")
        raise AssertionError("a read-only connection wrote")
    except sqlite3.OperationalError as exc:
        assert "readonly" in str(exc).replace(" ", "")
    finally:
        ro.close()
    assert _digest(db) == before


def test_a_database_just_created_by_a_concurrent_run_counts_as_empty(tmp_path):
    """The race the bench found: run B looks up stored trials after run A created the file but
    before A's schema was committed. A file with no table yet holds no results (not an error)."""
    db = tmp_path / "new.db"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA journal_mode=WAL")  # a database, no table yet
    con.close()
    assert store.stored_status(db, "toy") == {} and store.stored_status_of(db, ["k"]) == {}
    from studies.runner import run_study

    assert run_study(TOY, db=db, jobs=1, progress=False, quick=True).counts == {"ok": 8}
