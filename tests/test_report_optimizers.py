"""The optimizers report's new tables: tuning.csv, lr_sensitivity.csv, time to target, rankings;
every interval inside its metric's range."""

from __future__ import annotations

import pandas as pd
import pytest

from reports import build
from reports.optimizers import _effect, time_to_target
from studies.runner import run_study


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("optimizers_report")
    config = {"experiments": ["two_layer", "square_loss"], "seeds": 3, "two_layer_optimizers": ["agd", "adam"],
              "square_loss_optimizers": ["agd", "agd-layerwise"], "two_layer_grid_points": 3,
              "square_loss_grid_points": 3, "two_layer_target": 0.5, "square_loss_target": 0.999}
    for experiment in ("two_layer", "square_loss"):
        config.update({f"{experiment}_dataset": "digits", f"{experiment}_n_train": 300, f"{experiment}_n_test": 150,
                       f"{experiment}_epochs": 2, f"{experiment}_width": 32})
    run_study("optimizers", overrides=config, db=tmp / "r.db", jobs=1, progress=False)
    build(db=tmp / "r.db", out=tmp, study="optimizers")
    return tmp / "optimizers"


def test_tuning_csv_has_the_issue_columns_and_one_row_per_tuned_optimizer(report):
    tuning = pd.read_csv(report / "tuning.csv")
    assert list(tuning.columns[:5]) == ["experiment", "optimizer", "grid_size", "chosen", "at_edge_share"]
    assert len(tuning) == 4 and set(tuning["grid_size"]) == {3}
    assert tuning["at_edge_share"].between(0, 1).all()
    for _, row in tuning.iterrows():  # the most often chosen value is one of the seeds' choices
        assert f"{float(row['chosen']):g}" in [c.strip() for c in row["choices"].split(",")]


def test_lr_sensitivity_covers_every_candidate_with_intervals_in_range(report):
    sensitivity = pd.read_csv(report / "lr_sensitivity.csv")
    assert list(sensitivity.columns[:7]) == ["experiment", "optimizer", "lr", "mean", "ci_low", "ci_high", "seeds"]
    assert len(sensitivity) == 4 * 3  # 4 tuned optimizers × 3 candidates
    finite = sensitivity.dropna(subset=["mean"])
    assert ((0 <= finite["ci_low"]) & (finite["ci_low"] <= finite["mean"]) & (finite["mean"] <= finite["ci_high"])
            & (finite["ci_high"] <= 1)).all()
    agd = sensitivity[(sensitivity["experiment"] == "two_layer") & (sensitivity["optimizer"] == "agd")]
    assert sorted(agd["lr"]) == [pytest.approx(0.316228), 1.0, pytest.approx(3.16228)]  # AGD: the gain


def test_every_interval_of_the_report_is_inside_its_metric_range(report):
    values = pd.read_csv(report / "final_epoch_values.csv")
    accuracy = values[values["metric"].str.endswith("acc")]
    assert ((accuracy["ci_low"] >= 0) & (accuracy["ci_high"] <= 1)).all()
    assert (values[values["metric"].str.endswith("loss")]["ci_low"] >= 0).all()
    targets = pd.read_csv(report / "time_to_target.csv")
    assert (targets.dropna(subset=["steps_ci_low"])["steps_ci_low"] >= 0).all()
    rankings = pd.read_csv(report / "rankings.csv")
    for tuning in ("default", "tuned"):
        assert rankings[f"{tuning}_ci_low"].dropna().ge(-1).all() and rankings[f"{tuning}_ci_high"].dropna().le(1).all()
    summary = (report / "summary.md").read_text()
    assert "layer-wise AGD" in summary and "agd-layerwise − agd" in summary
    assert "Orderings that survive equal tuning" in summary


def test_time_to_target_table_counts_seeds_that_never_reach_it(report):
    targets = pd.read_csv(report / "time_to_target.csv")
    square = targets[targets["experiment"] == "square_loss"]
    assert (square["target"] == 0.999).all() and (square["never_share"] == 1.0).all()  # out of reach in 2 epochs
    assert square["steps_mean"].isna().all()
    two_layer = targets[targets["experiment"] == "two_layer"]
    assert ((two_layer["never_share"] >= 0) & (two_layer["never_share"] <= 1)).all()


def test_time_to_target_on_a_synthetic_history():
    history = {"step": [10, 20, 30, 40], "test_acc": [0.2, 0.6, float("nan"), 0.9]}
    # a member of a batched run charged 8 s over its 40 steps: 0.2 s per step
    assert time_to_target(history, 0.5, member_seconds=8.0, run_steps=40) == (20, pytest.approx(4.0))
    assert time_to_target(history, 0.9, member_seconds=8.0, run_steps=40) == (40, pytest.approx(8.0))
    assert time_to_target(history, 0.95, member_seconds=8.0, run_steps=40) == (None, None)
    assert time_to_target({"step": [], "test_acc": []}, 0.1, 1.0, 1) == (None, None)


def test_effect_of_tuning_on_an_ordering():
    assert _effect(1, 1) == "survives" and _effect(1, -1) == "reversed" and _effect(1, 0) == "lost"
    assert _effect(0, -1) == "appears" and _effect(0, 0) == "tie" and _effect(None, 1) == "tuned only"
