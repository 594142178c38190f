"""The runner, the results store, the config layer and the CLI's error handling,
exercised on the toy study (tests/toy_study.py)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studies import config as config_mod
from studies import registry, store
from studies.cli import main
from studies.runner import run_study
from studies.spec import derive_seed

TOY = "tests.toy_study:STUDY"
ROOT = Path(__file__).resolve().parents[1]


def test_seeds_are_hierarchical_and_stable():
    a = derive_seed(0, "toy", {"group": "a", "rep": 1})
    assert a == derive_seed(0, "toy", {"rep": 1, "group": "a"})  # key order does not matter
    assert a != derive_seed(1, "toy", {"group": "a", "rep": 1})
    assert a != derive_seed(0, "toy", {"group": "a", "rep": 2})
    assert 0 <= a < 2**63


def test_run_stores_every_trial_once_and_resumes(tmp_path):
    db = tmp_path / "r.db"
    first = run_study(TOY, db=db, jobs=1, progress=False, quick=True)
    assert first.counts == {"ok": 8} and first.skipped == 0
    full = run_study(TOY, db=db, jobs=2, progress=False)
    assert full.skipped == 8 and full.counts == {"ok": 16}  # quick trials are reused
    again = run_study(TOY, db=db, jobs=2, progress=False)
    assert again.skipped == 24 and again.counts == {}
    df = store.load(db, "toy")
    assert len(df) == 24 and df.trial_key.is_unique
    assert set(df.columns) >= {"group", "rep", "value", "seed", "status", "config_hash", "duration_s"}


def test_results_do_not_depend_on_jobs_or_batching(tmp_path):
    run_study(TOY, db=tmp_path / "a.db", jobs=1, progress=False, max_batch=1)
    run_study(TOY, db=tmp_path / "b.db", jobs=2, progress=False)
    a = store.load(tmp_path / "a.db", "toy").set_index("trial_key").sort_index()
    b = store.load(tmp_path / "b.db", "toy").set_index("trial_key").sort_index()
    assert (a["value"] == b["value"]).all()


def test_failures_and_divergence_are_recorded_and_the_sweep_goes_on(tmp_path):
    db = tmp_path / "f.db"
    summary = run_study(TOY, db=db, jobs=1, progress=False,
                        assignments=["fail_rep=3", "diverge_rep=5", "crash_batch_rep=9"])
    assert summary.counts == {"ok": 20, "failed": 2, "diverged": 2}
    df = store.load(db, "toy")
    failed = df[df.status == "failed"]
    assert set(failed.rep) == {3} and failed.error.str.contains("fails on purpose").all()
    assert (failed.error == "ValueError: trial 3 fails on purpose").all()  # the one line a report shows
    for tb in failed.traceback:  # and the whole traceback, down to the study's own frame
        assert tb.startswith("Traceback (most recent call last)") and "toy_study.py" in tb
        assert "in run_batch" in tb and tb.rstrip().endswith("ValueError: trial 3 fails on purpose")
    # the batch-level crash was isolated: rep 9 still succeeded alone
    assert set(df[df.rep == 9].status) == {"ok"}


def test_config_errors_are_one_line_and_nothing_is_written(tmp_path, capsys):
    db = tmp_path / "c.db"
    cases = [
        (["run", TOY, "--set", "nope=1"], "unknown key 'nope'"),
        (["run", TOY, "--set", "reps=x"], "bad value for 'reps'"),
        (["run", TOY, "--set", "reps=0"], "reps must be at least 1"),
        (["run", "no_such_study"], "unknown study 'no_such_study'; accepted: "),
        (["run", TOY, "--jobs", "0"], "--jobs"),
    ]
    for argv, needle in cases:
        code = main(argv + ["--db", str(db), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 or code is None, argv
        assert needle in err and err.count("\n") == 1, err
        assert not db.exists()


def test_toml_config_and_unknown_keys(tmp_path):
    study = registry.get(TOY)
    good = tmp_path / "good.toml"
    good.write_text("[toy]\nreps = 3\nscale = 2\n")
    config = config_mod.resolve(study, config_file=good)
    assert config["reps"] == 3 and config["scale"] == 2.0 and isinstance(config["scale"], float)
    bad = tmp_path / "bad.toml"
    bad.write_text("reps = [\n")
    with pytest.raises(config_mod.ConfigError, match="not valid TOML"):
        config_mod.resolve(study, config_file=bad)
    with pytest.raises(config_mod.ConfigError, match="unknown key 'colour'"):
        config_mod.merge(study.defaults, {"colour": 1})
    assert config_mod.parse_assignment("groups=[a, c]", study.defaults) == ("groups", ["a", "c"])


def test_corrupt_database_is_a_clear_error(tmp_path):
    db = tmp_path / "corrupt.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(store.StoreError, match="not a symbench results database"):
        store.stored_keys(db, "toy")


def test_sigkill_at_a_random_point_then_rerun_loses_and_duplicates_nothing(tmp_path):
    """SIGKILL of the runner and its workers after a random number of stored batches (and a
    random extra delay, so the kill also lands inside a transaction or between batches), then
    a rerun: every trial stored once, none lost, and SQLite's integrity check says ok."""
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    threshold, delay = rng.randrange(1, 49), rng.uniform(0.0, 0.1)
    where = f"kill point: {threshold} rows + {delay:.3f} s (seed {seed})"
    db = tmp_path / "k.db"
    cmd = [sys.executable, "-m", "studies.cli", "run", TOY, "--db", str(db), "--jobs", "2",
           "--no-progress", "--set", "reps=30", "--set", "sleep=0.02"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while store.count_rows(db) < threshold and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(delay)
    assert proc.poll() is None, f"the run ended before the kill ({where})"
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, mid-run
    proc.wait()
    stored_at_kill = store.count_rows(db)
    assert threshold <= stored_at_kill < 60, where
    assert store.integrity(db) == "ok", where
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, (where, done.stderr)
    assert f"{stored_at_kill} already stored" in done.stdout, (where, done.stdout)
    df = store.load(db, "toy")
    assert len(df) == 60 and df.trial_key.is_unique and (df.status == "ok").all(), where
    assert store.integrity(db) == "ok", where
