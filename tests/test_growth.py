"""Growth-law calls (reports.growth) on synthetic m* curves with known growth.

The synthetic studies go through the report's own m* machinery (reports.mstar: cell means,
their bootstrap, the first crossing of ε): every trial at (n, m) has excess risk
ε + s·log(m*(n)/m) + σ·ξ with σ = 5 % · s, i.e. **5 % noise on trial level** (one trial alone
would place its crossing within ±5 %; the mean of T = 40 trials within ±0.8 %); cells of m are
√2 apart with the true m* at a random position. Laws: constant 30, 10·log n, 3√n, 2n^0.8, 2n, on
every n grid the studies use (``GRIDS``; ``test_grids_are_the_studies_grids`` keeps them in
step). Requirement: on grids of ≥ 4 dimensions ≥ 95 % correct calls; on every grid, no call of
the other law (a wrong call is ``undetermined``).

The measured confusion tables (``test_confusion_full``: 200 curves per law and grid, B = 200,
level 0.999) are in the docstring of :mod:`reports.growth`. Run ``python -m tests.test_growth`` to print both tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.growth import CALLS, MIN_POINTS, classify, growth_table
from reports.mstar import MStar, bootstrap_means, crossings, estimate

LAWS = {
    "constant": lambda n: 30.0 + 0 * n,
    "10 log n": lambda n: 10 * np.log(n),
    "3 sqrt n": lambda n: 3 * np.sqrt(n),
    "2 n^0.8": lambda n: 2 * n**0.8,
    "2 n": lambda n: 2.0 * n,
}
EXPECTED = {"constant": "logarithmic", "10 log n": "logarithmic", "3 sqrt n": "polynomial", "2 n^0.8": "polynomial",
            "2 n": "linear"}
OTHER_LAW = {"logarithmic": {"polynomial", "linear"}, "polynomial": {"logarithmic"}, "linear": {"logarithmic"}}
#: every n grid of ng2004 and sample_complexity (default and --quick) on which a law can be called
#: (≥ reports.growth.MIN_POINTS = 4 dimensions; with fewer the call is always undetermined)
GRIDS = {
    "10..1000 (9)": [10, 18, 32, 56, 100, 178, 316, 562, 1000],
    "10..1000 (5)": [10, 32, 100, 316, 1000],
    "10..160 (5)": [10, 20, 40, 80, 160],
    "10..80 (4)": [10, 20, 40, 80],
    "hadamard 16..256 (5)": [16, 32, 64, 128, 256],
    "8..64 (4)": [8, 16, 32, 64],  # the neural learners (FAMILY/mlp grids)
}
TRIALS = 40


def simulate(law: str, ns, curves: int, seed: int, trials: int = TRIALS, n_boot: int = 200,
             trial_noise: float = 0.05, mstar_noise: float | None = None, slope: float = 0.1,
             epsilon: float = 0.05, cells: int = 4):
    """``curves`` synthetic studies of one law: (m̂* (C, N), censored (C, N), replicates (C, N, B)).

    ``mstar_noise`` (instead of ``trial_noise``) sets the noise of m̂* itself (σ = it · s · √T).
    """
    rng = np.random.default_rng(seed)
    ns = np.asarray(ns, dtype=np.float64)
    truth = LAWS[law](ns)
    sigma = slope * (trial_noise if mstar_noise is None else mstar_noise * np.sqrt(trials))
    relative = np.sqrt(2.0) ** (np.arange(cells) - cells // 2 + 1 - rng.random((curves, ns.size, 1)))
    grid = truth[None, :, None] * relative                                   # (C, N, G), m* between cells 1, 2
    risk = epsilon - slope * np.log(relative)[..., None] + sigma * rng.standard_normal((*grid.shape, trials))
    mstar, censored = crossings(grid, risk.mean(axis=-1), epsilon)
    resampled = np.moveaxis(bootstrap_means(risk, n_boot, rng), -1, -2)     # (C, N, B, G)
    replicates, _ = crossings(grid[..., None, :], resampled, epsilon)
    return ns, mstar, censored, np.where(np.isnan(replicates), np.inf, replicates)


def calls(law: str, ns, curves: int, seed: int, **options) -> list[str]:
    ns, mstar, censored, replicates = simulate(law, ns, curves, seed, **options)
    out = []
    for c in range(curves):
        keep = censored[c] == "none"
        out.append(classify(ns[keep], mstar[c][keep], replicates[c][keep]).growth)
    return out


def confusion(curves: int, seed: int = 0, **options) -> pd.DataFrame:
    """Counts of each call per (grid, law)."""
    rows = []
    for g, (grid, ns) in enumerate(GRIDS.items()):
        for k, law in enumerate(LAWS):
            made = calls(law, ns, curves, seed=seed * 1000 + 10 * g + k, **options)
            rows.append({"grid": grid, "law": law, "expected": EXPECTED[law], **{c: made.count(c) for c in CALLS}})
    return pd.DataFrame(rows)


def _check(table: pd.DataFrame, min_correct: float | None, max_other_law: float) -> list[str]:
    """The requirement's violations, one line each."""
    problems = []
    for row in table.itertuples(index=False):
        total = sum(getattr(row, c) for c in CALLS)
        correct = getattr(row, row.expected) / total
        other = sum(getattr(row, c) for c in OTHER_LAW[row.expected]) / total
        if min_correct is not None and correct < min_correct:
            problems.append(f"{row.grid} / {row.law}: {correct:.1%} correct")
        if other > max_other_law:
            problems.append(f"{row.grid} / {row.law}: {other:.1%} called the other law")
    return problems


