"""Wall time of the full default ``ng2004`` study against a plain scikit-learn loop.

* **Ours**: ``studies.runner.run_study("ng2004")`` into a fresh database with two
  worker processes (one BLAS/torch thread each): data, the batched λ path, Ng's
  hold-out selection and the exact risks of the selected models, for every trial.
* **Plain loop**: the same protocol written the obvious way, sequentially on one
  core: for each trial, the same dataset, then for each λ of the same grid one
  ``LogisticRegression(l1_ratio=1 or 0, C=1/(λ·m_train), fit_intercept=False,
  solver="liblinear")`` at scikit-learn's default tolerance (1e-4, looser than
  our 1e-10, so the loop does less work per fit than we do), its hold-out 0/1
  error and log loss, and the selection. It does not compute the exact risks
  (the study does). Running it for all trials would take long, so it is timed
  on ``--sample`` trials of every (setting, n, m, penalty) point and extrapolated
  point by point to the study's trial counts (process time, so that other load on
  the machine does not inflate it).

Goals: the whole default study in ≤ 10 minutes on 2 cores, and ≥ 4× faster than
the plain loop.

    python benchmarks/bench_ng2004.py              # full run, writes benchmarks/RESULTS.md
    python benchmarks/bench_ng2004.py --quick      # the --quick study, writes nothing unless --results
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
from benchlib import (load_average, machine_line, parse_study_benchmark, publish,
                      study_benchmark_arguments)

SECTION = "## bench_ng2004"


def plain_trial(X: np.ndarray, y: np.ndarray, penalty: str, lambdas, holdout: float) -> None:
    """Ng's protocol with one scikit-learn fit per λ (the baseline)."""
    from sklearn.linear_model import LogisticRegression

    from learners.logistic import holdout_size

    m = len(y)
    n_train = m - holdout_size(m, holdout)
    X_fit, y_fit, X_hold, y_hold = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    best = {"zero_one": (math.inf, None), "log_loss": (math.inf, None)}
    for lam in lambdas:  # from the largest: a strict < keeps the larger λ on ties, as the study does
        if np.unique(y_fit).size < 2:
            break
        model = LogisticRegression(l1_ratio=1.0 if penalty == "l1" else 0.0, C=1.0 / (lam * n_train),
                                   fit_intercept=False, solver="liblinear", max_iter=1000).fit(X_fit, y_fit)
        z = X_hold @ model.coef_[0]
        scores = {"zero_one": np.mean((z > 0) != y_hold), "log_loss": np.mean(np.logaddexp(0, -(2 * y_hold - 1) * z))}
        for metric, value in scores.items():
            if value < best[metric][0]:
                best[metric] = (value, model.coef_[0].copy())


def plain_loop_estimate(config, sample: int) -> dict:
    """Process time of the plain loop, measured on ``sample`` trials per point, extrapolated."""
    from threadpoolctl import threadpool_limits

    from studies.ng2004 import STUDY, lambda_grid

    lambdas = sorted(lambda_grid(config), reverse=True)
    points: OrderedDict[tuple, list] = OrderedDict()
    for coords in STUDY.trials(config):
        points.setdefault(STUDY.batch_key(coords), []).append(coords)
    total, measured_trials, measured_seconds = 0.0, 0, 0.0
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear's convergence warnings at small λ
        for trials in points.values():
            chosen = trials[:sample]
            start = time.process_time()
            for coords in chosen:
                X, y, _, _ = STUDY.dataset(config, coords)
                plain_trial(X, y, coords["penalty"], lambdas, config["holdout"])
            seconds = time.process_time() - start
            measured_trials += len(chosen)
            measured_seconds += seconds
            total += seconds / len(chosen) * len(trials)
    return {"seconds": total, "points": len(points), "measured_trials": measured_trials,
            "measured_seconds": measured_seconds}


def ours(quick: bool, jobs: int) -> dict:
    from studies import store
    from studies.runner import run_study

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        start = time.perf_counter()
        summary = run_study("ng2004", quick=quick, db=db, jobs=jobs, progress=False)
        wall = time.perf_counter() - start
        df = store.load(db, "ng2004")
    cpu = float(df.duration_s.sum())  # each trial's share of its batch's worker time
    from studies.ng2004 import lambda_grid

    return {"wall": wall, "cpu": cpu, "trials": summary.total, "counts": summary.counts, "config": summary.config,
            "lambdas": lambda_grid(summary.config), "df": df}


