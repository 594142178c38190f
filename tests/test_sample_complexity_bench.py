"""Smoke test of benchmarks/bench_sample_complexity.py in its --quick mode (the full run is recorded in RESULTS.md)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_sample_complexity.py"


def test_quick_benchmark_times_both_sides_and_rewrites_only_its_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## other_bench\n\nkept\n\n## bench_sample_complexity\n\nstale\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--sample", "1", "--jobs", "1",
                           "--results", str(results)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    text = results.read_text()
    assert "kept" in text and "stale" not in text and text.count("## bench_sample_complexity") == 1
    assert "plain sequential loop" in text and "speed-up" in text and "cores" in text
    assert "hadamard / ridge: at or above the bound (within 3 SE) at 2 of 2 (d, k)" in text
    assert "rotated-hadamard / spindly" in text
    assert "neural part, speed-up on 1 cores" in text and "torch.mm peak" in text
    assert "hadamard / mlp:sgd" in text
