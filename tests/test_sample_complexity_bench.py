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


def test_the_plain_mlp_loop_runs_the_trainings_the_batched_learner_runs():
    """The benchmark's baseline is the same work: per trial, the plain loop's steps equal the
    steps the batched members of that trial trained (same early stopping, float64)."""
    import importlib.util

    import torch

    import learners.sample.mlp as mlp_module
    from learners import sample

    spec = importlib.util.spec_from_file_location("bench_sample_complexity", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(SCRIPT.parent))
    learner = sample.make("mlp:sgd", width=6, grid=[0.3, 1.0, 3.0], steps=40, eval_every=4, patience=2,
                          dtype="float64")
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2, 30, 5, generator=g, dtype=torch.float64)
    y = (X[..., 0] > 0).double()
    results = []
    original = mlp_module.train_full_batch
    mlp_module.train_full_batch = lambda *a, **k: results.append(original(*a, **k)) or results[-1]
    try:
        learner.fit(X, y, "classification", seed=[11, 12])
    finally:
        mlp_module.train_full_batch = original
    steps = results[0].steps.reshape(3, 2)   # members ℓ·T + t
    for t, seed in enumerate([11, 12]):
        work = bench.plain_mlp(learner, X[t].numpy(), y[t].numpy(), "classification", seed)
        assert work["steps"] == steps[:, t].sum(), f"trial {t}: plain loop {work['steps']} steps, batched {steps[:, t]}"
    assert bench.mlp_flops(learner, 5, 30, {"steps": 1, "evaluations": 0}) == 21 * (4 * (5 * 6 + 6) + 2 * 6)
