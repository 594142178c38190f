"""Smoke test of benchmarks/bench_ng2004.py in its --quick mode (the full run is recorded in RESULTS.md)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ng2004.py"


def test_quick_benchmark_times_both_sides_and_rewrites_only_its_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## other_bench\n\nkept\n\n## bench_ng2004\n\nstale\n")
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--sample", "1", "--results", str(results)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    text = results.read_text()
    assert "kept" in text and "stale" not in text and text.count("## bench_ng2004") == 1
    assert "plain scikit-learn loop" in text and "speed-up" in text and "cores" in text
    # the quick run's m* (30-40 trials, 4-5 n) is too coarse for a growth call at level 0.999
    # (measured: L1 undetermined, p = 0.20 [0.13, 0.27]; L2 polynomial, p = 0.89 [0.81, 0.98]):
    # the section states the calls, whatever they are
    assert "m* growth: L1 " in text and "(goal: logarithmic, linear)" in text