def test_calls_on_the_studies_grids():
    """Fast version: 20 curves per law and grid, correct calls pooled over the grids."""
    table = confusion(curves=20, seed=1)
    assert _check(table, None, 0.0) == []
    for law, part in table.groupby("law"):
        expected = EXPECTED[law]
        assert part[expected].sum() / (20 * len(part)) >= 0.95, part


@pytest.mark.slow
def test_confusion_full():
    trial_level = confusion(curves=200, seed=2)
    print("\n5 % noise on trial level\n" + trial_level.to_string(index=False))
    assert _check(trial_level, 0.95, 0.0) == []
    mstar_level = confusion(curves=200, seed=3, mstar_noise=0.05)
    print("\n5 % noise on m*\n" + mstar_level.to_string(index=False))
    # here log n and n^p are close on short grids: wrong calls stay rare (α = 0.001 per test)
    assert _check(mstar_level, None, 0.02) == []


def test_grids_are_the_studies_grids():
    from studies.ng2004 import STUDY as NG2004
    from studies.sample_complexity import SampleComplexity

    used = set()
    for config in (NG2004.defaults, NG2004.quick):
        used |= {tuple(config[k]) for k in ("mstar_n_l1", "mstar_n_l2") if k in config}
    for grids in (SampleComplexity.defaults["grids"], SampleComplexity.quick["grids"]):
        used |= {tuple(entry["n"]) for entry in grids.values()}
    missing = {grid for grid in used if len(grid) >= MIN_POINTS} - {tuple(ns) for ns in GRIDS.values()}
    assert not missing, f"measure the growth calls on these grids too: {sorted(missing)}"


# ------------------------------------------------------------------------- the rule, case by case
def _replicates(values, noise=0.01, n_boot=400, seed=0):
    rng = np.random.default_rng(seed)
    values = np.asarray(values, dtype=np.float64)
    return values[:, None] * np.exp(noise * rng.standard_normal((values.size, n_boot)))


NS = np.array([10, 32, 100, 316, 1000], dtype=np.float64)


@pytest.mark.parametrize("values, expected", [
    (30 + 0 * NS, "logarithmic"),
    (12 + 6 * np.log(NS), "logarithmic"),
    (3 * np.sqrt(NS), "polynomial"),
    (2 * NS, "linear"),
    (0.01 * NS**2, "polynomial"),
    (300 / np.sqrt(NS), "undetermined"),                    # decreasing
    (np.array([20, 20, 20, 400, 400.0]), "undetermined"),   # a step: neither law
])
def test_rule_on_exact_curves_with_small_noise(values, expected):
    call = classify(NS, values, _replicates(values))
    assert call.growth == expected, call
    if expected in ("polynomial", "linear"):
        p = np.log(values[-1] / values[0]) / np.log(NS[-1] / NS[0])
        assert call.exponent_low < p < call.exponent_high


