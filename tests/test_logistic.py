"""The batched penalised logistic-regression solver, Ng's hold-out selection and the estimators."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from invariance import groups
from learners import logistic
from learners.logistic import (
    DEFAULT_LAMBDAS,
    HoldoutLogisticRegression,
    PenalizedLogisticRegression,
    fit,
    fit_path,
    holdout_select,
    holdout_size,
)

# coefficients against scikit-learn at tol 1e-14 (L1: liblinear, saga; L2: newton-cholesky), ours at
# tol 1e-12: measured ≤ 1.5e-10 apart relative to max(1, |w|∞) (at our default tol 1e-10, ≤ 1e-7:
# the L1 problems with n > m are ill-conditioned on their support)
SOLVER_TOL = 1e-12
COEF_TOL = 1e-9
# objectives: ours is never worse than scikit-learn's by more than rounding (measured ≤ 1e-16)
OBJECTIVE_SLACK = 1e-13


def _problem(m, n, seed=0, relevant=3, scale=3.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    theta = np.zeros(n)
    theta[:relevant] = scale
    y = (rng.random(m) < 1 / (1 + np.exp(-X @ theta))).astype(np.float64)
    return X, y


def _objective(X, y, w, b, lam, penalty):
    f = np.mean(np.logaddexp(0, -(2 * y - 1) * (X @ w + b)))
    return f + (lam * np.abs(w).sum() if penalty == "l1" else 0.5 * lam * w @ w)


def _gradient(X, y, w, b, lam, penalty, fit_intercept):
    """Gradient of the smooth part (plus λw for L2), and of the intercept."""
    r = 1 / (1 + np.exp(-(X @ w + b))) - y
    g = X.T @ r / len(y) + (lam * w if penalty == "l2" else 0.0)
    return g, (r.mean() if fit_intercept else 0.0)


def _sklearn(X, y, lam, penalty, fit_intercept):
    """scikit-learn's solution: C Σ loss + ‖w‖₁ (or ½‖w‖²) is our objective times C·m."""
    if penalty == "l2":
        solver = "newton-cholesky"  # exact Newton: liblinear and lbfgs stop ~1e-7 short
    else:
        solver = "saga" if fit_intercept else "liblinear"
    model = LogisticRegression(l1_ratio=1.0 if penalty == "l1" else 0.0, C=1 / (lam * len(y)),
                               fit_intercept=fit_intercept, tol=1e-14, solver=solver, max_iter=100_000).fit(X, y)
    return model.coef_[0], (model.intercept_[0] if fit_intercept else 0.0)


CASES = [(m, n, penalty, lam, fi)
         for (m, n) in ((60, 10), (40, 120))
         for penalty in ("l1", "l2")
         for lam in (0.1, 0.01, 0.001)
         for fi in (False, True)
         if not (penalty == "l1" and fi and (n > m or lam < 0.01))]  # saga is slow there


@pytest.mark.parametrize("m,n,penalty,lam,fit_intercept", CASES)
def test_coefficients_match_scikit_learn(m, n, penalty, lam, fit_intercept):
    X, y = _problem(m, n, seed=m + n)
    result = fit(X, y, lam, penalty, fit_intercept=fit_intercept, tol=SOLVER_TOL)
    assert bool(result.converged[0, 0])
    w, b = result.coef[0, 0].numpy(), float(result.intercept[0, 0])
    ws, bs = _sklearn(X, y, lam, penalty, fit_intercept)
    assert _objective(X, y, w, b, lam, penalty) <= _objective(X, y, ws, bs, lam, penalty) + OBJECTIVE_SLACK
    if penalty == "l2" and not fit_intercept:
        # F is λ-strongly convex: |w − w*| ≤ |∇F(w)|/λ for any w, so the two solutions are
        # within the sum of their gradient norms over λ
        bound = sum(np.linalg.norm(_gradient(X, y, v, 0.0, lam, penalty, False)[0]) for v in (w, ws)) / lam
        assert np.linalg.norm(w - ws) <= bound + 1e-12
    assert np.abs(w - ws).max() <= COEF_TOL * max(1.0, np.abs(ws).max())
    assert abs(b - bs) <= COEF_TOL * max(1.0, abs(bs))
    if penalty == "l1":
        np.testing.assert_array_equal(w == 0, np.abs(ws) < 1e-12)  # the same support


