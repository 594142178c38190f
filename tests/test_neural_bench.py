"""Smoke test of benchmarks/bench_training.py in its --quick mode."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_training.py"


def test_quick_benchmark_prints_its_table_and_rewrites_only_its_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## other_bench\n\nkept\n\n## bench_training\n\nstale\n")
    run = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--results", str(results)],
                         capture_output=True, text=True, timeout=120, check=True)
    assert "| case | measured | goal | met |" in run.stdout
    for case in ("1. 784-1024-10 Adam", "2. K=3 seeds", "3. case 1 GFLOP/s"):
        assert case in run.stdout
    text = results.read_text()
    assert "## other_bench\n\nkept\n" in text and "stale" not in text
    assert text.count("## bench_training") == 1 and "torch " in text and "samples/s" in text
