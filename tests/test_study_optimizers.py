"""The ``optimizers`` study: a smoke run on digits through the runner and the report,
config validation, the adam-layerwise hold-out search, divergence, and data substitution."""

from __future__ import annotations

import json
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
from studies.optimizers import EXPERIMENTS, STUDY
from studies.optimizers_data import SHARED_DATA, data_folder
from studies.optimizers_search import candidate_grid, layerwise_spec, search_layerwise_lrs
from studies.runner import run_study


def tiny(**extra) -> dict:
    """A seconds-long config: every experiment on scikit-learn's digits, small networks, two seeds."""
    config = {"seeds": 2, "deep_depths": [4], "layerwise_lrs": [1e-3, 1e-2], "layerwise_search_epochs": 1}
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
    # optimizers × depths × bases × seeds, per experiment
    expected = sum(len(defaults[f"{e}_optimizers"]) * (2 if e == "rotation" else 1) * 2 for e in EXPERIMENTS)
    assert summary.total == expected and summary.counts == {"ok": expected}
    assert set(df["experiment"]) == set(EXPERIMENTS) and set(df["dataset"]) == {"digits"}
    for metrics in df["metrics"]:
        history = metrics["history"]
        assert history["epoch"] == [1, 2]
        assert all(0 <= a <= 1 for a in history["test_acc"] + history["train_acc"])
        assert metrics["final_test_acc"] == history["test_acc"][-1]
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
        part = _by(rotation, optimizer=optimizer).sort_values("rep")
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


def test_adam_layerwise_trials_record_a_choice_from_the_grid(smoke):
    _, _, df = smoke
    trials = _by(df, optimizer="adam-layerwise")
    assert len(trials) == 2 + 4  # two_layer (2 seeds) and rotation (2 bases × 2 seeds)
    for metrics in trials["metrics"]:
        search = metrics["layerwise_search"]
        assert search["candidates"] == [[1e-3, 1e-3], [1e-3, 1e-2], [1e-2, 1e-3], [1e-2, 1e-2]]
        best = int(np.argmin([math.inf if v is None else v for v in search["holdout_loss"]]))
        assert search["chosen_lrs"] == search["candidates"][best]
        assert metrics["optimizer_trained"] == layerwise_spec(search["chosen_lrs"])


def test_report_writes_curves_tables_and_the_cost_of_symmetry(smoke, tmp_path):
    db, _, _ = smoke
    paths = build(db=db, out=tmp_path, study="optimizers")
    names = {p.name for p in paths}
    for experiment in EXPERIMENTS:
        assert {f"{experiment}_curves.png", f"{experiment}_curves.pdf"} <= names
    assert {"final_epoch.md", "final_epoch.csv", "final_epoch.tex", "final_epoch_values.csv", "summary.md",
            "cost_of_symmetry.md", "cost_of_symmetry.png", "adam_layerwise_choices.csv"} <= names
    assert all(p.stat().st_size > 0 for p in paths)
    final = (tmp_path / "optimizers" / "final_epoch.md").read_text()
    assert "agd-momentum" in final and "sgd(lr=0.1)" in final
    gaps = (tmp_path / "optimizers" / "cost_of_symmetry.csv").read_text()
    assert "equal test accuracy in every pair" in gaps  # sgd and the AGDs on the coupled rotated runs
    summary = (tmp_path / "optimizers" / "summary.md").read_text()
    assert "scikit-learn's digits has no official train/test split" in summary


def test_results_are_reproducible_and_do_not_depend_on_batching(smoke, tmp_path):
    _, _, df = smoke
    config = tiny(experiments=["two_layer"], two_layer_optimizers=["agd", "adam"])
    run_study("optimizers", overrides=config, db=tmp_path / "one.db", jobs=1, progress=False, max_batch=1)
    alone = store.load(tmp_path / "one.db", "optimizers").set_index("trial_key")
    batched = df.set_index("trial_key").loc[alone.index]  # the same trials (same config hash) from the smoke run
    assert len(alone) == 4
    for key in alone.index:  # bit for bit on the CPU: each member trains exactly as it would alone
        assert alone.loc[key, "metrics"]["history"] == batched.loc[key, "metrics"]["history"]


@pytest.mark.parametrize("override, words", [
    ({"two_layer_optimizers": ["agd", "adamm"]}, ["two_layer_optimizers", "adamm", "did you mean 'adam'"]),
    ({"experiments": ["two_layer", "wide"]}, ["experiment", "'wide'", "accepted"]),
    ({"init": "torch-default"}, ["rotation", "rotation-invariant", "orthogonal"]),
    ({"layerwise_lrs": [1e-3, -1.0]}, ["layerwise_lrs", "positive"]),
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
                  two_layer_depth=1)  # a linear model: no dead ReLUs to stop the blow-up
    summary = run_study("optimizers", overrides=config, db=tmp_path / "d.db", jobs=1, progress=False)
    assert summary.counts == {"diverged": 2}
    for metrics in store.load(tmp_path / "d.db", "optimizers")["metrics"]:
        step = metrics["diverged_at_step"]
        assert isinstance(step, int) and 1 <= step <= metrics["steps"]
        assert metrics["final_test_acc"] is None
        history = metrics["history"]
        assert all(s < step for s in history["step"])  # only epochs evaluated before the blow-up
        assert all(math.isfinite(v) for v in history["train_loss"] + history["test_loss"])
    table = final_table(store.load(tmp_path / "d.db", "optimizers"))
    row = table.set_index("optimizer").loc["sgd(lr=1e4)"]
    assert (row["trials"], row["diverged"], row["failed"], row["test accuracy"]) == (2, 2, 0, "n/a")


def test_search_picks_the_candidate_with_the_lowest_holdout_loss():
    data = datasets.load("digits", n_train=400, n_test=50)
    X = data.X_train.flatten(1)

    def build_model():
        return BatchedMLP(64, 10, seeds=[1, 2], width=32, depth=2, init="orthogonal", bias=False)

    results = search_layerwise_lrs(build_model, X, data.y_train, lrs=[1e-6, 1e-2], depth=2, search_seeds=[5, 6],
                                   epochs=2, holdout=0.25, batch_size=64)
    for result in results:
        assert result.candidates == candidate_grid([1e-6, 1e-2], 2)
        assert result.chosen in result.candidates
        assert result.chosen == result.candidates[int(np.argmin(result.holdout_loss))]
        assert result.chosen != (1e-6, 1e-6)  # a rate that barely moves the network cannot win
        assert all(math.isfinite(v) for v in result.holdout_loss)
        json.dumps(result.to_dict())


def test_candidate_grid_has_one_rate_for_the_input_layer_and_one_for_the_rest():
    assert candidate_grid([0.1, 0.2], 1) == [(0.1,), (0.2,)]
    assert candidate_grid([0.1, 0.2], 2) == [(0.1, 0.1), (0.1, 0.2), (0.2, 0.1), (0.2, 0.2)]
    assert candidate_grid([0.1, 0.2, 0.3], 16) == candidate_grid([0.1, 0.2, 0.3], 2)
    assert layerwise_spec((0.1, 0.2)) == "adam-layerwise(lrs=[0.1, 0.2])"


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
