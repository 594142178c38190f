"""``symbench cluster local --workers N``: a Dask cluster on this machine, for ``--backend dask``.

Starts a ``dask.distributed.LocalCluster`` of N worker processes (one thread
each) on 127.0.0.1, prints the scheduler's address on the first line of stdout
(``tcp://127.0.0.1:PORT``), and serves until Ctrl-C (or SIGTERM). Point runs at
it with ``symbench run STUDY --backend dask --scheduler tcp://127.0.0.1:PORT``;
several runs may share it. Workers import studies by name, so a study given by
import path must be importable where the cluster was started (its folder on
PYTHONPATH).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def add_arguments(sub) -> None:
    cluster = sub.add_parser("cluster", help="start a Dask cluster for --backend dask")
    kinds = cluster.add_subparsers(dest="cluster_command", required=True)
    local = kinds.add_parser("local", help="a local cluster on 127.0.0.1; prints its address, serves until Ctrl-C")
    local.add_argument("--workers", type=int, default=2, help="worker processes, one thread each (default: %(default)s)")
    local.add_argument("--port", type=int, default=0, help="the scheduler's port (default: any free one)")
    local.set_defaults(func=cmd_cluster)


def cmd_cluster(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    from studies.backends.dask_cluster import start_local_cluster
    from studies.errors import ClusterError

    if args.workers < 1:
        raise ClusterError(f"--workers must be at least 1, got {args.workers}")
    if not 0 <= args.port < 65536:
        raise ClusterError(f"--port must be in 0..65535 (0: any free port), got {args.port}")
    stop = stop or threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        cluster = start_local_cluster(args.workers, port=args.port)
    except OSError as exc:  # e.g. the port is taken
        raise ClusterError(f"cannot start a local cluster on 127.0.0.1:{args.port} ({exc})") from None
    try:
        print(cluster.scheduler_address, flush=True)
        print(f"symbench: a Dask cluster of {args.workers} worker{'s' if args.workers > 1 else ''} serves at "
              f"{cluster.scheduler_address}; run `symbench run STUDY --backend dask --scheduler "
              f"{cluster.scheduler_address}`; Ctrl-C stops it", file=sys.stderr, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        cluster.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("symbench: cluster stopped", file=sys.stderr, flush=True)
    return 0
