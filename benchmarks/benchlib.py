"""What every benchmark script shares: the machine's description and the
rewriting of its own section of ``benchmarks/RESULTS.md``."""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
from pathlib import Path

DEFAULT_RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_model() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return re.search(r"Model name:\s*(.+)", lscpu).group(1).strip()
    except (OSError, subprocess.CalledProcessError, AttributeError):
        return platform.processor() or "unknown CPU"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> dict:
    import torch

    return dict(cpu=cpu_model(), cores=os.cpu_count(), python=platform.python_version(), torch=torch.__version__,
                threads=torch.get_num_threads(), system=f"{platform.system()} {platform.release()}",
                load=load_average())


def machine_line() -> str:
    m = machine()
    return (f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, torch {m['torch']} "
            f"({m['threads']} threads), {m['system']}")


def mm_peak(size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the best of ``repeats`` float32 ``size`` × ``size`` ``torch.mm`` calls, on the
    current torch thread count: the machine's practical matmul peak, measured in the same run."""
    import time

    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def mlp_row_flops(dims) -> tuple[int, int]:
    """(forward, backward) floating-point operations per row of an MLP with layer sizes ``dims``
    (input first): 2 per multiply-add forward; backward the weight gradients (as many) and the
    input gradient of every layer but the first (nobody asks for the data's)."""
    macs = [a * b for a, b in zip(dims, dims[1:])]
    return 2 * sum(macs), 2 * sum(macs) + 2 * sum(macs[1:])


def write_section(path: Path, section: str, text: str) -> None:
    """Replace the ``section`` heading's part of ``path`` by ``text`` (or append it), keeping the others."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def publish(text: str, section: str, results: Path | None, quick: bool) -> str:
    """Print a benchmark's section and write it to ``results`` (default: RESULTS.md
    for a full run; a ``--quick`` smoke run writes nowhere unless asked)."""
    print(text)
    target = results if results is not None else (None if quick else DEFAULT_RESULTS)
    if target is not None:
        write_section(target, section, text)
    return text


def study_benchmark_arguments(section: str, description: str, quick_help: str, per: str):
    """The parser every benchmark of a study against a plain loop shares: --quick, --sample
    (plain-loop trials timed per ``per``), --jobs and --results; ``parse_study_benchmark`` checks them."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--sample", type=int, default=2, help=f"plain-loop trials timed per {per} (default 2)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for our side (default 2)")
    parser.add_argument("--results", type=Path, default=None,
                        help=f"file whose '{section}' section is rewritten (default: {DEFAULT_RESULTS} "
                             "for full runs, none for --quick)")
    return parser


def parse_study_benchmark(parser, argv=None):
    args = parser.parse_args(argv)
    if args.sample < 1:
        parser.error(f"--sample must be at least 1, got {args.sample}")
    return args