def done_when(df) -> dict:
    """The issue's Done-when numbers from the stored trials."""
    from reports.growth import growth_table
    from reports.mstar import estimate

    ok = df[df.status == "ok"]
    hard = ok[(ok.setting == "one") & (ok.n == 1000) & (ok.m == 100)].groupby("penalty").zero_one.mean()
    bayes = float(ok.bayes_error.iloc[0])
    fits = growth_table(estimate(ok)).set_index(["setting", "penalty"])
    verdict = {p: fits.loc[("one", p), "growth"] if ("one", p) in fits.index else "n/a" for p in ("l1", "l2")}
    return {"bayes": bayes, "l1": float(hard.get("l1", np.nan)), "l2": float(hard.get("l2", np.nan)),
            "verdict": verdict, "fits": fits}


def section(result: dict, plain: dict, checks: dict, quick: bool, sample: int, load: tuple[str, str]) -> str:
    ratio = plain["seconds"] / result["wall"]
    wall_goal = 120 if quick else 600
    rows = [
        ("whole study, ours (2 workers)", f"{result['wall']:.0f} s wall ({result['cpu']:.0f} s of worker CPU)",
         f"<= {wall_goal} s", "yes" if result["wall"] <= wall_goal else "no"),
        ("plain scikit-learn loop (1 core, extrapolated)", f"{plain['seconds']:.0f} s", "", ""),
        ("speed-up", f"{ratio:.1f}x (per core: {plain['seconds'] / result['cpu']:.1f}x)", ">= 4x",
         "yes" if ratio >= 4 else "no"),
    ]
    table = ["| case | measured | goal | met |", "|---|---|---|---|"] + [f"| {' | '.join(r)} |" for r in rows]
    fits = checks["fits"].reset_index()
    fit_lines = [f"  {r.setting}/{r.penalty}: exponent {r.exponent:.3f} [{r.exponent_low:.3f}, {r.exponent_high:.3f}], "
                 f"χ² log {r.chi2_log:.1f}, power {r.chi2_power:.1f} ({r.dof} dof) → {r.growth}"
                 for r in fits.itertuples()]
    return "\n".join([
        SECTION,
        "",
        (f"`python benchmarks/bench_ng2004.py{' --quick' if quick else ''}` on {time.strftime('%Y-%m-%d %H:%M')}: "
         f"{machine_line()}; load average (1, 5, 15 min) {load[0]} before and {load[1]} after."),
        (f"{'The --quick' if quick else 'The full default'} study: {result['trials']:,} trials "
         f"({', '.join(f'{v} {k}' for k, v in result['counts'].items())}), {len(result['lambdas'])} λ per trial, "
         f"our solver at tol {result['config']['tol']:g}. The plain loop (liblinear per λ at scikit-learn's "
         f"default tol 1e-4, one thread) was timed on {plain['measured_trials']} trials ({sample} per point, "
         f"{plain['points']} points, {plain['measured_seconds']:.0f} s of process time) and extrapolated to all "
         "of them."),
        "",
        *table,
        "",
        (f"Done-when (setting one, n = 1000, m = 100): L1 0/1 error {checks['l1']:.4f} "
         f"(Bayes {checks['bayes']:.4f}, excess {checks['l1'] - checks['bayes']:.4f}, goal < 0.05), "
         f"L2 {checks['l2']:.4f} (goal > 0.35); m* growth: L1 {checks['verdict']['l1']}, "
         f"L2 {checks['verdict']['l2']} (goal: logarithmic, linear)."),
        "",
        "```",
        *fit_lines,
        "```",
        "",
    ])


def main(argv=None) -> str:
    parser = study_benchmark_arguments(SECTION, __doc__.splitlines()[0], "the --quick study (a smoke test)",
                                       "point")
    args = parse_study_benchmark(parser, argv)
    load_before = load_average()
    print("timing the study through the runner ...", flush=True)
    result = ours(args.quick, args.jobs)
    load_after = load_average()
    print(f"  {result['wall']:.1f} s; timing the plain scikit-learn loop on a sample ...", flush=True)
    plain = plain_loop_estimate(result["config"], args.sample)
    text = section(result, plain, done_when(result["df"]), args.quick, args.sample, (load_before, load_after))
    return publish(text, SECTION, args.results, args.quick)


if __name__ == "__main__":
    main()
