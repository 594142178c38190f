"""Sample complexity m*(n) from stored trials: analysis only, it never trains.

m*(n) is the smallest number of examples m at which the mean excess risk (risk − Bayes
risk) over trials is within ε: on each curve (one learner on one problem at one n,
measured on a grid of m) it is the first grid crossing of the level ε, interpolated
linearly in log m between the last grid point above ε and the first at or below it.
Two cases are censored: a curve already within ε at its smallest m gives that m
(``censored = "below"``, an upper bound), and one never within ε gives NaN
(``censored = "above"``).

The interval is a percentile bootstrap over trials, resampled within each m (the
trials at different m are independent datasets). Replicates that never reach ε are
beyond the grid: they are stored as +inf, and an interval end beyond the largest m is
reported as inf. The replicates themselves are kept (:class:`MStar`): the growth law of
m*(n) (:mod:`reports.growth`) is fitted with their variances. The bootstrap is
vectorised: every cell's resampled means come from one array operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.stats import percentile_interval
from studies.spec import derive_seed

DEFAULT_EPSILON = 0.05
#: ng2004's curve coordinates (the default of :func:`estimate`)
NG_KEYS = ("setting", "penalty", "n")
_CENSORED = np.array(["none", "below", "above"])


def crossings(m: np.ndarray, excess: np.ndarray, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """First crossings of ``epsilon`` for a batch of curves.

    ``m``: grids of m, ascending along the last axis, (G,) or broadcastable to ``excess``;
    ``excess``: (..., G) mean excess risk at each m. Returns (m* (...), censored (...)) with
    censored in {"none", "below", "above"} and m* = NaN where a curve never gets within ε.
    """
    excess = np.asarray(excess, dtype=np.float64)
    m = np.broadcast_to(np.asarray(m, dtype=np.float64), excess.shape)
    log_m = np.log(m)
    within = excess <= epsilon
    reached = within.any(axis=-1)
    j = np.argmax(within, axis=-1)[..., None]            # first index within ε (0 when none)
    previous = np.maximum(j - 1, 0)

    def at(a, index):
        return np.take_along_axis(a, index, axis=-1)[..., 0]

    e0, e1 = at(excess, previous), at(excess, j)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (e0 - epsilon) / (e0 - e1)             # e0 > ε ≥ e1, so 0 < fraction ≤ 1
        log_value = at(log_m, previous) + fraction * (at(log_m, j) - at(log_m, previous))
    first = j[..., 0] == 0
    value = np.where(first, m[..., 0], np.exp(log_value))
    value = np.where(reached, value, np.nan)
    code = np.where(~reached, 2, np.where(first, 1, 0))
    return value, _CENSORED[code]


def first_crossing(m: Sequence[float], excess: Sequence[float], epsilon: float) -> tuple[float, str]:
    """(m*, censored) for one curve: m ascending, excess the mean excess risk at each m."""
    value, censored = crossings(m, np.asarray(excess, dtype=np.float64), epsilon)
    return float(value), str(censored)


def bootstrap_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` bootstrap resamples of the last axis: (..., T) -> (..., n_boot)."""
    values = np.asarray(values, dtype=np.float64)
    size = values.shape[-1]
    index = rng.integers(0, size, size=(*values.shape[:-1], n_boot, size), dtype=np.int32)
    return np.take_along_axis(values[..., None, :], index, axis=-1).mean(axis=-1)


