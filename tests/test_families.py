"""The data families of the sample_complexity study: their laws, Bayes risks and exact risks.

Tolerances: a proportion estimated from N independent draws is compared with its exact value
within Z = 5 binomial standard errors √(p(1 − p)/N) (a loss in [0, 1] with mean p has variance at
most p(1 − p), so the rule also covers the averaged conditional losses); exact formulas are
compared with each other to 1e-12 (float64 sums of at most a few thousand terms).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.special import expit, ndtr
from scipy.stats import norm

from studies import families, ng_data
from studies.families.hadamard import hadamard_matrix, invariant_lower_bound, least_squares_risk
from studies.families.hypercube import all_points
from studies.families.threshold import bivariate_normal_cdf, threshold_zero_one

Z = 5.0
EXACT = 1e-12


class LinearFit:
    """A linear predictor per trial, as learners.sample's fits expose it."""

    def __init__(self, coef, intercept=None):
        self.coef = torch.as_tensor(np.asarray(coef, dtype=np.float64))
        T = self.coef.shape[0]
        self.intercept = torch.zeros(T, dtype=torch.float64) if intercept is None else \
            torch.as_tensor(np.asarray(intercept, dtype=np.float64))
        self.status = np.array(["ok"] * T)

    def predict(self, X):
        return torch.einsum("tpn,tn->tp", X, self.coef) + self.intercept[:, None]


class BlackBox(LinearFit):
    """The same predictor with its coefficients hidden: the families must use fresh points."""

    def __init__(self, coef, intercept=None):
        inner = LinearFit(coef, intercept)
        self._inner, self.coef, self.intercept, self.status = inner, None, None, inner.status

    def predict(self, X):
        return self._inner.predict(X)


def within(estimate, exact, count):
    se = np.sqrt(np.maximum(exact * (1 - exact), 1e-300) / count)
    return np.all(np.abs(np.asarray(estimate) - np.asarray(exact)) <= Z * se + 1e-12)


def many(family, n, m, trials=1, seed=0):
    X, y = family.sample(n, m, list(range(seed, seed + trials)))
    return X.reshape(-1, n).numpy(), y.reshape(-1).numpy()


# ---------------------------------------------------------------------------- registry and sampling


def test_names_and_errors():
    assert families.names() == ["ng-one", "ng-three", "ng-decay", "gaussian-threshold", "hadamard",
                                "sparse-parity", "sparse-parity-2", "staircase"]
    for name in families.names():
        fam = families.get(name)
        assert fam.name == name and fam.metric == ("square" if name == "hadamard" else "zero_one")
        assert families.get("rotated-" + name, seed=3).name == "rotated-" + name
    with pytest.raises(ValueError, match="unknown family 'nope'; accepted: ng-one.*rotated-NAME"):
        families.get("nope")
    with pytest.raises(ValueError, match=r"unknown options \['q'\]; accepted: k, test_points"):
        families.get("sparse-parity", q=1)
    with pytest.raises(ValueError, match="power of 2"):
        families.get("hadamard").sample(12, 4, [0])
    with pytest.raises(ValueError, match="m = k < d"):
        families.get("hadamard").sample(16, 16, [0])
    with pytest.raises(ValueError, match="m >= 4"):
        families.get("ng-one").sample(10, 3, [0])
    with pytest.raises(ValueError, match="n >= 3"):
        families.get("staircase").sample(2, 8, [0])
    with pytest.raises(ValueError, match="one per trial"):
        families.get("ng-one").sample(10, 8, 5)


@pytest.mark.parametrize("name", ["ng-one", "gaussian-threshold", "hadamard", "sparse-parity", "staircase",
                                  "rotated-ng-three"])
def test_trial_depends_on_its_own_seed_only(name):
    fam = families.get(name, seed=1)
    X, y = fam.sample(16, 9, [11, 22, 33])
    X2, y2 = fam.sample(16, 9, [22])
    assert X.dtype == y.dtype == torch.float64 and X.shape == (3, 9, 16) and y.shape == (3, 9)
    assert torch.equal(X[1], X2[0]) and torch.equal(y[1], y2[0])
    assert not torch.equal(X[0], X[2])


def test_ng_families_are_ng2004s_generator():
    for setting in ng_data.SETTINGS:
        X, y = families.get(f"ng-{setting}").sample(20, 30, [5, 6])
        ref_X, ref_y, _ = ng_data.make_dataset(setting, 20, 30, 6)
        assert np.array_equal(X[1].numpy(), ref_X) and np.array_equal(y[1].numpy(), ref_y)


# ---------------------------------------------------------------------------- laws and Bayes risks


