"""ng2004's λ grid edges: the per-trial edge flags, their shares in the report (edges.csv) and the default grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from learners.logistic import HoldoutResult
from reports import ng2004 as report
from studies import config as config_mod
from studies.ng2004 import PLATEAU_TOL, STUDY, lambda_grid

#: the grid before issue 12: 10 down to 1e-4
OLD_LAMBDA_MIN = 1e-4


def _result(scores: list[list[float]], index: list[int], lambdas=(10.0, 1.0, 0.1)) -> HoldoutResult:
    s = torch.tensor(scores, dtype=torch.float64)
    i = torch.tensor(index)
    return HoldoutResult(torch.tensor(lambdas, dtype=torch.float64), None, {"log_loss": s}, {"log_loss": i},
                         {}, {}, {}, 7)


def test_edge_flags_of_hand_made_hold_out_curves():
    # rows: interior; smallest λ; largest λ, strictly best; largest λ by a tie (a plateau)
    result = _result([[0.5, 0.2, 0.3], [0.5, 0.4, 0.3], [0.1, 0.2, 0.3], [0.1, 0.1, 0.3]], [1, 2, 0, 0])
    assert result.at_edge("log_loss").tolist() == [False, True, True, False]
    assert result.top_tie("log_loss").tolist() == [False, False, False, True]


def test_edge_flags_follow_the_lambda_order_not_the_position():
    # the same curves on a grid given smallest first
    result = _result([[0.3, 0.2, 0.5], [0.3, 0.1, 0.1]], [0, 2], lambdas=(0.1, 1.0, 10.0))
    assert result.at_edge("log_loss").tolist() == [True, False]
    assert result.top_tie("log_loss").tolist() == [False, True]
    single = _result([[0.3]], [0], lambdas=(1.0,))
    assert single.at_edge("log_loss").tolist() == [True] and single.top_tie("log_loss").tolist() == [False]


def test_inner_neighbour_of_edge_and_interior_choices():
    # largest λ, interior, smallest λ on a grid given largest first, then smallest first
    result = _result([[0.1, 0.2, 0.3]] * 3, [0, 1, 2])
    assert result.inner_neighbour("log_loss").tolist() == [1, 1, 1]
    flipped = _result([[0.3, 0.2, 0.1, 0.0]] * 3, [0, 2, 3], lambdas=(0.01, 0.1, 1.0, 10.0))
    assert flipped.inner_neighbour("log_loss").tolist() == [1, 2, 2]
    assert _result([[0.3]], [0], lambdas=(1.0,)).inner_neighbour("log_loss").tolist() == [0]


def _frame() -> pd.DataFrame:
    """Two cells of 4 trials with known edge shares, and one failed trial that does not count."""
    rows = []
    for n, flags01, flagsll in ((10, [0, 0, 0, 1], [1, 1, 0, 0]), (100, [0, 0, 0, 0], [0, 0, 0, 1])):
        for rep in range(4):
            rows.append({"status": "ok", "setting": "one", "penalty": "l1", "n": n, "m": 100, "rep": rep,
                         "edge_zero_one": bool(flags01[rep]), "edge_log_loss": bool(flagsll[rep]),
                         "top_tie_zero_one": rep < 2, "top_tie_log_loss": False})
    rows.append({"status": "failed", "setting": "one", "penalty": "l1", "n": 10, "m": 100, "rep": 4,
                 "edge_zero_one": None, "edge_log_loss": None, "top_tie_zero_one": None, "top_tie_log_loss": None})
    return pd.DataFrame(rows)


def test_edge_shares_of_a_synthetic_frame():
    shares = report.edges(_frame()).set_index(["metric", "n"])
    assert shares.loc[("zero_one", 10), "edge_share"] == pytest.approx(0.25)
    assert shares.loc[("log_loss", 10), "edge_share"] == pytest.approx(0.5)
    assert shares.loc[("zero_one", 100), "edge_share"] == 0.0
    assert shares.loc[("log_loss", 100), "edge_share"] == pytest.approx(0.25)
    assert (shares.trials == 4).all()
    assert ((0 <= shares.ci_low) & (shares.ci_low <= shares.edge_share) & (shares.ci_high <= 1)).all()
    ties = report.edges(_frame(), "top_tie").set_index(["metric", "n"])
    assert ties.loc[("zero_one", 10), "edge_share"] == pytest.approx(0.5)


def test_edges_csv_and_section(tmp_path):
    df = _frame().assign(config=[{"lambda_max": 10.0, "lambda_min": 1e-7, "lambdas_per_decade": 4}] * 9,
                         config_hash="c", created_at="2026-12-02", zero_one=0.1, log_loss=0.3,
                         bayes_error=0.0546)
    paths = report.write(df, tmp_path)
    assert tmp_path / "edges.csv" in paths and tmp_path / "edges.md" in paths
    csv = pd.read_csv(tmp_path / "edges.csv")
    assert list(csv.columns) == ["setting", "penalty", "metric", "n", "m", "edge_share"]
    assert len(csv) == 4
    text = (tmp_path / "edges.md").read_text()
    assert "down to 1e-07, 4 per decade" in text
    assert "one/l1/n=10/m=100" in text  # where each metric's largest share sits
    # every cell above 1 %: three of the four
    section = text.split("### Cells with an edge share above 1%")[1]
    assert section.count("| one | l1 |") == 3


def _plateau_frame() -> pd.DataFrame:
    """One cell of 4 trials: two log-loss edges at the bottom, one a plateau; no 0/1 edges."""
    rows = []
    for rep in range(4):
        edge, plateau = rep < 2, rep == 0
        rows.append({"status": "ok", "setting": "one", "penalty": "l2", "n": 10, "m": 20, "rep": rep,
                     "edge_zero_one": False, "edge_log_loss": edge, "plateau_zero_one": False,
                     "plateau_log_loss": plateau, "top_tie_zero_one": False, "top_tie_log_loss": False,
                     "lambda_zero_one": 1.0, "lambda_log_loss": 1e-6 if edge else 1e-2,
                     "config": {"lambda_max": 1000.0, "lambda_min": 1e-6, "lambdas_per_decade": 4},
                     "config_hash": "c", "created_at": "2026-12-02", "zero_one": 0.1, "log_loss": 0.3,
                     "bayes_error": 0.0546})
    return pd.DataFrame(rows)


def test_plateaus_and_artefacts_split_the_edges(tmp_path):
    df = _plateau_frame()
    table = report.edge_table(df).set_index("metric")
    assert table.loc["log_loss", "edge_share"] == pytest.approx(0.5)
    assert table.loc["log_loss", "plateau_share"] == pytest.approx(0.25)
    assert table.loc["log_loss", "artefact_share"] == pytest.approx(0.25)
    assert table.loc["zero_one", "artefact_share"] == 0.0
    sides = report.edge_sides(df).set_index(["metric", "kind"])
    assert sides.loc[("log_loss", "artefact"), "bottom"] == 1 and sides.loc[("log_loss", "plateau"), "top"] == 0
    report.write(df, tmp_path)
    csv = pd.read_csv(tmp_path / "edges.csv")
    assert list(csv.columns) == ["setting", "penalty", "metric", "n", "m", "edge_share", "plateau_share",
                                 "artefact_share"]
    text = (tmp_path / "edges.md").read_text()
    section = text.split("### Cells with an artefact share above 1%")[1]
    assert section.count("| one | l2 | log_loss |") == 1 and "zero_one" not in section
    assert "| 1/0 |" in text  # log loss: one plateau and one artefact, both at the bottom


def test_no_edge_columns_no_edges_table():
    assert report.edges(_frame().drop(columns=["edge_zero_one", "edge_log_loss"])).empty


def test_default_grid_reaches_below_the_old_edge():
    config = config_mod.resolve(STUDY)
    grid = lambda_grid(config)
    assert grid.min() < OLD_LAMBDA_MIN / 10 and grid.max() >= 10.0
    np.testing.assert_allclose(np.diff(np.log10(grid)), -1 / config["lambdas_per_decade"])
    # --quick shares the trial config: the same grid
    assert np.array_equal(lambda_grid(config_mod.resolve(STUDY, quick=True)), grid)


def test_trials_store_their_edge_flags():
    config = config_mod.resolve(STUDY, overrides={"settings": ["one"], "n_values": [10], "m_values": [100],
                                                  "trials": 4, "mstar_trials": 0})
    batch = [s for s in STUDY.trial_specs(config) if s.coords["penalty"] == "l1"]
    grid = lambda_grid(config)
    for out in STUDY.run_batch(config, batch):
        m = out.metrics
        for metric in ("zero_one", "log_loss"):
            lam = m[f"lambda_{metric}"]
            if m[f"edge_{metric}"]:
                assert lam == pytest.approx(grid.min()) or lam == pytest.approx(grid.max())
            if m[f"top_tie_{metric}"]:
                assert lam == pytest.approx(grid.max()) and not m[f"edge_{metric}"]
            gap = m[f"edge_gap_{metric}"]
            assert (gap is None) == (not m[f"edge_{metric}"]) and (gap is None or gap >= 0)
            assert m[f"plateau_{metric}"] == (gap is not None and gap <= PLATEAU_TOL)


def test_edge_kinds_of_a_separable_and_a_large_sample():
    """The two kinds the reference run shows: at m = 10 (7 training examples, separable) the bottom
    edges of L1's log loss are artefacts; at m = 2560, n = 10 (never separable) L2's are plateaus."""
    for penalty, m, kind in (("l1", 10, "artefact"), ("l2", 2560, "plateau")):
        config = config_mod.resolve(STUDY, overrides={"settings": ["one"], "n_values": [10], "m_values": [m],
                                                      "penalties": [penalty], "trials": 12, "mstar_trials": 0})
        grid = lambda_grid(config)
        outs = [o.metrics for o in STUDY.run_batch(config, STUDY.trial_specs(config))]
        bottom = [o for o in outs if o["edge_log_loss"] and o["lambda_log_loss"] == pytest.approx(grid.min())]
        assert bottom, f"no bottom edge at m={m}"
        assert all(o["plateau_log_loss"] == (kind == "plateau") for o in bottom)
