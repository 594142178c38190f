"""The ``symbench`` command.

    symbench run STUDY [--quick] [--db PATH] [--jobs N] [--config FILE.toml] [--set key=value ...]
                       [--backend local|dask] [--scheduler tcp://HOST:PORT] [--retry-failed]
    symbench report [--db PATH] [--out DIR] [--study NAME]
    symbench list [studies|groups|learners|optimizers|datasets|families]
    symbench check SPEC [--groups ...] [--seeds K] [--format table|json|markdown]
    symbench data download NAME --data-dir DIR
    symbench cluster local [--workers N]
    symbench --debug COMMAND ...          (tracebacks for every error)

Exit status: 0 done; 1 a bug (with its traceback), or a run in which a trial
failed (after its summary); 2 bad input: an unknown study, key, value or name,
a bad data file, database or scheduler address -- one line on stderr naming
what is wrong and what is accepted, before anything is written. Bad input is a
``studies.errors.SymbenchError`` or a ``ValueError`` (what the packages below
``studies`` raise); anything else is a bug.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path
from typing import Callable, Sequence

from studies import store

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump) with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _catalogues() -> dict[str, Callable[[], dict[str, str]]]:
    def lazy(module: str, attr: str = "describe") -> Callable[[], dict[str, str]]:
        return lambda: getattr(importlib.import_module(module), attr)()

    return {
        "studies": lazy("studies.registry"),
        "groups": lazy("invariance.groups"),
        "learners": lazy("learners.catalog"),
        "optimizers": lazy("optimizers"),
        "datasets": lazy("studies.datasets"),
        "families": lazy("studies.families"),
    }


def _note(line: str) -> None:
    print(f"symbench: note: {line}", file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from studies.runner import run_study

    summary = run_study(args.study, quick=args.quick, config_file=args.config, assignments=args.set or [],
                        db=args.db, jobs=args.jobs, progress=not args.no_progress, backend=args.backend,
                        scheduler=args.scheduler, scheduler_timeout=args.scheduler_timeout,
                        retry_failed=args.retry_failed, echo=_note)
    print(summary.line())
    if summary.failed:
        sys.stderr.write(
            f"symbench: {summary.failed} trial{'s' if summary.failed > 1 else ''} failed; their tracebacks: "
            f"studies.store.load({str(summary.db)!r}, {summary.study!r}, status='failed').traceback "
            "(rerun with --retry-failed to run them again)\n")
        return EXIT_FAILED
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from reports import build

    db = Path(args.db)
    store.studies_in(db)  # read-only: a missing file or one that is not a results database is one line
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise store.StoreError(f"{args.out}: cannot create the report folder ({exc.strerror or exc})") from None
    for path in build(db=db, out=args.out, study=args.study):
        print(path)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    catalogues = _catalogues()
    kinds = [args.kind] if args.kind else list(catalogues)
    for kind in kinds:
        entries = catalogues[kind]()
        if len(kinds) > 1:
            print(f"{kind}:")
        width = max((len(n) for n in entries), default=0)
        for name, text in entries.items():
            print(f"{'  ' if len(kinds) > 1 else ''}{name:<{width}}  {text}")
    return EXIT_OK


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from studies.backends import BACKENDS

    parser = _Parser(prog="symbench", description="Measure the symmetries of learning algorithms.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run (or resume) a study")
    run.add_argument("study")
    run.add_argument("--quick", action="store_true", help="a reduced version (at most 2 minutes on 2 cores)")
    run.add_argument("--db", default=str(store.DEFAULT_DB), help="results database (default: %(default)s)")
    run.add_argument("--jobs", type=int, default=None,
                     help="worker processes (default: 2 or the cores; with --backend dask and no --scheduler: "
                          "the local cluster's workers)")
    run.add_argument("--config", help="a TOML file of config keys")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key (repeatable)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--backend", choices=list(BACKENDS), default="local",
                     help="where trials run (default: %(default)s)")
    run.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                     help="the Dask scheduler of --backend dask (default: a local cluster for this run)")
    run.add_argument("--scheduler-timeout", type=_positive_seconds, default=10.0, metavar="SECONDS",
                     help="how long to wait for the scheduler to answer (default: %(default)s)")
    run.add_argument("--retry-failed", action="store_true", help="run stored failed trials again")
    run.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="tables and figures from stored results")
    rep.add_argument("--db", default=str(store.DEFAULT_DB))
    rep.add_argument("--out", default="results/reports", help="output folder (default: %(default)s)")
    rep.add_argument("--study", help="only this study")
    rep.set_defaults(func=cmd_report)

    lst = sub.add_parser("list", help="what can be named")
    lst.add_argument("kind", nargs="?", choices=list(_catalogues()))
    lst.set_defaults(func=cmd_list)

    from invariance.cli import add_arguments as add_check
    from studies.cluster import add_arguments as add_cluster
    from studies.datasets.cli import add_arguments as add_data

    add_check(sub)
    check = sub.choices["check"]
    check.set_defaults(func=_divergence_is_expected(check.get_default("func")))
    add_data(sub)
    add_cluster(sub)
    for command in sub.choices.values():  # `symbench run ... --debug` works as well as `symbench --debug run`
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _divergence_is_expected(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``symbench check`` of an algorithm that diverges on the checker's task is not a bug:
    one line saying so and what would work (exit 2)."""

    def run(args: argparse.Namespace) -> int:
        from invariance.algorithms import TrainingDiverged
        from studies.errors import SymbenchError

        try:
            return command(args)
        except TrainingDiverged as exc:
            raise SymbenchError(f"{_one_line(exc)}; accepted: an algorithm that trains the checker's task "
                                "(a smaller learning rate, or --steps 0 to check the initialisation alone)") from exc

    return run


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _headless_figures() -> None:
    """The CLI draws figures into files only: the Agg backend (the report modules leave the
    backend to their caller, so that importing them in a notebook changes nothing)."""
    import matplotlib

    matplotlib.use("Agg")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "run" and args.jobs is not None and args.jobs < 1:
            parser.error(f"argument --jobs: must be at least 1, got {args.jobs}")
    except SystemExit as exc:  # argparse: --help (0) or a bad argument (2)
        return int(exc.code or 0)
    debug = getattr(args, "debug", False)
    _headless_figures()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("symbench: interrupted; rerun the same command to resume\n")
        return 130
    except ValueError as exc:
        # studies.errors.SymbenchError (config, store, dataset, cluster, ...) and the
        # ValueErrors of the packages below: bad input, one line.
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"symbench: error: {_one_line(exc)}\n")
        return EXIT_BAD_INPUT
    except Exception:  # noqa: BLE001 - a bug: its traceback, exit 1
        traceback.print_exc()
        sys.stderr.write("symbench: internal error (the traceback above); please report it\n")
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
