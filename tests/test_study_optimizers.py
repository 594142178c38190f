"""The ``optimizers`` study: a smoke run on digits through the runner and the report,
config validation, the equal-budget tuning, divergence, and data substitution."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from learners.neural import BatchedMLP
from reports import build
from reports.optimizers import final_table
from studies import config as config_mod
from studies import datasets, store
from studies.cli import main
from studies.optimizers import EXPERIMENTS, STUDY, data_request, tunings
from studies.optimizers_data import SHARED_DATA, data_folder
from studies.optimizers_search import candidate_grid, score, select, tuned_parameter
from studies.runner import run_study


def tiny(**extra) -> dict:
    """A seconds-long config: every experiment on scikit-learn's digits, small networks, two seeds."""
    config = {"seeds": 2, "deep_depths": [4], "square_loss_grid_points": 3, "deep_grid_points": 3}
    for experiment in EXPERIMENTS:
        config.update({f"{experiment}_dataset": "digits", f"{experiment}_n_train": 400,
                       f"{experiment}_n_test": 200, f"{experiment}_epochs": 2, f"{experiment}_width": 32})
    config.update(extra)
    return config


def _by(df, **coords):
    mask = np.ones(len(df), dtype=bool)
    for key, value in coords.items():
        mask &= (df[key] == value).to_numpy()
    return df[mask]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    db = tmp_path_factory.mktemp("optimizers") / "smoke.db"
    summary = run_study("optimizers", overrides=tiny(), db=db, jobs=1, progress=False)
    return db, summary, store.load(db, "optimizers")


def test_smoke_run_stores_every_trial_with_its_history(smoke):
    _, summary, df = smoke
    defaults = STUDY.defaults
    # optimizers × tunings (adam-layerwise: tuned only) × depths × bases × seeds, per experiment
    expected = sum(len(tunings(o)) * (2 if e == "rotation" else 1) * 2
                   for e in EXPERIMENTS for o in defaults[f"{e}_optimizers"])
    assert summary.total == expected and summary.counts == {"ok": expected}
    assert set(df["experiment"]) == set(EXPERIMENTS) and set(df["dataset"]) == {"digits"}
    for tuning, metrics in zip(df["tuning"], df["metrics"]):
        history = metrics["history"]
        assert history["epoch"] == [1, 2]
        assert all(0 <= a <= 1 for a in history["test_acc"] + history["train_acc"] + history["holdout_acc"])
        # default: the grid's centre at its last epoch; tuned: the chosen candidate at its selected epoch
        epoch = 2 if tuning == "default" else metrics["tuning"]["selected_epoch"]
        assert metrics["result_epoch"] == epoch
        assert metrics["final_test_acc"] == history["test_acc"][epoch - 1]
        assert metrics["steps"] == history["step"][-1]
        assert metrics["data"]["provenance"]["n_train"] == 400  # the 400-example subsample of the split
        assert metrics["network"]["bias"] is False and metrics["network"]["init"] == "orthogonal"
    # the reps of one optimizer start from different networks; the optimizers of one rep from the same one
    two_layer = _by(df, experiment="two_layer")
    assert two_layer.groupby("optimizer")["metrics"].apply(lambda m: len({x["member_seed"] for x in m})).eq(2).all()
    assert two_layer.groupby("rep")["metrics"].apply(lambda m: len({x["member_seed"] for x in m})).eq(1).all()


def test_rotated_pixels_cost_nothing_to_equivariant_optimizers_and_something_to_adam(smoke):
    _, _, df = smoke
    rotation = _by(df, experiment="rotation")

    def gaps(optimizer):
        part = _by(rotation, optimizer=optimizer, tuning="default").sort_values("rep")
        original = _by(part, basis="original")["final_test_loss"].to_numpy()
        rotated = _by(part, basis="rotated")["final_test_loss"].to_numpy()
        return np.abs(rotated - original)

    # Coupled runs (transported initialisation, same minibatches): rotation-equivariant
    # updates give the same network up to float32 rounding (measured: at most 1.2e-7, one
    # ulp of a loss near 2); Adam's element-wise update does not (measured: 4.9e-3 and 4.4e-4).
    equivariant = max(gaps(name).max() for name in ("sgd", "agd", "agd-momentum", "agd-layerwise"))
    assert equivariant < 1e-5
    assert gaps("adam").max() > 1e-3
    records = {m["rotation"]["seed"] for m in _by(rotation, basis="rotated")["metrics"]}
    assert len(records) == 1  # one Haar rotation shared by the seeds (rotation_per_seed = false)
    assert all(m["rotation"] is None for m in _by(rotation, basis="original")["metrics"])


