"""The sample_complexity study: its grid, seeds, batching, stored metrics and bad-config errors.

The learners here are small ones of our own that follow learners.sample's contract (a batched
ridge regression with λ chosen on the hold-out, a classification-only variant and one that
diverges), so that these tests exercise the study alone; the real learners run in
test_default_configs_validate and in the reference run.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from studies import config as config_mod
from studies import families, store
from studies import sample_complexity as sc
from studies.cli import main
from studies.runner import run_study

LAMBDAS = (10.0, 1.0, 0.1, 1e-3)


class HoldoutRidge:
    """Ridge regression on the first 70 % of each trial, λ ∈ LAMBDAS by the hold-out metric on the last 30 %;
    classification regresses on 2y − 1 and predicts 1{score > 0}. Rotation equivariant."""

    name = "test-ridge"
    tasks = frozenset({"classification", "regression"})

    def fit(self, X, y, task, seed):
        T, m, n = X.shape
        held = min(m - 1, max(1, math.floor(0.3 * m + 0.5)))
        target = 2 * y - 1 if task == "classification" else y
        Xf, yf, Xh, yh = X[:, :m - held], target[:, :m - held], X[:, m - held:], y[:, m - held:]
        coefs, scores = [], []
        for lam in LAMBDAS:
            A = Xf.transpose(1, 2) @ Xf + lam * Xf.shape[1] * torch.eye(n, dtype=X.dtype)
            c = torch.linalg.solve(A, (Xf.transpose(1, 2) @ yf[..., None]))[..., 0]
            z = torch.einsum("tpn,tn->tp", Xh, c)
            scores.append(((z > 0).double() != yh).double().mean(1) if task == "classification"
                          else ((z - yh) ** 2).mean(1))
            coefs.append(c)
        best = torch.stack(scores).argmin(0)                      # first minimum: the largest λ on ties
        coef = torch.stack(coefs)[best, torch.arange(T)]
        return SimpleNamespace(
            coef=coef, intercept=torch.zeros(T, dtype=X.dtype),
            predict=lambda Z: torch.einsum("tpn,tn->tp", Z, coef),
            selected={"lam": np.array(LAMBDAS)[best.numpy()], "lam_at_edge": (best.numpy() == 0) | (best.numpy() == 3)},
            status=np.array(["ok"] * T), extra={"held_out": np.full(T, held)})


class ClassifierOnly(HoldoutRidge):
    name = "test-classifier"
    tasks = frozenset({"classification"})


class Diverging(HoldoutRidge):
    """Its first trial of every fit diverges (NaN coefficients)."""

    name = "test-diverging"

    def fit(self, X, y, task, seed):
        fit = super().fit(X, y, task, seed)
        fit.coef[0] = math.nan
        fit.status[0] = "diverged"
        return fit


LEARNERS = {cls.name: cls for cls in (HoldoutRidge, ClassifierOnly, Diverging)}
#: learners.sample's, captured before the fixture below replaces them
REAL_NAMES, REAL_MAKE = sc.learner_names, sc.make_learner
SMALL = {"ng-one": {"n": [8, 16], "m": [10, 20]}, "hadamard": {"n": [8, 16], "m": [4, 8, 12]},
         "sparse-parity": {"n": [6], "m": [16]}}


@pytest.fixture(autouse=True)
def our_learners(monkeypatch):
    def make(name, **options):
        if name not in LEARNERS:
            raise ValueError(f"unknown learner {name!r}")
        if options:
            raise ValueError(f"learner {name!r} got unknown options {sorted(options)}; accepted: none")
        return LEARNERS[name]()

    monkeypatch.setattr(sc, "learner_names", lambda: list(LEARNERS))
    monkeypatch.setattr(sc, "make_learner", make)


def config(**overrides):
    return config_mod.resolve(sc.STUDY, overrides=_overrides(overrides))


def run(tmp_path, **overrides):
    db = tmp_path / "sc.db"
    run_study("sample_complexity", overrides=_overrides(overrides), db=db, jobs=1, progress=False)
    return store.load(db, "sample_complexity"), db


def _overrides(overrides):
    base = {"families": ["ng-one", "hadamard", "rotated-ng-one"], "learners": ["test-ridge", "test-classifier"],
            "trials": 3, "grids": SMALL}
    base.update(overrides)
    return base


# ---------------------------------------------------------------------------- the grid


def test_grid_skips_tasks_a_learner_lacks_and_hadamard_points_with_k_at_least_d():
    cfg = config()
    coords = sc.STUDY.trials(cfg)
    cells = {(c["family"], c["learner"], c["n"], c["m"]) for c in coords}
    assert len(coords) == 3 * len(cells)
    assert not any(f == "hadamard" and lr == "test-classifier" for f, lr, _, _ in cells)   # regression family
    assert {(n, m) for f, _, n, m in cells if f == "hadamard"} == {(8, 4), (16, 4), (16, 8), (16, 12)}
    # a rotated family runs on its base family's grid
    assert {c[1:] for c in cells if c[0] == "rotated-ng-one"} == {c[1:] for c in cells if c[0] == "ng-one"}


def test_grid_lookup_order():
    grids = {"ng-one": {"n": [8], "m": [10]}, "ng-one/test-ridge": {"n": [16], "m": [20, 10], "trials": 5}}
    cfg = config(grids=grids)
    assert sc.STUDY.grid(cfg, "ng-one", "test-ridge") == {"n": [16], "m": [10, 20], "trials": 5}
    assert sc.STUDY.grid(cfg, "rotated-ng-one", "test-ridge")["n"] == [16]
    assert sc.STUDY.grid(cfg, "ng-one", "test-classifier") == {"n": [8], "m": [10], "trials": 3}
    # families without a configured entry fall back to the default grids
    assert sc.STUDY.grid(cfg, "hadamard", "test-ridge")["n"] == sc.DEFAULT_GRIDS["hadamard"]["n"]


def test_default_grids_bracket_the_learners_mstar():
    """Rotation-invariant learners get m up to ≥ 8·max n on the sparse Gaussian families (their m* is several
    times n), sparsity-exploiting ones n up to 1000 at m ≤ 160 (m* ~ log n); hadamard reaches k = d − 1."""
    for family in ("ng-one", "gaussian-threshold"):
        sparse = sc.DEFAULT_GRIDS[family]
        assert max(sparse["n"]) == 1000 and min(sparse["m"]) <= 10
        for learner in sc._DENSE_LEARNERS:
            dense = sc.DEFAULT_GRIDS[f"{family}/{learner}"]
            assert max(dense["m"]) >= 8 * max(dense["n"]) and min(dense["m"]) <= 2 * min(dense["n"])
    hadamard = sc.DEFAULT_GRIDS["hadamard"]
    for d in hadamard["n"]:
        usable = [k for k in hadamard["m"] if k < d]
        assert min(usable) == 4 and max(usable) >= d // 2 and len(usable) >= 5


# ---------------------------------------------------------------------------- seeds and pairing


def test_data_seeds_are_shared_by_learners_and_by_a_rotated_twin():
    cfg = config()
    coords = {"family": "ng-one", "learner": "test-ridge", "n": 8, "m": 10, "rep": 2}
    seeds = sc.STUDY.seeds(cfg, coords)
    assert sc.STUDY.seeds(cfg, {**coords, "learner": "test-classifier"}) == seeds
    assert sc.STUDY.seeds(cfg, {**coords, "family": "rotated-ng-one"}) == seeds
    assert sc.STUDY.seeds(cfg, {**coords, "rep": 3}) != seeds
    assert sc.STUDY.seeds(cfg, {**coords, "m": 20}) != seeds
    assert sc.STUDY.seeds(config(seed=1), coords) != seeds
    assert len(set(seeds)) == 2


def test_stored_trials_carry_the_contracts_metrics(tmp_path):
    df, _ = run(tmp_path)
    assert set(df.status) == {"ok"} and len(df) == len(sc.STUDY.trials(config()))
    assert {"family", "learner", "n", "m", "rep", "risk", "bayes_risk", "excess", "metric", "selected_lam",
            "selected_lam_at_edge", "held_out"} <= set(df.columns)
    assert np.allclose(df.excess, df.risk - df.bayes_risk)
    ng = df[df.family == "ng-one"]
    assert (ng.metric == "zero_one").all() and np.allclose(ng.bayes_risk, 0.0546, atol=1e-4)
    assert ((ng.risk > 0.0546) & (ng.risk < 0.6)).all()
    had = df[df.family == "hadamard"]
    assert (had.metric == "square").all() and (had.bayes_risk == 0).all()
    assert np.allclose(had.bound, 1 - had.m / (had.n - 1)) and df[df.family != "hadamard"].bound.isna().all()
    # ridge predicts 0 on the d − k unseen rows, so its risk is at least 1 − k/d > bound
    assert (had.risk >= 1 - had.m / had.n - 1e-12).all()
    rot = df[df.family == "rotated-ng-one"]
    assert rot.rotation_seed.notna().all() and df[df.family == "ng-one"].rotation_seed.isna().all()
    twin = families.get("rotated-ng-one", seed=0)
    assert all(int(r.rotation_seed) == twin.rotation_seed(r.n) for r in rot.itertuples())
    assert (rot["family_info.rotation.seed"] == rot.rotation_seed).all()


def test_a_rotation_equivariant_learner_sees_no_difference_on_the_rotated_twin(tmp_path):
    """Paired data + exact risks: ridge's risk on rotated-ng-one equals its risk on ng-one trial by trial
    (to rounding; a hold-out tie between two λ's could in principle round apart, and none does here)."""
    df, _ = run(tmp_path, learners=["test-ridge"], families=["ng-one", "rotated-ng-one"])
    key = ["n", "m", "rep"]
    plain = df[df.family == "ng-one"].set_index(key).sort_index()
    rotated = df[df.family == "rotated-ng-one"].set_index(key).sort_index()
    assert len(plain) == len(rotated) == 12
    assert np.allclose(plain.risk, rotated.risk, atol=1e-9, rtol=0)
    assert (plain.selected_lam == rotated.selected_lam).all()


def test_results_do_not_depend_on_batching_and_runs_resume(tmp_path):
    overrides = _overrides({"families": ["ng-one", "sparse-parity"], "learners": ["test-ridge"]})
    a = run_study("sample_complexity", overrides=overrides, db=tmp_path / "a.db", jobs=1, progress=False)
    # (jobs=1: worker processes would not see this file's learners)
    b = run_study("sample_complexity", overrides=overrides, db=tmp_path / "b.db", jobs=1, progress=False,
                  max_batch=1)
    assert a.counts == b.counts == {"ok": a.total}
    again = run_study("sample_complexity", overrides=overrides, db=tmp_path / "a.db", jobs=1, progress=False)
    assert again.skipped == a.total and again.counts == {}
    da = store.load(tmp_path / "a.db", "sample_complexity").set_index("trial_key").sort_index()
    db = store.load(tmp_path / "b.db", "sample_complexity").set_index("trial_key").sort_index()
    assert np.allclose(da.risk, db.risk, atol=1e-12, rtol=0)


def test_diverged_fits_are_recorded_with_nan_risk(tmp_path):
    df, _ = run(tmp_path, learners=["test-diverging"], families=["ng-one"], grids={"ng-one": {"n": [8], "m": [10]}})
    assert (df.status == "diverged").sum() == 1 and df[df.status == "diverged"].risk.isna().all()
    assert df[df.status == "ok"].risk.notna().all()


# ---------------------------------------------------------------------------- bad configs


@pytest.mark.parametrize("assignment,message", [
    ("families=[nope]", "unknown family 'nope' in families; accepted: ng-one, ng-three, .*rotated-NAME"),
    ("learners=[nope]", "unknown learner 'nope' in learners; accepted: test-ridge, test-classifier"),
    ("families=[]", "families must name at least one entry"),
    ("learners=[test-ridge, test-ridge]", "learners must be distinct"),
    ("test_points=100", "test_points must be at least 10,000"),
    ("epsilon=0", "epsilon must be a positive number"),
    ("trials=0", "trials must be at least 1"),
    ('learner_options={test-classifier={lam=1}}', "learner_options names 'test-classifier', which is not in"),
    ('learner_options={test-ridge={lam=1}}', "got unknown options"),
    ('grids={"ng-one/nope"={n=[8],m=[10]}}', "grids.ng-one/nope: unknown learner 'nope'"),
    ('grids={"ng-one"={n=[8]}}', "grids.ng-one must be a table with keys n, m"),
    ('grids={"ng-one"={n=[8, 8],m=[10]}}', "grids.ng-one.n must be a list of distinct positive ints"),
    ('grids={"hadamard"={n=[8],m=[8, 16]}}', "grids? of hadamard/test-ridge has no usable m at n=8"),
    ('grids={"hadamard"={n=[12],m=[4]}}', "power of 2"),
    ('grids={"ng-one"={n=[8],m=[3]}}', "needs m >= 4"),
    ("families=[hadamard]", None),   # fine with test-ridge
])
def test_bad_configs_are_one_line_errors(assignment, message, capsys, tmp_path):
    code = main(["run", "sample_complexity", "--db", str(tmp_path / "x.db"), "--no-progress", "--jobs", "1",
                 "--set", "learners=[test-ridge]", "--set", "trials=1",
                 "--set", 'grids={"ng-one"={n=[8],m=[10]},"hadamard"={n=[8],m=[4]}}', "--set", assignment])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0, err
        return
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    import re

    assert re.search(message, err), err


def test_no_compatible_pair_is_an_error():
    with pytest.raises(config_mod.ConfigError, match="no learner in .*test-classifier.* handles the task"):
        config(families=["hadamard"], learners=["test-classifier"])


# ---------------------------------------------------------------------------- the real learners


@pytest.fixture
def real_learners(monkeypatch):
    monkeypatch.setattr(sc, "learner_names", REAL_NAMES)
    monkeypatch.setattr(sc, "make_learner", REAL_MAKE)


def test_default_and_quick_configs_validate(real_learners):
    full = config_mod.resolve(sc.STUDY)
    quick = config_mod.resolve(sc.STUDY, quick=True)
    cells = {(c["family"], c["learner"]) for c in sc.STUDY.trials(full)}
    assert {f for f, _ in cells} == set(sc.DEFAULT_FAMILIES) | {sc.CHECK_FAMILY}
    assert {lr for _, lr in cells} == set(sc.DEFAULT_LEARNERS)
    assert {lr for f, lr in cells if f == sc.CHECK_FAMILY} == set(sc.NEURAL_LEARNERS)
    assert ("hadamard", "l1-logistic") not in cells and ("hadamard", "ridge") in cells   # logistic: no regression
    assert len(sc.STUDY.trials(quick)) < len(sc.STUDY.trials(full)) / 5


def test_real_learners_store_their_selections(tmp_path, real_learners):
    df, _ = run(tmp_path, families=["ng-one", "hadamard"], learners=list(sc.CLASSIC_LEARNERS),
                grids={"ng-one": {"n": [10], "m": [20]}, "hadamard": {"n": [16], "m": [12]}})
    assert set(df.status) == {"ok"} and len(df) == 3 * (4 + 2)
    logistic = df[df.learner.str.endswith("logistic")]
    assert logistic.selected_lam.notna().all() and logistic.nonzeros.notna().all()
    assert df[df.learner == "spindly"].selected_steps.notna().all()
    had = df[df.family == "hadamard"]
    assert (had[had.learner == "ridge"].risk >= had[had.learner == "ridge"].bound).all()