def test_exponent_interval_and_fitted_laws():
    values = 5 * NS**0.7
    call = classify(NS, values, _replicates(values, noise=0.02))
    assert call.growth == "polynomial" and call.exponent == pytest.approx(0.7, abs=1e-9)  # the point estimate is exact
    assert call.power_scale == pytest.approx(5.0)
    assert 0.6 < call.exponent_low < 0.7 < call.exponent_high < 0.8
    log_call = classify(NS, 12 + 6 * np.log(NS), _replicates(12 + 6 * np.log(NS)))
    assert log_call.log_intercept == pytest.approx(12.0) and log_call.log_slope == pytest.approx(6.0)


def test_too_few_points_and_unusable_points():
    assert classify(NS[:2], [10.0, 20.0], _replicates([10.0, 20.0])).growth == "undetermined"
    three = classify(NS[:3], 2 * NS[:3], _replicates(2 * NS[:3]))
    assert three.growth == "undetermined" and three.reason.startswith("3 usable point(s)")
    values = 2 * NS
    replicates = _replicates(values)
    replicates[1:4, :200] = np.inf            # more than 16 % of these replicates never reached ε
    call = classify(NS, values, replicates)
    assert call.points == 2 and call.growth == "undetermined"
    replicates = _replicates(values)
    replicates[2, :3] = np.inf                 # a few: the point stays, counted at its largest replicate
    assert classify(NS, values, replicates).growth == "linear"
    assert classify(NS, [np.nan, *values[1:]], _replicates(values)).points == 4


def test_bad_input():
    with pytest.raises(ValueError, match="replicates"):
        classify(NS, 2 * NS, np.ones((3, 10)))
    with pytest.raises(ValueError, match="level"):
        classify(NS, 2 * NS, _replicates(2 * NS), level=1.0)


def test_growth_table_from_an_estimate():
    """From trials to calls: uncensored points only, m* at the largest n, one row per curve family."""
    rng = np.random.default_rng(0)
    rows = []
    truths = {("ng-one", "l1"): lambda n: 10 * np.log(n), ("ng-one", "l2"): lambda n: 2.0 * n}
    for (family, learner), law in truths.items():
        for n in (10, 32, 100, 316, 1000):
            target = law(n)
            grid = target * np.sqrt(2.0) ** (np.arange(-2, 3) + rng.random())   # m* at a random place
            for m in grid if learner == "l1" or n < 1000 else [10, 20, 40, 80]:
                risk = 0.05 + 0.1 * np.log(target / m) + 0.005 * rng.standard_normal(40)
                rows += [{"family": family, "learner": learner, "n": n, "m": m, "rep": r, "risk": v, "bayes_risk": 0.0}
                         for r, v in enumerate(risk)]
    result = estimate(pd.DataFrame(rows), metric="risk", baseline="bayes_risk", keys=["family", "learner", "n"],
                      n_boot=300)
    table = growth_table(result).set_index("learner")
    assert table.loc["l1"].growth == "logarithmic" and table.loc["l1"].points == 5
    assert table.loc["l2"].growth == "linear" and table.loc["l2"].points == 4   # n = 1000 never within ε
    assert np.isnan(table.loc["l2"].mstar_at_max_n) and table.loc["l2"].max_n == 1000
    assert table.loc["l1"].mstar_at_max_n == pytest.approx(10 * np.log(1000), rel=0.02)
    empty = MStar(result.table.iloc[:0], result.replicates[:0], result.keys)
    assert growth_table(empty).empty


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    print("5 % noise on trial level\n" + confusion(curves=200, seed=2).to_string(index=False))
    print("\n5 % noise on m*\n" + confusion(curves=200, seed=3, mstar_noise=0.05).to_string(index=False))
