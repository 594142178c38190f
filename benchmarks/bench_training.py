"""Throughput of the neural training engine (learners.neural), measured in one run.

1. MNIST-sized MLP (784-1024-10, batch 128, Adam, synthetic data in memory):
   samples/s of ``learners.neural.train`` vs a minimal hand-written PyTorch
   loop training the same model. Goal: ratio >= 0.95.
2. K = 32 seeds of a 20-64-2 MLP on 1,000 samples for 100 epochs:
   ``train_batched`` vs 32 sequential ``train`` runs. Goal: >= 5x faster.
3. Achieved GFLOP/s of case 1 (6 · parameters · samples for forward and
   backward) vs the peak of a large ``torch.mm`` measured in the same run.
   Goal: >= 50 %.

Timings are interleaved (engine, loop, engine, loop, ...) so that load from
other processes hits both sides alike, and each side is summarised by its
fastest timing (other load only ever adds time).

    python benchmarks/bench_training.py            # full run, writes benchmarks/RESULTS.md
    python benchmarks/bench_training.py --quick    # small sizes, writes nothing unless --results
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from benchlib import DEFAULT_RESULTS, machine, publish
from torch import nn

from learners.neural import MLP, BatchedMLP, train, train_batched

SECTION = "## bench_training"


@dataclass(frozen=True)
class Sizes:
    mnist_rows: int  # rows of the synthetic MNIST-sized data set (one epoch per timing)
    repeats: int  # interleaved timings per side in case 1
    seeds: int  # K in case 2
    seed_epochs: int
    seed_repeats: int
    mm_size: int  # n of the n×n torch.mm giving the peak


FULL = Sizes(mnist_rows=12_800, repeats=7, seeds=32, seed_epochs=100, seed_repeats=2, mm_size=2048)
QUICK = Sizes(mnist_rows=384, repeats=1, seeds=3, seed_epochs=2, seed_repeats=1, mm_size=256)


def synthetic(rows: int, features: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian inputs labelled by a random linear teacher (float32, in memory)."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(rows, features, generator=generator)
    teacher = torch.randn(features, classes, generator=generator)
    return X, (X @ teacher).argmax(1)


# --------------------------------------------------------------- case 1
def hand_written_loop(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> None:
    """The baseline: the shortest correct PyTorch training loop for one epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    permutation = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    for start in range(0, len(X), batch_size):
        rows = permutation[start:start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(X[rows]), y[rows]).backward()
        optimizer.step()


def mnist_mlp() -> MLP:
    return MLP(784, 10, width=1024, depth=2, activation="relu", bias=True, init="torch-default", seed=1)


def plain_copy(model: MLP) -> nn.Module:
    """The same network as ordinary PyTorch layers (weights copied, no RNG used)."""
    layers = [nn.utils.skip_init(nn.Linear, 784, 1024), nn.ReLU(), nn.utils.skip_init(nn.Linear, 1024, 10)]
    plain = nn.Sequential(*layers)
    plain.load_state_dict({"0.weight": model.layers[0].weight, "0.bias": model.layers[0].bias,
                           "2.weight": model.layers[1].weight, "2.bias": model.layers[1].bias})
    return plain


