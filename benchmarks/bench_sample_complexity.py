"""Wall time of the default ``sample_complexity`` study against a plain sequential loop over the same fits.

* **Ours**: ``studies.runner.run_study("sample_complexity")`` into a fresh database with two
  worker processes (one BLAS/torch thread each): data, the batched fits of every
  (family, learner, n, m) cell (one ``learner.fit`` on (T, m, n) tensors, the whole
  hyperparameter grid and its hold-out selection inside), and the exact risks.
* **Plain loop**: the same fits written the obvious way, one trial at a time on one core,
  on the same datasets and hyperparameter grids with the same 70/30 hold-out selection:
  l1/l2-logistic one scikit-learn ``LogisticRegression(solver="liblinear")`` per λ (at its
  default tolerance 1e-4, looser than ours), ridge one scikit-learn ``Ridge`` per λ (and
  ``numpy.linalg.lstsq`` at λ = 0), spindly a numpy gradient-descent loop with the learner's
  step size, initialisation and checkpoints. It does not compute risks (the study does). It
  is timed on ``--sample`` trials of every cell and extrapolated cell by cell to the study's
  trial counts (process time, so that other load on the machine does not inflate it).

Goals: the default study within 45 minutes on 2 cores (issue 10; 20 before the neural learners), ≥ 4×
faster than the plain loop overall, and on its neural part ≥ 20× and ≥ 30 % of the torch.mm peak.
Also reported (the issue's Hadamard check): per (d, k), whether ridge's mean risk stays at or
above 1 − k/(d−1) within 3 standard errors, and whether spindly's falls below it.

    python benchmarks/bench_sample_complexity.py            # full run, writes benchmarks/RESULTS.md
    python benchmarks/bench_sample_complexity.py --quick    # a smoke run on a tiny grid; writes nothing
                                                            # unless --results
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
from benchlib import (load_average, machine_line, mlp_row_flops, mm_peak, parse_study_benchmark, publish,
                      study_benchmark_arguments)

SECTION = "## bench_sample_complexity"
STUDY_GOAL_S = 45 * 60  # issue 10: the default study, neural learners included
#: --quick: every learner on a few points of two families and a rotated twin (seconds)
SMOKE = {
    "families": ["ng-one", "hadamard", "rotated-hadamard"],
    "learners": ["l1-logistic", "l2-logistic", "ridge", "spindly", "mlp:sgd", "mlp:adam"],
    "trials": 4,
    "grids": {"ng-one": {"n": [10], "m": [20]}, "hadamard": {"n": [16], "m": [4, 12]},
              "ng-one/mlp": {"n": [8], "m": [40]}, "hadamard/mlp": {"n": [16], "m": [4, 12]},
              "rotated-hadamard/mlp": {"n": [16], "m": [8]}},
    "mlp": {"steps": 20, "eval_every": 5, "patience": 2},
    "check_rotation": False,
}


# ---------------------------------------------------------------------------- the plain loop


def _split(X: np.ndarray, y: np.ndarray, holdout: float):
    from learners.logistic import holdout_size

    n_fit = len(y) - holdout_size(len(y), holdout)
    return X[:n_fit], y[:n_fit], X[n_fit:], y[n_fit:]


def _holdout_metric(scores: np.ndarray, y: np.ndarray, task: str) -> float:
    return float(np.mean((scores > 0) != y)) if task == "classification" else float(np.mean((scores - y) ** 2))


def plain_logistic(learner, X, y, task) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    X_fit, y_fit, X_hold, y_hold = _split(X, y, learner.holdout)
    best, chosen = math.inf, np.zeros(X.shape[1])
    for lam in sorted(learner.lambdas, reverse=True):  # a strict < keeps the larger λ on ties
        if np.unique(y_fit).size < 2:
            break
        model = LogisticRegression(l1_ratio=1.0 if learner.penalty == "l1" else 0.0, C=1.0 / (lam * len(y_fit)),
                                   fit_intercept=False, solver="liblinear", max_iter=1000).fit(X_fit, y_fit)
        value = _holdout_metric(X_hold @ model.coef_[0], y_hold, task)
        if value < best:
            best, chosen = value, model.coef_[0].copy()
    return chosen


def plain_ridge(learner, X, y, task) -> np.ndarray:
    from sklearn.linear_model import Ridge

    X_fit, y_fit, X_hold, y_hold = _split(X, y, learner.holdout)
    target = 2 * y_fit - 1 if task == "classification" else y_fit
    best, chosen = math.inf, np.zeros(X.shape[1])
    for lam in sorted(learner.lambdas, reverse=True):
        if lam > 0:  # (1/m')‖Xw − t‖² + λ‖w‖² is scikit-learn's ‖Xw − t‖² + (m'λ)‖w‖²
            coef = Ridge(alpha=lam * len(y_fit), fit_intercept=False).fit(X_fit, target).coef_
        else:
            coef = np.linalg.lstsq(X_fit, target, rcond=None)[0]
        value = _holdout_metric(X_hold @ coef, y_hold, task)
        if value < best:
            best, chosen = value, coef
    return chosen


def plain_spindly(learner, X, y, task) -> np.ndarray:
    """Gradient descent on f(x) = Σ uᵢvᵢxᵢ, one trial, numpy: the learner's recursion and checkpoints."""
    X_fit, y_fit, X_hold, y_hold = _split(X, y, learner.holdout)
    target = 2 * y_fit - 1 if task == "classification" else y_fit
    m, n = X_fit.shape
    alpha = n ** -0.5 if learner.init_scale is None else learner.init_scale
    eta = learner.lr / max(float((X_fit ** 2).mean(0).max()), np.finfo(float).tiny)
    u = np.full(n, alpha)
    v = u.copy()
    best, chosen, step = math.inf, u * v, 0
    for checkpoint in learner.checkpoints():
        while step < checkpoint:
            g = X_fit.T @ (X_fit @ (u * v) - target) / m
            u, v = u - eta * v * g, v - eta * u * g
            step += 1
        w = u * v
        value = _holdout_metric(X_hold @ w, y_hold, task)
        if value < best * (1 - 1e-12):
            best, chosen = value, w
    return chosen


