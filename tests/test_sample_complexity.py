"""The report of the sample_complexity study (reports.sample_complexity) on synthetic stored trials.

The trials are shaped like ``studies.store.load(db, "sample_complexity")`` (the stored-trial
schema of the study): coords family, learner, n, m, rep; metrics risk, bayes_risk, excess,
metric (and bound on hadamard). Their laws are known, so every table and sentence can be checked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports import build
from reports import sample_complexity as report
from studies import store

BAYES = 0.0546
NS = (10, 32, 100, 316, 1000)
DS = (16, 32, 64)
KS = (4, 6, 8, 12, 15, 24, 31, 48, 63)
CONFIG = {"seed": 0, "epsilon": 0.05, "trials": 20, "families": ["ng-one", "rotated-ng-one", "hadamard"],
          "learners": ["l1-logistic", "l2-logistic", "ridge", "spindly"]}
#: m*(n) of each learner on the Gaussian families: L1 logarithmic, L2 linear; L1 loses its edge when rotated
MSTAR = {("ng-one", "l1-logistic"): lambda n: 10 * np.log(n), ("ng-one", "l2-logistic"): lambda n: 2.0 * n,
         ("rotated-ng-one", "l1-logistic"): lambda n: 2.0 * n, ("rotated-ng-one", "l2-logistic"): lambda n: 2.0 * n}


def _hadamard_risk(learner: str, d: int, k: np.ndarray, rng, ridge_factor: float) -> np.ndarray:
    bound = 1 - k / (d - 1)
    if learner == "ridge":        # rotation invariant: at or above the bound
        return ridge_factor * bound + 0.01 * np.abs(rng.standard_normal(k.shape))
    return np.minimum(1.0, np.log(d) / k) * (1 + 0.05 * rng.standard_normal(k.shape))   # spindly ≈ log(d)/k


def synthetic_trials(trials: int = 20, seed: int = 0, ridge_factor: float = 1.0, ns=NS, ds=DS) -> pd.DataFrame:
    """Rows like the store's: one per trial, coords and metrics as columns."""
    rng = np.random.default_rng(seed)
    rows = []

    def add(coords, metrics, status="ok"):
        rows.append({**coords, **metrics, "status": status, "coords": coords, "metrics": metrics})

    plain_l2 = {}
    for (family, learner), law in MSTAR.items():
        for n in ns:
            target = law(n)
            for k in range(-2, 3):   # a rotated twin runs on its base family's grid, as in the study
                m = int(round(MSTAR[("ng-one", learner)](n) * np.sqrt(2.0) ** (k + 0.4)))
                noise = 0.005 * rng.standard_normal(trials)
                if family == "rotated-ng-one" and learner == "l2-logistic":
                    noise = plain_l2[(n, m)] + 1e-13 * rng.standard_normal(trials)   # paired data, rounding apart
                elif learner == "l2-logistic":
                    plain_l2[(n, m)] = noise
                risk = np.minimum(BAYES + 0.05 * target / m, 0.5) + noise     # a 0/1 error stays below 1/2
                for rep in range(trials):
                    add({"family": family, "learner": learner, "n": n, "m": m, "rep": rep},
                        {"risk": risk[rep], "bayes_risk": BAYES, "excess": risk[rep] - BAYES, "metric": "zero_one"})
    for learner in ("ridge", "spindly"):
        for d in ds:
            k = np.array(sorted({k for k in KS if k < d} | {d - 1}), dtype=float)
            for rep in range(trials):
                risk = _hadamard_risk(learner, d, k, rng, ridge_factor)
                for kk, r in zip(k, risk):
                    add({"family": "hadamard", "learner": learner, "n": d, "m": int(kk), "rep": rep},
                        {"risk": r, "bayes_risk": 0.0, "excess": r, "metric": "square", "bound": 1 - kk / (d - 1)})
    add({"family": "ng-one", "learner": "l1-logistic", "n": 10, "m": 5, "rep": 0},
        {"risk": np.nan, "bayes_risk": BAYES, "excess": np.nan, "metric": "zero_one"}, status="diverged")
    add({"family": "ng-one", "learner": "l1-logistic", "n": 10, "m": 6, "rep": 0}, {}, status="failed")
    df = pd.DataFrame(rows)
    df["config"] = [CONFIG] * len(df)
    df["config_hash"] = "synthetic"
    df["created_at"] = 1.0
    df["study"] = "sample_complexity"
    return df


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    paths = report.write(synthetic_trials(), out, n_boot=300, figures=False)
    return out, paths


