"""``gaussian-threshold``: x ~ N(0, I_n), y = 1{x₁ ≥ t}, noiseless (Bayes risk 0).

The shape of the target in Ng (2004)'s lower bound for rotationally invariant
learners (Thm 4.3: Ω(n) examples on some problem whose label is 1{x₁ ≥ t}).
Default t = 0: balanced labels, so that a linear classifier without an intercept
can reach zero error and the study measures the learner, not its intercept.

Exact 0/1 risk of a linear classifier ŷ = 1{wᵀx + b > 0}. With r = |w|,
V = wᵀx/r ~ N(0, 1), ρ = corr(x₁, V) = w₁/r and c = −b/r, ŷ = 1 ⟺ V > c, so

    risk = P(x₁ ≥ t, V ≤ c) + P(x₁ < t, V > c) = Φ₂(−t, c; −ρ) + Φ₂(t, −c; −ρ),

with Φ₂(h, k; ρ) the standard bivariate normal CDF, computed in closed form
through Owen's T function (:func:`bivariate_normal_cdf`). w = 0 predicts the
constant 1{b > 0}: risk Φ(t) or Φ(−t). At t = b = 0 the formula reduces to the
angle between w and e₁ over π.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from scipy.special import ndtr, owens_t

from studies.families.base import Family, linear_part


def bivariate_normal_cdf(h: Any, k: Any, rho: Any, s: Any = None) -> np.ndarray:
    """Φ₂(h, k; ρ) = P(X ≤ h, Y ≤ k) for standard normals with correlation ρ.

    ``s`` = √(1 − ρ²), passed when the caller has it without cancellation (ρ near ±1).
    Owen (1956): for h, k ≠ 0,

        Φ₂ = ½Φ(h) + ½Φ(k) − T(h, a_h) − T(k, a_k) − ½·1{hk < 0},
        a_h = (k − ρh)/(h s),  a_k = (h − ρk)/(k s);

    h = 0 gives ½Φ(k) − T(k, −ρ/s) (and symmetrically k = 0), which at h = k = 0 is
    ¼ + arcsin(ρ)/(2π); s = 0 gives Φ(min(h, k)) (ρ = 1) or max(0, Φ(h) + Φ(k) − 1) (ρ = −1).
    """
    h, k, rho = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (h, k, rho)))
    s = np.sqrt(np.clip(1.0 - rho * rho, 0.0, 1.0)) if s is None else np.broadcast_to(np.asarray(s, np.float64), h.shape)
    out = np.empty(h.shape)
    degenerate = s == 0
    regular = ~degenerate
    hz, kz = h == 0, k == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a_h = (k - rho * h) / (h * s)
        a_k = (h - rho * k) / (k * s)
        a_0 = -rho / s
    both = regular & ~hz & ~kz
    out[both] = (0.5 * ndtr(h[both]) + 0.5 * ndtr(k[both]) - owens_t(h[both], a_h[both])
                 - owens_t(k[both], a_k[both]) - 0.5 * (h[both] * k[both] < 0))
    at_h0 = regular & hz
    out[at_h0] = 0.5 * ndtr(k[at_h0]) - owens_t(k[at_h0], a_0[at_h0])
    at_k0 = regular & kz & ~hz
    out[at_k0] = 0.5 * ndtr(h[at_k0]) - owens_t(h[at_k0], a_0[at_k0])
    upper = degenerate & (rho > 0)
    out[upper] = ndtr(np.minimum(h[upper], k[upper]))
    lower = degenerate & ~(rho > 0)
    out[lower] = np.maximum(0.0, ndtr(h[lower]) + ndtr(k[lower]) - 1.0)
    return np.clip(out, 0.0, 1.0)


def threshold_zero_one(W: Any, b: Any, t: float) -> np.ndarray:
    """Exact P(1{wᵀx + b > 0} ≠ 1{x₁ ≥ t}) for x ~ N(0, I), for each row w of W (C, n)."""
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), (W.shape[0],))
    if not (np.isfinite(W).all() and np.isfinite(b).all() and math.isfinite(t)):
        raise ValueError("W, b and t must be finite")
    r = np.linalg.norm(W, axis=1)
    rest = np.linalg.norm(W[:, 1:], axis=1)  # β = |w₂..ₙ|, so s = β/r without cancellation
    out = np.where(b > 0, ndtr(t), ndtr(-t))  # w = 0: the constant prediction 1{b > 0}
    live = r > 0
    if live.any():
        rl = r[live]
        rho, s, c = W[live, 0] / rl, rest[live] / rl, -b[live] / rl
        out[live] = bivariate_normal_cdf(-t, c, -rho, s) + bivariate_normal_cdf(t, -c, -rho, s)
    return out


class GaussianThreshold(Family):
    name = "gaussian-threshold"
    task = "classification"
    options: ClassVar[tuple[str, ...]] = ("t", "test_points")

    def __init__(self, t: float = 0.0, **options: Any):
        super().__init__(**options)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise ValueError(f"threshold t must be a finite number, got {t!r}")
        self.t = float(t)

    def bayes_risk(self, n: int) -> float:
        self.check_n(n)
        return 0.0

    def _facts(self, n: int) -> dict[str, Any]:
        return {"t": self.t, "positive_rate": float(ndtr(-self.t))}

    def _draw(self, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X = np.random.default_rng(seed).standard_normal((m, n))
        return X, (X[:, 0] >= self.t).astype(np.float64)

    def _exact_risk(self, n: int, fit) -> np.ndarray | None:
        linear = linear_part(fit)
        if linear is None:
            return None
        coef, intercept, finite = linear
        out = threshold_zero_one(coef, intercept, self.t)
        out[~finite] = np.nan
        return out

    def _draw_inputs(self, n: int, p: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((p, n))

    def _pointwise_loss(self, X: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return ((scores > 0) != (X[..., 0] >= self.t)).astype(np.float64)