def plain_mlp(learner, X, y, task, seed) -> dict:
    """An mlp:SPEC trial written the obvious way: each grid value's network alone (``MLP`` from
    the trial's seed, as the batched member), a plain PyTorch loop of full-batch steps, the
    hold-out every ``eval_every`` steps, early stopping with the learner's patience, the best
    (metric, loss) state kept, a non-finite loss ending that network. Returns the steps and
    hold-out evaluations it ran (for the FLOP count)."""
    import torch

    import optimizers
    from learners.neural.models import MLP
    from learners.neural.validation import resolve_dtype

    dtype = resolve_dtype(learner.dtype)
    X_fit, y_fit, X_hold, y_hold = (torch.as_tensor(t, dtype=dtype) for t in _split(X, y, learner.holdout))
    if task == "classification":
        signs, signs_hold = 2 * y_fit - 1, 2 * y_hold - 1
        loss_of = lambda f, s: torch.nn.functional.softplus(-s * f).mean()  # noqa: E731
        metric_of = lambda f, t: float(((f > 0).to(dtype) != t).to(dtype).mean())  # noqa: E731
    else:
        signs, signs_hold = y_fit, y_hold
        loss_of = lambda f, t: (f - t).square().mean()  # noqa: E731
        metric_of = lambda f, t: float((f - t).square().mean())  # noqa: E731
    steps = evaluations = 0
    for spec in learner.step_sizes:
        model = MLP(X.shape[1], 1, width=learner.width, depth=learner.depth, activation=learner.activation,
                    init=learner.init, seed=seed, dtype=dtype)
        optimizer = optimizers.create(spec, model)

        def evaluate():
            with torch.no_grad():
                f = model(X_hold)[:, 0]
                return metric_of(f, y_hold), float(loss_of(f, signs_hold))

        best, kept, waiting = evaluate(), [p.detach().clone() for p in model.parameters()], 0
        evaluations += 1
        for step in range(1, learner.steps + 1):
            loss = loss_of(model(X_fit)[:, 0], signs)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            if not math.isfinite(float(loss.detach())):
                break
            if step % learner.eval_every == 0:
                evaluations += 1
                score = evaluate()
                if score < best:
                    best, kept, waiting = score, [p.detach().clone() for p in model.parameters()], 0
                else:
                    waiting += 1
                    if waiting >= learner.patience:
                        break
        with torch.no_grad():  # the reported model is the kept one
            for p, best_p in zip(model.parameters(), kept):
                p.copy_(best_p)
    return {"steps": steps, "evaluations": evaluations}