def test_tables_have_the_issue_columns(written):
    out, paths = written
    assert all(p.exists() for p in paths)
    columns = {
        "curves": "family,learner,n,m,metric,mean,ci_low,ci_high,trials",
        "mstar": "family,learner,n,epsilon,mstar,ci_low,ci_high,censored",
        "growth": "family,learner,growth,exponent,exponent_low,exponent_high,mstar_at_max_n",
    }
    for stem, header in columns.items():
        assert (out / f"{stem}.csv").read_text().splitlines()[0] == header
        assert (out / f"{stem}.md").exists()
    for stem in ("rotation_contrast", "hadamard_bound", "growth_details"):
        assert (out / f"{stem}.csv").exists() and (out / f"{stem}.md").exists()


def test_curves_count_trials_and_stay_in_the_metric_range(written):
    out, _ = written
    curves = pd.read_csv(out / "curves.csv")
    assert (curves.trials == 20).all()                        # the diverged (NaN) and failed trials are left out
    assert (curves.ci_low <= curves["mean"]).all() and (curves["mean"] <= curves.ci_high).all()
    zero_one = curves[curves.metric == "zero_one"]
    assert (zero_one.ci_low >= 0).all() and (zero_one.ci_high <= 1).all()
    square = curves[curves.metric == "square"]
    assert (square.ci_low >= 0).all()
    # spindly at k = d − 1: risk ≈ log(d)/(d − 1) ± 5 %: a t-interval cut at 0 only where it would cross it
    assert set(curves.family) == {"ng-one", "rotated-ng-one", "hadamard"}
    status = (out / "status.md").read_text()
    assert "diverged" in status and "failed" in status


def test_interval_helper_cuts_at_the_metric_range():
    from reports.stats import mean_ci, metric_range

    mean, low, high = mean_ci([0.0, 0.0, 0.01, 0.0], bounds=metric_range("zero_one"))
    assert low == 0.0 and 0 < mean < high <= 1
    assert mean_ci([0.99, 1.0, 1.0], bounds=metric_range("zero_one"))[2] == 1.0
    assert metric_range("square") == (0.0, np.inf)


def test_mstar_and_growth_follow_the_known_laws(written):
    out, _ = written
    mstar = pd.read_csv(out / "mstar.csv")
    l1 = mstar[(mstar.family == "ng-one") & (mstar.learner == "l1-logistic")].set_index("n")
    for n in NS:   # excess = ε·m*/m exactly in the mean: m* within a few % (interpolation in log m)
        assert l1.loc[n, "mstar"] == pytest.approx(10 * np.log(n), rel=0.05)
        assert l1.loc[n, "ci_low"] < l1.loc[n, "mstar"] < l1.loc[n, "ci_high"]
    assert (mstar.epsilon == 0.05).all()
    growth = pd.read_csv(out / "growth.csv").set_index(["family", "learner"])
    assert growth.loc[("ng-one", "l1-logistic"), "growth"] == "logarithmic"
    assert growth.loc[("ng-one", "l2-logistic"), "growth"] == "linear"
    # rotated, L1 needs ~2n examples: beyond its grid (made for 10·log n) from n = 100 on
    rotated_l1 = mstar[(mstar.family == "rotated-ng-one") & (mstar.learner == "l1-logistic")].set_index("n")
    assert (rotated_l1.loc[[100, 316, 1000], "censored"] == "above").all()
    assert growth.loc[("rotated-ng-one", "l1-logistic"), "growth"] == "undetermined"
    row = growth.loc[("ng-one", "l2-logistic")]
    assert row.exponent_low < 1 < row.exponent_high
    assert row.mstar_at_max_n == pytest.approx(2000, rel=0.05)
    assert growth.loc[("hadamard", "ridge"), "growth"] in ("linear", "polynomial", "undetermined")


