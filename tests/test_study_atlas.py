"""The ``atlas`` study: which optimizers it checks, the lr ladder, what cannot run, and a small run."""

from __future__ import annotations

import inspect

import pytest
import torch

from studies import config as config_mod
from studies import store
from studies.atlas import STUDY, default_lrs, ladder, source_of, with_lr
from studies.config import ConfigError
from studies.runner import run_study
from studies.spec import TrialSpec

#: a check small enough for a unit test: one group, one element, no distributional test
TINY = {"groups": ["sign_flip"], "elements": 1, "seeds": 0, "steps": 30, "permutations": 99}


class ExplodingSGD(torch.optim.SGD):
    """SGD whose default lr diverges on any task."""

    def __init__(self, params, lr: float = 1e4):
        super().__init__(params, lr=lr)


class StubbornSGD(torch.optim.SGD):
    """Takes an lr but never moves: no lr of the ladder trains."""

    def __init__(self, params, lr: float = 1e-3):
        super().__init__(params, lr=lr)

    @torch.no_grad()
    def step(self, closure=None):
        return None


class NeedsData(torch.optim.SGD):
    def __init__(self, params, num_data: int, lr: float = 0.1):
        super().__init__(params, lr=lr)


class Broken(torch.optim.SGD):
    def __init__(self, params, lr: float = 0.1):
        super().__init__(params, lr=lr)

    def step(self, closure=None):
        raise ZeroDivisionError("a bug")


def _trial(config, spec: str) -> TrialSpec:
    return next(t for t in STUDY.trial_specs(config) if t.coords["optimizer"] == spec)


def _run(spec: str, **overrides):
    config = config_mod.resolve(STUDY, overrides={**TINY, "optimizers": [spec], **overrides})
    return STUDY.run_trial(config, _trial(config, spec))


def test_trial_list_covers_torch_optim_pytorch_optimizer_and_ours():
    import optimizers

    pytorch_optimizer = pytest.importorskip("pytorch_optimizer")
    specs = STUDY.defaults["optimizers"]
    torch_classes = {name for name, obj in vars(torch.optim).items()
                     if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer}
    by_source = {s: [spec for spec in specs if source_of(spec) == s] for s in ("torch.optim", "pytorch-optimizer")}
    assert len(by_source["torch.optim"]) >= len(torch_classes) >= 10
    assert {f"torch.optim:{name}" for name in torch_classes} <= set(specs)
    registered = pytorch_optimizer.get_supported_optimizers()
    assert len(by_source["pytorch-optimizer"]) >= len(registered) >= 50
    assert {f"pto:{name}" for name in registered} <= set(specs)
    assert set(optimizers.names()) | {"layers: [sgd, adam]", "layers: [adam, sgd]"} <= set(specs)
    assert len(set(specs)) == len(specs)
    trials = STUDY.trials(config_mod.resolve(STUDY))
    assert len(trials) == len(specs) and {t["source"] for t in trials} == {"torch.optim", "pytorch-optimizer",
                                                                            "symbench"}


def test_lr_specs_and_ladder():
    assert with_lr("torch.optim:SGD", 0.1) == "torch.optim:SGD(lr=0.1)"
    assert with_lr("layers: [sgd, adam(betas=(0.9, 0.99))]", 0.01) == \
        "layers: [sgd(lr=0.01), adam(betas=(0.9, 0.99), lr=0.01)]"
    assert default_lrs("torch.optim:SGD") == [1e-3] and default_lrs("layers: [sgd, adam]") == [0.1, 1e-3]
    assert default_lrs("agd") is None and ladder(None, [0.1, 0.01]) == [None]
    assert ladder([1e-2], [0.1, 0.01, 0.001]) == [None, 0.1, 0.001]  # the default is not tried twice


