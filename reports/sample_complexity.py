"""Sample complexity m*(n) from stored trials: analysis only, it never trains.

m*(n) is the smallest number of examples m at which the mean excess 0/1 error
(error − Bayes error) over trials is within ε: on each (setting, penalty, n) curve,
measured on a grid of m, it is the first grid crossing of the level ε, interpolated
linearly in log m between the last grid point above ε and the first at or below it.
Two cases are censored: a curve already within ε at its smallest m gives that m
(``censored = "below"``, an upper bound), and one never within ε gives NaN
(``censored = "above"``).

The interval is a percentile bootstrap over trials, resampled within each m (the
trials at different m are independent datasets). Replicates that never reach ε
count as beyond the grid: an upper end beyond the largest m is reported as inf.

:func:`growth_fits` fits m* = a + b·log n and m* = a + b·n by least squares and
calls the growth ``logarithmic`` or ``linear`` by the larger R² (Ng 2004: L1 needs
O(log n) examples, rotationally invariant learners such as L2 Ω(n)); the slope of
log m* against log n (1 for linear growth, near 0 for logarithmic) is reported too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports.stats import bootstrap_ci

DEFAULT_EPSILON = 0.05
KEYS = ("setting", "penalty", "n")


def first_crossing(m: Sequence[float], excess: Sequence[float], epsilon: float) -> tuple[float, str]:
    """(m*, censored) for one curve: m ascending, excess the mean excess error at each m."""
    m = np.asarray(m, dtype=np.float64)
    excess = np.asarray(excess, dtype=np.float64)
    within = np.nonzero(excess <= epsilon)[0]
    if within.size == 0:
        return np.nan, "above"
    j = int(within[0])
    if j == 0:
        return float(m[0]), "below"
    e0, e1 = excess[j - 1], excess[j]
    fraction = (e0 - epsilon) / (e0 - e1)  # e0 > ε ≥ e1, so 0 < fraction ≤ 1
    return float(np.exp(np.log(m[j - 1]) + fraction * (np.log(m[j]) - np.log(m[j - 1])))), "none"


def mstar_table(df: pd.DataFrame, epsilon: float = DEFAULT_EPSILON, metric: str = "zero_one",
                baseline: str = "bayes_error", n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                min_grid: int = 4) -> pd.DataFrame:
    """m* with a bootstrap interval for every (setting, penalty, n) measured at ≥ ``min_grid`` values of m.

    ``df``: one row per trial with columns setting, penalty, n, m, ``metric`` and ``baseline``.
    Returns columns setting, penalty, n, mstar, ci_low, ci_high, censored, m_min, m_max,
    grid_points, trials, epsilon.
    """
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    missing = [c for c in (*KEYS, "m", metric, baseline) if c not in df.columns]
    if missing:
        raise ValueError(f"trial table lacks column(s) {', '.join(missing)}")
    columns = [*KEYS, "mstar", "ci_low", "ci_high", "censored", "m_min", "m_max", "grid_points", "trials", "epsilon"]
    data = df.assign(_excess=df[metric].astype(float) - df[baseline].astype(float))
    data = data[np.isfinite(data["_excess"])]
    rows = []
    for key, curve in data.groupby(list(KEYS), sort=True):
        cells = [(float(m), part["_excess"].to_numpy()) for m, part in curve.groupby("m", sort=True)]
        if len(cells) < min_grid:
            continue
        grid = np.array([m for m, _ in cells])
        values = [v for _, v in cells]
        mstar, censored = first_crossing(grid, [v.mean() for v in values], epsilon)
        beyond = 2.0 * grid[-1]  # replicates that never reach ε

        def replicate(rng: np.random.Generator, grid=grid, values=values, beyond=beyond) -> float:
            means = [v[rng.integers(0, v.size, v.size)].mean() for v in values]
            value, _ = first_crossing(grid, means, epsilon)
            return beyond if np.isnan(value) else value

        low, high = bootstrap_ci(replicate, n_boot=n_boot, level=level, seed=seed)
        rows.append({
            **dict(zip(KEYS, key)), "mstar": mstar,
            "ci_low": np.inf if low > grid[-1] else low, "ci_high": np.inf if high > grid[-1] else high,
            "censored": censored, "m_min": grid[0], "m_max": grid[-1], "grid_points": grid.size,
            "trials": int(min(v.size for v in values)), "epsilon": epsilon,
        })
    return pd.DataFrame(rows, columns=columns)


def growth_fits(mstar: pd.DataFrame) -> pd.DataFrame:
    """Fits of m* against log n and against n for each (setting, penalty), and the growth they show.

    Uses the curves whose m* was interpolated (``censored == "none"``); fewer than 3 give
    verdict ``undetermined``. Returns setting, penalty, points, r2_log, slope_log, r2_linear,
    slope_linear, loglog_slope, verdict.
    """
    columns = ["setting", "penalty", "points", "r2_log", "slope_log", "r2_linear", "slope_linear",
               "loglog_slope", "verdict"]
    rows = []
    for (setting, penalty), part in mstar.groupby(["setting", "penalty"], sort=True):
        part = part[(part.censored == "none") & np.isfinite(part.mstar)].sort_values("n")
        n = part.n.to_numpy(dtype=np.float64)
        y = part.mstar.to_numpy(dtype=np.float64)
        row = {"setting": setting, "penalty": penalty, "points": int(n.size), "r2_log": np.nan,
               "slope_log": np.nan, "r2_linear": np.nan, "slope_linear": np.nan, "loglog_slope": np.nan,
               "verdict": "undetermined"}
        if n.size >= 3 and np.unique(n).size >= 3:
            slope_log, r2_log = _line_fit(np.log(n), y)
            slope_lin, r2_lin = _line_fit(n, y)
            loglog, _ = _line_fit(np.log(n), np.log(y))
            row.update(r2_log=r2_log, slope_log=slope_log, r2_linear=r2_lin, slope_linear=slope_lin,
                       loglog_slope=loglog, verdict="logarithmic" if r2_log > r2_lin else "linear")
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y = a + b·x and its R² (1 for a constant y fitted exactly)."""
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    total = np.sum((y - y.mean()) ** 2)
    r2 = 1.0 - float(np.sum(residual**2) / total) if total > 0 else 1.0
    return float(coef[1]), r2
