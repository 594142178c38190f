"""The ``symbench`` command.

    symbench run STUDY [--quick] [--db PATH] [--jobs N] [--config FILE.toml] [--set key=value ...]
    symbench report [--db PATH] [--out DIR] [--study NAME]
    symbench list [studies|groups|learners|optimizers|datasets|families]
    symbench check SPEC [--groups ...] [--seeds K] [--format table|json|markdown]
    symbench data download NAME --data-dir DIR

Bad input (unknown study, key, value, name) gives one line on stderr naming what
is accepted and exit code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import Callable, Sequence

from studies import store

EXIT_BAD_INPUT = 2


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


def cmd_run(args: argparse.Namespace) -> int:
    from studies.runner import run_study

    summary = run_study(args.study, quick=args.quick, config_file=args.config, assignments=args.set or [],
                        db=args.db, jobs=args.jobs, progress=not args.no_progress)
    print(summary.line())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from reports import build

    for path in build(db=args.db, out=args.out, study=args.study):
        print(path)
    return 0


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
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbench", description="Measure the symmetries of learning algorithms.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run (or resume) a study")
    run.add_argument("study")
    run.add_argument("--quick", action="store_true", help="a reduced version (at most 2 minutes on 2 cores)")
    run.add_argument("--db", default=str(store.DEFAULT_DB), help="results database (default: %(default)s)")
    run.add_argument("--jobs", type=int, default=None, help="worker processes (default: 2 or the cores)")
    run.add_argument("--config", help="a TOML file of config keys")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key (repeatable)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
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
    from studies.datasets.cli import add_arguments as add_data

    add_check(sub)
    add_data(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "run" and args.jobs is not None and args.jobs < 1:
            parser.error(f"argument --jobs: must be at least 1, got {args.jobs}")
    except SystemExit as exc:  # argparse: --help (0) or a bad argument (2)
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("symbench: interrupted; rerun the same command to resume\n")
        return 130
    except (ValueError, LookupError, OSError, RuntimeError) as exc:
        # Config, name, data and store errors are bad input: one line, exit 2.
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"symbench: error: {message}\n")
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