def test_tuned_trials_record_the_candidate_with_the_best_holdout_score(smoke):
    _, _, df = smoke
    tuned = _by(df, tuning="tuned")
    for coords, metrics in zip(tuned["coords"], tuned["metrics"]):
        tuning = metrics["tuning"]
        points = STUDY.defaults[f"{coords['experiment']}_grid_points"] if coords["experiment"] in (
            "two_layer", "rotation") else 3
        assert len(tuning["grid"]) == len(tuning["candidates"]) == points  # equal budgets
        scores = [(c["holdout_acc"], -c["holdout_loss"], -i) for i, c in enumerate(tuning["candidates"])]
        best = -max(scores)[2]
        assert tuning["chosen_index"] == best and tuning["chosen"] == tuning["grid"][best]
        assert metrics["optimizer_trained"] == tuned_parameter(coords["optimizer"]).spec(
            tuple(tuning["chosen"]) if isinstance(tuning["chosen"], list) else tuning["chosen"])
    layerwise = _by(tuned, optimizer="adam-layerwise")
    assert len(layerwise) == 2 + 4  # two_layer (2 seeds) and rotation (2 bases × 2 seeds)
    for (experiment, basis), part in layerwise.groupby(["experiment", "basis"]):
        # 3 × 3 around (c, c), c the lower median of the seeds' choices of Adam on the same data and basis
        adam = _by(tuned, experiment=experiment, basis=basis, optimizer="adam")
        choices = sorted(m["tuning"]["chosen"] for m in adam["metrics"])
        centre = choices[(len(choices) - 1) // 2]
        step = 10 ** STUDY.defaults["layerwise_step"]
        for metrics in part["metrics"]:
            grid = metrics["tuning"]["grid"]
            assert metrics["tuning"]["centre"] == centre and grid[4] == [centre, centre]
            assert grid[0] == pytest.approx([centre / step, centre / step], rel=1e-5)
    # the default trial is the grid's centre, trained in the same batched run as the tuned one
    for (experiment, optimizer, rep), part in _by(df, basis="original").groupby(["experiment", "optimizer", "rep"]):
        if optimizer == "adam-layerwise":
            continue
        default = _by(part, tuning="default")["metrics"].iloc[0]
        tuned_row = _by(part, tuning="tuned")["metrics"].iloc[0]["tuning"]
        centre = tuned_row["candidates"][len(tuned_row["grid"]) // 2]
        assert centre["value"] == tuned_parameter(optimizer).centre
        assert centre["final_test_acc"] == default["history"]["test_acc"][-1]


def test_report_writes_curves_tables_and_the_cost_of_symmetry(smoke, tmp_path):
    db, _, _ = smoke
    paths = build(db=db, out=tmp_path, study="optimizers")
    names = {p.name for p in paths}
    for experiment in EXPERIMENTS:
        assert {f"{experiment}_curves.png", f"{experiment}_curves.pdf"} <= names
    assert {"final_epoch.md", "final_epoch.csv", "final_epoch.tex", "final_epoch_values.csv", "summary.md",
            "cost_of_symmetry.md", "cost_of_symmetry.png", "tuning.csv", "tuning.md", "lr_sensitivity.csv",
            "lr_sensitivity.png", "time_to_target.md", "rankings.md"} <= names
    assert all(p.stat().st_size > 0 for p in paths)
    final = (tmp_path / "optimizers" / "final_epoch.md").read_text()
    assert "agd-momentum" in final and "sgd(lr=0.1)" in final
    gaps = (tmp_path / "optimizers" / "cost_of_symmetry.csv").read_text()
    assert "equal test accuracy in every pair" in gaps  # sgd and the AGDs on the coupled rotated runs
    summary = (tmp_path / "optimizers" / "summary.md").read_text()
    assert "scikit-learn's digits has no official train/test split" in summary


def test_results_are_reproducible_and_do_not_depend_on_batching(smoke, tmp_path):
    _, _, df = smoke
    # adam-layerwise alone in its batch trains Adam's grid again for its centre: the same choice
    config = tiny(experiments=["two_layer"], two_layer_optimizers=["agd", "adam", "adam-layerwise"])
    run_study("optimizers", overrides=config, db=tmp_path / "one.db", jobs=1, progress=False, max_batch=1)
    alone = store.load(tmp_path / "one.db", "optimizers").set_index("trial_key")
    batched = df.set_index("trial_key").loc[alone.index]  # the same trials (same config hash) from the smoke run
    assert len(alone) == 10  # 2 optimizers × (default, tuned) × 2 seeds + adam-layerwise × 2 seeds, one per batch
    for key in alone.index:  # bit for bit on the CPU: each member trains exactly as it would alone
        assert alone.loc[key, "metrics"]["history"] == batched.loc[key, "metrics"]["history"]
        assert alone.loc[key, "metrics"]["tuning"] == batched.loc[key, "metrics"]["tuning"]


@pytest.mark.parametrize("override, words", [
    ({"two_layer_optimizers": ["agd", "adamm"]}, ["two_layer_optimizers", "adamm", "did you mean 'adam'"]),
    ({"experiments": ["two_layer", "wide"]}, ["experiment", "'wide'", "accepted"]),
    ({"init": "torch-default"}, ["rotation", "rotation-invariant", "orthogonal"]),
    ({"deep_grid_step": -0.5}, ["deep_grid_step", "positive"]),
    ({"layerwise_step": 0.0}, ["layerwise_step", "positive"]),
    ({"holdout": 1.0}, ["holdout", "fraction"]),
    ({"square_loss_grid_points": 4}, ["square_loss_grid_points", "odd"]),
    ({"two_layer_grid_points": 5}, ["two_layer_optimizers", "square", "5"]),
    ({"deep_target": 1.5}, ["deep_target", "(0, 1]"]),
    ({"deep_optimizers": ["agd", "adam-layerwise(lrs=[1e-3, 1e-2])"]}, ["deep_optimizers", "cannot tune"]),
    ({"deep_depths": [16, 16]}, ["deep_depths", "more than once"]),
    ({"two_layer_loss": "hinge"}, ["two_layer_loss", "cross_entropy", "mse"]),
    ({"fallback_dataset": "imagenet"}, ["fallback_dataset", "digits"]),
])
def test_bad_config_is_a_one_line_error_before_anything_runs(tmp_path, override, words):
    db = tmp_path / "never.db"
    with pytest.raises(config_mod.ConfigError) as error:
        run_study("optimizers", overrides=tiny(**override), db=db, jobs=1, progress=False)
    message = str(error.value)
    assert "\n" not in message and all(word in message for word in words), message
    assert not db.exists()


def test_cli_rejects_an_unknown_optimizer_with_exit_2(tmp_path, capsys):
    db = tmp_path / "never.db"
    code = main(["run", "optimizers", "--db", str(db), "--no-progress", "--set", "deep_optimizers=[agd, sgdd]"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "deep_optimizers" in err and "'sgdd'" in err
    assert not db.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_device_is_refused():
    with pytest.raises(config_mod.ConfigError, match="no CUDA device"):
        config_mod.resolve(STUDY, assignments=["device=cuda"])


def test_a_diverging_optimizer_is_recorded_as_diverged_with_its_step(tmp_path):
    config = tiny(experiments=["two_layer"], two_layer_optimizers=["sgd(lr=1e4)"], two_layer_loss="mse",
                  two_layer_depth=1, two_layer_grid_points=1)  # a linear model: no dead ReLUs to stop the blow-up
    summary = run_study("optimizers", overrides=config, db=tmp_path / "d.db", jobs=1, progress=False)
    assert summary.counts == {"diverged": 4}  # default and tuned (no candidate finishes) × 2 seeds
    for metrics in store.load(tmp_path / "d.db", "optimizers")["metrics"]:
        step = metrics["diverged_at_step"]
        assert isinstance(step, int) and 1 <= step <= metrics["steps"]
        assert metrics["final_test_acc"] is None
        history = metrics["history"]
        assert all(s < step for s in history["step"])  # only epochs evaluated before the blow-up
        assert all(math.isfinite(v) for v in history["train_loss"] + history["test_loss"])
    table = final_table(store.load(tmp_path / "d.db", "optimizers"))
    for _, row in table.iterrows():
        assert (row["trials"], row["diverged"], row["failed"], row["test accuracy"]) == (2, 2, 0, "n/a")


def test_tuning_picks_the_lr_a_direct_search_would(tmp_path):
    """Train each candidate of one seed alone (one network per lr), score on its hold-out split
    and choose by hand: the same choice and the same numbers as the study's batched grid."""
    config = tiny(experiments=["two_layer"], two_layer_optimizers=["sgd"], two_layer_grid_points=3, seeds=1,
                  two_layer_epochs=3, two_layer_grid_step=1.0)
    run_study("optimizers", overrides=config, db=tmp_path / "t.db", jobs=1, progress=False)
    df = store.load(tmp_path / "t.db", "optimizers")
    row = _by(df, tuning="tuned").iloc[0]
    resolved = config_mod.merge(STUDY.defaults, config)
    data = data_request(resolved, row["coords"], None).load()
    tuned = tuned_parameter("sgd")
    grid = candidate_grid(tuned, 3, resolved["two_layer_grid_step"], resolved["layerwise_step"])
    assert grid == [0.01, 0.1, 1.0]
    scores = []
    for lr in grid:  # a direct search: one network per candidate
        model = BatchedMLP(data.n_features, data.n_classes, seeds=[row["metrics"]["member_seed"]], width=32, depth=2,
                           init="orthogonal", bias=False, activation="relu_sqrt2", dtype=torch.float64).float()
        from learners.neural import train_batched
        result = train_batched(model, f"sgd(lr={lr})", data.X_train.flatten(1), data.y_train,
                               order_seed=[row["metrics"]["order_seed"]], epochs=3, holdout=0.2, patience=3,
                               X_test=data.X_test.flatten(1), y_test=data.y_test, batch_size=128)
        member = result.members[0]
        best = max((acc, -loss, -epoch) for epoch, acc, loss in
                   zip(member.history["epoch"], member.history["holdout_acc"], member.history["holdout_loss"]))
        scores.append((best, member.history["test_acc"][-best[2] - 1]))
        assert score(lr, member.status, member.history).holdout_acc == best[0]
    chosen = max(range(3), key=lambda i: (scores[i][0][0], scores[i][0][1], -i))
    tuning = row["metrics"]["tuning"]
    assert tuning["chosen"] == grid[chosen]
    assert [c["holdout_acc"] for c in tuning["candidates"]] == [s[0][0] for s in scores]
    assert row["metrics"]["final_test_acc"] == scores[chosen][1]


def test_selection_prefers_accuracy_then_loss_then_grid_order_and_skips_diverged():
    def history(accs, losses):
        n = len(accs)
        return {"epoch": list(range(1, n + 1)), "holdout_acc": accs, "holdout_loss": losses,
                "test_acc": [0.5] * n, "test_loss": [1.0] * n}

    a = score(0.1, "ok", history([0.8, 0.9, 0.9], [0.5, 0.4, 0.3]))
    assert (a.holdout_acc, a.holdout_loss, a.epoch) == (0.9, 0.3, 3)  # the tie on accuracy: lower loss
    b = score(0.3, "ok", history([0.9, 0.85], [0.3, 0.2]))
    assert b.epoch == 1
    diverged = score(1.0, "diverged", history([0.95], [0.1]))  # a run that blows up is not eligible
    assert select([a, b, diverged]) == 0  # a and b tie on (0.9, 0.3): the first in grid order
    assert select([diverged]) is None


def test_candidate_grids_are_centred_on_the_spec_and_spend_equal_budgets():
    assert candidate_grid(tuned_parameter("adam"), 5, 0.5, 1.0) == [1e-4, 0.000316228, 1e-3, 0.00316228, 1e-2]
    assert candidate_grid(tuned_parameter("agd"), 3, 1.0, 1.0) == [0.1, 1.0, 10.0]
    assert tuned_parameter("agd-momentum").spec(2.0) == "agd-momentum(gain=2.0)"
    assert tuned_parameter("sgd(lr=0.3)").centre == 0.3
    layerwise = candidate_grid(tuned_parameter("adam-layerwise"), 9, 0.5, 1.0)
    assert len(layerwise) == 9 and layerwise[0] == (1e-4, 1e-4) and layerwise[4] == (1e-3, 1e-3)
    assert tuned_parameter("adam-layerwise").spec((1e-3, 1e-2)) == "adam-layerwise(lrs=[0.001, 0.01])"
    # centred on Adam's tuned rate (the study passes it), spaced like Adam's grid
    around = candidate_grid(tuned_parameter("adam-layerwise"), 9, 0.5, 0.5, centre=0.00316228)
    assert sorted({a for a, _ in around}) == [1e-3, 0.00316228, 1e-2] and around[4] == (0.00316228, 0.00316228)
    with pytest.raises(ValueError, match="square"):
        candidate_grid(tuned_parameter("adam-layerwise"), 5, 0.5, 1.0)


def test_missing_files_use_the_substitute_only_for_a_default_dataset_and_say_so(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    config = tiny(experiments=["two_layer"], two_layer_optimizers=["agd"], data_dir=str(empty))
    del config["two_layer_dataset"]  # the default, mnist, which the user did not name
    notes = []
    run_study("optimizers", overrides=config, db=tmp_path / "s.db", jobs=1, progress=False, echo=notes.append)
    assert len(notes) == 1 and "two_layer: mnist files not found" in notes[0]  # said on the terminal
    df = store.load(tmp_path / "s.db", "optimizers")
    assert set(df["dataset"]) == {"digits"} and set(df["status"]) == {"ok"}
    for metrics in df["metrics"]:
        assert metrics["data"]["requested"] == "mnist" and metrics["data"]["used"] == "digits"
        assert "mnist files not found" in metrics["data"]["substitute_note"]
        assert metrics["data"]["provenance"]["n_train"] == 1438  # all of digits' training split
    build(db=tmp_path / "s.db", out=tmp_path / "report", study="optimizers")
    assert "mnist files not found" in (tmp_path / "report" / "optimizers" / "summary.md").read_text()

    # a dataset the user names is never replaced, nor is any without a fallback: an error before the sweep
    for strict in (dict(config, two_layer_dataset="mnist"), dict(config, fallback_dataset="")):
        with pytest.raises(datasets.DataNotFoundError, match="mnist: test files not found"):
            run_study("optimizers", overrides=strict, db=tmp_path / "f.db", jobs=1, progress=False)
        assert not (tmp_path / "f.db").exists()


def test_data_folder_prefers_the_config_then_the_environment_then_shared_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBENCH_DATA", str(tmp_path / "env"))
    assert data_folder(str(tmp_path)) == tmp_path
    assert data_folder("") == tmp_path / "env"
    monkeypatch.delenv("SYMBENCH_DATA")
    assert data_folder("") == (SHARED_DATA if SHARED_DATA.is_dir() else None)


def test_full_scale_preset_is_a_valid_config():
    preset = Path(__file__).resolve().parents[1] / "studies" / "configs" / "optimizers_full.toml"
    values = config_mod.load_toml(preset, "optimizers")
    config = config_mod.merge(STUDY.defaults, values, str(preset))  # every key known, every type right
    assert config["device"] == "cuda" and config["two_layer_n_train"] == 0 and config["seeds"] >= 3
    STUDY.validate(dict(config, device="cpu"))  # valid apart from the device this machine may lack
    assert len(STUDY.trials(dict(config, device="cpu"))) > len(STUDY.trials(STUDY.defaults))