def time_call(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mnist_case(sizes: Sizes) -> dict:
    X, y = synthetic(sizes.mnist_rows, 784, 10, seed=0)
    batch_size = 128

    def engine(model: MLP) -> None:
        result = train(model, "adam", X, y, order_seed=2, epochs=1, batch_size=batch_size, loss="cross_entropy")
        assert result.status == "ok"

    def loop(model: nn.Module) -> None:
        hand_written_loop(model, X, y, batch_size, seed=2)

    engine(mnist_mlp()), loop(plain_copy(mnist_mlp()))  # warm-up: allocator, kernels
    engine_times, loop_times = [], []
    for _ in range(sizes.repeats):
        engine_times.append(time_call(engine, mnist_mlp()))
        loop_times.append(time_call(loop, plain_copy(mnist_mlp())))
    engine_rate = len(X) / min(engine_times)
    loop_rate = len(X) / min(loop_times)
    parameters = 784 * 1024 + 1024 + 1024 * 10 + 10
    # What autograd really computes per sample: forward and weight gradients for both
    # weight matrices, input gradient for the second only (the data need none).
    executed = 2 * (784 * 1024 + 1024 * 10) * 2 + 2 * 1024 * 10
    return dict(engine_rate=engine_rate, loop_rate=loop_rate, ratio=engine_rate / loop_rate,
                parameters=parameters, engine_gflops=6 * parameters * engine_rate / 1e9,
                executed_gflops=executed * engine_rate / 1e9)


# --------------------------------------------------------------- case 2
def seeds_case(sizes: Sizes) -> dict:
    X, y = synthetic(1_000, 20, 2, seed=3)
    seeds = list(range(sizes.seeds))
    options = dict(epochs=sizes.seed_epochs, batch_size=128, loss="cross_entropy")

    def batched(model: BatchedMLP) -> None:
        result = train_batched(model, "adam", X, y, order_seed=seeds, **options)
        assert result.batched and all(s == "ok" for s in result.statuses)

    def sequential(models: list[MLP]) -> None:
        for seed, model in zip(seeds, models):
            assert train(model, "adam", X, y, order_seed=seed, **options).status == "ok"

    def members() -> list[MLP]:
        return [MLP(20, 2, width=64, depth=2, seed=seed, init="gaussian") for seed in seeds]

    batched_times, sequential_times = [], []
    for _ in range(sizes.seed_repeats):
        batched_times.append(time_call(batched, BatchedMLP.from_members(members())))
        sequential_times.append(time_call(sequential, members()))
    batched_time, sequential_time = min(batched_times), min(sequential_times)
    return dict(batched_time=batched_time, sequential_time=sequential_time,
                speedup=sequential_time / batched_time)


# --------------------------------------------------------------- case 3
def matmul_peak(n: int, repeats: int = 10) -> float:
    """Best GFLOP/s of an n×n float32 torch.mm (2n³ flops)."""
    generator = torch.Generator().manual_seed(4)
    a, b = torch.randn(n, n, generator=generator), torch.randn(n, n, generator=generator)
    torch.mm(a, b)
    return max(2 * n ** 3 / time_call(lambda: torch.mm(a, b)) / 1e9 for _ in range(repeats))


# --------------------------------------------------------------- report
def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("case", "measured", "goal", "met")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def run(sizes: Sizes) -> tuple[list[tuple[str, str, str, str]], dict]:
    load_before = machine()["load"]
    # The peak is measured before, between and after the cases and the best kept, so a
    # burst of load from other processes during one measurement cannot lower it.
    progress("case 3: peak of torch.mm")
    peaks = [matmul_peak(sizes.mm_size)]
    progress("case 1: engine vs hand-written loop")
    mnist = mnist_case(sizes)
    peaks.append(matmul_peak(sizes.mm_size))
    progress("case 2: batched vs sequential seeds")
    seeds = seeds_case(sizes)
    peaks.append(matmul_peak(sizes.mm_size))
    peak = max(peaks)
    info = machine() | {"load_before": load_before, "peak_gflops": peak,
                        "executed_gflops": mnist["executed_gflops"]}
    fraction = mnist["engine_gflops"] / peak
    rows = [
        ("1. 784-1024-10 Adam, engine vs hand-written loop",
         f"{mnist['engine_rate']:,.0f} vs {mnist['loop_rate']:,.0f} samples/s = {mnist['ratio']:.3f}",
         ">= 0.95", "yes" if mnist["ratio"] >= 0.95 else "no"),
        (f"2. K={sizes.seeds} seeds 20-64-2, {sizes.seed_epochs} epochs, batched vs sequential",
         f"{seeds['batched_time']:.2f} s vs {seeds['sequential_time']:.2f} s = {seeds['speedup']:.1f}x",
         ">= 5x", "yes" if seeds["speedup"] >= 5 else "no"),
        (f"3. case 1 GFLOP/s vs peak of {sizes.mm_size}x{sizes.mm_size} torch.mm",
         f"{mnist['engine_gflops']:.1f} vs {peak:.1f} GFLOP/s = {100 * fraction:.0f} %",
         ">= 50 %", "yes" if fraction >= 0.5 else "no"),
    ]
    return rows, info


def section(rows, info, sizes: Sizes, quick: bool) -> str:
    return "\n".join([
        SECTION,
        "",
        f"`python benchmarks/bench_training.py{' --quick' if quick else ''}` on {time.strftime('%Y-%m-%d %H:%M')}: "
        f"{info['cpu']}, {info['cores']} cores, torch {info['torch']} with {info['threads']} threads; "
        f"load average (1, 5, 15 min) {info['load_before']} before and {info['load']} after.",
        f"Case 1 trains one epoch of {sizes.mnist_rows:,} synthetic rows per timing, {sizes.repeats} interleaved "
        f"timings per side; case 2 uses Adam, batch 128, {sizes.seed_repeats} interleaved timings per side; "
        "each side's fastest timing is reported. Case 3 counts 6 · parameters · samples as asked; autograd "
        "skips the gradient with respect to the data, so the arithmetic actually done is "
        f"{info['executed_gflops']:.1f} GFLOP/s ({100 * info['executed_gflops'] / info['peak_gflops']:.0f} % of the peak).",
        "",
        table(rows),
        "",
    ])


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test, not a measurement)")
    parser.add_argument("--results", type=Path, default=None,
                        help=f"file whose '{SECTION}' section is rewritten (default: {DEFAULT_RESULTS} "
                             "for full runs, none for --quick)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rows, info = run(sizes)
    text = section(rows, info, sizes, args.quick)
    return publish(text, SECTION, args.results, args.quick)


if __name__ == "__main__":
    main()