def test_a_diverging_default_falls_back_along_the_ladder_and_says_so():
    outcome = _run(f"{__name__}:ExplodingSGD", steps=60)  # SGD(0.1) halves the loss in 60 steps
    m = outcome.metrics
    assert outcome.status == "ok" and m["runnable"] and m["trains"]
    assert m["lr_source"] == "ladder" and m["lr"] == "0.1" and m["default_lr"] == "10000"
    assert m["checked_spec"] == f"{__name__}:ExplodingSGD(lr=0.1)"
    first, chosen = m["lr_tried"][0], m["lr_tried"][-1]
    assert first["lr"] is None and not first["trains"] and "diverges" in first["why"]
    assert chosen["lr"] == 0.1 and chosen["trains"] and "≤" in chosen["why"]
    assert m["groups"]["sign_flip"]["verdict"] == "equivariant"


def test_an_optimizer_that_never_trains_is_checked_at_its_best_lr_and_flagged():
    m = _run(f"{__name__}:StubbornSGD").metrics
    assert m["runnable"] and m["trains"] is False and m["lr_source"].startswith("best of the ladder")
    # the default (1e-3) and the fallbacks other than 1e-3
    assert [t["lr"] for t in m["lr_tried"] if t["stage"] == "probe"] == [None, 0.1, 0.01, 0.0001]
    assert "sign_flip" in m["groups"]


@pytest.mark.parametrize("spec, kind", [
    ("torch.optim:LBFGS", "needs a closure"),
    ("torch.optim:SparseAdam", "needs sparse gradients"),
    ("torch.optim:Muon", "only 2-D parameters"),
    (f"{__name__}:NeedsData", "requires constructor argument(s) num_data"),
    (f"{__name__}:Broken", "crashes"),
])
def test_what_cannot_run_is_an_ok_trial_with_a_reason(spec, kind):
    outcome = _run(spec)
    assert outcome.status == "ok" and outcome.metrics["runnable"] is False
    assert outcome.metrics["reason_kind"].startswith(kind) and outcome.metrics["reason"].startswith(kind)
    assert "\n" not in outcome.metrics["reason"] and outcome.metrics["where"]


def test_a_bug_in_our_own_optimizer_fails_with_its_traceback(monkeypatch):
    import studies.atlas as atlas

    monkeypatch.setattr(atlas, "source_of", lambda spec: "symbench")
    outcome = _run(f"{__name__}:Broken")
    assert outcome.status == "failed" and outcome.error == "ZeroDivisionError: a bug"
    assert outcome.metrics["traceback"].startswith("Traceback") and "def step" not in outcome.error


def test_a_small_run_is_stored_and_resumes(tmp_path):
    db = tmp_path / "atlas.db"
    overrides = {**TINY, "optimizers": ["sgd", "torch.optim:LBFGS"], "groups": ["orthogonal", "sign_flip"],
                 "seeds": 4}
    first = run_study("atlas", db=db, jobs=1, progress=False, overrides=overrides)
    assert first.counts == {"ok": 2}
    again = run_study("atlas", db=db, jobs=1, progress=False, overrides=overrides)
    assert again.skipped == 2 and again.counts == {}
    df = store.load(db, "atlas").set_index("optimizer")
    sgd = df.loc["sgd", "metrics"]
    assert sgd["runnable"] and sgd["lr"] == "0.1" and sgd["lr_source"] == "default"
    assert set(sgd["groups"]) == {"orthogonal", "sign_flip"}
    assert sgd["groups"]["orthogonal"]["verdict"] == "equivariant" and sgd["groups"]["orthogonal"]["p_value"] is not None
    assert df.loc["torch.optim:LBFGS", "metrics"]["reason_kind"] == "needs a closure"
    assert df.loc["torch.optim:LBFGS", "source"] == "torch.optim"


@pytest.mark.parametrize("key, value, message", [
    ("optimizers", ["adamm"], "unknown optimizer 'adamm'"),
    ("optimizers", ["sgd", "sgd"], "without repeats"),
    ("groups", ["rotation"], "unknown group 'rotation'"),
    ("loss_factor", 1.0, "loss_factor must be greater than 1"),
    ("lr_ladder", [0.1, -1.0], "lr_ladder must hold positive"),
    ("seeds", 1, "seeds must be 0"),
])
def test_bad_config(key, value, message):
    with pytest.raises(ConfigError, match=message):
        config_mod.resolve(STUDY, overrides={key: value})
