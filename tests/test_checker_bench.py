"""Smoke test of benchmarks/bench_check.py in its --quick mode."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_check.py"


def test_quick_benchmark_prints_its_table_and_rewrites_only_its_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## other_bench\n\nkept\n\n## bench_check\n\nstale\n\n"
                       "## last\n\nalso kept\n")
    run = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--results", str(results)],
                         capture_output=True, text=True, timeout=180, check=True)
    assert "| median wall time |" in run.stdout and "QUICK MODE" in run.stdout
    text = results.read_text()
    assert "## other_bench\n\nkept\n" in text and "## last\n\nalso kept\n" in text and "stale" not in text
    assert text.count("## bench_check") == 1 and "load average" in text and "cores" in text
