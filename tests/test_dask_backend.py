"""The Dask backend against a real cluster: ``symbench cluster local --workers 2`` (2 worker
processes on 127.0.0.1, one thread each), started once for the module.

* a sweep on it stores every trial once, with the local backend's numbers bit for bit;
* a worker killed (SIGKILL) mid-sweep: its batch is resubmitted, the sweep completes, each
  trial stored exactly once;
* a trial that kills every worker that runs it: stored ``failed`` with the traceback, the
  other trials of its batch still succeed, the run exits 1 after its summary;
* Ctrl-C stops the cluster (exit 0).

The cluster's scheduler allows one resubmission of a task whose worker died
(``allowed-failures = 1``; the default is 3), which keeps the dying-trial test short.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from studies import store  # noqa: E402
from studies.backends.execute import versions  # noqa: E402
from studies.cli import main  # noqa: E402
from studies.runner import run_study  # noqa: E402
from studies.spec import TrialSpec  # noqa: E402

TOY = "tests.toy_study:STUDY"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster():
    env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "studies.cli", "cluster", "local", "--workers", "2"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)  # never hang on a cluster that does not start
        address = proc.stdout.readline().strip() if ready else ""
        assert address.startswith("tcp://127.0.0.1:"), (address, proc.poll())
        client = distributed.Client(address, timeout=30, set_as_default=False)
        client.wait_for_workers(2, timeout=60)
        client.run(versions)  # warm up: every worker has imported torch & co.
        yield proc, address, client
        client.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _values(db: Path):
    df = store.load(db, "toy").set_index("trial_key").sort_index()
    return df["value"]


def test_a_sweep_on_the_cluster_equals_the_local_one(cluster, tmp_path, monkeypatch):
    _, address, _ = cluster
    sent = []
    submit = distributed.Client.submit

    def recording_submit(self, func, *args, **kwargs):
        sent.append(args)
        return submit(self, func, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", recording_submit)
    code = main(["run", TOY, "--backend", "dask", "--scheduler", address, "--db", str(tmp_path / "d.db"),
                 "--no-progress"])
    assert code == 0
    # what a worker receives: the study's name, the config and trial specs (coordinates, seeds), no arrays
    assert len(sent) == 6
    for study_ref, config, batch in sent:
        assert study_ref == TOY and isinstance(config, dict) and config["reps"] == 12
        assert all(isinstance(spec, TrialSpec) and isinstance(spec.seed, int) for spec in batch)
        assert len(pickle.dumps((study_ref, config, batch))) < 4096
    run_study(TOY, db=tmp_path / "l.db", jobs=1, progress=False)
    dask_values, local_values = _values(tmp_path / "d.db"), _values(tmp_path / "l.db")
    assert len(dask_values) == 24 and dask_values.index.is_unique
    assert dask_values.index.equals(local_values.index) and (dask_values == local_values).all()  # bit for bit
    assert store.integrity(tmp_path / "d.db") == "ok"


def test_a_worker_killed_mid_sweep_loses_nothing(cluster, tmp_path):
    _, address, client = cluster
    db = tmp_path / "k.db"
    pids = client.run(os.getpid)
    killed: dict = {}

    def kill_a_busy_worker():
        deadline = time.time() + 30
        while time.time() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy and store.count_rows(db) >= 4:  # mid-sweep: results stored, a batch in flight on that worker
                killed.update(worker=busy[0], pid=pids[busy[0]], rows=store.count_rows(db),
                              in_flight=len(client.processing()[busy[0]]))
                os.kill(pids[busy[0]], signal.SIGKILL)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    summary = run_study(TOY, db=db, backend="dask", scheduler=address, progress=False,
                        assignments=["sleep=0.15"])
    killer.join()
    assert killed, "no worker was killed: the sweep ended first"
    assert killed["in_flight"] >= 1 and 4 <= killed["rows"] < 24, killed
    assert summary.counts == {"ok": 24}, summary
    df = store.load(db, "toy")
    assert len(df) == 24 and df.trial_key.is_unique and (df.status == "ok").all()
    assert store.integrity(db) == "ok"
    run_study(TOY, db=tmp_path / "l.db", jobs=1, progress=False, assignments=["sleep=0.15"])
    assert (_values(db) == _values(tmp_path / "l.db")).all()  # the resubmitted batch computed the same numbers
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker
    assert killed["pid"] not in client.run(os.getpid).values()


def test_a_trial_that_kills_its_workers_is_stored_failed_and_the_sweep_goes_on(cluster, tmp_path, capsys):
    _, address, client = cluster
    client.wait_for_workers(2, timeout=60)
    db = tmp_path / "x.db"
    code = main(["run", TOY, "--backend", "dask", "--scheduler", address, "--db", str(db), "--no-progress",
                 "--set", "reps=3", "--set", "groups=[a]", "--set", "exit_rep=1"])
    captured = capsys.readouterr()
    assert code == 1, captured.err  # a failed trial: exit 1 after the summary
    assert "3 trials, 0 already stored, 1 failed, 2 ok" in captured.out
    assert "1 trial failed" in captured.err
    df = store.load(db, "toy").set_index("rep")
    assert len(df) == 3 and df.loc[1, "status"] == "failed" and (df.loc[[0, 2], "status"] == "ok").all()
    assert df.loc[1, "error"].startswith("KilledWorker")
    assert "kept dying" in df.loc[1, "traceback"] and "KilledWorker" in df.loc[1, "traceback"]


def test_ctrl_c_stops_the_cluster(cluster):
    proc, _, client = cluster
    client.close()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert "cluster stopped" in proc.stderr.read()
