"""m*(n) from trial tables, on synthetic results with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.sample_complexity import first_crossing, growth_fits, mstar_table

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


def test_growth_fits_tell_logarithmic_from_linear():
    ns = [10, 32, 100, 316, 1000]
    mstar = pd.DataFrame(
        [{"setting": "one", "penalty": "l1", "n": n, "mstar": 12 + 6 * np.log(n), "censored": "none"} for n in ns]
        + [{"setting": "one", "penalty": "l2", "n": n, "mstar": 8.0 * n + 20, "censored": "none"} for n in ns[:4]]
        + [{"setting": "one", "penalty": "l2", "n": 1000, "mstar": np.nan, "censored": "above"}]
        + [{"setting": "decay", "penalty": "l1", "n": n, "mstar": 30.0, "censored": "none"} for n in ns[:2]]
    )
    fits = growth_fits(mstar).set_index(["setting", "penalty"])
    l1, l2 = fits.loc[("one", "l1")], fits.loc[("one", "l2")]
    assert l1.verdict == "logarithmic" and l1.r2_log == pytest.approx(1.0) and l1.slope_log == pytest.approx(6.0)
    assert l1.r2_linear < 0.9 and l1.loglog_slope < 0.5
    assert l2.verdict == "linear" and l2.points == 4 and l2.r2_linear == pytest.approx(1.0)
    assert l2.slope_linear == pytest.approx(8.0) and l2.loglog_slope > 0.8
    assert fits.loc[("decay", "l1")].verdict == "undetermined"


def test_noisy_trials_still_give_the_right_verdicts():
    ns = (10, 32, 100, 316, 1000)
    curves = {("one", "l1", n): _log_linear(15 + 5 * np.log(n)) for n in ns}
    curves |= {("one", "l2", n): _log_linear(9.0 * n) for n in (10, 20, 40, 80, 160)}
    grid = np.unique(np.round(np.geomspace(10, 3000, 18)))
    df = _trials(curves, grid=grid, noise=0.05, trials=40, seed=1)
    df["zero_one"] += np.random.default_rng(2).standard_normal(len(df)) * 0.01  # cell means now noisy too
    fits = growth_fits(mstar_table(df, n_boot=200)).set_index("penalty")
    assert fits.loc["l1"].verdict == "logarithmic"
    assert fits.loc["l2"].verdict == "linear"


def test_bad_input():
    with pytest.raises(ValueError, match="lacks column"):
        mstar_table(pd.DataFrame({"setting": ["one"], "n": [1]}))
    with pytest.raises(ValueError, match="epsilon must be positive"):
        mstar_table(_trials({("one", "l1", 1): lambda m: 0.0}), epsilon=0.0)
