"""Ng (2004)'s three settings as families: ``ng-one``, ``ng-three``, ``ng-decay``.

x ~ N(0, I_n), y ~ Bernoulli(σ(θᵀx)) with |θ| = 10 (Bayes 0/1 error 0.0546 for
every n). The generator, θ and the exact 0/1 risk of a linear classifier are
:mod:`studies.ng_data`'s (shared with the ``ng2004`` study, not copied): a trial
drawn from seed s is exactly ``ng_data.make_dataset(setting, n, m, s)``.

A non-linear predictor's risk is the mean over fresh x of P(y ≠ ŷ(x) | x), i.e.
σ(−θᵀx) where it predicts 1 and σ(θᵀx) where it predicts 0: the label noise is
averaged exactly, which leaves the estimate unbiased with a smaller variance.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import expit

from studies import ng_data
from studies.families.base import Family, linear_part


class NgFamily(Family):
    task = "classification"
    options: ClassVar[tuple[str, ...]] = ("test_points",)

    def __init__(self, setting: str, **options: Any):
        if setting not in ng_data.SETTINGS:
            raise ValueError(f"unknown Ng setting {setting!r}; accepted: {', '.join(ng_data.SETTINGS)}")
        super().__init__(**options)
        self.setting = setting
        self.name = f"ng-{setting}"

    def theta(self, n: int) -> np.ndarray:
        return ng_data.theta(self.setting, n)

    def check_n(self, n: int) -> int:
        n = super().check_n(n)
        if self.setting == "three" and n < 3:
            raise ValueError(f"family 'ng-three' needs n >= 3 features, got n={n}")
        return n

    def bayes_risk(self, n: int) -> float:
        return ng_data.bayes_error(self.theta(self.check_n(n)))

    def _facts(self, n: int) -> dict[str, Any]:
        theta = self.theta(n)
        return {"setting": self.setting, "theta_norm": float(np.linalg.norm(theta)),
                "relevant": int(np.count_nonzero(theta))}

    def _draw(self, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y, _ = ng_data.make_dataset(self.setting, n, m, seed)
        return X, y.astype(np.float64)

    def _exact_risk(self, n: int, fit) -> np.ndarray | None:
        linear = linear_part(fit)
        if linear is None:
            return None
        coef, intercept, finite = linear
        out = np.asarray(ng_data.expected_zero_one(coef, intercept, self.theta(n)), dtype=np.float64).reshape(-1)
        out[~finite] = np.nan
        return out

    def _draw_inputs(self, n: int, p: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((p, n))

    def _pointwise_loss(self, X: np.ndarray, scores: np.ndarray) -> np.ndarray:
        p_one = expit(X @ self.theta(X.shape[-1]))
        return np.where(scores > 0, 1.0 - p_one, p_one)
