"""Ng (2004)'s synthetic logistic-regression problems and the exact risks of linear classifiers on them.

Data. Inputs x ~ N(0, I_n), labels y ~ Bernoulli(σ(θᵀx)), with |θ|₂ = 10 in
every setting, so that all three share one Bayes error (0.0546):

* ``one``:   θ₁ = 10 (one relevant feature);
* ``three``: θ₁ = θ₂ = θ₃ = 10/√3 (three relevant features);
* ``decay``: θᵢ = (1/2)^(i−1)·√75 (exponentially decaying relevance). Ng's
  formula has |θ|² = 100·(1 − 4⁻ⁿ); we rescale it to |θ| = 10 exactly (a relative
  change below 1e-6 for n ≥ 10) so that the Bayes error is the same for every n.

Exact risks. For a linear classifier (w, b) that predicts 1 when u = wᵀx + b > 0
write κ = |θ|, s = θᵀx/κ and wᵀx = α·s + β·t with α = wᵀθ/κ, β = |w − αθ/κ| and
t ⊥ s; s and t are independent N(0, 1), and P(y = 1 | x) = σ(κs). Then

    0/1 error = ∫ φ(s) [σ(κs)·Φ(−(αs+b)/β) + σ(−κs)·Φ((αs+b)/β)] ds,

a 1-D integral over s ∈ [−9, 9] (the neglected Gaussian mass is 2Φ(−9) ≈ 2e-19)
by composite Gauss–Legendre panels whose break points follow the integrand's two
steep regions: the label noise σ(κs) near s = 0 (width 1/κ) and the classifier's
own step near s₀ = −b/α (width β/|α|), so that β → 0 (a step function), α → 0
and large norms are all integrated to ~1e-13. The log loss of p(y=1|x) = σ(u) is
softplus(u) − y·u, and E[y·u] = E[σ(κs)(αs + βt + b)] = α·κ·E σ′(κs) + b/2 (Stein's
lemma E[s f(s)] = E f′(s), and E σ(κs) = 1/2), so

    log loss = I(b, |w|) − α·κ·c(κ) − b/2,   c(κ) = E σ(κs)σ(−κs),

with u ~ N(b, |w|²) and I(μ, σ) = E softplus(μ + σt) = σ·(xΦ(x) + φ(x)) +
E log(1 + e^−|μ+σt|), x = μ/σ: the hinge part in closed form, the bump (width 1
in μ + σt, kink at t = −μ/σ) and c(κ) by the same panel quadrature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, log_expit, ndtr

SETTINGS = ("one", "three", "decay")
THETA_NORM = 10.0

# integration range in s and t, and the panel layout (see the module docstring)
_HALF_RANGE = 9.0
_BASE_BREAKS = np.array([-9.0, -6.0, -4.0, -2.5, -1.5, -0.75, 0.0, 0.75, 1.5, 2.5, 4.0, 6.0, 9.0])
_BASE_BREAKS_T = np.array([-9.0, -5.0, -2.5, 0.0, 2.5, 5.0, 9.0])
# multiples of a transition width at which panels are split on either side of its centre:
# σ(z) and Φ(z) are within 1e-16 of their limits beyond |z| ≈ 37 and 8.3
_LOGISTIC_STEPS = np.array([0.5, 2.0, 6.0, 16.0, 40.0])
_PROBIT_STEPS = np.array([0.25, 1.0, 2.5, 5.0, 9.0])
# the bump log(1 + e^−|z|) has a kink at z = 0 and decays like e^−|z|
_BUMP_STEPS = np.array([0.5, 2.0, 6.0, 16.0, 40.0])


def theta(setting: str, n: int) -> np.ndarray:
    """Ng's parameter vector θ ∈ R^n for ``setting`` (float64, |θ|₂ = 10)."""
    n = _check_count(n, "n")
    if setting == "one":
        out = np.zeros(n)
        out[0] = THETA_NORM
    elif setting == "three":
        if n < 3:
            raise ValueError(f"setting 'three' needs n >= 3 features, got n={n}")
        out = np.zeros(n)
        out[:3] = THETA_NORM / np.sqrt(3.0)
    elif setting == "decay":
        out = np.sqrt(75.0) * 0.5 ** np.arange(n, dtype=np.float64)
        out *= THETA_NORM / np.linalg.norm(out)
    else:
        raise ValueError(f"unknown setting {setting!r}; accepted: {', '.join(SETTINGS)}")
    return out


