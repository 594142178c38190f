"""The sample-complexity study with an mlp:SPEC learner: a tiny run stores risks, the step
size chosen on the hold-out, and the checker's rotation verdict (one trial per neural learner)."""

import math
from pathlib import Path

import pytest

import studies.sample_complexity as sc
from studies import store
from studies.runner import run_study


def test_a_tiny_neural_run_stores_risks_selection_and_the_rotation_verdict(tmp_path):
    db = tmp_path / "sc.db"
    overrides = {
        "families": ["ng-one", "hadamard"], "learners": ["mlp:sgd", "ridge"], "trials": 3,
        "grids": {"ng-one/mlp": {"n": [4], "m": [20], "trials": 3}, "hadamard/mlp": {"n": [8], "m": [4], "trials": 3},
                  "ng-one": {"n": [4], "m": [20]}, "hadamard": {"n": [8], "m": [4]}},
        "mlp": {"width": 8, "steps": 20, "grid": [0.3, 1.0, 3.0]}, "test_points": 10_000,
        "check_options": {"n_elements": 1, "seeds": 0, "init_draws": 16, "steps": 10},
    }
    run_study("sample_complexity", overrides=overrides, db=db, jobs=1, progress=False)
    df = store.load(db, "sample_complexity")
    neural = df[(df.learner == "mlp:sgd") & (df.family != "rotation-check")]
    assert len(neural) == 6 and (neural.status == "ok").all()
    assert neural.risk.between(0, math.inf).all() and set(neural.selected_lr) <= {0.03, 0.1, 0.3}
    check = df[df.family == "rotation-check"]
    assert list(check.learner) == ["mlp:sgd"]
    assert check.rotation_verdict.iloc[0] in {"equivariant", "not_equivariant", "inconclusive"}


@pytest.mark.parametrize("preset", ["sample_complexity_neural.toml", "sample_complexity_full.toml"])
def test_the_config_presets_validate(preset):
    """The shipped presets are valid configs (the GPU one checked with device = cpu here)."""
    from studies import config as config_mod

    path = Path(__file__).resolve().parents[1] / "studies" / "configs" / preset
    config = config_mod.resolve(sc.STUDY, config_file=path, assignments=['device="cpu"'])
    sc.STUDY.validate(config)
    learners = {t["learner"] for t in sc.STUDY.trials(config)}
    assert set(sc.NEURAL_LEARNERS) <= learners