@pytest.mark.parametrize("penalty", ["l1", "l2"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_path_solutions_satisfy_the_optimality_conditions(penalty, fit_intercept):
    X, y = _problem(50, 80, seed=2)
    tol = 1e-10
    result = fit_path(X, y, DEFAULT_LAMBDAS, penalty, fit_intercept=fit_intercept, tol=tol)
    assert bool(result.converged.all())
    for k, lam in enumerate(DEFAULT_LAMBDAS):
        w, b = result.coef[0, k].numpy(), float(result.intercept[0, k])
        g, gb = _gradient(X, y, w, b, lam, penalty, fit_intercept)
        if penalty == "l1":  # KKT: g = −λ sign w on the support, |g| ≤ λ off it
            residual = np.where(w != 0, np.abs(g + lam * np.sign(w)), np.maximum(np.abs(g) - lam, 0))
            assert residual.max() <= tol and abs(gb) <= tol
        else:
            assert np.hypot(np.linalg.norm(g), gb) <= tol
    # the path is stored in the order asked
    shuffled = np.random.default_rng(0).permutation(len(DEFAULT_LAMBDAS))
    again = fit_path(X, y, np.asarray(DEFAULT_LAMBDAS)[shuffled], penalty, fit_intercept=fit_intercept, tol=tol)
    torch.testing.assert_close(again.coef, result.coef[:, shuffled], rtol=0, atol=1e-9)


# A member's arithmetic depends on its batch only through the rounding of vectorised kernels
# (MKL's batched GEMM and torch's SIMD loops treat a row differently by batch size and position,
# measured ≤ 1e-15 per operation); at tol 1e-12 the solutions agree to ≤ 7e-13 (measured).
BATCH_TOL = 1e-10


@pytest.mark.parametrize("penalty", ["l1", "l2"])
@pytest.mark.parametrize("m,n", [(30, 200), (70, 12)])
def test_a_trial_does_not_depend_on_its_batch(penalty, m, n):
    problems = [_problem(m, n, seed=s) for s in range(5)]
    X = np.stack([p[0] for p in problems])
    y = np.stack([p[1] for p in problems])
    run = {"lambdas": DEFAULT_LAMBDAS, "penalty": penalty, "fit_intercept": True, "tol": 1e-12}
    batch = fit_path(X, y, **run)
    assert (batch.n_iter.amin(0) != batch.n_iter.amax(0)).any()  # members stop at different steps
    for i in range(len(problems)):
        alone = fit_path(X[i], y[i], **run)
        pair = fit_path(X[[4 - i, i]], y[[4 - i, i]], **run)
        for other in (alone, pair):
            j = other.coef.shape[0] - 1
            # each member iterates on its own: the same steps, and the same solutions
            assert torch.equal(other.n_iter[j], batch.n_iter[i])
            assert torch.equal(other.converged[j], batch.converged[i])
            torch.testing.assert_close(other.coef[j], batch.coef[i], rtol=0, atol=BATCH_TOL)
            torch.testing.assert_close(other.intercept[j], batch.intercept[i], rtol=0, atol=BATCH_TOL)


def test_max_iter_bounds_the_work_and_flags_non_convergence():
    X, y = _problem(40, 100, seed=3)
    for penalty in ("l1", "l2"):
        result = fit(X, y, 1e-4, penalty, max_iter=1)
        assert not bool(result.converged[0, 0]) and int(result.n_iter[0, 0]) <= 1
        assert float(result.kkt[0, 0]) > 1e-10


def test_zero_is_the_l1_solution_above_lambda_max():
    X, y = _problem(40, 30, seed=4)
    lam_max = np.abs(X.T @ (y - 0.5)).max() / len(y)
    result = fit_path(X, y, [1.01 * lam_max, 0.99 * lam_max], "l1")
    assert not result.coef[0, 0].any() and int(result.n_iter[0, 0]) == 0
    assert int((result.coef[0, 1] != 0).sum()) == 1


def test_l2_is_rotation_equivariant_and_l1_is_not():
    X, y = _problem(40, 60, seed=5)
    g = groups.sample("orthogonal", 60, seed=1)
    M = g.matrix()
    l2 = fit_path(np.stack([X, g.apply(X)]), np.stack([y, y]), [0.1, 0.01], "l2")
    np.testing.assert_allclose(l2.coef[1].numpy(), l2.coef[0].numpy() @ M.T, atol=1e-10)
    l1 = fit_path(np.stack([X, g.apply(X)]), np.stack([y, y]), [0.1, 0.01], "l1")
    assert np.abs(l1.coef[1].numpy() - l1.coef[0].numpy() @ M.T).max() > 1e-2
    assert (l1.coef[0] != 0).sum() < (l1.coef[1] != 0).sum()  # sparse in the original basis only


def test_holdout_size_rounds_half_up():
    assert [holdout_size(m, 0.3) for m in (2, 3, 10, 25, 100, 200)] == [1, 1, 3, 8, 30, 60]
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        holdout_size(10, 1.0)


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_holdout_selection_matches_a_direct_loop(penalty):
    X, y = _problem(100, 40, seed=7)  # a problem whose hold-out 0/1 error ties at its minimum
    lambdas = DEFAULT_LAMBDAS
    result = holdout_select(X, y, penalty, lambdas, tol=SOLVER_TOL)
    train, hold = slice(0, 70), slice(70, 100)
    scores = {"zero_one": [], "log_loss": []}
    for lam in lambdas:  # each λ from a cold start, not along the path
        single = fit(X[train], y[train], lam, penalty, tol=SOLVER_TOL)
        z = X[hold] @ single.coef[0, 0].numpy()
        scores["zero_one"].append(np.mean((z > 0) != y[hold]))
        scores["log_loss"].append(np.mean(np.logaddexp(0, -(2 * y[hold] - 1) * z)))
    for metric, values in scores.items():
        values = np.array(values)
        np.testing.assert_allclose(result.scores[metric][0].numpy(), values, atol=1e-9)
        best = np.flatnonzero(values <= values.min() + 1e-12)
        chosen = int(result.index[metric][0])
        assert lambdas[chosen] == max(lambdas[k] for k in best)   # ties go to the larger λ
    assert result.n_train == 70
    zero_one_ties = np.sum(np.array(scores["zero_one"]) == min(scores["zero_one"]))
    assert zero_one_ties > 1  # the tie rule was exercised
    refit = holdout_select(X, y, penalty, lambdas, refit=True, tol=SOLVER_TOL)
    for metric in ("zero_one", "log_loss"):
        lam = lambdas[int(refit.index[metric][0])]
        direct = fit(X, y, lam, penalty, tol=SOLVER_TOL)
        torch.testing.assert_close(refit.coef[metric][0], direct.coef[0, 0], rtol=0, atol=1e-8)


def test_estimators_agree_with_the_functions():
    X, y = _problem(80, 30, seed=7)
    labels = np.where(y == 1, "spam", "ham")
    model = PenalizedLogisticRegression(penalty="l1", lam=0.02).fit(X, labels)
    direct = fit(X, y, 0.02, "l1")
    np.testing.assert_array_equal(model.coef_[0], direct.coef[0, 0].numpy())
    assert list(model.classes_) == ["ham", "spam"] and model.converged_
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(model.predict(X), np.where(proba[:, 1] > 0.5, "spam", "ham"))
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X)), proba, rtol=1e-12)
    selector = HoldoutLogisticRegression(penalty="l2", select_by="log_loss").fit(X, labels)
    result = holdout_select(X, y, "l2", metrics=("log_loss",))
    assert selector.lambda_ == float(result.lambda_("log_loss")[0])
    np.testing.assert_array_equal(selector.holdout_scores_, result.scores["log_loss"][0].numpy())
    np.testing.assert_array_equal(selector.coef_[0], result.coef["log_loss"][0].numpy())