def make_dataset(setting: str, n: int, m: int, seed: int, group: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw m examples of Ng's problem ``setting`` with n features.

    Returns ``(X, y, theta)``: X (m, n) float64 with rows x ~ N(0, I_n), y (m,)
    int64 in {0, 1} with y ~ Bernoulli(σ(θᵀx)), and θ. Everything comes from
    ``np.random.default_rng(seed)`` (X first, then the uniforms that make y), so
    a dataset depends on its arguments alone.

    ``group``: an optional group element (``invariance.groups.sample(name, n, seed)``)
    applied to every row, x ↦ Mx. The labels are unchanged and θ is transported
    to θ_g = M⁻ᵀθ (``group.transport_first_layer``), so that θ_gᵀ(Mx) = θᵀx; for an
    orthogonal M, θ_g = Mθ, the rows are again N(0, I) and the Bayes error is
    unchanged. For a non-orthogonal M the rows are N(0, MMᵀ): evaluate a
    classifier w fitted on such data with :func:`pull_back` first.
    """
    n = _check_count(n, "n")
    m = _check_count(m, "m")
    th = theta(setting, n)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    y = (rng.random(m) < expit(X @ th)).astype(np.int64)
    if group is not None:
        _check_group(group, n)
        X = np.asarray(group.apply(X), dtype=np.float64)
        th = np.asarray(group.transport_first_layer(th[None, :]), dtype=np.float64)[0]
    return X, y, th


def pull_back(w: np.ndarray, group: Any) -> np.ndarray:
    """Weights w (..., n) of a classifier on g-transformed inputs, as weights on the
    original inputs: wᵀ(Mx) = (Mᵀw)ᵀx, i.e. w ↦ wM (the inverse's transport)."""
    _check_group(group, np.shape(w)[-1])
    return np.asarray(group.inverse().transport_first_layer(np.asarray(w, dtype=np.float64)), dtype=np.float64)


def bayes_error(theta: np.ndarray) -> float:
    """0/1 error of the Bayes classifier 1{θᵀx > 0}: E σ(−|θ||s|), s ~ N(0, 1)."""
    th = _check_theta(theta)
    return float(expected_zero_one(th[None, :], np.zeros(1), th)[0])


def bayes_log_loss(theta: np.ndarray) -> float:
    """Log loss of the true conditional probabilities σ(θᵀx) (the conditional entropy of y)."""
    th = _check_theta(theta)
    return float(expected_log_loss(th[None, :], np.zeros(1), th)[0])


def expected_zero_one(W: np.ndarray, b: np.ndarray | float, theta: np.ndarray) -> np.ndarray:
    """Exact expected 0/1 error of classifiers 1{wᵀx + b > 0} under Ng's model.

    W: (C, n) or (n,); b: scalar or (C,). Returns (C,) (or a 0-d array for one w).
    """
    W, b, th, single = _check_classifiers(W, b, theta)
    kappa, alpha, beta = _decompose(W, th)
    nodes, weights = _s_nodes(kappa, alpha, b, beta, _GL_ZERO_ONE, _BASE_BREAKS, _LOGISTIC_STEPS,
                              _PROBIT_STEPS)  # (C, N)
    mean = alpha[:, None] * nodes + b[:, None]
    z = _ratio(mean, beta[:, None])
    # P(predict 0 | s) = Φ(−z); predicting 0 on a tie (wᵀx + b = 0) as scikit-learn does
    integrand = expit(kappa * nodes) * ndtr(-z) + expit(-kappa * nodes) * ndtr(z)
    out = np.einsum("cn,cn->c", weights, integrand)
    return out[0] if single else out


def expected_log_loss(W: np.ndarray, b: np.ndarray | float, theta: np.ndarray) -> np.ndarray:
    """Exact expected log loss E[−log p(y | x)] of p(y=1 | x) = σ(wᵀx + b) under Ng's model.

    W: (C, n) or (n,); b: scalar or (C,). Returns (C,) (or a 0-d array for one w).
    """
    W, b, th, single = _check_classifiers(W, b, theta)
    kappa, alpha, _ = _decompose(W, th)
    spread = np.linalg.norm(W, axis=1)  # u = wᵀx + b ~ N(b, |w|²)
    out = _softplus_gaussian(b, spread) - alpha * kappa * _logistic_slope(kappa) - 0.5 * b
    return out[0] if single else out


# ---------------------------------------------------------------------------
# quadrature


def _gauss_legendre(k: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(k)
    return x, w


# nodes per panel (measured against adaptive scipy.quad: ≤ 1e-14 apart on classifiers of norm
# 0.1 to 300)
_GL_ZERO_ONE = _gauss_legendre(20)
_GL_T = _gauss_legendre(16)


def _panel_nodes(breaks: np.ndarray, rule: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre over sorted break points (..., P+1) -> nodes, weights (..., P·k)."""
    x, w = rule
    left, right = breaks[..., :-1], breaks[..., 1:]
    half = 0.5 * (right - left)
    mid = 0.5 * (right + left)
    nodes = mid[..., None] + half[..., None] * x
    weights = half[..., None] * w
    shape = breaks.shape[:-1] + (-1,)
    return nodes.reshape(shape), weights.reshape(shape)


def _breaks(centres: list[tuple[np.ndarray, np.ndarray, np.ndarray]], batch_shape: tuple[int, ...],
            base: np.ndarray) -> np.ndarray:
    """Sorted break points: the base grid plus centre ± width·steps for each (centre, width, steps),
    clipped to the integration range (clipped duplicates make empty panels, which weigh nothing)."""
    parts = [np.broadcast_to(base, batch_shape + base.shape)]
    for centre, width, steps in centres:
        centre = centre[..., None]
        width = width[..., None]
        offsets = np.concatenate([-steps[::-1], [0.0], steps])
        with np.errstate(invalid="ignore", over="ignore"):
            points = centre + width * offsets
        # a transition outside the range (or with infinite centre/width) adds nothing
        points = np.where(np.isfinite(points), points, -_HALF_RANGE)
        parts.append(points)
    points = np.clip(np.concatenate(parts, axis=-1), -_HALF_RANGE, _HALF_RANGE)
    return np.sort(points, axis=-1)


def _s_nodes(kappa: float, alpha: np.ndarray, b: np.ndarray, width: np.ndarray, rule: tuple[np.ndarray, np.ndarray],
             base: np.ndarray, logistic_steps: np.ndarray, step_steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (C, N) for ∫ φ(s) f(s) ds with f steep near 0 (scale 1/κ) and near −b/α."""
    C = alpha.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        s0 = np.where(alpha != 0, -b / alpha, np.inf)
        scale = np.where(alpha != 0, width / np.abs(alpha), np.inf)
    centres = [
        (np.zeros(C), np.full(C, 1.0 / kappa), logistic_steps),
        (s0, scale, step_steps),
    ]
    nodes, weights = _panel_nodes(_breaks(centres, (C,), base), rule)
    weights = weights * np.exp(-0.5 * nodes**2) / np.sqrt(2 * np.pi)
    return nodes, weights


def _softplus_gaussian(mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """I(μ, σ) = E softplus(μ + σt), t ~ N(0, 1), for arrays mu, sd (C,).

    softplus(x) = max(x, 0) + log(1 + e^−|x|): the first part has a closed form, the
    second (the bump) is integrated by :func:`_bump_gaussian`."""
    positive = sd > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(positive, mu / np.where(positive, sd, 1.0), 0.0)
    hinge = np.where(positive, sd * (x * ndtr(x) + np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi)), np.maximum(mu, 0.0))
    bump = np.where(positive, _bump_gaussian(mu[:, None], sd)[:, 0], np.log1p(np.exp(-np.abs(mu))))
    return hinge + bump


def _logistic_slope(kappa: float) -> float:
    """c(κ) = E σ(κs)σ(−κs), s ~ N(0, 1) (so that E[s σ(κs)] = κ·c(κ))."""
    breaks = _breaks([(np.zeros(1), np.full(1, 1.0 / kappa), _LOGISTIC_STEPS)], (1,), _BASE_BREAKS)
    nodes, weights = _panel_nodes(breaks, _GL_ZERO_ONE)
    integrand = np.exp(-0.5 * nodes**2) / np.sqrt(2 * np.pi) * expit(kappa * nodes) * expit(-kappa * nodes)
    return float(np.sum(weights * integrand))


def _bump_gaussian(mu: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """E log(1 + e^−|μ+βt|), t ~ N(0, 1), by panels in t split at the kink t* = −μ/β (scale 1/β).

    Where |μ| > 40 + 9β the bump is below e^−40 on all of |t| ≤ 9 and is taken as 0."""
    out = np.zeros(mu.shape)
    beta_b = np.broadcast_to(beta[:, None], mu.shape)
    near = (beta_b > 0) & (np.abs(mu) <= _BUMP_STEPS[-1] + _HALF_RANGE * beta_b)
    if not near.any():
        return out
    m, bb = mu[near], beta_b[near]
    kink, scale = -m / bb, 1.0 / bb
    nodes, weights = _panel_nodes(_breaks([(kink, scale, _BUMP_STEPS)], m.shape, _BASE_BREAKS_T), _GL_T)
    weights = weights * np.exp(-0.5 * nodes**2) / np.sqrt(2 * np.pi)
    z = m[:, None] + bb[:, None] * nodes
    out[near] = np.einsum("nk,nk->n", weights, -log_expit(np.abs(z)))
    return out


def _ratio(mean: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """(αs + b)/β, with β = 0 giving ±∞ (and a tie, mean = 0, giving −∞: predict 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = mean / beta
    step = np.where(mean > 0, np.inf, -np.inf)
    return np.where(beta > 0, z, step)


def _decompose(W: np.ndarray, th: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    kappa = float(np.linalg.norm(th))
    unit = th / kappa
    alpha = W @ unit
    # β from the residual vector, not sqrt(|w|² − α²): no cancellation when w ∥ θ
    beta = np.linalg.norm(W - alpha[:, None] * unit, axis=1)
    return kappa, alpha, beta


# ---------------------------------------------------------------------------
# validation


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def _check_theta(theta: Any) -> np.ndarray:
    th = np.asarray(theta, dtype=np.float64)
    if th.ndim != 1 or th.size == 0 or not np.all(np.isfinite(th)) or not np.any(th):
        raise ValueError(f"theta must be a finite nonzero vector of shape (n,), got shape {th.shape}")
    return th


def _check_classifiers(W: Any, b: Any, theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    th = _check_theta(theta)
    W = np.asarray(W, dtype=np.float64)
    single = W.ndim == 1
    if single:
        W = W[None, :]
    if W.ndim != 2 or W.shape[1] != th.shape[0]:
        raise ValueError(f"W must have shape (C, {th.shape[0]}) or ({th.shape[0]},) to match theta, got {W.shape}")
    b = np.asarray(b, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(W.shape[0], float(b))
    if b.shape != (W.shape[0],):
        raise ValueError(f"b must be a scalar or have shape ({W.shape[0]},), got shape {b.shape}")
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        raise ValueError("W and b must be finite")
    return W, np.ascontiguousarray(b), th, single


def _check_group(group: Any, n: int) -> None:
    for attr in ("apply", "transport_first_layer", "inverse"):
        if not callable(getattr(group, attr, None)):
            raise TypeError(
                f"group must be a group element (invariance.groups.sample(name, d, seed)) with .{attr}(), "
                f"got {type(group).__name__}"
            )
    d = getattr(group, "d", n)
    if d != n:
        raise ValueError(f"group element acts on d={d} features, but the data have n={n}")
