"""Summaries across seeds: mean with a 95 % confidence interval.

Every table of the suite reports a mean over independent trials with a
Student-t interval (exact for normal data, close otherwise at our trial
counts); a bootstrap interval is available where a statistic is not a mean.
An interval never leaves the metric's range (``bounds``, e.g. [0, 1] for a 0/1
error, [0, ∞) for a square loss): the true mean lies in that range, so cutting
the interval there keeps its coverage.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

Bounds = tuple[float, float]
#: the range of each metric the studies store (an unknown metric is unbounded)
METRIC_RANGES: dict[str, Bounds] = {
    "zero_one": (0.0, 1.0), "accuracy": (0.0, 1.0), "square": (0.0, np.inf), "log_loss": (0.0, np.inf),
}
UNBOUNDED: Bounds = (-np.inf, np.inf)


def metric_range(metric: str) -> Bounds:
    """The range of a metric's values ((-inf, inf) for one not in :data:`METRIC_RANGES`)."""
    return METRIC_RANGES.get(metric, UNBOUNDED)


def mean_ci(values: Sequence[float], level: float = 0.95, bounds: Bounds = UNBOUNDED) -> tuple[float, float, float]:
    """(mean, low, high) of a Student-t interval cut to ``bounds``; a single value gives a
    zero-width interval."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(x.mean())
    if x.size == 1:
        return (mean, mean, mean)
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return (mean, max(mean - half, bounds[0]), min(mean + half, bounds[1]))


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean of the finite values (NaN for fewer than two)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else np.nan


def summarise(df: pd.DataFrame, by: list[str], value: str, level: float = 0.95,
              bounds: Bounds | str = UNBOUNDED) -> pd.DataFrame:
    """One row per group: mean, ci_low, ci_high (cut to ``bounds``) and the number of trials.

    ``bounds``: a (low, high) range, or the name of a column of ``by`` holding each group's
    metric name (its range from :func:`metric_range`).
    """
    if isinstance(bounds, str) and bounds not in by:
        raise ValueError(f"bounds column {bounds!r} must be one of the group columns {by}")
    rows = []
    for keys, part in df.groupby(by, sort=True, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        cut = metric_range(keys[by.index(bounds)]) if isinstance(bounds, str) else bounds
        mean, low, high = mean_ci(part[value].to_numpy(), level, cut)
        rows.append({**dict(zip(by, keys)), "mean": mean, "ci_low": low, "ci_high": high,
                     "trials": int(np.isfinite(part[value].to_numpy(dtype=np.float64)).sum())})
    return pd.DataFrame(rows, columns=[*by, "mean", "ci_low", "ci_high", "trials"])


def percentile_interval(draws: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap draws. NaN draws are dropped; ±inf draws are kept (an
    end beyond every finite draw is ±inf), hence order statistics, not interpolation."""
    x = np.asarray(draws, dtype=np.float64)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return (np.nan, np.nan)
    alpha = (1 - level) / 2
    low, high = np.quantile(x, [alpha, 1 - alpha], method="inverted_cdf")
    return (float(low), float(high))


def bootstrap_ci(statistic: Callable[[np.random.Generator], float], n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``statistic(rng)``, where each call computes the
    statistic on one bootstrap resample drawn with ``rng`` (non-finite draws dropped)."""
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng) for _ in range(n_boot)], dtype=np.float64)
    return percentile_interval(draws[np.isfinite(draws)], level)


def interval_coverage(draw: Callable[[np.random.Generator, tuple[int, int]], np.ndarray], true_mean: float,
                      n: int, level: float = 0.95, bounds: Bounds = UNBOUNDED, replications: int = 4000,
                      n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Measured coverage of the mean's interval at ``n`` values per sample, by simulation.

    ``draw(rng, (replications, n))`` returns the samples (one row per replicated experiment).
    Returns the share of replications whose interval contains ``true_mean`` and the mean
    width, for the Student-t interval cut to ``bounds`` (:func:`mean_ci`, ``"t"``) and for the
    bootstrap percentile interval of the mean (``"bootstrap"``, ``n_boot`` resamples).
    """
    rng = np.random.default_rng(seed)
    samples = np.asarray(draw(rng, (replications, n)), dtype=np.float64)
    t_low, t_high = np.empty(replications), np.empty(replications)
    for r, sample in enumerate(samples):
        _, t_low[r], t_high[r] = mean_ci(sample, level, bounds)
    alpha = (1 - level) / 2
    b_low, b_high = np.empty(replications), np.empty(replications)
    for r, sample in enumerate(samples):
        means = sample[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        b_low[r], b_high[r] = np.quantile(means, [alpha, 1 - alpha], method="inverted_cdf")
    return {"t": float(np.mean((t_low <= true_mean) & (true_mean <= t_high))),
            "t_width": float(np.mean(t_high - t_low)),
            "bootstrap": float(np.mean((b_low <= true_mean) & (true_mean <= b_high))),
            "bootstrap_width": float(np.mean(b_high - b_low))}