def mlp_flops(learner, n: int, m: int, work: dict) -> float:
    """Floating-point operations of ``work`` (steps and hold-out evaluations) on an mlp learner
    (``benchlib.mlp_row_flops`` per row)."""
    from learners.logistic import holdout_size

    forward, backward = mlp_row_flops([n] + [learner.width] * (learner.depth - 1) + [1])
    hold = holdout_size(m, learner.holdout)
    return work["steps"] * (m - hold) * (forward + backward) + work["evaluations"] * hold * forward


PLAIN = {"l1-logistic": plain_logistic, "l2-logistic": plain_logistic, "ridge": plain_ridge, "spindly": plain_spindly}


def plain_loop_estimate(config: dict, sample: int, neural_sample: int) -> dict:
    """Process time of the plain loop, measured on ``sample`` trials per classic cell and
    ``neural_sample`` per neural one, extrapolated; and the neural trainings' FLOPs."""
    from symbench.threads import one_thread

    from studies.sample_complexity import CHECK_FAMILY, STUDY, is_neural

    cells: OrderedDict[tuple, list] = OrderedDict()
    for coords in STUDY.trials(config):
        if coords["family"] != CHECK_FAMILY:
            cells.setdefault(STUDY.batch_key(coords), []).append(coords)
    total, measured_trials, measured_seconds, neural_flops = 0.0, 0, 0.0, 0.0
    by_learner: dict[str, float] = {}
    with one_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear's convergence warnings at small λ
        for key, trials in cells.items():
            family_name, learner_name, n, m = key
            family = STUDY.family(config, family_name)
            learner = STUDY.learner(config, learner_name)
            neural = is_neural(learner_name)
            chosen = trials[:neural_sample if neural else sample]
            X, y = family.sample(n, m, [STUDY.seeds(config, c)[0] for c in chosen])
            X, y = X.numpy(), y.numpy()
            flops = 0.0
            start = time.process_time()
            for t, coords in enumerate(chosen):
                if neural:
                    work = plain_mlp(learner, X[t], y[t], family.task, STUDY.fit_seed(config, coords))
                    flops += mlp_flops(learner, n, m, work)
                else:
                    PLAIN[learner_name](learner, X[t], y[t], family.task)
            seconds = time.process_time() - start
            measured_trials += len(chosen)
            measured_seconds += seconds
            total += seconds / len(chosen) * len(trials)
            neural_flops += flops / len(chosen) * len(trials)
            by_learner[learner_name] = by_learner.get(learner_name, 0.0) + seconds / len(chosen) * len(trials)
    return {"seconds": total, "cells": len(cells), "measured_trials": measured_trials,
            "measured_seconds": measured_seconds, "by_learner": by_learner, "neural_flops": neural_flops}


# ---------------------------------------------------------------------------- ours


def _cpu_seconds() -> float:
    """User + system time of this process and of its children that have been waited for."""
    import resource

    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))