@pytest.mark.parametrize("setting", ng_data.SETTINGS)
def test_ng_labels_and_bayes_risk_against_sampling(setting):
    fam = families.get(f"ng-{setting}")
    X, y = many(fam, 12, 5000, trials=20)          # 100,000 labels
    theta = ng_data.theta(setting, 12)
    bayes = fam.bayes_risk(12)
    assert bayes == pytest.approx(0.0546, abs=5e-5)
    assert within(y.mean(), 0.5, y.size)
    assert within(np.mean(y != (X @ theta > 0)), bayes, y.size)


@pytest.mark.parametrize("t", [0.0, 0.7])
def test_threshold_labels(t):
    fam = families.get("gaussian-threshold", t=t)
    X, y = many(fam, 5, 4000, trials=25)
    assert np.array_equal(y, X[:, 0] >= t) and fam.bayes_risk(5) == 0.0
    assert within(y.mean(), ndtr(-t), y.size)
    assert abs(X.mean()) <= Z / math.sqrt(X.size) and abs(X.var() - 1) <= Z * math.sqrt(2 / X.size)


def test_hypercube_labels():
    parity = families.get("sparse-parity", k=3)
    X, y = many(parity, 10, 4000, trials=10)
    assert set(np.unique(X)) == {-1.0, 1.0} and within((X > 0).mean(), 0.5, X.size)
    assert np.array_equal(y, X[:, 0] * X[:, 1] * X[:, 2] > 0) and within(y.mean(), 0.5, y.size)
    for k in (3, 4):
        stairs = families.get("staircase", k=k)
        X, y = many(stairs, 6, 4000, trials=10)
        total = sum(np.prod(X[:, :j + 1], axis=1) for j in range(k))
        assert np.array_equal(y[total != 0], total[total != 0] > 0)
        assert np.array_equal(y[total == 0], X[total == 0, 0] > 0)          # ties broken by x1
        assert (total == 0).any() == (k % 2 == 0)
        assert within(y.mean(), 0.5, y.size)
        # exactly balanced on the whole cube
        assert stairs.labels(all_points(6)).mean() == 0.5


def test_hadamard_samples_distinct_rows_and_its_column():
    fam = families.get("hadamard", column=3)
    H = hadamard_matrix(16)
    assert np.array_equal(H @ H.T, 16 * np.eye(16))
    X, y = fam.sample(16, 12, [0, 1, 2, 3])
    for Xt, yt in zip(X.numpy(), y.numpy()):
        rows = [int(np.flatnonzero((H == x).all(1))[0]) for x in Xt]
        assert len(set(rows)) == 12 and np.array_equal(yt, H[rows, 3])
    assert fam.risk(16, LinearFit(np.eye(16)[[3] * 4]), 0) == pytest.approx(np.zeros(4), abs=0)   # Bayes: f = e_c
    assert fam.bayes_risk(16) == 0.0 and fam.extra_metrics(16, 5) == {"bound": 1 - 5 / 15}


# ---------------------------------------------------------------------------- exact risks


def _threshold_quad(w, b, t):
    w1, beta = w[0], np.linalg.norm(w[1:])
    upper = integrate.quad(lambda s: norm.pdf(s) * ndtr(-(w1 * s + b) / beta), t, np.inf, epsabs=1e-14, limit=200)
    lower = integrate.quad(lambda s: norm.pdf(s) * ndtr((w1 * s + b) / beta), -np.inf, t, epsabs=1e-14, limit=200)
    return upper[0] + lower[0]


def test_bivariate_normal_cdf_closed_forms():
    rho = np.linspace(-0.95, 0.95, 9)
    assert np.allclose(bivariate_normal_cdf(0.0, 0.0, rho), 0.25 + np.arcsin(rho) / (2 * np.pi), atol=EXACT, rtol=0)
    assert np.allclose(bivariate_normal_cdf(0.3, -0.4, 0.0), ndtr(0.3) * ndtr(-0.4), atol=EXACT, rtol=0)
    assert bivariate_normal_cdf(0.3, -0.4, 1.0) == pytest.approx(ndtr(-0.4), abs=EXACT)
    assert bivariate_normal_cdf(0.3, 0.4, -1.0) == pytest.approx(ndtr(0.3) + ndtr(0.4) - 1, abs=EXACT)
    assert bivariate_normal_cdf(0.3, -0.4, -1.0) == 0.0
    # against the 1-D integral P(X ≤ h, Y ≤ k) = ∫_{-∞}^h φ(x) Φ((k − ρx)/√(1−ρ²)) dx
    rng = np.random.default_rng(0)
    for h, k, r in rng.uniform(-3, 3, (20, 3)) * [1, 1, 0.33]:
        ref = integrate.quad(lambda x: norm.pdf(x) * ndtr((k - r * x) / math.sqrt(1 - r * r)), -np.inf, h,
                             epsabs=1e-14)[0]
        assert bivariate_normal_cdf(h, k, r) == pytest.approx(ref, abs=EXACT)


