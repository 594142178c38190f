"""The ng2004 study: its trial grid, paired data, per-trial metrics and a run through the runner."""

from __future__ import annotations

import time

import numpy as np
import pytest

from reports.growth import growth_table
from reports.mstar import estimate
from studies import config as config_mod
from studies import store
from studies.ng2004 import STUDY, lambda_grid
from studies.runner import run_study

TINY = {
    "settings": ["one", "three"], "n_values": [5, 40], "m_values": [30], "trials": 3,
    "mstar_settings": ["one"], "mstar_n_l1": [5], "mstar_m_l1": [10, 20, 40, 80], "mstar_n_l2": [5],
    "mstar_m_l2": [10, 20, 40, 80], "mstar_trials": 2,
}
# metrics of one trial in different batches: equal up to the rounding of vectorised kernels
# (see tests/test_logistic.py) propagated through the tol = 1e-10 solver
BATCH_TOL = 1e-8


def _config(**overrides):
    return config_mod.resolve(STUDY, overrides={**TINY, **overrides})


def _specs(config, **match):
    return [s for s in STUDY.trial_specs(config) if all(s.coords[k] == v for k, v in match.items())]


def test_default_grid_is_figure_one_plus_the_mstar_grid():
    config = config_mod.resolve(STUDY)
    coords = STUDY.trials(config)
    keys = [(c["setting"], c["n"], c["m"], c["penalty"], c["rep"]) for c in coords]
    assert len(keys) == len(set(keys))
    figure = {(s, n, m, p) for s in ("one", "three", "decay") for n in config["n_values"] for m in (100, 200)
              for p in ("l1", "l2")}
    counts = {}
    for s, n, m, p, _ in keys:
        counts[(s, n, m, p)] = counts.get((s, n, m, p), 0) + 1
    assert all(counts[point] == 100 for point in figure)
    assert len(config["n_values"]) == 9 and config["n_values"][0] == 10 and config["n_values"][-1] == 1000
    mstar = set(counts) - figure
    assert {n for s, n, m, p in mstar if p == "l2"} == set(config["mstar_n_l2"])
    assert len(coords) == 100 * (len(figure) + len(mstar))
    # the most expensive points come first, for the two workers to finish together
    assert coords[0]["penalty"] == "l2" and coords[0]["m"] == max(config["mstar_m_l2"])


def test_quick_grid_contains_ngs_hardest_point():
    quick = config_mod.resolve(STUDY, quick=True)
    points = {(c["setting"], c["n"], c["m"], c["penalty"]) for c in STUDY.trials(quick)}
    assert {("one", 1000, 100, "l1"), ("one", 1000, 100, "l2")} <= points
    # --quick changes design keys only: its trials are the full study's
    assert STUDY.config_hash(quick) == STUDY.config_hash(config_mod.resolve(STUDY))


def test_lambda_grid():
    grid = lambda_grid(config_mod.resolve(STUDY))
    # 1e3 down to 1e-6 (issue 12: the old 10 … 1e-4 put λ at an edge too often; reports/ng2004 edges.md)
    assert len(grid) == 37 and grid[0] == pytest.approx(1e3) and grid[-1] == pytest.approx(1e-6)
    np.testing.assert_allclose(np.diff(np.log10(grid)), -0.25)


def test_l1_and_l2_see_the_same_data():
    config = _config()
    l1 = STUDY.dataset(config, {"setting": "three", "n": 40, "m": 30, "penalty": "l1", "rep": 2})
    l2 = STUDY.dataset(config, {"setting": "three", "n": 40, "m": 30, "penalty": "l2", "rep": 2})
    other = STUDY.dataset(config, {"setting": "three", "n": 40, "m": 30, "penalty": "l1", "rep": 1})
    np.testing.assert_array_equal(l1[0], l2[0])
    np.testing.assert_array_equal(l1[1], l2[1])
    assert not np.array_equal(l1[0], other[0])
    shifted = STUDY.dataset(_config(seed=1), {"setting": "three", "n": 40, "m": 30, "penalty": "l1", "rep": 2})
    assert not np.array_equal(l1[0], shifted[0])