def ours(overrides: dict | None, jobs: int, db: Path | None) -> dict:
    """Our side: wall time, and the CPU time of this process and its workers (the workers are shut
    down and waited for, so that their CPU time is counted: unlike the wall time, it does not grow
    when other processes share the cores)."""
    from joblib.externals.loky import get_reusable_executor

    from studies import store
    from studies.runner import run_study

    with tempfile.TemporaryDirectory() as tmp:
        path = db or Path(tmp) / "bench.db"
        cpu_start = _cpu_seconds()
        start = time.perf_counter()
        summary = run_study("sample_complexity", overrides=overrides, db=path, jobs=jobs, progress=False)
        wall = time.perf_counter() - start
        get_reusable_executor().shutdown(wait=True)
        cpu = _cpu_seconds() - cpu_start
        df = store.load(path, "sample_complexity")
    df = df[df.config_hash == df.config_hash.iloc[-1]] if len(df) else df
    from studies.sample_complexity import CHECK_FAMILY

    trainings = df[df.family != CHECK_FAMILY]
    share = trainings.groupby("learner").duration_s.sum() / df.duration_s.sum() * cpu
    neural = [name for name in share.index if name.startswith("mlp:")]
    unbatched = trainings.learner.isin(neural) & trainings.batched.isin([False])   # classic rows hold NaN
    fallbacks = sorted(trainings[unbatched].learner.unique())
    return {"wall": wall, "cpu": cpu, "worker_wall": float(df.duration_s.sum()), "trials": summary.total,
            "counts": summary.counts, "config": summary.config, "df": df, "by_learner": share.to_dict(),
            "neural_cpu": float(share[neural].sum()), "fallbacks": fallbacks}


def hadamard_check(df) -> list[str]:
    """Per family and (d, k): ridge at or above 1 − k/(d−1) within 3 SE, spindly below it."""
    lines = []
    ok = df[(df.status == "ok") & df.family.isin(["hadamard", "rotated-hadamard"])]
    for (family, learner), part in ok.groupby(["family", "learner"]):
        cells = part.groupby(["n", "m"]).agg(mean=("risk", "mean"), sd=("risk", "std"), count=("risk", "size"),
                                             bound=("bound", "first"))
        se = (cells.sd / np.sqrt(cells["count"])).fillna(0.0)
        above = int((cells["mean"] >= cells.bound - 3 * se).sum())
        below = int((cells["mean"] + 3 * se < cells.bound).sum())
        (d, k) = cells.index[-1]
        lines.append(f"{family} / {learner}: at or above the bound (within 3 SE) at {above} of {len(cells)} (d, k), "
                     f"below it by more than 3 SE at {below}; at d = {d}, k = {k}: mean risk "
                     f"{cells['mean'].iloc[-1]:.4f}, bound {cells.bound.iloc[-1]:.4f}")
    return lines


def neural_rows(result: dict, plain: dict, peak: float, jobs: int) -> list[tuple[str, str, str, str]]:
    """The neural part (issue 10): speed-up on ``jobs`` cores and GFLOP/s per core against the peak."""
    cpu = result["neural_cpu"]
    plain_s = sum(v for k, v in plain["by_learner"].items() if k.startswith("mlp:"))
    if not cpu or not plain_s:
        return []
    speedup, gflops = plain_s / (cpu / jobs), plain["neural_flops"] / cpu / 1e9
    fallbacks = ", ".join(result["fallbacks"]) or "none"
    return [
        ("neural part, ours: CPU time (its share of worker time)", f"{cpu:.0f} s, i.e. {cpu / jobs:.0f} s on {jobs} "
         "cores", "", ""),
        ("neural part, plain sequential PyTorch loop (1 core, process time, extrapolated)", f"{plain_s:.0f} s", "", ""),
        (f"neural part, speed-up on {jobs} cores", f"{speedup:.1f}x (per core: {plain_s / cpu:.1f}x)", ">= 20x",
         "yes" if speedup >= 20 else "no"),
        ("neural part, GFLOP/s per core (the plain loop's trainings / our CPU time) vs 1-thread torch.mm peak",
         f"{gflops:.1f} of {peak:.1f} = {100 * gflops / peak:.0f} %", ">= 30 %",
         "yes" if gflops >= 0.3 * peak else "no"),
        ("neural learners that fell back to one-by-one training", fallbacks, "", ""),
    ]