def test_threshold_exact_risk_against_quadrature_and_closed_forms():
    rng = np.random.default_rng(1)
    for _ in range(40):
        w = rng.standard_normal(4) * rng.choice([1e-3, 1.0, 300.0])
        b, t = rng.normal() * rng.choice([0.0, 0.2, 2.0]), rng.choice([0.0, 0.5, -1.2])
        assert threshold_zero_one(w[None], [b], t)[0] == pytest.approx(_threshold_quad(w, b, t), abs=EXACT)
    # t = b = 0: the angle between w and e1 over π; w ∥ e1: the mass between t and −b/w1; w = 0: a constant
    w = rng.standard_normal((5, 6))
    angle = np.arccos(w[:, 0] / np.linalg.norm(w, axis=1)) / np.pi
    assert np.allclose(threshold_zero_one(w, np.zeros(5), 0.0), angle, atol=EXACT, rtol=0)
    assert threshold_zero_one([[2.0, 0, 0]], [-1.0], 0.2)[0] == pytest.approx(ndtr(0.5) - ndtr(0.2), abs=EXACT)
    assert threshold_zero_one([[-2.0, 0, 0]], [1.0], 0.2)[0] == pytest.approx(1 - (ndtr(0.5) - ndtr(0.2)), abs=EXACT)
    assert threshold_zero_one([[0.0, 0, 0]], [1.0], 0.2)[0] == pytest.approx(ndtr(0.2), abs=EXACT)
    assert threshold_zero_one([[0.0, 0, 0]], [0.0], 0.2)[0] == pytest.approx(ndtr(-0.2), abs=EXACT)


@pytest.mark.parametrize("name,options", [("ng-one", {}), ("ng-decay", {}), ("gaussian-threshold", {"t": 0.4}),
                                          ("sparse-parity", {"k": 2}), ("staircase", {"k": 3})])
def test_exact_risk_against_fresh_points(name, options):
    """The family's exact risk of a linear fit against its own fresh-point estimate (coefficients hidden):
    Gaussian families by their closed forms, hypercube ones by enumerating all 2^n points."""
    n = 12
    fam = families.get(name, test_points=20_000, **options)
    rng = np.random.default_rng(2)
    coef = rng.standard_normal((6, n)) + 3.0 * np.eye(n)[[0] * 6]
    intercept = rng.normal(size=6) * 0.3
    exact = fam.risk(n, LinearFit(coef, intercept), 0)
    assert exact.shape == (6,) and np.all((exact >= 0) & (exact <= 1))
    estimate = fam.risk(n, BlackBox(coef, intercept), list(range(100, 106)))   # 20,000 fresh points per trial
    assert within(estimate, exact, 20_000), (estimate, exact)
    if name.startswith("ng"):   # and against the shared ng_data risk itself
        assert np.allclose(exact, ng_data.expected_zero_one(coef, intercept, ng_data.theta(name[3:], n)), atol=0)


def test_hypercube_risk_is_exact_on_small_cubes_and_fresh_on_large_ones():
    fam = families.get("sparse-parity", k=1, test_points=4096)
    assert fam.describe(12)["exact_risk"] and not fam.describe(13)["exact_risk"]
    # k = 1: y = 1{x1 > 0}; the predictor 1{x1 + 0.9 x2 > 0} errs exactly where x2 ≠ x1 ... and never otherwise
    coef = np.zeros((1, 12))
    coef[0, :2] = [1.0, 0.9]
    assert fam.risk(12, LinearFit(coef), 0)[0] == 0.0
    coef[0, :2] = [0.9, 1.0]                                    # now the sign follows x2: wrong on half the cube
    assert fam.risk(12, LinearFit(coef), 0)[0] == 0.5
    fresh = fam.risk(13, LinearFit(np.pad(coef, ((0, 0), (0, 1)))), [7])
    assert fresh[0] != 0.5 and within(fresh, 0.5, 4096)


def test_diverged_trials_get_nan_risk():
    for name in ("ng-one", "gaussian-threshold", "hadamard", "sparse-parity"):
        coef = np.ones((3, 16))
        coef[1, 4] = np.nan
        out = families.get(name, test_points=1000).risk(16, LinearFit(coef), 0)
        assert np.isnan(out[1]) and np.isfinite(out[[0, 2]]).all()


# ---------------------------------------------------------------------------- hadamard: the bound's inputs