def test_run_batch_reports_exact_risks_of_the_selected_models():
    config = _config()
    specs = _specs(config, setting="one", n=40, m=30)
    for penalty in ("l1", "l2"):
        batch = [s for s in specs if s.coords["penalty"] == penalty]
        outcomes = STUDY.run_batch(config, batch)
        assert len(outcomes) == 3
        grid = set(np.round(lambda_grid(config), 12))
        for out in outcomes:
            m = out.metrics
            assert out.status == "ok" and m["path_converged"] and m["n_train"] == 21
            assert m["bayes_error"] == pytest.approx(0.0546, abs=5e-5)
            assert m["bayes_error"] <= m["zero_one"] <= 0.5 + 1e-12
            assert m["bayes_log_loss"] <= m["log_loss"]
            assert {round(m["lambda_zero_one"], 12), round(m["lambda_log_loss"], 12)} <= grid
            assert 0 <= m["nnz_zero_one"] <= 40
            if penalty == "l2":
                assert m["nnz_zero_one"] in (0, 40)  # L2 is never sparse
    # a trial's metrics do not depend on the other trials of its batch
    batch = [s for s in specs if s.coords["penalty"] == "l1"]
    together = STUDY.run_batch(config, batch)
    alone = STUDY.run_batch(config, batch[1:2])
    for key, value in alone[0].metrics.items():
        assert together[1].metrics[key] == pytest.approx(value, abs=BATCH_TOL), key


def test_l2_does_not_notice_a_rotation_and_l1_does():
    plain, rotated = _config(), _config(group="orthogonal")
    for penalty, same in (("l2", True), ("l1", False)):
        batch = _specs(plain, setting="one", n=40, m=30, penalty=penalty)
        a = [o.metrics["zero_one"] for o in STUDY.run_batch(plain, batch)]
        b = [o.metrics["zero_one"] for o in STUDY.run_batch(rotated, batch)]
        if same:
            np.testing.assert_allclose(a, b, atol=1e-7)
        else:
            assert np.abs(np.subtract(a, b)).max() > 1e-3


def test_bad_configs_are_rejected_before_running():
    bad = [
        ({"settings": ["four"]}, "unknown setting 'four'"),
        ({"penalties": ["l3"]}, "unknown penalty 'l3'"),
        ({"m_values": [3]}, "m_values must be distinct integers >= 4"),
        ({"n_values": [2], "settings": ["three"]}, "setting 'three' needs n >= 3"),
        ({"lambda_min": 1.0, "lambda_max": 0.1}, "lambda_min < lambda_max"),
        ({"holdout": 1.5}, "holdout must be a fraction"),
        ({"group": "rotation"}, "unknown group 'rotation'"),
    ]
    for overrides, message in bad:
        with pytest.raises(config_mod.ConfigError, match=message):
            _config(**overrides)


def test_runner_stores_every_trial(tmp_path):
    db = tmp_path / "ng.db"
    summary = run_study("ng2004", overrides=TINY, db=db, jobs=1, progress=False)
    expected = len(STUDY.trials(_config()))
    assert summary.counts == {"ok": expected}
    df = store.load(db, "ng2004")
    assert len(df) == expected and {"zero_one", "log_loss", "lambda_zero_one", "rep"} <= set(df.columns)
    assert df.path_converged.all()
    result = estimate(df[df.status == "ok"], n_boot=20)
    assert set(result.table.n) == {5}  # only the m* curves have a grid of m
    assert len(growth_table(result)) == 2


@pytest.mark.slow
def test_quick_study_fits_its_budget(tmp_path):
    start = time.perf_counter()
    summary = run_study("ng2004", quick=True, db=tmp_path / "q.db", jobs=2, progress=False)
    assert time.perf_counter() - start < 120
    assert set(summary.counts) == {"ok"}
    df = store.load(tmp_path / "q.db", "ng2004")
    hard = df[(df.setting == "one") & (df.n == 1000) & (df.m == 100)].groupby("penalty").zero_one.mean()
    assert hard["l1"] - 0.0546 < 0.05 and hard["l2"] > 0.35
