"""Determinism: the same config and seed give the same metrics with ``--jobs 1``, ``--jobs 2``
and the Dask backend, on the toy study and on two real ones (sample_complexity with the real
batched learners, optimizers training torch networks in float32).

Bit for bit, because every backend runs the same batches (``plan_batches`` depends on the
trials only) and every process computes with one BLAS/torch thread (a thread count changes
how reductions are split, hence their rounding).

What batch composition does: a trial batched with others (``max_batch``) against alone
(``max_batch=1``). The optimizers study trains each member of a batched network exactly as
alone (bit for bit); sample_complexity's learners fit the trials of a cell as one stacked
(T, m, n) computation, and there a trial's last bits may depend on its batch-mates: the
batched kernels (matrix products and factorisations over the stack) block the work by the
stack's size, and an iterative solver runs the stack until its slowest member converges.
Measured (264 trials, 4 families × 4 learners): 48 of 1,512 stored numbers differ, by at most
4.4e-16; the test allows 1e-12.
"""

from __future__ import annotations

import math

import pytest

from studies import registry, store
from studies.runner import run_study

SAMPLE = {"families": ["ng-one", "hadamard"], "learners": ["ridge", "l1-logistic", "spindly"], "trials": 4,
          "grids": {"ng-one": {"n": [8, 16], "m": [10, 20]}, "hadamard": {"n": [8], "m": [4, 6]}}}
OPTIMIZERS = {
    "experiments": ["two_layer", "rotation"], "seeds": 2, "two_layer_dataset": "digits", "rotation_dataset": "digits",
    "two_layer_optimizers": ["agd", "adam"], "rotation_optimizers": ["sgd", "adam"], "two_layer_width": 32,
    "rotation_width": 32, "two_layer_epochs": 1, "rotation_epochs": 1, "two_layer_n_train": 300,
    "rotation_n_train": 300, "two_layer_n_test": 100, "rotation_n_test": 100,
}
STUDIES = {"tests.toy_study:STUDY": {}, "sample_complexity": SAMPLE, "optimizers": OPTIMIZERS}


@pytest.fixture(scope="module")
def scheduler():
    pytest.importorskip("distributed")
    from studies.backends.dask_cluster import start_local_cluster

    cluster = start_local_cluster(2)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _metrics(db, study: str) -> dict:
    df = store.load(db, study)
    assert df.trial_key.is_unique and (df.status == "ok").all()
    return dict(zip(df.trial_key, df.metrics))


@pytest.mark.parametrize("study", list(STUDIES))
def test_jobs_1_jobs_2_and_dask_give_identical_metrics(study, scheduler, tmp_path):
    name = registry.get(study).name
    runs = {
        "jobs 1": dict(jobs=1),
        "jobs 2": dict(jobs=2),
        "dask": dict(backend="dask", scheduler=scheduler),
    }
    metrics = {}
    for label, options in runs.items():
        db = tmp_path / f"{label.replace(' ', '')}.db"
        summary = run_study(study, overrides=STUDIES[study], db=db, progress=False, **options)
        assert summary.counts == {"ok": summary.total}, (label, summary)
        metrics[label] = _metrics(db, name)
    reference = metrics["jobs 1"]
    for label in ("jobs 2", "dask"):
        assert metrics[label].keys() == reference.keys(), label
        different = [key for key in reference if metrics[label][key] != reference[key]]
        assert not different, f"{label}: {len(different)} of {len(reference)} trials differ from --jobs 1"


def _flat_numbers(metrics: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(_flat_numbers(value, f"{prefix}{key}."))
        elif isinstance(value, float):
            out[prefix + key] = value
    return out


def test_batch_composition_changes_sample_complexity_only_below_1e_12(tmp_path):
    config = dict(SAMPLE, families=["ng-one"], grids={"ng-one": {"n": [8], "m": [10, 20]}})
    run_study("sample_complexity", overrides=config, db=tmp_path / "batched.db", jobs=1, progress=False)
    run_study("sample_complexity", overrides=config, db=tmp_path / "alone.db", jobs=1, progress=False, max_batch=1)
    batched, alone = _metrics(tmp_path / "batched.db", "sample_complexity"), _metrics(tmp_path / "alone.db",
                                                                                   "sample_complexity")
    assert batched.keys() == alone.keys() and len(batched) == 24
    worst = 0.0
    for key in batched:
        a, b = _flat_numbers(batched[key]), _flat_numbers(alone[key])
        assert a.keys() == b.keys()
        for field, value in a.items():
            if math.isnan(value):
                assert math.isnan(b[field])
            else:
                worst = max(worst, abs(value - b[field]))
    assert worst <= 1e-12, worst


def test_optimizers_batched_members_train_exactly_as_alone(tmp_path):
    config = dict(OPTIMIZERS, experiments=["two_layer"])
    run_study("optimizers", overrides=config, db=tmp_path / "batched.db", jobs=1, progress=False)
    run_study("optimizers", overrides=config, db=tmp_path / "alone.db", jobs=1, progress=False, max_batch=1)
    batched, alone = _metrics(tmp_path / "batched.db", "optimizers"), _metrics(tmp_path / "alone.db", "optimizers")
    for key in batched:
        assert {k: v for k, v in batched[key].items() if k != "batched"} == \
            {k: v for k, v in alone[key].items() if k != "batched"}


def test_neural_sample_learners_give_each_trial_the_same_numbers_alone_or_batched(tmp_path):
    """mlp:SPEC trials are one batched network per cell, gathered and chunked by member; a trial's
    stored numbers must not depend on which trials share its batch (float32, bit for bit)."""
    config = {"families": ["ng-one"], "learners": ["mlp:adam", "mlp:layers: [adam, sgd]"], "trials": 3,
              "grids": {"ng-one/mlp": {"n": [6], "m": [40], "trials": 3}}, "check_rotation": False,
              "mlp": {"width": 8, "steps": 30, "eval_every": 5, "patience": 2, "grid": [0.3, 3.0, 30.0]}}
    run_study("sample_complexity", overrides=config, db=tmp_path / "batched.db", jobs=1, progress=False)
    run_study("sample_complexity", overrides=config, db=tmp_path / "alone.db", jobs=1, progress=False, max_batch=1)
    batched, alone = _metrics(tmp_path / "batched.db", "sample_complexity"), _metrics(tmp_path / "alone.db",
                                                                                   "sample_complexity")
    assert batched.keys() == alone.keys() and len(batched) == 6
    for key in batched:
        assert _flat_numbers(batched[key]) == _flat_numbers(alone[key]), key
