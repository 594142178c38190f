"""Growth laws of m*(n): ``logarithmic``, ``polynomial`` (``linear``) or ``undetermined``.

Input: one curve m̂*(n_i), i = 1..k, and its bootstrap replicates m*_ib, b = 1..B
(:func:`reports.mstar.estimate`; the replicates at different n are independent, as the trials
at different n are, so the bootstrap covariance is diagonal). Write x = log n.

**Two laws**, two free parameters each, fitted by weighted least squares with the
replicates' variances:

* power law   m* = a·nᵖ:        log m̂*_i = log a + p·x_i, weights 1/s_i², s_i the bootstrap
  scale of log m*_i; residual χ²_pow = Σ_i (log m̂*_i − log a − p·x_i)² / s_i²;
* logarithmic m* = a + b·log n:  m̂*_i = a + b·x_i, weights 1/σ_i², σ_i the bootstrap scale of
  m*_i; residual χ²_log.

A scale is the half-width of the central 68 % of the replicates, (q₈₄ − q₁₆)/2 (the standard
deviation for normal replicates, robust to the long tails of interpolated crossings). A law
*fits* when its χ² p-value (k − 2 degrees of freedom) is ≥ 0.001 — a lenient check against
curves that neither law describes, since bootstrap variances from a few dozen trials are
themselves noisy and make χ² heavier-tailed than χ²_{k−2}.

**Exponent.** p̂ is the power-law slope; its interval is p̂ ± z·se, se the scale of the slopes
refitted on each joint replicate (same weights), z the normal quantile of the level. (The
slope is linear in k independent log m*'s, so near normal; a normal bootstrap interval is
steadier than extreme percentiles of a few hundred replicates.) The same for b.

**Comparison (Cox's test of non-nested laws, by parametric bootstrap).** Δ = χ²_log − χ²_pow
(> 0 favours the power law). Under each fitted law, the data are simulated as the law's values
times the replicates' relative deviations m*_ib / m̂*_i; refitting both laws on each simulated
curve gives Δ's distribution under that law, summarised by its median and scale (Δ's leading
term 2⟨law difference, noise⟩ is linear in the noise, so a normal tail). A law is *rejected*
against the other when the observed Δ lies in that distribution's far tail, at α = 1 − level.
(A logarithmic fit that is not positive at every n is rejected.)

**The rule** (default level 0.999: α = 0.001, 99.9 % intervals):

1. fewer than 4 usable points (an uncensored m̂*, and fewer than 16 % of its replicates beyond
   the grid of m) → ``undetermined``: with 3 points each fit keeps a single degree of freedom and
   one 3σ point decides the call (measured: 10·log n on n ∈ {10, 20, 40} was called polynomial);
2. p's interval contains 0 (no growth detected) → ``logarithmic`` if a + b·log n fits and is
   not rejected, else ``undetermined``. **A constant m* is called logarithmic**: it is
   a + b·log n with b = 0 — it grows at most logarithmically — and never polynomial;
3. p's interval lies below 0 (m* decreases with n) → ``undetermined``;
4. p's interval lies above 0 (m* grows): ``polynomial`` if a·nᵖ fits and is not rejected while
   a + b·log n is rejected — called ``linear`` when p's interval contains 1 and excludes 1/2;
   ``logarithmic`` if a + b·log n fits and is not rejected while a·nᵖ is, and b's interval lies
   above 0; otherwise ``undetermined`` (neither law rejected against the other, or both).

**Measured error rates** (``tests/test_growth.py``, ``python -m tests.test_growth``): synthetic
trials through :mod:`reports.mstar` — 40 trials per cell of m, cells √2 apart with the true m* at a
random place, B = 200 replicates, 200 curves per law and grid, level 0.999; laws constant 30,
10·log n, 3√n, 2n^0.8, 2n; every n grid of ng2004 and sample_complexity with ≥ 4 dimensions.
Counts logarithmic/polynomial/linear/undetermined (a polynomial call whose interval excludes 1
for 2n counts as polynomial; an other-law call is logarithmic for a power law, or the reverse):

5 % noise on trial level (the test's requirement; correct: log, log, pol, pol, lin):

    n grid                       constant       10·log n           3·√n        2·n^0.8            2·n
    10..1000 (9)                197/0/0/3      200/0/0/0      0/200/0/0      0/200/0/0      0/1/199/0
    10..1000 (5)                200/0/0/0      199/0/0/1      0/199/0/1      0/200/0/0      0/0/200/0
    10..160 (5)                 199/0/0/1      197/0/0/3      0/199/0/1      0/200/0/0      0/1/199/0
    10..80 (4)                  199/0/0/1      200/0/0/0      0/199/0/1      0/199/0/1      0/0/200/0
    hadamard 16..256 (5)        198/0/0/2      199/0/0/1      0/198/0/2      0/200/0/0      0/0/200/0

5 % noise on m* itself (harder; reported, other-law calls required ≤ 2 %):

    n grid                       constant       10·log n           3·√n        2·n^0.8            2·n
    10..1000 (9)                196/0/0/4     165/0/0/35      0/196/0/4      0/197/0/3      0/2/195/3
    10..1000 (5)                195/0/0/5     120/0/0/80      0/199/0/1      0/198/0/2      0/1/196/3
    10..160 (5)                 197/0/0/3     24/1/0/175      1/192/0/7      0/197/0/3      0/1/199/0
    10..80 (4)                  197/0/0/3     14/1/0/185     1/89/0/110      0/200/0/0      0/0/198/2
    hadamard 16..256 (5)        197/0/0/3     19/0/0/181      0/192/0/8      0/197/0/3      0/1/198/1

So: with 5 % trial-level noise (m̂* within ≈ 0.8 %) ≥ 98.5 % of the calls are right and no call
names the other law. With 5 % noise on m̂* itself (the precision of ng2004's 100-trial curves),
the power laws stay ≥ 96 % right except 3√n on 10..80, but 10·log n is told from a small-exponent
power law only on the long grids (82 % on 9 points over 10..1000) and is mostly undetermined on
grids that span a decade or so: there the two laws differ by less than the noise. Other-law calls:
at most 1 in 200.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from reports.mstar import MStar

DEFAULT_LEVEL = 0.999
MIN_POINTS = 4
FIT_ALPHA = 0.001
#: the calls, in the order tables list them
CALLS = ("logarithmic", "polynomial", "linear", "undetermined")
#: the columns of :func:`growth_table` after the curve keys
COLUMNS = ("growth", "exponent", "exponent_low", "exponent_high", "max_n", "mstar_at_max_n", "power_scale",
           "log_intercept", "log_slope", "log_slope_low", "log_slope_high", "chi2_log", "chi2_power", "dof", "points",
           "level", "reason")


@dataclass(frozen=True)
class Growth:
    """A growth call with the numbers behind it (intervals at the call's level)."""

    growth: str
    exponent: float
    exponent_low: float
    exponent_high: float
    power_scale: float          # a of a·nᵖ
    log_intercept: float        # a of a + b·log n
    log_slope: float
    log_slope_low: float
    log_slope_high: float
    chi2_log: float
    chi2_power: float
    dof: int
    points: int
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def _scale(values: np.ndarray) -> np.ndarray:
    """Bootstrap scale of each row of replicates: (q₈₄ − q₁₆)/2, the sd where that is 0."""
    q16, q84 = np.quantile(values, [0.15865, 0.84135], axis=-1)
    scale = (q84 - q16) / 2
    with np.errstate(invalid="ignore"):
        sd = np.std(values, axis=-1)
    return np.where(scale > 0, scale, sd)


def _wls(x: np.ndarray, weight: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares line y = c + s·x for y of shape (k,) or each column of (k, B)."""
    w = weight / weight.sum()
    x_bar = w @ x
    dx = x - x_bar
    slope = (w * dx / (w @ dx**2)) @ y
    return w @ y - slope * x_bar, slope


def _chi2(x: np.ndarray, weight: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weighted residual sum of squares of the WLS line, per column of y."""
    intercept, slope = _wls(x, weight, y)
    fitted = intercept + np.multiply.outer(x, slope) if np.ndim(y) > 1 else intercept + slope * x
    return np.sum((weight if np.ndim(y) == 1 else weight[:, None]) * (y - fitted) ** 2, axis=0)


def _normal_tail(null: np.ndarray, observed: float, upper: bool) -> float:
    """P(Δ ≥ observed) (``upper``) or P(Δ ≤ observed) from a null sample's median and scale."""
    spread = max(float(_scale(null[None])[0]), 1e-12)
    z = (observed - float(np.median(null))) / spread
    return float(stats.norm.sf(z) if upper else stats.norm.cdf(z))


def classify(n: Sequence[float], mstar: Sequence[float], replicates: np.ndarray,
             level: float = DEFAULT_LEVEL) -> Growth:
    """The growth call for one curve (see the module's rule).

    ``n``, ``mstar``: (k,) dimensions and uncensored point estimates; ``replicates``: (k, B)
    bootstrap replicates of m* (+inf where a replicate never got within ε). Points with a
    non-finite or non-positive m̂* are not used.
    """
    if not 0.5 < level < 1:
        raise ValueError(f"level must be in (0.5, 1), got {level}")
    n = np.asarray(n, dtype=np.float64)
    y = np.asarray(mstar, dtype=np.float64)
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.ndim != 2 or reps.shape[0] != n.size or y.shape != n.shape:
        raise ValueError(f"need n and mstar of shape (k,) and replicates (k, B); got {n.shape}, {y.shape}, "
                         f"{reps.shape}")
    usable = np.isfinite(y) & (y > 0) & (n > 0)
    if reps.shape[1]:
        usable &= np.quantile(reps, 0.84135, axis=-1, method="inverted_cdf") < np.inf
    else:
        usable[:] = False
    n, y, reps = n[usable], y[usable], reps[usable]
    nan = float("nan")
    if n.size < MIN_POINTS or np.unique(n).size < MIN_POINTS:
        return Growth("undetermined", nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, max(int(n.size) - 2, 0),
                      int(n.size), f"{n.size} usable point(s); a law needs {MIN_POINTS}")

    # a replicate beyond the grid of m counts as its n's largest finite replicate (a lower bound)
    largest = np.max(np.where(np.isfinite(reps), reps, -np.inf), axis=-1, keepdims=True)
    reps = np.where(np.isfinite(reps), reps, largest)
    x, log_y, log_reps = np.log(n), np.log(y), np.log(reps)
    # identical trials give a zero-width bootstrap: a tiny scale, not an infinite weight
    w_pow = 1.0 / np.maximum(_scale(log_reps), 1e-9) ** 2
    w_log = 1.0 / np.maximum(_scale(reps), 1e-9 * y) ** 2
    c_pow, p = _wls(x, w_pow, log_y)
    c_log, b = _wls(x, w_log, y)
    chi2_pow, chi2_log = float(_chi2(x, w_pow, log_y)), float(_chi2(x, w_log, y))
    dof = n.size - 2
    alpha = 1 - level

    z = stats.norm.ppf(0.5 + level / 2)
    p_se = float(_scale(_wls(x, w_pow, log_reps)[1][None])[0])
    b_se = float(_scale(_wls(x, w_log, reps)[1][None])[0])
    p_low, p_high, b_low = p - z * p_se, p + z * p_se, b - z * b_se
    numbers = dict(exponent=float(p), exponent_low=float(p_low), exponent_high=float(p_high),
                   power_scale=float(np.exp(c_pow)), log_intercept=float(c_log), log_slope=float(b),
                   log_slope_low=float(b_low), log_slope_high=float(b + z * b_se),
                   chi2_log=chi2_log, chi2_power=chi2_pow, dof=int(dof), points=int(n.size))

    # Cox's test by parametric bootstrap: each fitted law times the replicates' relative deviations
    deviation = reps / y[:, None]
    delta = chi2_log - chi2_pow

    def null_deltas(law: np.ndarray) -> np.ndarray:
        simulated = law[:, None] * deviation
        return _chi2(x, w_log, simulated) - _chi2(x, w_pow, np.log(simulated))

    log_law, power_law = c_log + b * x, np.exp(c_pow + p * x)
    log_kept = bool(np.all(log_law > 0)) and _normal_tail(null_deltas(log_law), delta, upper=True) >= alpha
    power_kept = _normal_tail(null_deltas(power_law), delta, upper=False) >= alpha
    log_fits = stats.chi2.sf(chi2_log, dof) >= FIT_ALPHA
    power_fits = stats.chi2.sf(chi2_pow, dof) >= FIT_ALPHA

    if p_low <= 0 <= p_high:
        if log_fits and log_kept:
            return Growth("logarithmic", **numbers, reason="no growth detected: a + b·log n with b ≈ 0")
        return Growth("undetermined", **numbers, reason="no growth detected, and a + b·log n does not fit")
    if p_high < 0:
        return Growth("undetermined", **numbers, reason="m* decreases with n")
    if power_fits and power_kept and not log_kept:
        linear = p_low <= 1 <= p_high and not p_low <= 0.5 <= p_high
        return Growth("linear" if linear else "polynomial", **numbers,
                      reason="a·n^p fits; a + b·log n rejected against it")
    if log_fits and log_kept and not power_kept and b_low > 0:
        return Growth("logarithmic", **numbers, reason="a + b·log n fits; a·n^p rejected against it")
    if log_kept and power_kept:
        return Growth("undetermined", **numbers, reason="neither law rejected against the other")
    return Growth("undetermined", **numbers, reason="no law both fits and survives the other")


def title(level: float = DEFAULT_LEVEL) -> str:
    """The heading of a growth table made at ``level``."""
    return (f"Growth of m*(n): logarithmic, polynomial (linear) or undetermined, called at level {level:.3g}; "
            f"exponent p of m* ≈ a·n^p with its {100 * level:.3g} % bootstrap interval (rule: reports/growth.py)")


def fitted(row, n: np.ndarray) -> dict[str, np.ndarray]:
    """The two fitted laws of a :func:`growth_table` row at dimensions ``n``."""
    n = np.asarray(n, dtype=np.float64)
    return {"power": row["power_scale"] * n ** row["exponent"],
            "logarithmic": row["log_intercept"] + row["log_slope"] * np.log(n)}


def growth_table(estimate: MStar, by: Sequence[str] | None = None, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """One growth call per curve family of an m* estimate (by default: all keys but n).

    Uses the rows with ``censored == "none"``; ``mstar_at_max_n`` is m̂* at the largest n stored
    (NaN when that curve never got within ε; the smallest m of its grid, an upper bound, when it
    was within ε from the start).
    """
    keys = list(estimate.keys)
    dimension = keys[-1]
    by = keys[:-1] if by is None else list(by)
    table = estimate.table.reset_index(drop=True)
    rows = []
    for group, part in table.groupby(by, sort=True):
        group = group if isinstance(group, tuple) else (group,)
        part = part.sort_values(dimension)
        uncensored = part[part.censored == "none"]
        call = classify(uncensored[dimension].to_numpy(dtype=np.float64), uncensored.mstar.to_numpy(),
                        estimate.replicates[uncensored.index.to_numpy()], level=level)
        last = part.iloc[-1]
        row = {**dict(zip(by, group)), **call.as_dict(), "max_n": last[dimension],
               "mstar_at_max_n": float(last.mstar) if last.censored != "above" else np.nan, "level": level}
        rows.append(row)
    return pd.DataFrame(rows, columns=[*by, *COLUMNS])
