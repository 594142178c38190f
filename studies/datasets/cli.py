"""``symbench data``: list the datasets and download their official files.

    symbench data list [--data-dir DIR]
    symbench data download NAME [--data-dir DIR] [--base-url URL] [--no-progress]

``add_arguments(subparsers)`` adds the ``data`` command to symbench's parser;
the chosen sub-command's ``func`` (:func:`handle`) returns the exit code:
0 ok, 1 network failure (rerun to resume), 2 bad input, bad data or an unwritable
folder (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from studies.datasets.download import DOWNLOADS, download
from studies.datasets.download import describe as describe_downloads
from studies.datasets.errors import DatasetError, DownloadError
from studies.datasets.registry import DATASETS, available
from studies.datasets.sources import DATA_ENV

EXIT_OK, EXIT_NETWORK, EXIT_BAD_INPUT = 0, 1, 2


def add_arguments(subparsers) -> argparse.ArgumentParser:
    """Add ``data list`` and ``data download`` to an ``add_subparsers()`` object; returns the ``data`` parser."""
    data = subparsers.add_parser("data", help="list datasets, download their official files")
    commands = data.add_subparsers(dest="data_command", required=True)

    listing = commands.add_parser("list", help="the datasets, whether their files are found, and the downloads")
    listing.add_argument("--data-dir", help=f"data folder (default: ${DATA_ENV})")
    listing.set_defaults(func=handle)

    fetch = commands.add_parser("download", help="download, verify (md5) and extract official dataset files")
    fetch.add_argument("name", metavar="NAME", help=f"one of: {', '.join(DOWNLOADS)}")
    fetch.add_argument("--data-dir", help=f"data folder to write into (default: ${DATA_ENV})")
    fetch.add_argument("--base-url", help="fetch BASE_URL/FILENAME instead of the official locations (a mirror)")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    fetch.set_defaults(func=handle)
    return data


def handle(args: argparse.Namespace) -> int:
    """Run ``data list`` or ``data download``; errors are one line on stderr."""
    try:
        if args.data_command == "download":
            return _download(args)
        return _list(args)
    except DatasetError as exc:
        return _fail(exc, EXIT_BAD_INPUT)
    except DownloadError as exc:
        return _fail(exc, EXIT_NETWORK)
    except OSError as exc:  # e.g. a data folder that cannot be written
        return _fail(exc, EXIT_BAD_INPUT)


def _fail(exc: Exception, code: int) -> int:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    sys.stderr.write(f"symbench data: error: {message}\n")
    return code


def _data_dir(args: argparse.Namespace) -> str | None:
    return args.data_dir or os.environ.get(DATA_ENV) or None


def _download(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    if args.name not in DOWNLOADS:
        raise DatasetError(f"unknown download {args.name!r}; accepted: {', '.join(DOWNLOADS)}")
    if data_dir is None:
        raise DatasetError(f"no data folder: pass --data-dir DIR or set ${DATA_ENV}")
    for path in download(args.name, data_dir, base_url=args.base_url, progress=not args.no_progress):
        print(path)
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    width = max(map(len, [*DATASETS, *DOWNLOADS]))
    print(f"datasets (data folder: {data_dir or f'none; pass --data-dir or set ${DATA_ENV}'}):")
    for name, spec in DATASETS.items():
        status = "built in" if not spec.needs_files else "found" if available(name, data_dir) else "not found"
        print(f"  {name:<{width}}  {status:<9}  {spec.description}")
    print("downloads (symbench data download NAME --data-dir DIR):")
    for name, description in describe_downloads().items():
        print(f"  {name:<{width}}  {description}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m studies.datasets.cli data …`` without the rest of symbench."""
    parser = argparse.ArgumentParser(prog="symbench")
    add_arguments(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
