"""The batched learners of the sample-complexity study (:mod:`learners.sample`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import hadamard

from invariance import groups
from learners.logistic import DEFAULT_LAMBDAS, holdout_select, holdout_size
from learners.sample import BatchFit, SampleLearner, describe, make, names
from learners.sample.base import TIE_RTOL

EPS = torch.finfo(torch.float64).eps


def _gaussian(T, m, n, seed=0, task="regression", noise=0.5, scale=1.0):
    """x ~ N(0, I) with columns scaled by ``scale`` (a float or (n,)); target on the first feature."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(T, m, n, generator=g, dtype=torch.float64) * torch.as_tensor(scale, dtype=torch.float64)
    if task == "regression":
        y = X[..., 0] + noise * torch.randn(T, m, generator=g, dtype=torch.float64)
    else:
        y = (torch.rand(T, m, generator=g, dtype=torch.float64) < torch.sigmoid(5 * X[..., 0])).double()
    return X, y


def _hadamard_trials(d, k, T, seed=0, column=1):
    """T training sets of k distinct rows of the d×d Sylvester Hadamard matrix; target: one column."""
    H = torch.tensor(hadamard(d), dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    rows = torch.stack([torch.randperm(d, generator=g)[:k] for _ in range(T)])
    return H, H[rows], H[rows][:, :, column]


def _fit_part(X, y):
    n_fit = X.shape[1] - holdout_size(X.shape[1], 0.3)
    return X[:, :n_fit], y[:, :n_fit], X[:, n_fit:], y[:, n_fit:]


def _condition(X):
    s = torch.linalg.svdvals(X)
    return float((s[:, 0] / s[:, -1]).max()), s


# ---------------------------------------------------------------------------
# the registry and the interface


def test_names_make_and_describe():
    assert names() == ("l1-logistic", "l2-logistic", "ridge", "spindly")
    assert set(describe()) == set(names()) | {"mlp:SPEC"} and all(isinstance(v, str) and "\n" not in v for v in describe().values())
    for name in names():
        learner = make(name)
        assert isinstance(learner, SampleLearner) and learner.name == name
        assert learner.tasks <= {"classification", "regression"} and learner.tasks
    assert make("ridge", lambdas=[1.0, 0.0]).options["lambdas"] == [1.0, 0.0]


@pytest.mark.parametrize("name", ["l1-logistic", "l2-logistic", "ridge", "spindly"])
def test_fit_returns_the_contracts_batch(name):
    X, y = _gaussian(3, 30, 12, task="classification")
    fit = make(name).fit(X, y, task="classification", seed=1)
    assert isinstance(fit, BatchFit)
    assert fit.coef.shape == (3, 12) and fit.intercept.shape == (3,)
    assert list(fit.status) == ["ok"] * 3
    key = "lam" if "lam" in fit.selected else "steps"
    assert set(fit.selected) == {key, f"{key}_at_edge"}
    assert fit.selected[key].shape == (3,) and fit.selected[f"{key}_at_edge"].dtype == bool
    X_test, _ = _gaussian(3, 7, 12, seed=5)
    scores = fit.predict(X_test)
    assert scores.shape == (3, 7)
    torch.testing.assert_close(scores, torch.einsum("tpn,tn->tp", X_test, fit.coef) + fit.intercept[:, None],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: make("lasso"), "unknown learner 'lasso'"),
    (lambda: make("ridge", alpha=1.0), "unknown option 'alpha' for learner 'ridge'"),
    (lambda: make("ridge", lambdas=[]), "lambdas must be a non-empty"),
    (lambda: make("ridge", lambdas=[1.0, -1.0]), "lambdas must be a non-empty"),
    (lambda: make("ridge", holdout=1.5), "holdout must be a fraction"),
    (lambda: make("ridge", fit_intercept="yes"), "fit_intercept must be true or false"),
    (lambda: make("l1-logistic", tol=0), "tol must be a positive"),
    (lambda: make("l2-logistic", max_iter=2.5), "max_iter must be a positive integer"),
    (lambda: make("spindly", lr=-1), "lr must be a positive"),
    (lambda: make("spindly", init_scale=float("nan")), "init_scale must be a positive"),
    (lambda: make("spindly", max_steps=0), "max_steps must be a positive integer"),
    (lambda: make("spindly", checkpoints_per_decade=True), "checkpoints_per_decade must be a positive integer"),
])
def test_bad_options_raise_one_line_value_errors(call, message):
    with pytest.raises(ValueError, match=message) as error:
        call()
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, X, y, task, message", [
    ("l1-logistic", torch.zeros(2, 10, 3), torch.zeros(2, 10), "regression", "does not do regression"),
    ("ridge", torch.zeros(2, 10, 3), torch.zeros(2, 10), "ranking", "unknown task 'ranking'"),
    ("ridge", torch.zeros(10, 3), torch.zeros(10), "regression", r"X must be \(T, m, n\)"),
    ("ridge", torch.zeros(2, 10, 3), torch.zeros(2, 9), "regression", r"X must be \(T, m, n\)"),
    ("ridge", torch.full((2, 10, 3), float("nan")), torch.zeros(2, 10), "regression", "must be finite"),
    ("spindly", torch.zeros(2, 10, 3), torch.full((2, 10), 2.0), "classification", "labels y must be 0 or 1"),
    ("ridge", torch.zeros(2, 1, 3), torch.zeros(2, 1), "regression", "at least 2 examples"),
])
def test_bad_data_raise_one_line_value_errors(name, X, y, task, message):
    with pytest.raises(ValueError, match=message) as error:
        make(name).fit(X, y, task=task)
    assert "\n" not in str(error.value)


