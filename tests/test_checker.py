"""The equivariance checker's API: reports, the verdict rule, negative controls,
estimators, reproducibility and the pytest helper.

Networks here train for 40 steps, one or two elements per group: the verdicts
below hold with gaps of 10¹² and more on one side and below 1 on the other
(tests/test_equivariance_theory.py pins the theory itself).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from invariance import checker
from invariance.algorithms import EstimatorAlgorithm, NeuralAlgorithm, Task, as_algorithm, as_scores, default_task
from invariance.checker import DEFAULT_GROUPS, VerdictRule, assert_equivariant, check_equivariance, summarise
from invariance.verdicts import TwoSampleNumbers, holm, summarise_check
from invariance.testing import algorithm_id, equivariance_cases

FAST = dict(steps=40, n_elements=1, seeds=0)


class CoordinateWeightedSGD(torch.optim.Optimizer):
    """A deliberately non-equivariant toy: SGD whose step for entry (i, j) of a
    weight matrix is scaled by (1 + i/rows)(1 + j/cols) (entry i of a bias by
    1 + i/len). Singling out coordinates breaks input permutations and rotations
    (the first layer's columns) and label permutations (the last layer's rows),
    but a diagonal ±1 commutes with a diagonal scaling: sign flips are kept."""

    def __init__(self, params, lr: float = 0.1):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                last = torch.linspace(1, 2, p.shape[-1], dtype=p.dtype)
                weight = last if p.dim() == 1 else torch.linspace(1, 2, p.shape[-2], dtype=p.dtype)[:, None] * last
                p.add_(p.grad * weight, alpha=-group["lr"])
        return loss


# --------------------------------------------------------------------------- negative controls


def test_non_equivariant_toy_fails_where_it_breaks_symmetry_and_passes_sign_flips():
    report = check_equivariance(CoordinateWeightedSGD, ["orthogonal", "permutation", "label_permutation",
                                                        "sign_flip"], **FAST)
    assert report.algorithm == "tests.test_checker:CoordinateWeightedSGD"
    for group in ("orthogonal", "permutation", "label_permutation"):
        result = report.results[group]
        assert result.verdict == "not_equivariant", (group, result)
        assert result.coupled_gap >= VerdictRule().broken_gap and result.param_distance > 1e-6
    assert report.verdict("sign_flip") == "equivariant"
    assert report.results["sign_flip"].coupled_error == 0.0  # sign flips are exact in floating point


def test_per_feature_standardisation_breaks_rotations_not_signed_permutations():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    report = check_equivariance(make_pipeline(StandardScaler(), LogisticRegression()),
                                ["orthogonal", "signed_permutation"], n_elements=1, name="standardised-logistic")
    assert report.algorithm == "standardised-logistic"
    assert report.verdict("orthogonal") == "not_equivariant"
    assert report.verdict("signed_permutation") == "equivariant"
    assert report.results["orthogonal"].distributional_verdict == "deterministic"


# --------------------------------------------------------------------------- reports


@pytest.fixture(scope="module")
def adam_report():
    return check_equivariance("adam", ["orthogonal", "sign_flip"], steps=40, n_elements=2, seeds=8)


def test_report_numbers_and_verdicts(adam_report):
    rotation, flips = adam_report.results["orthogonal"], adam_report.results["sign_flip"]
    assert rotation.verdict == "not_equivariant" and rotation.coupled_verdict == "not_equivariant"
    assert flips.verdict == "equivariant"
    for result in (rotation, flips):
        assert len(result.elements) == 2
        assert result.floor == max(e["control"]["max_rel_error"] for e in result.elements)
        assert result.coupled_error == max(e["coupled"]["max_rel_error"] for e in result.elements)
        assert math.isclose(result.coupled_gap, result.coupled_error / max(result.floor, VerdictRule().floor_min))
        assert 0 < result.floor <= VerdictRule().max_floor  # the control is the identity up to rounding
        assert 0 <= result.p_value <= 1
    assert rotation.disagreement > 0 and flips.disagreement == 0
    # the two elements are different random rotations
    seeds = [e["element"]["seed"] for e in rotation.elements]
    assert len(set(seeds)) == 2


def test_report_formats(adam_report):
    frame = adam_report.to_frame()
    assert list(frame.group) == ["orthogonal", "sign_flip"]
    assert {"algorithm", "verdict", "coupled_gap", "floor", "disagreement", "p_value"} <= set(frame.columns)
    data = json.loads(adam_report.to_json())
    assert data["algorithm"] == "adam"
    for group in ("orthogonal", "sign_flip"):
        assert {"verdict", "coupled_gap", "floor", "disagreement", "p_value"} <= set(data["groups"][group])
    assert data["groups"]["orthogonal"]["verdict"] == "not_equivariant"
    assert data["settings"]["task"]["d"] == 16 and data["settings"]["seeds"] == 8
    markdown = adam_report.to_markdown()
    assert markdown.count("\n| ") == 3 and "| orthogonal | not_equivariant |" in markdown
    assert "not_equivariant" in adam_report.to_table()


def test_same_seed_same_report_bit_for_bit():
    first = check_equivariance("momentum", ["orthogonal"], steps=30, n_elements=1, seeds=4)
    second = check_equivariance("momentum", ["orthogonal"], steps=30, n_elements=1, seeds=4)
    assert first.to_json() == second.to_json()
    other = check_equivariance("momentum", ["orthogonal"], steps=30, n_elements=1, seeds=4, seed=1)
    assert other.results["orthogonal"].elements[0]["element"] != first.results["orthogonal"].elements[0]["element"]


def test_coupled_runs_are_shared_across_groups_and_paired_across_algorithms():
    # element i of a group and the training seed of element i do not depend on the algorithm
    task = default_task()
    sgd, adam = ({"fits": {}}, {"fits": {}})
    a = checker.coupled_element(as_algorithm("sgd", steps=20), task, "permutation", 0, base_fits=sgd["fits"])
    b = checker.coupled_element(as_algorithm("adam", steps=20), task, "permutation", 0, base_fits=adam["fits"])
    assert a["element"] == b["element"] and list(sgd["fits"]) == list(adam["fits"])
    checker.coupled_element(as_algorithm("sgd", steps=20), task, "sign_flip", 0, base_fits=sgd["fits"])
    assert len(sgd["fits"]) == 1  # the untransformed run is reused by the next group


# --------------------------------------------------------------------------- the verdict rule


def _element(error, floor, disagreement=0.0):
    metrics = {"max_rel_error": error, "rms_rel_error": error, "disagreement": disagreement, "param_distance": None}
    return {"coupled": metrics, "control": {**metrics, "max_rel_error": floor, "disagreement": 0.0}}


@pytest.mark.parametrize("error, verdict", [(1e-14, "equivariant"), (1e-11, "inconclusive"), (1e-3, "not_equivariant")])
def test_coupled_thresholds_are_relative_to_the_floor(error, verdict):
    result = summarise("orthogonal", [_element(error, 1e-15), _element(error / 2, 2e-15)])
    assert result.floor == 2e-15 and result.coupled_error == error
    assert result.coupled_verdict == verdict and result.verdict == verdict


def test_exact_control_uses_the_minimum_floor():
    # piecewise-constant scores: the control is exact (floor 0); a few ulps are no evidence
    result = summarise("permutation", [_element(4e-16, 0.0)])
    assert result.coupled_gap == pytest.approx(4e-16 / VerdictRule().floor_min)
    assert result.verdict == "equivariant"


def _dist(p, retest=None, effect=0.01, spread=1.0, scale=1.0):
    return TwoSampleNumbers(p, effect, spread, scale, seeds=32, retest_p_value=retest)


def test_a_confirmed_distributional_rejection_overrides_a_passing_coupled_test():
    result = summarise("orthogonal", [_element(1e-16, 1e-15)], distributional=_dist(0.001, retest=0.002))
    assert result.coupled_verdict == "equivariant" and result.verdict == "not_equivariant"
    assert "although the coupled runs agree" in result.note
    calm = summarise("orthogonal", [_element(1e-16, 1e-15)], distributional=_dist(0.4, effect=0.0))
    assert calm.distributional_verdict == "no_evidence" and calm.verdict == "equivariant"
    strict = summarise("orthogonal", [_element(1e-16, 1e-15)], distributional=_dist(0.001, retest=0.001),
                       rule=VerdictRule(min_effect=0.05))
    assert strict.verdict == "equivariant"


def test_an_unconfirmed_rejection_is_chance():
    # issue 8.4: Rprop under sign flips, exact coupling, p = 0.006 at seed 0 only
    result = summarise("sign_flip", [_element(0.0, 8e-16)], distributional=_dist(0.006, retest=0.49))
    assert result.distributional_verdict == "no_evidence" and result.verdict == "equivariant"
    assert "not confirmed" in result.note
    never_retested = summarise("sign_flip", [_element(0.0, 8e-16)], distributional=_dist(0.006))
    assert never_retested.verdict == "equivariant"


def test_a_rejection_agreeing_with_a_broken_coupling_needs_no_retest():
    result = summarise("orthogonal", [_element(0.2, 1e-15, 0.05)], distributional=_dist(0.001))
    assert result.distributional_verdict == "not_equivariant" and result.verdict == "not_equivariant"


def test_holm_adjusts_over_the_groups_of_a_check():
    assert holm({"a": 0.01, "b": 0.04, "c": None, "d": 0.03}) == pytest.approx(
        {"a": 0.03, "b": 0.06, "c": None, "d": 0.06})
    per_group = {g: {"elements": [_element(0.0, 1e-15)], "distributional": _dist(0.004, retest=0.004)}
                 for g in DEFAULT_GROUPS}
    # four groups: 4 × 0.004 = 0.016 ≥ α, so no group is rejected, although each p-value alone would be
    results = summarise_check(per_group)
    assert all(r.verdict == "equivariant" and r.p_value == pytest.approx(0.016) for r in results.values())
    per_group["orthogonal"]["distributional"] = _dist(0.001, retest=0.001)
    results = summarise_check(per_group)
    assert results["orthogonal"].verdict == "not_equivariant"  # 4 × 0.001 < α and confirmed at α/4
    assert results["permutation"].verdict == "equivariant"


def test_a_chaotic_floor_makes_the_coupled_test_inconclusive():
    # issue 8.2: adam(lr=0.3), 2000 steps, depth 3: floor 28, gap 0.06, 3.9 % of labels changed
    chaotic = _element(1.7, 28.3, disagreement=0.039)
    chaotic["control"]["disagreement"] = 0.05
    result = summarise("orthogonal", [chaotic], distributional=_dist(0.3, spread=65.6, scale=41.0))
    assert result.coupled_verdict == "inconclusive" and result.verdict == "inconclusive"
    assert result.distributional_verdict == "no_evidence"  # the spread is far above rounding
    assert "chaotic" in result.note and "not a proof" in result.note
    # a floor above √ε is not small even when the control changed no label
    rule = VerdictRule()
    assert rule.coupled(rule.gap(1e-7, 2 * rule.max_floor), 2 * rule.max_floor) == "inconclusive"
    assert rule.coupled(rule.gap(1e-7, rule.max_floor), rule.max_floor) == "equivariant"
    confirmed = summarise("orthogonal", [chaotic], distributional=_dist(0.001, retest=0.003))
    assert confirmed.verdict == "not_equivariant"


def test_the_initialisation_verdict_joins_the_overall_verdict():
    init = TwoSampleNumbers(0.001, seeds=256, retest_p_value=0.001)
    result = summarise("orthogonal", [_element(5e-16, 6e-16)], init=init, distributional=_dist(0.66))
    assert (result.coupled_verdict, result.init_verdict, result.verdict) == (
        "equivariant", "not_equivariant", "not_equivariant")
    assert "update rule is equivariant, but the initialisation" in result.note
    unconfirmed = summarise("orthogonal", [_element(5e-16, 6e-16)], init=TwoSampleNumbers(0.001, retest_p_value=0.3))
    assert unconfirmed.init_verdict == "equivariant" and unconfirmed.verdict == "equivariant"


def test_inexact_coupling_cannot_convict_alone():
    broken = [_element(0.5, 1e-15, disagreement=0.1)]
    assert summarise("permutation", broken, distributional=_dist(0.5)).verdict == "not_equivariant"
    loose = summarise("permutation", broken, distributional=_dist(0.5), exact_coupling=False)
    assert loose.verdict == "inconclusive" and "not transported" in loose.note
    # its distributional rejection is the only evidence: it must be confirmed
    unconfirmed = summarise("permutation", broken, distributional=_dist(0.001), exact_coupling=False)
    assert unconfirmed.verdict == "inconclusive"
    confirmed = summarise("permutation", broken, distributional=_dist(0.001, retest=0.001), exact_coupling=False)
    assert confirmed.verdict == "not_equivariant"


def test_rounding_level_spread_counts_as_deterministic():
    # runs that differ across seeds by 1e-16 only: the samples differ by g's rounding, nothing else
    result = summarise("permutation", [_element(5e-16, 1e-15)],
                       distributional=_dist(0.001, effect=1.0, spread=1e-16))
    assert result.distributional_verdict == "deterministic" and result.verdict == "equivariant"
    assert result.p_value is None
    # judged against rounding, never against the measured floor (issue 8.2)
    big_floor = summarise("permutation", [_element(5e-16, 1e-9)], distributional=_dist(0.5, spread=1e-8))
    assert big_floor.distributional_verdict == "no_evidence"


def test_verdict_rule_rejects_bad_thresholds():
    with pytest.raises(ValueError, match="equivariant_gap < broken_gap"):
        VerdictRule(equivariant_gap=1e5)
    with pytest.raises(ValueError, match="alpha"):
        VerdictRule(alpha=1.5)


# --------------------------------------------------------------------------- algorithms and bad input


def test_estimators_deterministic_or_seeded():
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    from learners.neural import NeuralClassifier

    assert EstimatorAlgorithm(SVC()).exact_coupling is False  # has random_state (unused without probability)
    tree = EstimatorAlgorithm(DecisionTreeClassifier())
    assert tree.seed_parameters == ["random_state"] and not tree.deterministic
    assert EstimatorAlgorithm(NeuralClassifier()).seed_parameters == ["seed"]
    from sklearn.naive_bayes import GaussianNB

    assert EstimatorAlgorithm(GaussianNB()).deterministic
    # an estimator class is built with its defaults
    assert isinstance(as_algorithm(GaussianNB), EstimatorAlgorithm)


def test_per_layer_rule_as_a_dict_and_an_optimizer_class():
    report = check_equivariance({"layers": ["sgd", "adam"]}, ["orthogonal"], **FAST)
    assert report.algorithm == "layers: [sgd, adam]" and report.verdict("orthogonal") == "equivariant"
    assert algorithm_id({"layers": ["sgd", "adam"]}) == "layers: [sgd, adam]"
    report = check_equivariance(torch.optim.Adamax, ["orthogonal"], **FAST)
    assert report.algorithm == "torch.optim.adamax:Adamax" and report.verdict("orthogonal") == "not_equivariant"


def test_binary_scores_become_two_columns():
    s = np.array([1.5, -2.0])
    assert np.array_equal(as_scores(s), [[-0.75, 0.75], [1.0, -1.0]])
    assert as_scores(s).argmax(1).tolist() == [1, 0]


def test_untrained_network_tests_the_initialisation():
    alg = NeuralAlgorithm("sgd", steps=0, depth=1)
    task = default_task()
    fitted = alg.fit(task.X_train, task.y_train, seed=3, n_classes=3)
    from learners.neural.models import MLP

    fresh = MLP(16, 3, depth=1, width=32, init="gaussian", seed=3, dtype=torch.float64)
    assert np.array_equal(fitted.predict_scores(task.X_test), fresh(torch.as_tensor(task.X_test)).detach().numpy())
    sample = alg.sample(task.X_train, task.y_train, task.probe, [3, 4], 3)
    assert sample.shape == (2, 16, 3) and np.allclose(sample[0], fitted.predict_scores(task.probe), atol=1e-14)


def test_axis_probe_task():
    task = default_task(probe="axes")
    assert np.array_equal(task.probe, 4.0 * np.eye(16)) and task.name.endswith("-axes")
    assert default_task().probe.shape == (16, 16)
    with pytest.raises(ValueError, match="probe"):
        default_task(probe="corners")


@pytest.mark.parametrize("call, message", [
    (lambda: check_equivariance("adam", ["rotation"]), "unknown group 'rotation'; accepted: identity"),
    (lambda: check_equivariance("adamm", ["orthogonal"]), "unknown optimizer 'adamm'"),
    (lambda: check_equivariance("sgd", ["orthogonal"], n_elements=0), "n_elements must be an integer ≥ 1"),
    (lambda: check_equivariance("sgd", ["orthogonal"], seeds=-1), "seeds must be a non-negative"),
    (lambda: check_equivariance("sgd", ["orthogonal"], steps=-2), "steps must be a non-negative"),
    (lambda: check_equivariance("sgd", ["orthogonal"], init="uniform"), "unknown init 'uniform'"),
    (lambda: check_equivariance("sgd", [], seeds=0), "no groups given"),
    (lambda: check_equivariance("torch.nn:Linear", ["orthogonal"]), "not a torch.optim.Optimizer subclass"),
    (lambda: check_equivariance("sgd", ["image_rot90"], task=Task(np.zeros((4, 3)), np.zeros(4, int),
                                                                   np.zeros((2, 3)), np.zeros(2, int), 2)),
     "needs a task with an image_shape"),
])
def test_bad_input_is_one_clear_line(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_wrong_kinds_are_type_errors():
    with pytest.raises(TypeError, match="cannot check a int"):
        as_algorithm(3)
    from sklearn.svm import SVC

    with pytest.raises(TypeError, match="do not apply to a scikit-learn estimator"):
        check_equivariance(SVC(), ["orthogonal"], steps=10)


# --------------------------------------------------------------------------- assert_equivariant and the pytest helper


def test_assert_equivariant_passes_and_fails_with_the_numbers():
    result = assert_equivariant("sgd", "orthogonal", **FAST)
    assert result.verdict == "equivariant"
    with pytest.raises(AssertionError, match=r"adam is not_equivariant under orthogonal: update rule not_equivariant.*coupled gap .*floor"):
        assert_equivariant("adam", "orthogonal", **FAST)


def test_case_ids_and_strict_expected_failures():
    cases = equivariance_cases(["sgd", CoordinateWeightedSGD], ["orthogonal", "sign_flip"],
                               expected_failures={"orthogonal": "toy", ("sgd", "orthogonal"): None}, **FAST)
    assert [c.id for c in cases] == ["sgd-orthogonal", "sgd-sign_flip", "CoordinateWeightedSGD-orthogonal",
                                     "CoordinateWeightedSGD-sign_flip"]
    marks = {c.id: [m.kwargs for m in c.marks] for c in cases}
    assert marks["CoordinateWeightedSGD-orthogonal"] == [{"reason": "toy", "strict": True, "raises": AssertionError}]
    assert marks["sgd-orthogonal"] == [] and marks["sgd-sign_flip"] == []
    assert algorithm_id(CoordinateWeightedSGD) == "CoordinateWeightedSGD"


def test_helper_end_to_end_in_pytest(tmp_path):
    # a user's test file: an expected failure that holds (xfail), one that does not (strict XPASS fails)
    (tmp_path / "test_user.py").write_text(textwrap.dedent("""
        from invariance.testing import parametrize_equivariance

        @parametrize_equivariance(["sgd", "adam"], groups=["orthogonal", "sign_flip"],
                                  expected_failures={("adam", "orthogonal"): "element-wise update",
                                                     ("sgd", "sign_flip"): "wrongly expected"},
                                  steps=30, n_elements=1, seeds=0)
        def test_symmetry(algorithm, group, check):
            check()
    """))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    out = run.stdout
    assert "PASSED test_user.py::test_symmetry[sgd-orthogonal]" in out
    assert "PASSED test_user.py::test_symmetry[adam-sign_flip]" in out
    assert "XFAIL test_user.py::test_symmetry[adam-orthogonal]" in out
    assert "FAILED test_user.py::test_symmetry[sgd-sign_flip]" in out and "XPASS(strict)" in out
    assert run.returncode == 1


def test_verdict_rule_imports_without_torch():
    # reports import the rule and the result types: they must not pull in torch
    code = "import sys, invariance.verdicts, invariance.formatting; assert 'torch' not in sys.modules, 'torch'"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_assert_equivariant_hides_its_frames_from_pytest():
    assert "__tracebackhide__" in assert_equivariant.__code__.co_varnames
    with pytest.raises(AssertionError) as info:
        assert_equivariant("adam", "orthogonal", **FAST)
    hidden = [entry for entry in info.traceback if entry.frame.code.name == "assert_equivariant"]
    assert hidden and all(entry.ishidden(info) for entry in hidden)
