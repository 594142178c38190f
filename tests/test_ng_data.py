"""Ng's synthetic problems and the exact risks of linear classifiers on them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.special import expit, log_expit, ndtr

from invariance import groups
from studies import ng_data
from studies.ng_data import (
    bayes_error,
    bayes_log_loss,
    expected_log_loss,
    expected_zero_one,
    make_dataset,
    pull_back,
    theta,
)

# Monte Carlo: 10⁶ points; the estimates below average the conditional risk given x (no label
# noise), and the tolerance is 5 measured standard errors plus a float64 floor.
MC_POINTS = 10**6
MC_SIGMAS = 5.0
# the quadrature against adaptive scipy.quad: measured ≤ 2e-15 (0/1) and ≤ 1e-11 (log loss, whose
# 2-D reference integral is itself only that accurate)
QUAD_TOL_ZERO_ONE = 1e-13
QUAD_TOL_LOG_LOSS = 1e-10


def test_theta_has_norm_ten_in_every_setting():
    for setting in ng_data.SETTINGS:
        for n in (3, 10, 1000):
            th = theta(setting, n)
            assert th.shape == (n,) and th.dtype == np.float64
            assert np.linalg.norm(th) == pytest.approx(10.0, abs=1e-12)
    assert np.count_nonzero(theta("one", 50)) == 1 and theta("one", 50)[0] == 10.0
    np.testing.assert_allclose(theta("three", 7)[:3], 10 / np.sqrt(3))
    decay = theta("decay", 30)
    np.testing.assert_allclose(decay[1:] / decay[:-1], 0.5)          # halves each step
    assert decay[0] == pytest.approx(np.sqrt(75.0), rel=1e-6)          # Ng's √75 up to the exact renormalisation


def test_theta_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown setting 'four'; accepted: one, three, decay"):
        theta("four", 10)
    with pytest.raises(ValueError, match="needs n >= 3"):
        theta("three", 2)
    with pytest.raises(ValueError, match="positive int"):
        theta("one", 0)
    with pytest.raises(TypeError, match="positive int"):
        theta("one", 2.5)


def test_dataset_depends_on_its_seed_alone():
    X, y, th = make_dataset("three", 20, 50, seed=7)
    assert X.shape == (50, 20) and X.dtype == np.float64 and y.shape == (50,) and y.dtype == np.int64
    assert set(np.unique(y)) <= {0, 1}
    X2, y2, _ = make_dataset("three", 20, 50, seed=7)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _, _ = make_dataset("three", 20, 50, seed=8)
    assert not np.array_equal(X, X3)
    np.testing.assert_array_equal(th, theta("three", 20))


def test_labels_follow_the_logistic_model():
    X, y, th = make_dataset("one", 3, 200_000, seed=1)
    p = expit(X @ th)
    # E[y − p] = 0 and E[(y − p)·θᵀx] = 0 up to Monte Carlo error
    assert abs(np.mean(y - p)) < 5 * np.sqrt(np.mean(p * (1 - p)) / y.size)
    assert np.mean(y == (X @ th > 0)) == pytest.approx(1 - bayes_error(th), abs=5 * np.sqrt(0.055 * 0.945 / y.size))


def test_bayes_error_is_ngs_value_and_matches_an_independent_integral():
    for setting in ng_data.SETTINGS:
        assert round(bayes_error(theta(setting, 10)), 4) == 0.0546
    reference, _ = integrate.quad(lambda s: 2 * expit(-10 * s) * np.exp(-s * s / 2) / np.sqrt(2 * np.pi), 0, np.inf,
                                  epsabs=1e-15, epsrel=1e-14, limit=200)
    assert bayes_error(theta("one", 4)) == pytest.approx(reference, abs=QUAD_TOL_ZERO_ONE)
    # the conditional entropy of y: E[H(σ(10 s))]
    entropy, _ = integrate.quad(lambda s: 2 * (expit(10 * s) * -log_expit(10 * s) + expit(-10 * s) * -log_expit(-10 * s))
                                * np.exp(-s * s / 2) / np.sqrt(2 * np.pi), 0, np.inf, epsabs=1e-15, epsrel=1e-13,
                                limit=200)
    assert bayes_log_loss(theta("one", 4)) == pytest.approx(entropy, abs=QUAD_TOL_LOG_LOSS)


def _classifiers(th):
    """Classifiers (w, b) on R^5 including the degenerate cases."""
    n = th.size
    unit = th / np.linalg.norm(th)
    perp = np.zeros(n)
    perp[1] = 1.0
    rng = np.random.default_rng(3)
    return [
        ("bayes", th.copy(), 0.0),                       # w ∥ θ: β = 0
        ("parallel, shifted", 0.3 * unit, 0.4),
        ("perpendicular", perp, 0.0),                   # α = 0: a coin flip
        ("perpendicular, shifted", 2.0 * perp, -1.0),
        ("tiny beta", unit + 1e-9 * perp, 0.2),
        ("big norms", 300 * unit + 2 * perp, -50.0),
        ("random", rng.standard_normal(n), 0.3),
        ("random, large", 30 * rng.standard_normal(n), -3.0),
        ("zero", np.zeros(n), 0.0),                      # predicts 0 everywhere
    ]


@pytest.fixture(scope="module")
def monte_carlo():
    th = theta("one", 5)
    X = np.random.default_rng(11).standard_normal((MC_POINTS, 5))
    p = expit(X @ th)
    return th, X, p


def test_exact_risks_match_monte_carlo(monte_carlo):
    th, X, p = monte_carlo
    cases = _classifiers(th)
    W = np.stack([w for _, w, _ in cases])
    b = np.array([c for _, _, c in cases])
    exact01 = expected_zero_one(W, b, th)
    exactll = expected_log_loss(W, b, th)
    for (name, w, c), e01, ell in zip(cases, exact01, exactll):
        u = X @ w + c
        risk01 = np.where(u > 0, 1 - p, p)                   # P(y ≠ prediction | x)
        riskll = p * -log_expit(u) + (1 - p) * -log_expit(-u)
        for exact, sample in ((e01, risk01), (ell, riskll)):
            se = sample.std() / np.sqrt(sample.size)
            assert abs(exact - sample.mean()) <= MC_SIGMAS * se + 1e-12, (name, exact, sample.mean(), se)


def _components(w, th):
    kappa = np.linalg.norm(th)
    alpha = w @ th / kappa
    return kappa, alpha, np.linalg.norm(w - alpha * th / kappa)


def _zero_one_integrand(s, kappa, alpha, beta, c):
    """φ(s)·P(error | s), the defining 1-D integrand of the 0/1 error."""
    mean = alpha * s + c
    z = mean / beta if beta > 0 else np.copysign(np.inf, mean) if mean != 0 else -np.inf
    return np.exp(-s * s / 2) / np.sqrt(2 * np.pi) * (expit(kappa * s) * ndtr(-z) + expit(-kappa * s) * ndtr(z))


def _softplus_gaussian(mu, beta):
    """E softplus(μ + βt), t ~ N(0, 1), by adaptive quadrature split at the kink."""
    if beta == 0:
        return np.logaddexp(0, mu)
    kink = float(np.clip(-mu / beta, -11, 11))
    return integrate.quad(lambda t: np.logaddexp(0, mu + beta * t) * np.exp(-t * t / 2) / np.sqrt(2 * np.pi),
                          -12, 12, points=[kink], epsabs=1e-13, epsrel=1e-12, limit=200)[0]


def _log_loss_integrand(s, kappa, alpha, beta, c):
    """φ(s)·E[log loss | s], the defining 2-D integrand of the log loss (inner integral over t)."""
    mean = alpha * s + c
    return np.exp(-s * s / 2) / np.sqrt(2 * np.pi) * (expit(kappa * s) * _softplus_gaussian(-mean, beta)
                                                       + expit(-kappa * s) * _softplus_gaussian(mean, beta))


def test_exact_risks_match_adaptive_quadrature():
    th = theta("one", 5)
    for name, w, c in _classifiers(th)[:6]:
        kappa, alpha, beta = _components(w, th)
        points = [0.0] + ([-c / alpha] if alpha != 0 and abs(c / alpha) < 12 else [])
        reference, _ = integrate.quad(_zero_one_integrand, -12, 12, args=(kappa, alpha, beta, c), points=points,
                                      epsabs=1e-15, epsrel=1e-13, limit=500)
        assert expected_zero_one(w, c, th) == pytest.approx(reference, abs=QUAD_TOL_ZERO_ONE), name


def test_log_loss_matches_the_two_dimensional_integral():
    """The Stein-lemma form of the log loss against the defining 2-D integral over (s, t)."""
    th = theta("three", 5)
    cases = [c for c in _classifiers(th) if c[0] in ("parallel, shifted", "random", "big norms", "perpendicular")]
    for name, w, c in cases:
        kappa, alpha, beta = _components(w, th)
        points = [0.0] + ([-c / alpha] if alpha != 0 and abs(c / alpha) < 9 else [])
        reference, _ = integrate.quad(_log_loss_integrand, -10, 10, args=(kappa, alpha, beta, c), points=points,
                                      epsabs=1e-12, epsrel=1e-11, limit=200)
        assert expected_log_loss(w, c, th) == pytest.approx(reference, abs=QUAD_TOL_LOG_LOSS), name


def test_zero_one_special_values_and_invariances():
    th = theta("decay", 12)
    perp = np.zeros(12)
    perp[-1], perp[0] = th[0], -th[-1]               # ⊥ θ
    assert expected_zero_one(perp, 0.0, th) == pytest.approx(0.5, abs=1e-14)
    assert expected_zero_one(np.zeros(12), 0.0, th) == pytest.approx(0.5, abs=1e-14)
    # the 0/1 error depends on (w, b) only up to a positive scale
    w, b = np.random.default_rng(0).standard_normal(12), 0.7
    base = expected_zero_one(w, b, th)
    for scale in (1e-6, 1e3, 1e8):
        assert expected_zero_one(scale * w, scale * b, th) == pytest.approx(base, abs=1e-13)
    # continuity as β → 0, and the Bayes classifier is optimal
    unit = th / np.linalg.norm(th)
    assert expected_zero_one(unit + 1e-12 * perp, 0.0, th) == pytest.approx(bayes_error(th), abs=1e-12)
    assert np.all(expected_zero_one(th + 0.5 * np.random.default_rng(1).standard_normal((20, 12)), 0.0, th)
                  >= bayes_error(th))
    # the true model has the least log loss
    assert np.all(expected_log_loss(th * np.linspace(0.5, 1.5, 7)[:, None], 0.0, th) >= bayes_log_loss(th) - 1e-13)


def test_group_elements_transport_theta_and_keep_the_bayes_error():
    X, y, th = make_dataset("one", 8, 30, seed=5)
    g = groups.sample("orthogonal", 8, seed=2)
    Xg, yg, thg = make_dataset("one", 8, 30, seed=5, group=g)
    np.testing.assert_array_equal(y, yg)
    np.testing.assert_allclose(Xg, X @ g.matrix().T, atol=1e-14)
    np.testing.assert_allclose(Xg @ thg, X @ th, atol=1e-12)       # labels still follow θ_gᵀ(Mx)
    assert bayes_error(thg) == pytest.approx(bayes_error(th), abs=1e-14)
    # a classifier on g-data, pulled back, has the risk it has under the transported θ
    w = np.random.default_rng(4).standard_normal(8)
    assert expected_zero_one(pull_back(w, g), 0.1, th) == pytest.approx(expected_zero_one(w, 0.1, thg), abs=1e-12)
    # pull_back is exact for non-orthogonal elements too: wᵀ(Mx) = (pull_back w)ᵀx
    h = groups.sample("general_linear", 8, seed=3)
    np.testing.assert_allclose(h.apply(X) @ w, X @ pull_back(w, h), atol=1e-11)


def test_risk_functions_reject_bad_input():
    th = theta("one", 4)
    with pytest.raises(ValueError, match=r"W must have shape \(C, 4\)"):
        expected_zero_one(np.zeros((2, 3)), 0.0, th)
    with pytest.raises(ValueError, match=r"b must be a scalar or have shape \(2,\)"):
        expected_log_loss(np.zeros((2, 4)), np.zeros(3), th)
    with pytest.raises(ValueError, match="finite"):
        expected_zero_one(np.full(4, np.nan), 0.0, th)
    with pytest.raises(ValueError, match="theta must be a finite nonzero vector"):
        bayes_error(np.zeros(3))
    with pytest.raises(TypeError, match="group must be a group element"):
        make_dataset("one", 4, 5, seed=0, group="orthogonal")
    with pytest.raises(ValueError, match="acts on d=3 features"):
        make_dataset("one", 4, 5, seed=0, group=groups.sample("permutation", 3, seed=0))
    with pytest.raises(TypeError, match="seed must be an int"):
        make_dataset("one", 4, 5, seed=1.5)
