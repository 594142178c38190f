"""Smoke test of benchmarks/bench_checker_errors.py in its --quick mode (the full
measurement is in benchmarks/RESULTS.md and docs/CHECKER.md)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_checker_errors.py"


def test_quick_benchmark_counts_verdicts_and_rewrites_only_its_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## other_bench\n\nkept\n\n## bench_checker_errors\n\nstale\n")
    run = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--results", str(results)],
                         capture_output=True, text=True, timeout=300, check=True)
    assert "QUICK MODE" in run.stdout and "| any false `not_equivariant`" in run.stdout
    assert "| power: `adam` called `not_equivariant` under orthogonal | 1 |" in run.stdout
    text = results.read_text()
    assert "## other_bench\n\nkept\n" in text and "stale" not in text and text.count("## bench_checker_errors") == 1
