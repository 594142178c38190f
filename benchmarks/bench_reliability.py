"""Crash safety, concurrency and worker loss of the runner, measured (docs/reliability.md quotes it).

* **Kill/resume**: ``symbench run`` of the toy study (60 trials, ``--jobs 2``) killed with
  SIGKILL (the runner and its workers) after a random number of stored rows plus a random
  delay, then rerun: rows at the kill, trials lost, trials duplicated, ``PRAGMA
  integrity_check`` after the kill and after the rerun.
* **Two runs at once**: two ``symbench run`` processes started together on one new
  database: rows stored, duplicates, how the work was shared, integrity.
* **Worker loss**: a sweep on a ``LocalCluster`` of 2 worker processes (127.0.0.1, one
  thread each); one worker busy with a batch is killed with SIGKILL mid-sweep: trials
  stored, stored once, equal to the local backend's numbers, wall time against an
  undisturbed sweep.

    python benchmarks/bench_reliability.py            # 20 kills, 5 concurrent pairs, 5 worker losses
    python benchmarks/bench_reliability.py --quick    # one of each; writes nothing unless --results
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import DEFAULT_RESULTS, load_average, machine_line, publish

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studies import store  # noqa: E402  (after the path: the script runs from benchmarks/)

SECTION = "## bench_reliability"
TOY = "tests.toy_study:STUDY"
TRIALS = 60
RUN = [sys.executable, "-m", "studies.cli", "run", TOY, "--no-progress", "--set", "reps=30"]


def _check(db: Path) -> dict:
    df = store.load(db, "toy")
    return {"rows": len(df), "unique": int(df.trial_key.nunique()), "ok": int((df.status == "ok").sum()),
            "integrity": store.integrity(db)}


def kill_and_resume(folder: Path, rng: random.Random) -> dict:
    db = folder / "kill.db"
    cmd = RUN + ["--db", str(db), "--jobs", "2", "--set", "sleep=0.02"]
    threshold, delay = rng.randrange(1, 49), rng.uniform(0.0, 0.1)
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while store.count_rows(db) < threshold and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = store.count_rows(db)
    integrity_after_kill = store.integrity(db)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    resumed = re.search(r"(\d+) already stored", done.stdout)
    final = _check(db)
    return {"threshold": threshold, "delay": delay, "killed": killed, "at_kill": at_kill,
            "integrity_after_kill": integrity_after_kill, "rerun_rc": done.returncode,
            "rerun_skipped": int(resumed[1]) if resumed else None, **final,
            "lost": TRIALS - final["unique"], "duplicated": final["rows"] - final["unique"]}


def two_at_once(folder: Path) -> dict:
    db = folder / "pair.db"
    cmd = RUN + ["--db", str(db), "--jobs", "1", "--set", "sleep=0.01"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    shares = [int(m[1]) if (m := re.search(r"already stored, (\d+) ok", out)) else 0 for out in outs]
    final = _check(db)
    return {"rcs": [p.returncode for p in procs], "shares": shares, **final,
            "duplicated": final["rows"] - final["unique"], "lost": TRIALS - final["unique"]}


def worker_loss(folder: Path, address: str, client, kill: bool) -> dict:
    from studies.runner import run_study

    db = folder / f"dask-{'kill' if kill else 'calm'}.db"
    pids = client.run(os.getpid)
    killed: dict = {}

    def killer():
        deadline = time.time() + 60
        while kill and time.time() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy and store.count_rows(db) >= 8:
                killed.update(rows=store.count_rows(db), in_flight=len(client.processing()[busy[0]]))
                os.kill(pids[busy[0]], signal.SIGKILL)
            time.sleep(0.02)

    thread = threading.Thread(target=killer)
    thread.start()
    start = time.perf_counter()
    run_study(TOY, db=db, backend="dask", scheduler=address, progress=False,
              assignments=["reps=30", "sleep=0.1"])
    wall = time.perf_counter() - start
    thread.join()
    client.wait_for_workers(2, timeout=120)
    reference = folder / "local.db"
    if not reference.exists():
        run_study(TOY, db=reference, jobs=1, progress=False, assignments=["reps=30", "sleep=0.1"])
    ours = store.load(db, "toy").set_index("trial_key").sort_index()["value"]
    local = store.load(reference, "toy").set_index("trial_key").sort_index()["value"]
    final = _check(db)
    return {"wall": wall, "killed": bool(killed), **killed, **final, "duplicated": final["rows"] - final["unique"],
            "equal_to_local": bool(ours.index.equals(local.index) and (ours == local).all())}


def section(kills, pairs, losses, calm, quick: bool, loads) -> str:
    lines = [SECTION, "", f"Machine: {machine_line()}; load average {loads[0]} before, {loads[1]} after."
             + (" (--quick smoke run)" if quick else ""), ""]
    if kills:
        killed = [k for k in kills if k["killed"]]
        lines += [
            f"**Kill/resume** ({len(kills)} rounds, toy study, {TRIALS} trials, --jobs 2, SIGKILL of the runner "
            "and its workers): killed mid-run in "
            f"{len(killed)}; rows stored at the kill {min(k['at_kill'] for k in kills)}–"
            f"{max(k['at_kill'] for k in kills)}; integrity_check after the kill ok in "
            f"{sum(k['integrity_after_kill'] == 'ok' for k in kills)}/{len(kills)}; reruns exited 0 in "
            f"{sum(k['rerun_rc'] == 0 for k in kills)}/{len(kills)} and skipped exactly the rows stored at the kill "
            f"in {sum(k['rerun_skipped'] == k['at_kill'] for k in kills)}/{len(kills)}; trials lost "
            f"{sum(k['lost'] for k in kills)}, duplicated {sum(k['duplicated'] for k in kills)}; integrity_check "
            f"after the rerun ok in {sum(k['integrity'] == 'ok' for k in kills)}/{len(kills)}.",
            "",
            "| round | kill after rows | + delay (s) | rows at kill | rerun skipped | final rows | lost | duplicated |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [f"| {i + 1} | {k['threshold']} | {k['delay']:.3f} | {k['at_kill']} | {k['rerun_skipped']} | "
                  f"{k['rows']} | {k['lost']} | {k['duplicated']} |" for i, k in enumerate(kills)]
        lines.append("")
    if pairs:
        lines += [
            f"**Two runs at once** ({len(pairs)} pairs, one new database each, --jobs 1): both exited 0 in "
            f"{sum(p['rcs'] == [0, 0] for p in pairs)}/{len(pairs)}; rows {sorted({p['rows'] for p in pairs})}, "
            f"duplicated {sum(p['duplicated'] for p in pairs)}, lost {sum(p['lost'] for p in pairs)}; "
            f"integrity ok in {sum(p['integrity'] == 'ok' for p in pairs)}/{len(pairs)}; trials stored by "
            f"each run of a pair: {', '.join('/'.join(map(str, p['shares'])) for p in pairs)}.", ""]
    if losses:
        lines += [
            f"**Worker loss** ({len(losses)} rounds, LocalCluster of 2 worker processes, toy study, {TRIALS} "
            "trials in batches of 4, 0.1 s a trial; one busy worker SIGKILLed after ≥ 8 rows): killed mid-sweep "
            f"in {sum(x['killed'] for x in losses)}; sweeps completed with all {TRIALS} trials ok in "
            f"{sum(x['ok'] == TRIALS and x['unique'] == TRIALS for x in losses)}/{len(losses)}; duplicated "
            f"{sum(x['duplicated'] for x in losses)}; equal to the local backend bit for bit in "
            f"{sum(x['equal_to_local'] for x in losses)}/{len(losses)}; wall "
            f"{min(x['wall'] for x in losses):.1f}–{max(x['wall'] for x in losses):.1f} s against "
            f"{min(x['wall'] for x in calm):.1f}–{max(x['wall'] for x in calm):.1f} s undisturbed.", ""]
    return "\n".join(lines)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of each (a smoke run)")
    parser.add_argument("--kills", type=int, default=None, help="kill/resume rounds (default 20; --quick 1)")
    parser.add_argument("--pairs", type=int, default=None, help="concurrent pairs (default 5; --quick 1)")
    parser.add_argument("--losses", type=int, default=None, help="worker-loss rounds (default 5; --quick 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill points (default 0)")
    parser.add_argument("--results", type=Path, default=None,
                        help=f"file whose '{SECTION}' section is rewritten (default: {DEFAULT_RESULTS} "
                             "for full runs, none for --quick)")
    args = parser.parse_args(argv)
    n_kills = args.kills if args.kills is not None else (1 if args.quick else 20)
    n_pairs = args.pairs if args.pairs is not None else (1 if args.quick else 5)
    n_losses = args.losses if args.losses is not None else (1 if args.quick else 5)
    rng = random.Random(args.seed)
    load_before = load_average()
    kills, pairs, losses, calm = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n_kills):
            folder = Path(tmp) / f"kill{i}"
            folder.mkdir()
            kills.append(kill_and_resume(folder, rng))
            print(f"kill {i + 1}/{n_kills}: {kills[-1]}", flush=True)
        for i in range(n_pairs):
            folder = Path(tmp) / f"pair{i}"
            folder.mkdir()
            pairs.append(two_at_once(folder))
            print(f"pair {i + 1}/{n_pairs}: {pairs[-1]}", flush=True)
        if n_losses:
            import distributed

            from studies.backends.dask_cluster import start_local_cluster
            from studies.backends.execute import versions

            cluster = start_local_cluster(2)
            client = distributed.Client(cluster.scheduler_address, set_as_default=False)
            client.run(versions)
            try:
                for i in range(n_losses):
                    folder = Path(tmp) / f"loss{i}"
                    folder.mkdir()
                    calm.append(worker_loss(folder, cluster.scheduler_address, client, kill=False))
                    losses.append(worker_loss(folder, cluster.scheduler_address, client, kill=True))
                    print(f"loss {i + 1}/{n_losses}: {losses[-1]} (undisturbed {calm[-1]['wall']:.1f} s)", flush=True)
            finally:
                client.close()
                cluster.close()
    text = section(kills, pairs, losses, calm, args.quick, (load_before, load_average()))
    return publish(text, SECTION, args.results, args.quick)


if __name__ == "__main__":
    main()
