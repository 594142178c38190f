"""Smoke test of benchmarks/bench_sample_neural.py: a tiny configuration runs and reports both figures."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_neural_benchmark_runs_and_reports_speed_up_and_gflops():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_sample_neural.py"), "--trials", "2",
                          "--n", "4", "--m", "20", "--width", "4", "--steps", "3", "--eval-every", "2", "--peak-size", "128"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "plain loop" in out.stdout and "torch.mm peak" in out.stdout
