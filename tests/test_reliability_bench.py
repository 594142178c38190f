"""Smoke test of benchmarks/bench_reliability.py (one kill/resume round; the full run, with the
concurrent pairs and the worker losses, is recorded in benchmarks/RESULTS.md and docs/reliability.md)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_reliability.py"


@pytest.mark.slow  # ~20-40 s of process start-ups; tests/test_runner.py kills and resumes in the default run
def test_quick_benchmark_kills_resumes_and_rewrites_only_its_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## other_bench\n\nkept\n\n## bench_reliability\n\nstale\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--pairs", "0", "--losses", "0",
                           "--results", str(results)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    text = results.read_text()
    assert "kept" in text and "stale" not in text and text.count("## bench_reliability") == 1
    assert "**Kill/resume** (1 rounds" in text and "trials lost 0, duplicated 0" in text
    assert "integrity_check after the rerun ok in 1/1" in text