def test_bad_seed_raises():
    X, y = _gaussian(2, 10, 3)
    with pytest.raises(ValueError, match="seed must be an int"):
        make("ridge").fit(X, y, task="regression", seed="0")


# ---------------------------------------------------------------------------
# the Ng learners are ng2004's


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_logistic_learners_are_ng2004s_holdout_selection(penalty):
    X, y = _gaussian(4, 40, 30, seed=3, task="classification")
    fit = make(f"{penalty}-logistic").fit(X, y, task="classification")
    direct = holdout_select(X, y, penalty, DEFAULT_LAMBDAS, metrics=("zero_one",), tol=1e-8, max_iter=200)
    assert torch.equal(fit.coef, direct.coef["zero_one"])
    np.testing.assert_array_equal(fit.selected["lam"], direct.lambda_("zero_one").numpy())
    lam = np.asarray(DEFAULT_LAMBDAS)
    np.testing.assert_array_equal(fit.selected["lam_at_edge"],
                                  (fit.selected["lam"] == lam.max()) | (fit.selected["lam"] == lam.min()))
    np.testing.assert_array_equal(fit.extra["nonzeros"], (direct.coef["zero_one"] != 0).sum(1).numpy())


# ---------------------------------------------------------------------------
# ridge


@pytest.mark.parametrize("m, n", [(40, 100), (120, 30)])
def test_ridge_at_tiny_lambda_is_min_norm_least_squares(m, n):
    """‖w_λ − X⁺t‖ ≤ (m'λ/s_min²)‖X⁺t‖ in exact arithmetic (w_λ = V diag(s/(s² + m'λ)) Uᵀt), plus
    rounding of order eps·κ·max(m', n) in both computations (the pseudo-inverse is a different
    algorithm); ill-conditioned columns (scales from 1 to 1e-3) make both terms visible."""
    X, y = _gaussian(3, m, n, seed=m, scale=torch.logspace(0, -3, n, dtype=torch.float64))
    X_fit, y_fit, _, _ = _fit_part(X, y)
    kappa, s = _condition(X_fit)
    reference = torch.bmm(torch.linalg.pinv(X_fit), y_fit[:, :, None])[..., 0]
    lstsq = torch.linalg.lstsq(X_fit, y_fit[:, :, None], driver="gelsd").solution[..., 0]
    rounding = 10 * max(X_fit.shape[1:]) * EPS * kappa
    assert float(((lstsq - reference).norm(dim=1) / reference.norm(dim=1)).max()) <= rounding
    m_fit = X_fit.shape[1]
    for lam in (1e-10, 0.0):
        fit = make("ridge", lambdas=[lam]).fit(X, y, task="regression")
        relative = (fit.coef - reference).norm(dim=1) / reference.norm(dim=1)
        bound = m_fit * lam / float(s[:, -1].min()) ** 2 + rounding
        assert float(relative.max()) <= bound, (lam, float(relative.max()), bound)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_ridge_holdout_choice_equals_a_direct_loop_over_lambda(task):
    X, y = _gaussian(6, 50, 80, seed=11, task=task, noise=2.0)
    lambdas = [10.0 ** (1 - k / 2) for k in range(12)] + [0.0]
    fit = make("ridge", lambdas=lambdas).fit(X, y, task=task)
    X_fit, y_fit, X_hold, y_hold = _fit_part(X, y)
    t = 2 * y_fit - 1 if task == "classification" else y_fit
    m_fit, n = X_fit.shape[1:]
    for trial in range(X.shape[0]):
        A, b = X_fit[trial], t[trial]
        values, models = [], []
        for lam in lambdas:   # the normal equations (XᵀX/m' + λI)w = Xᵀt/m', or the pseudo-inverse at λ = 0
            w = (torch.linalg.pinv(A) @ b if lam == 0
                 else torch.linalg.solve(A.T @ A / m_fit + lam * torch.eye(n, dtype=A.dtype), A.T @ b / m_fit))
            score = X_hold[trial] @ w
            values.append(float(((score > 0).double() != y_hold[trial]).double().mean() if task == "classification"
                                else ((score - y_hold[trial]) ** 2).mean()))
            models.append(w)
        best = min(values)
        chosen = next(k for k in np.argsort(lambdas)[::-1] if values[k] <= best + TIE_RTOL * abs(best))
        assert fit.selected["lam"][trial] == lambdas[chosen]
        assert bool(fit.selected["lam_at_edge"][trial]) == (chosen in (0, len(lambdas) - 1))
        torch.testing.assert_close(fit.coef[trial], models[chosen], rtol=1e-9, atol=1e-11)


