"""reports.sample_summary: the summary, tuning, rotation-interval and Hadamard tables of the
sample_complexity report, on small synthetic trials whose numbers are computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reports import sample_complexity as report
from reports import sample_summary as summary

TOL = 1e-12


def _check_trial(learner: str, verdict: str, status: str = "ok", created: float = 1.0) -> dict:
    return {"family": summary.CHECK_FAMILY, "learner": learner, "n": 0, "m": 0, "rep": 0, "status": status,
            "risk": np.nan, "rotation_verdict": verdict, "coupled_verdict": verdict, "init_verdict": "equivariant",
            "distributional_verdict": "no_evidence", "created_at": created}


def test_the_constants_match_the_study_and_the_learner():
    from learners.sample.mlp import PREFIX
    from studies.sample_complexity import CHECK_FAMILY

    assert summary.CHECK_FAMILY == CHECK_FAMILY and summary.NEURAL_PREFIX == PREFIX
    assert summary.BOUND_MARGIN_SE == report.BOUND_MARGIN_SE


def test_verdicts_come_from_ok_checker_trials_only_and_a_rerun_replaces_the_first():
    df = pd.DataFrame([_check_trial("mlp:sgd", "not_equivariant", created=1.0),
                       _check_trial("mlp:sgd", "equivariant", created=2.0),
                       _check_trial("mlp:adam", "not_equivariant"),
                       _check_trial("mlp:lion", "equivariant", status="failed"),
                       {"family": "ng-one", "learner": "ridge", "n": 10, "m": 20, "rep": 0, "status": "ok",
                        "risk": 0.1, "created_at": 1.0}])
    checks = summary.rotation_checks(df)
    assert list(checks.learner) == ["mlp:adam", "mlp:sgd"]
    assert summary.verdicts(checks) == {"mlp:adam": "not_equivariant", "mlp:sgd": "equivariant"}
    # a classic-only run: no checker trials, no verdicts, no invented ones
    classic = df[df.family != summary.CHECK_FAMILY].drop(columns=summary.CHECK_COLUMNS)
    assert summary.verdicts(summary.rotation_checks(classic)) == {}


def test_summary_joins_verdict_growth_and_mstar_interval_at_the_largest_n():
    calls = pd.DataFrame({"family": ["ng-one"] * 3, "learner": ["ridge", "mlp:adam", "mlp:sgd"],
                          "growth": ["linear", "undetermined", "linear"], "exponent": [1.0, np.nan, 0.9],
                          "exponent_low": [0.9, np.nan, 0.8], "exponent_high": [1.1, np.nan, 1.0],
                          "max_n": [160, 64, 64], "mstar_at_max_n": [320.0, np.nan, 200.0]})
    mstar = pd.DataFrame({"family": ["ng-one"] * 4, "learner": ["ridge", "mlp:sgd", "mlp:sgd", "mlp:adam"],
                          "n": [160, 32, 64, 64], "ci_low": [300.0, 90.0, 180.0, np.nan],
                          "ci_high": [340.0, 110.0, 230.0, np.nan]})
    table = summary.summary(calls, mstar, {"mlp:sgd": "equivariant", "mlp:adam": "not_equivariant"})
    assert list(table.columns) == summary.SUMMARY_COLUMNS
    assert list(table.learner) == ["mlp:sgd", "mlp:adam", "ridge"]          # equivariant, not, no verdict
    assert list(table.rotation_verdict) == ["equivariant", "not_equivariant", ""]
    sgd = table.iloc[0]
    assert (sgd.mstar_at_max_n, sgd.mstar_low, sgd.mstar_high) == (200.0, 180.0, 230.0)   # n = 64, not 32
    shown = summary.summary_display(table)
    assert shown.loc[0, "exponent [interval]"] == "0.9 [0.8, 1]"
    assert shown.loc[1, "m* at largest n [95 % CI]"] == "beyond its grid of m"
    lines = summary.summary_findings(table, {"mlp:sgd": "equivariant", "mlp:adam": "not_equivariant"})
    assert lines == ["* ng-one, n = 64: the best rotation-equivariant learner is mlp:sgd, m* = 200 [180, 230] "
                     "(1 of 1 within ε); no non-equivariant learner reaches ε on its grid of m. Growth laws: "
                     "linear: mlp:sgd (p = 0.9 [0.8, 1]); undetermined: mlp:adam."]


def _neural_trials(lrs: dict[str, list[float]], family: str = "ng-one") -> pd.DataFrame:
    rows = []
    for learner, values in lrs.items():
        for rep, lr in enumerate(values):
            rows.append({"family": family, "learner": learner, "n": 8, "m": 40, "rep": rep, "status": "ok",
                         "risk": 0.1, "selected_lr": lr, "selected_lr_at_edge": lr in (0.01, 1.0),
                         "diverged_share": [0.0, 1 / 3][rep % 2], "stopped_early": rep < 3, "steps": 10 * (rep + 1)})
    return pd.DataFrame(rows)


def test_tuning_shares_at_the_edges_of_the_grid():
    config = {"mlp": {"grid": [0.1, 1.0, 10.0], "steps": 50, "eval_every": 10, "patience": 2},
              "learner_options": {"mlp:b": {"steps": 100}}}
    df = pd.concat([_neural_trials({"mlp:a": [0.1, 0.1, 0.1, 0.1], "mlp:b": [1.0, 1.0, 1.0, 1.0],
                                    "mlp:c": [0.01, 0.01, 1.0, 0.1]}),
                    pd.DataFrame([_check_trial("mlp:a", "equivariant"),
                                  {"family": "ng-one", "learner": "ridge", "n": 8, "m": 40, "rep": 0,
                                   "status": "ok", "risk": 0.1}])], ignore_index=True)
    table = summary.tuning(df, config, step_sizes=lambda learner, grid: [0.1 * g for g in grid]).set_index("learner")
    assert list(table.index) == ["mlp:a", "mlp:b", "mlp:c"]          # no ridge, no checker trial
    a, b, c = table.loc["mlp:a"], table.loc["mlp:b"], table.loc["mlp:c"]
    assert (a.bottom_share, a.top_share, a.edge_share) == (0.0, 0.0, 0.0)        # the middle of the grid
    assert (b.bottom_share, b.top_share, b.edge_share) == (0.0, 1.0, 1.0)        # always the top
    assert (c.bottom_share, c.top_share, c.edge_share) == (0.5, 0.25, 0.75)
    assert (a.grid_size, a.steps, a.budget, b.steps, b.budget) == (3, 50, 150, 100, 300)
    assert a.lr_min == pytest.approx(0.01, abs=TOL) and a.lr_max == pytest.approx(1.0, abs=TOL)
    assert a.trials == 4 and a.diverged_share == pytest.approx(1 / 6, abs=TOL)
    assert a.stopped_early_share == 0.75 and a.mean_steps == 25.0
    assert summary.budget_text(table.reset_index(), config).startswith("unequal across learners: mlp:a 3 × 50")
    equal = summary.budget_text(table.reset_index().query("learner != 'mlp:b'"), config)
    assert equal == ("3 step sizes × at most 50 full-batch steps = 150 steps per trial for every neural learner, "
                     "early stopping on the hold-out every 10 steps with patience 2")
    lines = summary.tuning_findings(table.reset_index(), equal)
    assert "* mlp:b: selected step size at the grid's bottom in 0 % and at its top in 100 % of 4 trials" in lines[2]
    assert lines[-1] == ("* 2 of 3 learner × family cells select an edge of the grid in more than 10 % of their "
                         "trials (the grid should be widened there); mlp:b on ng-one (top 100 %); mlp:c on ng-one "
                         "(bottom 50 %).")


def test_grid_step_sizes_are_the_learners_own():
    from learners.sample.mlp import MLPLearner
    from optimizers.step_size import step_size

    for spec in ("sgd", "adam", "agd", "layers: [adam, sgd]"):
        learner = MLPLearner(spec, grid=[0.1, 1.0, 31.6])
        assert summary.grid_step_sizes("mlp:" + spec, [0.1, 1.0, 31.6]) == [step_size(s) for s in learner.step_sizes]


def test_mean_difference_interval_by_hand():
    mean, low, high = summary.mean_difference([0.1, 0.2], [0.03, 0.04], [0.15, 0.3], [0.0, 0.0])
    se = np.sqrt(0.03**2 + 0.04**2) / 2                  # = 0.025
    half = stats.norm.isf(0.025) * se
    assert mean == pytest.approx(0.075, abs=TOL)
    assert (low, high) == (pytest.approx(0.075 - half, abs=TOL), pytest.approx(0.075 + half, abs=TOL))
    assert np.isclose(half, 0.0489991, atol=1e-6)
    # a cell without a standard error is left out: K counts the others
    mean, low, high = summary.mean_difference([0.1, 0.2], [0.03, np.nan], [0.13, 0.9], [0.04, 0.01])
    assert mean == pytest.approx(0.03, abs=TOL) and high - mean == pytest.approx(stats.norm.isf(0.025) * 0.05, abs=TOL)


def test_contrast_with_intervals_and_verdicts_and_their_findings():
    cells = pd.DataFrame({"family": ["ng-one", "ng-one", "rotated-ng-one", "rotated-ng-one"] * 2,
                          "learner": ["mlp:sgd"] * 4 + ["mlp:adam"] * 4, "n": [8, 8, 8, 8] * 2,
                          "m": [40, 80, 40, 80] * 2,
                          "mean": [0.2, 0.1, 0.2, 0.1, 0.1, 0.05, 0.3, 0.25],
                          "se": [0.01, 0.01, 0.01, 0.01] * 2, "trials": [20] * 8})
    contrast = report.rotation_contrast(cells)
    table = summary.with_intervals(contrast, cells, {"mlp:sgd": "equivariant", "mlp:adam": "not_equivariant"})
    assert list(table.columns) == [*report.CONTRAST_COLUMNS, *summary.DIFFERENCE_COLUMNS]
    table = table.set_index("learner")
    half = stats.norm.isf(0.025) * np.sqrt(4 * 0.01**2) / 2
    assert table.loc["mlp:sgd", "mean_difference"] == 0.0
    assert table.loc["mlp:adam", "mean_difference"] == pytest.approx(0.2, abs=TOL)
    assert table.loc["mlp:adam", "mean_difference_high"] == pytest.approx(0.2 + half, abs=TOL)
    assert table.loc["mlp:adam", "rotation_verdict"] == "not_equivariant"
    lines = summary.contrast_interval_findings(table.reset_index())
    assert lines[0].startswith("* Every learner the checker calls rotation-equivariant (mlp:sgd) shows no difference "
                               "beyond noise")
    assert lines[1].startswith("* (not_equivariant) ng-one / mlp:adam: mean rotated − plain = +0.2 [+0.18, +0.22] "
                               "over 2 points (rotated worse;")
    assert lines[1].endswith("**a difference beyond noise**.")
    # an equivariant learner with a difference is named as a contradiction of its verdict
    flipped = summary.with_intervals(contrast, cells, {"mlp:adam": "equivariant"})
    assert "against the verdict" in summary.contrast_interval_findings(flipped)[0]


def test_hadamard_summary_by_hand():
    bound = pd.DataFrame({"family": ["hadamard"] * 4, "learner": ["mlp:adam"] * 2 + ["mlp:sgd"] * 2,
                          "n": [16] * 4, "m": [4, 8] * 2, "mean": [0.5, 0.2, 0.75, 0.5],
                          "se": [0.01, 0.02, 0.01, 0.01]})
    bound["bound"] = 1 - bound.m / (bound.n - 1)
    bound["margin_se"] = (bound["mean"] - bound.bound) / bound.se
    bound["below"] = bound.margin_se < -3
    cells = bound[["family", "learner", "n", "m"]].assign(trials=[20, 10, 20, 20])
    verdict = {"mlp:sgd": "equivariant", "mlp:adam": "not_equivariant"}
    table = summary.hadamard_summary(bound, cells, verdict)
    assert list(table.learner) == ["mlp:sgd", "mlp:adam"]
    adam = table.iloc[1]
    gap = 0.2 - (1 - 8 / 15)                              # the lowest risk − bound: k = 8
    half = stats.t.isf(0.025, 9) * 0.02                  # 10 trials there
    assert (adam.cells, adam.below, adam.at_m) == (2, 2, 8)
    assert adam.risk_minus_bound == pytest.approx(gap, abs=TOL)
    assert (adam.risk_minus_bound_low, adam.risk_minus_bound_high) == (pytest.approx(gap - half, abs=TOL),
                                                                       pytest.approx(gap + half, abs=TOL))
    lines = summary.hadamard_neural_findings(table)
    assert lines[0].startswith("* hadamard / mlp:sgd (equivariant): **stays at or above** 1 − k/(d−1) within 3 SE "
                               "at all 2 (d, k)")
    assert lines[1].startswith("* hadamard / mlp:adam (not_equivariant): **beats** the bound by more than 3 SE at "
                               "2 of 2 (d, k); at most by risk − bound = -0.267 [-0.312, -0.221] (95 % CI) at "
                               "d = 16, k = 8.")


def _with_neural(df: pd.DataFrame) -> pd.DataFrame:
    """Classic synthetic trials plus two neural learners on ng-one and its twin, and their checker trials."""
    from tests.test_sample_complexity import CONFIG

    rng = np.random.default_rng(1)
    rows = []
    for learner, shift, lr in (("mlp:sgd", 0.0, 0.01), ("mlp:adam", 0.1, 0.0001)):   # grid bottoms
        for family in ("ng-one", "rotated-ng-one"):
            for n in (10, 32):
                for m in (40, 80, 160, 320):
                    for rep in range(5):
                        risk = 0.2 + (shift if family.startswith("rotated") else 0) + 0.01 * rng.standard_normal()
                        coords = {"family": family, "learner": learner, "n": n, "m": m, "rep": rep}
                        metrics = {"risk": risk, "bayes_risk": 0.0546, "excess": risk - 0.0546, "metric": "zero_one",
                                   "selected_lr": lr, "selected_lr_at_edge": False, "diverged_share": 0.0,
                                   "stopped_early": True, "steps": 20}
                        rows.append({**coords, **metrics, "status": "ok", "coords": coords, "metrics": metrics})
    checks = [{**_check_trial("mlp:sgd", "equivariant"), "risk": 0.5},   # a finite risk must not make it a point
              _check_trial("mlp:adam", "not_equivariant")]
    extra = pd.DataFrame(rows + checks)
    config = {**CONFIG, "learners": [*CONFIG["learners"], "mlp:sgd", "mlp:adam"],
              "mlp": {"grid": [0.1, 1.0, 10.0], "steps": 50, "eval_every": 10, "patience": 2}}
    out = pd.concat([df, extra], ignore_index=True)
    out["config"] = [config] * len(out)
    out["config_hash"], out["created_at"], out["study"] = "synthetic", 1.0, "sample_complexity"
    return out


def test_report_writes_the_new_tables_and_keeps_checker_trials_out_of_curves(tmp_path):
    from tests.test_sample_complexity import synthetic_trials

    df = _with_neural(synthetic_trials(trials=5, ns=(10, 100, 1000), ds=(16,)))
    report.write(df, tmp_path, n_boot=50, figures=False)
    for stem in ("curves", "mstar", "growth"):
        table = pd.read_csv(tmp_path / f"{stem}.csv")
        assert summary.CHECK_FAMILY not in set(table.family)
    table = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    assert summary.CHECK_FAMILY not in set(table.family)
    verdict = dict(zip(table.learner, table.rotation_verdict))
    assert verdict["mlp:sgd"] == "equivariant" and verdict["mlp:adam"] == "not_equivariant"
    assert verdict["l1-logistic"] == "" and verdict["ridge"] == ""
    tuning = pd.read_csv(tmp_path / "tuning.csv")
    assert set(tuning.learner) == {"mlp:sgd", "mlp:adam"} and (tuning.bottom_share == 1.0).all()  # grid 0.1×lr
    contrast = pd.read_csv(tmp_path / "rotation_contrast.csv", keep_default_na=False).set_index("learner")
    assert contrast.loc["mlp:adam", "mean_difference_low"] > 0.05
    assert contrast.loc["l2-logistic", "rotation_verdict"] == ""
    text = (tmp_path / "findings.md").read_text()
    assert "Every learner the checker calls rotation-equivariant (mlp:sgd) shows no difference beyond noise" in text
    assert "tuning.md" in text and "3 step sizes × at most 50 full-batch steps" in (tmp_path / "tuning.md").read_text()


def test_a_classic_only_report_still_works(tmp_path):
    from tests.test_sample_complexity import synthetic_trials

    report.write(synthetic_trials(trials=5, ns=(10, 100, 1000), ds=(16,)), tmp_path, n_boot=50, figures=False)
    table = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    assert len(table) and (table.rotation_verdict == "").all()
    assert pd.read_csv(tmp_path / "tuning.csv").empty and pd.read_csv(tmp_path / "rotation_check.csv").empty
    text = (tmp_path / "findings.md").read_text()
    assert "No checker verdicts in this run" in text and "No neural learner in this run." in text