def _min_norm_least_squares(X, y):
    return np.linalg.pinv(X) @ y


@pytest.mark.parametrize("d", [8, 16, 32])
def test_hadamard_zero_and_least_squares_risks_are_exact(d):
    fam = families.get("hadamard")
    assert fam.risk(d, LinearFit(np.zeros((1, d))), 0)[0] == 1.0                      # the zero predictor
    for k in range(4, d):
        X, y = fam.sample(d, k, [k, k + 1000])
        coef = np.stack([_min_norm_least_squares(Xt, yt) for Xt, yt in zip(X.numpy(), y.numpy())])
        assert np.allclose(fam.risk(d, LinearFit(coef), 0), least_squares_risk(d, k), atol=EXACT, rtol=0)
        assert least_squares_risk(d, k) - invariant_lower_bound(d, k) == pytest.approx(k / (d * (d - 1)))
        assert fam.extra_metrics(d, k)["bound"] == invariant_lower_bound(d, k)


def test_hadamard_bound_is_least_squares_without_the_constant_feature_averaged_over_all_training_sets():
    """1 − k/(d−1) exactly: the mean over every k-subset S of the risk of min-norm least squares on the
    d − 1 non-constant features (which predicts the unseen labels' mean on the unseen rows)."""
    d, column = 8, 5
    H = hadamard_matrix(d)
    y = H[:, column]
    for k in range(1, d):
        risks = []
        for S in itertools.combinations(range(d), k):
            S = list(S)
            w = _min_norm_least_squares(H[S, 1:], y[S])
            prediction = H[:, 1:] @ w
            unseen = np.setdiff1d(np.arange(d), S)
            assert np.allclose(prediction[unseen], y[unseen].mean(), atol=EXACT)
            risks.append(np.mean((prediction - y) ** 2))
        assert np.mean(risks) == pytest.approx(invariant_lower_bound(d, k), abs=EXACT)
        assert np.mean(risks) < least_squares_risk(d, k)


# ---------------------------------------------------------------------------- rotations


@pytest.mark.parametrize("name", ["ng-one", "ng-three", "gaussian-threshold", "hadamard", "sparse-parity",
                                  "staircase"])
def test_rotated_family_is_the_base_family_seen_through_a_recorded_rotation(name):
    n = 16
    base = families.get(name, test_points=3000)
    twin = families.get("rotated-" + name, seed=4, test_points=3000)
    Q = twin.rotation(n).numpy()
    assert np.allclose(Q @ Q.T, np.eye(n), atol=1e-13)
    info = twin.describe(n)
    assert info["rotation"] == {"group": "orthogonal", "seed": twin.rotation_seed(n)} and info["base"] == name
    assert twin.rotation_seed(n) != twin.rotation_seed(32)
    assert twin.rotation_seed(n) != families.get("rotated-" + name, seed=5).rotation_seed(n)
    X, y = base.sample(n, 10, [3, 4])
    Xr, yr = twin.sample(n, 10, [3, 4])
    assert torch.equal(y, yr) and np.allclose(Xr.numpy(), X.numpy() @ Q.T, atol=1e-13)
    assert twin.bayes_risk(n) == base.bayes_risk(n) and twin.extra_metrics(n, 5) == base.extra_metrics(n, 5)
    # a predictor c on the base inputs is the predictor Qc on the rotated ones: the same risk
    rng = np.random.default_rng(5)
    coef = rng.standard_normal((4, n)) + 2 * np.eye(n)[[0] * 4]
    intercept = rng.normal(size=4) * 0.2
    expected = base.risk(n, LinearFit(coef, intercept), [9, 8, 7, 6])
    rotated = twin.risk(n, LinearFit(coef @ Q.T, intercept), [9, 8, 7, 6])
    assert np.allclose(rotated, expected, atol=1e-9, rtol=0)
    hidden = twin.risk(n, BlackBox(coef @ Q.T, intercept), [9, 8, 7, 6])   # fresh base points, rotated
    expected_fresh = base.risk(n, BlackBox(coef, intercept), [9, 8, 7, 6])
    assert np.allclose(hidden, expected_fresh, atol=2 / 3000, rtol=0)      # a sign at a tie may round apart


def test_ng_conditional_loss_is_unbiased():
    """The fresh-point risk of a non-linear predictor averages P(y ≠ ŷ | x) = σ(∓θᵀx) exactly."""
    fam = families.get("ng-one", test_points=50_000)
    theta = ng_data.theta("one", 4)
    X = np.random.default_rng(0).standard_normal((1, 7, 4))
    loss = fam._pointwise_loss(X, X @ np.array([1.0, 0, 0, 0]))
    assert np.allclose(loss, expit(-np.abs(X @ theta)))