def test_rotation_contrast_separates_the_invariant_learner(written):
    out, _ = written
    contrast = pd.read_csv(out / "rotation_contrast.csv").set_index("learner")
    assert set(contrast.index) == {"l1-logistic", "l2-logistic"} and (contrast.family == "ng-one").all()
    assert contrast.loc["l2-logistic", "max_abs_z"] < 1e-6       # paired identical data: no difference
    assert contrast.loc["l2-logistic", "adjusted_p"] > 0.99
    l1 = contrast.loc["l1-logistic"]
    assert l1.max_abs_z > 10 and l1.difference > 0 and l1.adjusted_p < 1e-6   # rotated L1 is worse
    assert l1.points == 25


def test_hadamard_bound_table(written):
    out, _ = written
    bound = pd.read_csv(out / "hadamard_bound.csv")
    assert (bound.m < bound.n).all()
    np.testing.assert_allclose(bound.bound, 1 - bound.m / (bound.n - 1))
    assert not bound[bound.learner == "ridge"].below.any()
    assert bound[bound.learner == "spindly"].below.sum() >= 10


def test_findings_are_computed_from_the_data(written, tmp_path):
    out, _ = written
    text = (out / "findings.md").read_text()
    assert "hadamard / ridge: **stays at or above** 1 − k/(d−1) within 3 SE" in text
    assert "hadamard / spindly: **falls below**" in text
    assert "ng-one / l1-logistic: **logarithmic**" in text and "ng-one / l2-logistic: **linear**" in text
    assert "ng-one / l2-logistic: largest difference" in text and "no difference beyond noise" in text
    assert "ng-one / l1-logistic: largest difference" in text and "**a difference beyond noise**" in text
    # the same report on data where ridge falls below its bound says so
    report.write(synthetic_trials(ridge_factor=0.8), tmp_path, n_boot=100, figures=False)
    flipped = (tmp_path / "findings.md").read_text()
    assert "hadamard / ridge: **falls below**" in flipped


def test_symbench_report_builds_it_from_a_database_with_every_figure(tmp_path):
    """Stored trials -> ``reports.build`` (what ``symbench report`` runs), PNG and PDF figures included
    (a small grid: drawing dominates the report's time)."""
    df = synthetic_trials(trials=3, ns=(10, 1000), ds=(16,))
    rows = [{"trial_key": f"k{i}", "study": "sample_complexity", "config_hash": r.config_hash, "config": CONFIG,
             "coords": r.coords, "seed": i, "status": r.status,
             "metrics": {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.metrics.items()},
             "duration_s": 0.0, "versions": {}} for i, r in enumerate(df.itertuples())]
    db = tmp_path / "s.db"
    with store.connect(db) as con:
        store.insert(con, rows)
    paths = build(db=db, out=tmp_path / "reports", study="sample_complexity")
    folder = tmp_path / "reports" / "sample_complexity"
    assert folder / "growth.csv" in paths and (folder / "findings.md").exists()
    for figure in ("risk_ng-one", "risk_rotated-ng-one", "risk_hadamard", "mstar", "hadamard", "rotation_ng-one",
                   "rotation_contrast"):
        for suffix in (".png", ".pdf"):
            assert folder / f"{figure}{suffix}" in paths and (folder / f"{figure}{suffix}").stat().st_size > 0


def test_a_table_without_risks_is_refused():
    with pytest.raises(ValueError, match="lack the column 'risk'"):
        report.usable_trials(pd.DataFrame({"status": ["ok"]}))
