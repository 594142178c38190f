"""Summaries across seeds: mean with a 95 % confidence interval.

Every table of the suite reports a mean over independent trials with a
Student-t interval (exact for normal data, close otherwise at our trial
counts); a bootstrap interval is available where a statistic is not a mean.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of a Student-t interval; a single value gives a zero-width interval."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(x.mean())
    if x.size == 1:
        return (mean, mean, mean)
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return (mean, mean - half, mean + half)


def summarise(df: pd.DataFrame, by: list[str], value: str, level: float = 0.95) -> pd.DataFrame:
    """One row per group: mean, ci_low, ci_high and the number of trials."""
    rows = []
    for keys, part in df.groupby(by, sort=True, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        mean, low, high = mean_ci(part[value].to_numpy(), level)
        rows.append({**dict(zip(by, keys)), "mean": mean, "ci_low": low, "ci_high": high,
                     "trials": int(np.isfinite(part[value].to_numpy(dtype=np.float64)).sum())})
    return pd.DataFrame(rows, columns=[*by, "mean", "ci_low", "ci_high", "trials"])


def bootstrap_ci(statistic: Callable[[np.random.Generator], float], n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``statistic(rng)``, where each call computes the
    statistic on one bootstrap resample drawn with ``rng``."""
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng) for _ in range(n_boot)], dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return (np.nan, np.nan)
    alpha = (1 - level) / 2
    return (float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha)))
