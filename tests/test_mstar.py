"""m*(n) from trial tables (reports.mstar), on synthetic results with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.mstar import bootstrap_crossings, bootstrap_means, crossings, estimate, first_crossing, mstar_table

GRID = np.array([10, 20, 40, 80, 160, 320, 640, 1280], dtype=float)
BAYES = 0.0546


def _trials(curves: dict[tuple[str, str, int], callable], grid=GRID, trials=30, noise=0.0, seed=0) -> pd.DataFrame:
    """One row per trial: zero_one = Bayes error + excess(m) (+ noise with mean exactly zero per cell)."""
    rng = np.random.default_rng(seed)
    rows = []
    for (setting, penalty, n), excess in curves.items():
        for m in grid:
            eps = rng.standard_normal(trials) * noise
            eps -= eps.mean()
            for rep, e in enumerate(eps):
                rows.append({"setting": setting, "penalty": penalty, "n": n, "m": int(m), "rep": rep,
                             "zero_one": BAYES + excess(m) + e, "bayes_error": BAYES})
    return pd.DataFrame(rows)


def _log_linear(mstar: float, slope: float = 0.1):
    """An excess curve linear in log m that crosses 0.05 exactly at m = mstar."""
    return lambda m: 0.05 + slope * (np.log(mstar) - np.log(m))


def test_first_crossing_interpolates_in_log_m():
    m = [10, 100, 1000]
    assert first_crossing(m, [0.3, 0.1, 0.0], 0.05) == pytest.approx((10 ** 2.5, "none"))
    assert first_crossing(m, [0.3, 0.05, 0.0], 0.05) == pytest.approx((100.0, "none"))   # "within ε" includes ε
    assert first_crossing(m, [0.01, 0.3, 0.0], 0.05) == (10.0, "below")
    value, censored = first_crossing(m, [0.3, 0.2, 0.1], 0.05)
    assert np.isnan(value) and censored == "above"
    # the first crossing counts, even if the curve rises again
    assert first_crossing(m, [0.3, 0.0, 0.2], 0.05) == pytest.approx((10 ** (1 + 0.25 / 0.3), "none"))


def test_batched_crossings_equal_one_curve_at_a_time():
    rng = np.random.default_rng(3)
    excess = rng.uniform(0, 0.2, size=(4, 5, 6))
    grids = np.sort(rng.uniform(5, 500, size=(4, 5, 6)), axis=-1)   # a grid per curve
    values, censored = crossings(grids, excess, 0.05)
    for i in range(4):
        for j in range(5):
            value, label = first_crossing(grids[i, j], excess[i, j], 0.05)
            assert censored[i, j] == label
            assert (np.isnan(value) and np.isnan(values[i, j])) or values[i, j] == pytest.approx(value, rel=1e-12)


def test_bootstrap_means_resample_each_row_with_replacement():
    values = np.arange(12.0).reshape(3, 4) * 10
    means = bootstrap_means(values, 500, np.random.default_rng(0))
    assert means.shape == (3, 500)
    # every resampled mean is a mean of 4 values of its own row, and they scatter around the row mean
    for row, draws in zip(values, means):
        assert np.all((draws >= row.min()) & (draws <= row.max()))
        assert abs(draws.mean() - row.mean()) < 3 * row.std() / np.sqrt(4 * 500) + 1e-9
        assert draws.std() == pytest.approx(row.std() / 2, rel=0.15)   # sd of a mean of 4 resampled values


def test_replicates_that_never_reach_epsilon_are_infinite():
    cells = [np.array([0.3, 0.3]), np.array([0.0, 0.2])]         # the second cell reaches ε in some resamples only
    draws = bootstrap_crossings([10, 20], cells, 0.05, 400, np.random.default_rng(1))
    assert np.isinf(draws).any() and np.isfinite(draws).any()
    assert np.all(draws[np.isfinite(draws)] <= 20)


def test_mstar_table_recovers_known_crossings_and_their_intervals():
    truth = {("one", "l1", 10): 23.0, ("one", "l1", 1000): 57.0, ("one", "l2", 10): 95.0, ("one", "l2", 100): 700.0}
    df = _trials({k: _log_linear(v) for k, v in truth.items()}, noise=0.02)
    table = mstar_table(df, epsilon=0.05, n_boot=300).set_index(["setting", "penalty", "n"])
    assert len(table) == 4
    for key, value in truth.items():
        row = table.loc[key]
        assert row.mstar == pytest.approx(value, rel=1e-9)   # the cell means are exact by construction
        assert row.censored == "none" and row.trials == 30 and row.grid_points == len(GRID)
        assert row.ci_low < value < row.ci_high              # the noise gives a proper interval
        assert row.ci_high / row.ci_low < 2


def test_estimate_keeps_replicates_row_by_row_and_other_keys():
    df = _trials({("one", "l1", 10): _log_linear(23.0), ("one", "l1", 100): _log_linear(300.0)}, noise=0.02)
    df = df.rename(columns={"setting": "family", "penalty": "learner", "zero_one": "risk", "bayes_error": "bayes_risk"})
    result = estimate(df, metric="risk", baseline="bayes_risk", keys=["family", "learner", "n"], n_boot=200)
    assert result.replicates.shape == (2, 200) and result.keys == ("family", "learner", "n")
    for row, draws in zip(result.table.itertuples(), result.replicates):
        assert np.quantile(draws, 0.025) <= row.mstar <= np.quantile(draws, 0.975)
    # a curve's replicates do not depend on which other curves the table holds
    alone = estimate(df[df.n == 100], metric="risk", baseline="bayes_risk", keys=["family", "learner", "n"],
                     n_boot=200)
    np.testing.assert_array_equal(alone.replicates[0], result.replicates[1])


def test_constant_trials_give_a_zero_width_interval():
    df = _trials({("three", "l1", 50): _log_linear(60.0)}, noise=0.0)
    row = mstar_table(df, n_boot=100).iloc[0]
    assert row.ci_low == pytest.approx(60.0) and row.ci_high == pytest.approx(60.0)


def test_censored_curves_and_short_grids():
    df = _trials({("one", "l2", 500): lambda m: 0.4,           # never within ε
                  ("one", "l1", 10): lambda m: 0.01})           # within ε from the start
    df = pd.concat([df, _trials({("one", "l1", 99): lambda m: 0.0}, grid=GRID[:3])])  # too few m values
    table = mstar_table(df, n_boot=50).set_index("n")
    assert set(table.index) == {500, 10}
    assert np.isnan(table.loc[500].mstar) and table.loc[500].censored == "above"
    assert np.isinf(table.loc[500].ci_high)
    assert table.loc[10].mstar == GRID[0] and table.loc[10].censored == "below"


def test_bad_input():
    with pytest.raises(ValueError, match="lacks column"):
        mstar_table(pd.DataFrame({"setting": ["one"], "n": [1]}))
    with pytest.raises(ValueError, match="epsilon must be positive"):
        mstar_table(_trials({("one", "l1", 1): lambda m: 0.0}), epsilon=0.0)
    with pytest.raises(ValueError, match="n_boot must be a positive integer"):
        mstar_table(_trials({("one", "l1", 1): lambda m: 0.0}), n_boot=0)


def test_the_interval_does_not_depend_on_the_order_trials_were_stored_in():
    """Workers store trials in the order they finish: the estimate must not see that order."""
    df = _trials({("one", "l1", 10): _log_linear(23.0), ("one", "l1", 100): _log_linear(40.0)}, noise=0.05)
    df["rep"] = df.groupby(["setting", "penalty", "n", "m"]).cumcount()
    shuffled = df.sample(frac=1.0, random_state=1)
    a = estimate(df, n_boot=200).table
    b = estimate(shuffled, n_boot=200).table
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