def section(result: dict, plain: dict, quick: bool, sample: int, load: tuple[str, str], jobs: int,
            peak: float) -> str:
    cores_wall = result["cpu"] / jobs   # our wall time on `jobs` cores of our own (perfect balance)
    rows = [
        ("whole study, ours: wall time as measured", f"{result['wall']:.0f} s ({result['worker_wall']:.0f} s of "
         "worker wall time)", "" if quick else f"<= {STUDY_GOAL_S} s",
         "" if quick else ("yes" if result["wall"] <= STUDY_GOAL_S else "no")),
        ("whole study, ours: CPU time (parent + workers)", f"{result['cpu']:.0f} s, i.e. {cores_wall:.0f} s on "
         f"{jobs} cores of our own", "" if quick else f"<= {STUDY_GOAL_S} s",
         "" if quick else ("yes" if cores_wall <= STUDY_GOAL_S else "no")),
        ("plain sequential loop (1 core, process time, extrapolated)", f"{plain['seconds']:.0f} s", "", ""),
        ("speed-up on the measured wall time", f"{plain['seconds'] / result['wall']:.1f}x", ">= 4x",
         "yes" if plain["seconds"] / result["wall"] >= 4 else "no"),
        (f"speed-up on {jobs} cores of our own (CPU time / {jobs})", f"{plain['seconds'] / cores_wall:.1f}x "
         f"(per core: {plain['seconds'] / result['cpu']:.1f}x)", ">= 4x",
         "yes" if plain["seconds"] / cores_wall >= 4 else "no"),
        *neural_rows(result, plain, peak, jobs),
    ]
    table = ["| case | measured | goal | met |", "|---|---|---|---|"] + [f"| {' | '.join(r)} |" for r in rows]
    learners = ["| learner | ours, CPU s (by its share of worker time) | plain loop, CPU s | per-core speed-up |",
                "|---|---|---|---|"]
    for name in result["config"]["learners"]:
        mine, theirs = result["by_learner"].get(name, 0.0), plain["by_learner"].get(name, 0.0)
        learners.append(f"| {name} | {mine:.0f} | {theirs:.0f} | {theirs / mine if mine else float('nan'):.1f}x |")
    counts = ", ".join(f"{v} {k}" for k, v in sorted(result["counts"].items()))
    return "\n".join([
        SECTION,
        "",
        (f"`python benchmarks/bench_sample_complexity.py{' --quick' if quick else ''}` on "
         f"{time.strftime('%Y-%m-%d %H:%M')}: {machine_line()}; load average (1, 5, 15 min) {load[0]} before and "
         f"{load[1]} after. Other processes shared the cores: a load above 2 inflates our wall time (and the "
         "workers' wall time per trial), not CPU times; the CPU rows compare like with like."),
        (f"{'A smoke run (tiny grid)' if quick else 'The full default study'}: {result['trials']:,} trials "
         f"({counts}), families {', '.join(result['config']['families'])}; learners "
         f"{', '.join(result['config']['learners'])}. The plain loop was timed on {plain['measured_trials']} trials "
         f"({sample} per cell, {plain['cells']} cells, {plain['measured_seconds']:.0f} s of process time) and "
         "extrapolated to all of them."),
        "",
        *table,
        "",
        *learners,
        "",
        "Hadamard (issue 9's check, 3 standard errors):",
        "",
        "```",
        *hadamard_check(result["df"]),
        "```",
        "",
    ])


def main(argv=None) -> str:
    parser = study_benchmark_arguments(SECTION, __doc__.splitlines()[0], "a smoke run on a tiny grid (seconds)",
                                       "cell")
    parser.add_argument("--db", type=Path, default=None,
                        help="keep our side's database here (default: a temporary one)")
    parser.add_argument("--neural-sample", type=int, default=1,
                        help="plain-loop trials timed per neural cell (default 1: each costs grid × steps trainings)")
    args = parse_study_benchmark(parser, argv)
    if args.neural_sample < 1:
        parser.error(f"--neural-sample must be at least 1, got {args.neural_sample}")
    from symbench.threads import one_thread

    if args.db is not None and args.db.exists():
        parser.error(f"--db {args.db} exists: the benchmark times a run from scratch")
    load_before = load_average()
    print("timing the study through the runner ...", flush=True)
    result = ours(SMOKE if args.quick else None, args.jobs, args.db)
    load_after = load_average()
    print(f"  {result['wall']:.1f} s; timing the plain loop on a sample ...", flush=True)
    plain = plain_loop_estimate(result["config"], args.sample, args.neural_sample)
    with one_thread():
        peak = mm_peak()
    text = section(result, plain, args.quick, args.sample, (load_before, load_after), args.jobs, peak)
    return publish(text, SECTION, args.results, args.quick)


if __name__ == "__main__":
    main()