def test_bad_input_gets_a_one_line_error():
    X, y = _problem(20, 5)
    cases = [
        (lambda: fit_path(X, y, [0.1], "l3"), ValueError, "unknown penalty 'l3'; accepted: l1, l2"),
        (lambda: fit_path(X, y + 1, [0.1]), ValueError, "labels 0 and 1"),
        (lambda: fit_path(X, y, [-1.0]), ValueError, "finite values >= 0"),
        (lambda: fit_path(X, y, []), ValueError, "non-empty"),
        (lambda: fit_path(X, y[:5], [0.1]), ValueError, "to match"),
        (lambda: fit_path(np.where(X > 1, np.nan, X), y, [0.1]), ValueError, "finite"),
        (lambda: fit_path(X, y, [0.1], tol=0), ValueError, "tol must be a positive"),
        (lambda: fit_path(X, y, [0.1], max_iter=0), ValueError, "max_iter must be a positive integer"),
        (lambda: fit(X[None].repeat(2, 0), y[None].repeat(2, 0), [0.1, 0.2, 0.3]), ValueError, r"shape \(2,\)"),
        (lambda: holdout_select(X, y, metrics=("accuracy",)), ValueError, "unknown metric 'accuracy'"),
        (lambda: HoldoutLogisticRegression(select_by="auc").fit(X, y), ValueError, "unknown select_by 'auc'"),
        (lambda: PenalizedLogisticRegression(lam=-1.0).fit(X, y), ValueError, "lam must be a finite number >= 0"),
        (lambda: fit_path("abc", y, [0.1]), TypeError, "X must be a numeric"),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind, match=message) as info:
            call()
        assert "\n" not in str(info.value)


@parametrize_with_checks([PenalizedLogisticRegression(), HoldoutLogisticRegression(),
                          HoldoutLogisticRegression(penalty="l2", select_by="log_loss", refit=True,
                                                    fit_intercept=True)])
def test_scikit_learn_compatible(estimator, check):
    check(estimator)


def test_module_defaults_are_documented():
    assert logistic.DEFAULT_LAMBDAS[0] == 10.0 and logistic.DEFAULT_LAMBDAS[-1] == pytest.approx(1e-4)
    assert len(logistic.DEFAULT_LAMBDAS) == 21