def bootstrap_crossings(m: Sequence[float], cells: Sequence[np.ndarray], epsilon: float, n_boot: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of m* for one curve: each cell (one m, its trials) resampled on its own.

    ``cells[g]``: the excess risks of the trials at ``m[g]`` (cells may differ in size).
    Returns (n_boot,) replicates, +inf where a replicate never gets within ε.
    """
    means = np.stack([bootstrap_means(cell, n_boot, rng) for cell in cells], axis=-1)   # (B, G)
    value, _ = crossings(m, means, epsilon)
    return np.where(np.isnan(value), np.inf, value)


@dataclass(frozen=True)
class MStar:
    """m* per curve with its bootstrap replicates.

    ``table``: one row per curve (the keys, mstar, ci_low, ci_high, censored, m_min, m_max,
    grid_points, trials, epsilon); ``replicates``: (rows, n_boot), row i belonging to
    ``table.iloc[i]`` (+inf where a replicate never gets within ε).
    """

    table: pd.DataFrame
    replicates: np.ndarray
    keys: tuple[str, ...]


def estimate(df: pd.DataFrame, epsilon: float = DEFAULT_EPSILON, metric: str = "zero_one",
             baseline: str = "bayes_error", keys: Sequence[str] = NG_KEYS, n_boot: int = 1000,
             level: float = 0.95, seed: int = 0, min_grid: int = 4) -> MStar:
    """m* with bootstrap replicates for every curve measured at ≥ ``min_grid`` values of m.

    ``df``: one row per trial with columns ``keys`` (the last of them the dimension n), m,
    ``metric`` and ``baseline`` (excess risk = metric − baseline). Trials whose excess is not
    finite (diverged fits) are left out. The bootstrap generator is seeded per curve from
    ``seed`` and the curve's keys, so a curve's interval does not depend on the other curves.
    """
    keys = tuple(keys)
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot}")
    missing = [c for c in (*keys, "m", metric, baseline) if c not in df.columns]
    if missing:
        raise ValueError(f"trial table lacks column(s) {', '.join(missing)}")
    columns = [*keys, "mstar", "ci_low", "ci_high", "censored", "m_min", "m_max", "grid_points", "trials",
               "epsilon"]
    data = df.assign(_excess=pd.to_numeric(df[metric], errors="coerce").astype(float)
                     - pd.to_numeric(df[baseline], errors="coerce").astype(float))
    data = data[np.isfinite(data["_excess"])]
    # the trials of a cell in a fixed order (their repetition index), not the order the workers
    # stored them in: the bootstrap draws index positions, so the intervals (and the last bits of
    # the means) would otherwise change from one run of the same trials to the next
    if "rep" in data.columns:
        data = data.sort_values([*keys, "m", "rep"], kind="stable")
    rows, replicates = [], []
    for key, curve in data.groupby(list(keys), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        cells = [(float(m), part["_excess"].to_numpy()) for m, part in curve.groupby("m", sort=True)]
        if len(cells) < min_grid:
            continue
        grid = np.array([m for m, _ in cells])
        values = [v for _, v in cells]
        mstar, censored = first_crossing(grid, [v.mean() for v in values], epsilon)
        rng = np.random.default_rng(derive_seed(seed, "mstar", [_plain(k) for k in key]))
        draws = bootstrap_crossings(grid, values, epsilon, n_boot, rng)
        low, high = percentile_interval(draws, level)
        rows.append({
            **dict(zip(keys, key)), "mstar": mstar,
            "ci_low": np.inf if low > grid[-1] else low, "ci_high": np.inf if high > grid[-1] else high,
            "censored": censored, "m_min": grid[0], "m_max": grid[-1], "grid_points": grid.size,
            "trials": int(min(v.size for v in values)), "epsilon": epsilon,
        })
        replicates.append(draws)
    table = pd.DataFrame(rows, columns=columns)
    return MStar(table=table, replicates=np.array(replicates).reshape(len(rows), n_boot), keys=keys)


def _plain(value):
    """A key value as JSON-able text-stable Python (10, 10.0 and np.int64(10) alike)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return int(value)
    return value.item() if isinstance(value, np.generic) else value


def mstar_table(df: pd.DataFrame, epsilon: float = DEFAULT_EPSILON, metric: str = "zero_one",
                baseline: str = "bayes_error", keys: Sequence[str] = NG_KEYS, n_boot: int = 1000,
                level: float = 0.95, seed: int = 0, min_grid: int = 4) -> pd.DataFrame:
    """The table of :func:`estimate` alone (columns: keys, mstar, ci_low, ci_high, censored,
    m_min, m_max, grid_points, trials, epsilon)."""
    return estimate(df, epsilon, metric, baseline, keys, n_boot, level, seed, min_grid).table