def test_ridge_edge_flags():
    X, y = _gaussian(4, 60, 10, seed=2, noise=0.01)
    strong = make("ridge", lambdas=[1e4, 1e3]).fit(X, y, task="regression")   # far too strong: the smallest wins
    assert list(strong.selected["lam"]) == [1e3] * 4 and strong.selected["lam_at_edge"].all()
    default = make("ridge").fit(*_gaussian(8, 60, 40, seed=4, noise=1.0), task="regression")
    lam = np.asarray(make("ridge").lambdas)
    np.testing.assert_array_equal(default.selected["lam_at_edge"],
                                  (default.selected["lam"] == lam.max()) | (default.selected["lam"] == lam.min()))
    assert not default.selected["lam_at_edge"].all()


def test_ridge_on_hadamard_sees_no_signal_on_the_holdout():
    """Every λ predicts 0 on held-out Hadamard rows (orthogonal to the training rows): all hold-out
    losses tie up to rounding, and the tie rule picks the largest λ on every CPU."""
    _, X, y = _hadamard_trials(32, 16, 10, seed=1)
    fit = make("ridge").fit(X, y, task="regression")
    assert (fit.selected["lam"] == max(make("ridge").lambdas)).all() and fit.selected["lam_at_edge"].all()


def test_ridge_with_intercept_matches_centred_least_squares():
    X, y = _gaussian(2, 60, 5, seed=8)
    y = y + 3.0
    fit = make("ridge", lambdas=[0.0], fit_intercept=True).fit(X, y, task="regression")
    X_fit, y_fit, _, _ = _fit_part(X, y)
    design = torch.cat([X_fit, torch.ones_like(X_fit[..., :1])], 2)
    solution = torch.linalg.lstsq(design, y_fit[:, :, None]).solution[..., 0]
    torch.testing.assert_close(fit.coef, solution[:, :-1], rtol=0, atol=1e-10)
    torch.testing.assert_close(fit.intercept, solution[:, -1], rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------
# batching


@pytest.mark.parametrize("name, task", [("l1-logistic", "classification"), ("l2-logistic", "classification"),
                                        ("ridge", "regression"), ("ridge", "classification"),
                                        ("spindly", "regression"), ("spindly", "classification")])
def test_a_batched_trial_equals_the_trial_fitted_alone(name, task):
    """Same choice; coefficients equal up to the rounding of batched kernels (see learners.logistic:
    ≤ 1e-15 per operation, propagated through the solvers at tol 1e-8)."""
    X, y = _gaussian(5, 40, 30, seed=21, task=task)
    learner = make(name)
    batch = learner.fit(X, y, task=task)
    key = next(iter(batch.selected))
    for trial in (0, 3):
        alone = learner.fit(X[trial:trial + 1], y[trial:trial + 1], task=task)
        assert alone.selected[key][0] == batch.selected[key][trial]
        torch.testing.assert_close(alone.coef[0], batch.coef[trial], rtol=0, atol=1e-8)


# ---------------------------------------------------------------------------
# spindly


def test_spindly_is_gradient_descent_on_the_network():
    """The chosen model equals plain GD on f(x) = Σ uᵢvᵢxᵢ, loss (1/(2m'))‖f − t‖², computed by autograd."""
    X, y = _gaussian(3, 30, 8, seed=5)
    learner = make("spindly", max_steps=100, init_scale=0.1)
    fit = learner.fit(X, y, task="regression")
    X_fit, t, _, _ = _fit_part(X, y)
    for trial in range(3):
        A, b = X_fit[trial], t[trial]
        eta = 0.5 / float((A * A).mean(0).max())
        u = torch.full((8,), 0.1, dtype=torch.float64, requires_grad=True)
        v = torch.full((8,), 0.1, dtype=torch.float64, requires_grad=True)
        for _ in range(int(fit.selected["steps"][trial])):
            loss = 0.5 * ((A @ (u * v) - b) ** 2).mean()
            gu, gv = torch.autograd.grad(loss, (u, v))
            with torch.no_grad():
                u -= eta * gu
                v -= eta * gv
        torch.testing.assert_close(fit.coef[trial], (u * v).detach(), rtol=1e-10, atol=1e-13)


def test_spindly_checkpoints_are_log_spaced_from_zero():
    assert make("spindly", max_steps=100, checkpoints_per_decade=4).checkpoints() == [0, 1, 2, 3, 6, 10, 18, 32,
                                                                                      56, 100]
    assert make("spindly", max_steps=50, checkpoints_per_decade=2).checkpoints() == [0, 1, 3, 10, 32, 50]


def test_spindly_learns_the_hadamard_problem_where_least_squares_cannot():
    """d = 64, k = 32 rows (22 fitted, 10 held out), 20 trials, exact risk over the 64 rows.
    Min-norm least squares on the 22 rows has risk 1 − 22/64 = 0.656 on every training set, and
    any rotation-invariant learner ≥ 1 − 32/63 = 0.492 in expectation. Measured here: spindly
    0.036 (100 trials: 0.036 ± 0.003; k = 16: 0.22 ± 0.01, k = 8: 0.75 ± 0.02; ridge 0.998 at every k)."""
    d, k = 64, 32
    H, X, y = _hadamard_trials(d, k, 20, seed=32)
    spindly = make("spindly").fit(X, y, task="regression")
    risk = ((spindly.predict(H.expand(20, d, d)) - H[:, 1]) ** 2).mean(1)
    X_fit, y_fit, _, _ = _fit_part(X, y)
    least_squares = torch.bmm(torch.linalg.pinv(X_fit), y_fit[:, :, None])[..., 0]
    ls_risk = ((torch.einsum("dn,tn->td", H, least_squares) - H[:, 1]) ** 2).mean(1)
    torch.testing.assert_close(ls_risk, torch.full((20,), 1 - X_fit.shape[1] / d, dtype=torch.float64))
    assert float(risk.mean()) < 0.1 < 1 - k / (d - 1)
    assert (spindly.coef >= 0).all()   # equal initialisation: w = u² ≥ 0


def test_spindly_edge_flags():
    X, y = _gaussian(4, 30, 10, seed=9)
    short = make("spindly", max_steps=1).fit(X, y, task="regression")   # checkpoints 0 and 1: both edges
    assert short.selected["steps_at_edge"].all()
    _, X, y = _hadamard_trials(64, 16, 30, seed=3)
    fit = make("spindly").fit(X, y, task="regression")
    steps = fit.selected["steps"]
    np.testing.assert_array_equal(fit.selected["steps_at_edge"], (steps == 0) | (steps == 1000))
    assert 0 < fit.selected["steps_at_edge"].sum() < 30


def test_spindly_marks_a_diverging_trial_and_the_others_go_on():
    X, y = _gaussian(3, 30, 6, seed=4)
    y[1] *= 100.0   # target weight ≈ 100: GD at lr 0.5 is unstable for |w*| ≥ 2
    fit = make("spindly").fit(X, y, task="regression")
    assert list(fit.status) == ["ok", "diverged", "ok"]
    assert torch.isnan(fit.coef[1]).all() and np.isnan(fit.selected["steps"][1])
    assert not fit.selected["steps_at_edge"][1]
    alone = make("spindly").fit(X[2:], y[2:], task="regression")
    torch.testing.assert_close(alone.coef[0], fit.coef[2], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------
# rotation invariance


def _rotation(n, seed):
    return torch.as_tensor(groups.sample("orthogonal", n, seed=seed).matrix(), dtype=torch.float64)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_ridge_predictions_are_rotation_invariant(task):
    """Data XQ and test points X_test Q give the predictions of X and X_test. The rotated data carry
    rounding δX ~ eps·√n·|X| and the least-squares solution amplifies a relative perturbation by
    at most ~κ² (κ the condition number of the fitted part), so |Δf| ≤ 10·n·eps·κ²·max|f|."""
    T, m, n = 4, 40, 60
    X, y = _gaussian(T, m, n, seed=13, task=task, noise=1.0)
    X_test, _ = _gaussian(T, 25, n, seed=14)
    Q = _rotation(n, 7)
    learner = make("ridge")
    fit, rotated = learner.fit(X, y, task=task), learner.fit(X @ Q, y, task=task)
    np.testing.assert_array_equal(fit.selected["lam"], rotated.selected["lam"])
    f, f_rotated = fit.predict(X_test), rotated.predict(X_test @ Q)
    kappa, _ = _condition(_fit_part(X, y)[0])
    tolerance = 10 * n * EPS * kappa ** 2 * float(f.abs().max())
    assert float((f - f_rotated).abs().max()) <= tolerance


def test_l2_logistic_predictions_are_rotation_invariant():
    """L2's solver works on R of Xᵀ = QR, the same for X and XQ up to row signs and rounding, so
    the two fits take the same steps; each stops with ‖∇F‖ ≤ tol and F is λ-strongly convex, so
    ‖w − w*‖ ≤ tol/λ for each: |Δf(x)| ≤ 2·tol/λ·‖x‖ plus rounding (eps·κ² as for ridge)."""
    T, m, n = 4, 60, 40
    X, y = _gaussian(T, m, n, seed=15, task="classification")
    X_test, _ = _gaussian(T, 25, n, seed=16)
    Q = _rotation(n, 8)
    learner = make("l2-logistic", tol=1e-12)
    fit, rotated = learner.fit(X, y, task="classification"), learner.fit(X @ Q, y, task="classification")
    np.testing.assert_array_equal(fit.selected["lam"], rotated.selected["lam"])
    f, f_rotated = fit.predict(X_test), rotated.predict(X_test @ Q)
    kappa, _ = _condition(_fit_part(X, y)[0])
    lam = torch.as_tensor(fit.selected["lam"])
    bound = 2 * 1e-12 / lam[:, None] * X_test.norm(dim=2) + 10 * n * EPS * kappa ** 2 * f.abs().amax(1, keepdim=True)
    assert bool(((f - f_rotated).abs() <= bound).all())


def test_spindly_and_l1_are_not_rotation_invariant():
    X, y = _gaussian(2, 60, 20, seed=17, task="classification")
    X_test, _ = _gaussian(2, 25, 20, seed=18)
    Q = _rotation(20, 9)
    for name in ("spindly", "l1-logistic"):
        learner = make(name)
        f = learner.fit(X, y, task="classification").predict(X_test)
        f_rotated = learner.fit(X @ Q, y, task="classification").predict(X_test @ Q)
        assert float((f - f_rotated).abs().max()) > 1e-3
