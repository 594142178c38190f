"""``hadamard``: Warmuth, Kotłowski & Amid (ALT 2021, arXiv 2010.08625).

The instances are the d rows h₁, …, h_d of the d×d Sylvester Hadamard matrix H
(entries ±1, HHᵀ = dI, d a power of 2; n = d) and the target is one non-constant
column c of H (default c = 1, the column (+1, −1, +1, −1, …)): y_j = H[j, c] = e_cᵀh_j,
a linear target on one feature, so the Bayes risk is 0. A training set of size
k < d is k distinct rows drawn uniformly (without replacement) with their labels;
the loss is the square loss and the risk of a predictor f is exact, the mean over
all d rows, (1/d) Σ_j (f(h_j) − y_j)² (the test distribution is uniform on the rows).

Inputs of the paper's lower bound, computed exactly (and tested):

* the zero predictor has risk (1/d) Σ_j y_j² = 1;
* min-norm least squares after k distinct rows S has risk exactly 1 − k/d for every
  S: w = X_Sᵀ(X_S X_Sᵀ)⁻¹y_S = X_Sᵀy_S/d, so f(h_j) = Σ_{i∈S} (h_jᵀh_i) y_i/d is y_j
  on S and 0 on the d − k unseen rows, which are orthogonal to every training row;
* the paper's bound for rotation-invariant learners is 1 − k/(d−1), below 1 − k/d by
  k/(d(d−1)) ≤ 1/d. The unseen rows all look alike to such a learner (each is
  orthogonal to the training rows); its best common prediction there is the mean
  ȳ_U of the unseen labels, which it can know because a non-constant column sums
  to 0: ȳ_U = −Σ_{i∈S} y_i/(d−k). Its risk is then (d−k)/d·(1 − ȳ_U²), and for k
  rows drawn without replacement from a column with d/2 entries of each sign,
  E ȳ_U² = k/((d−k)(d−1)) (the finite-population variance of a mean of d − k
  draws), so the expected risk is exactly 1 − k/(d−1). This learner is min-norm
  least squares on the d − 1 non-constant features (the constant feature, which
  carries the "sums to 0" knowledge, removed); the tests check the identity by
  enumerating every training set at small d. The 1/(d−1) is thus the sampling
  without replacement's finite-population correction; min-norm least squares on
  all d features forgoes the k/(d(d−1)) that knowing the target is orthogonal to
  the constant feature buys. (Our reading: the search tool gave us the paper's
  abstract, "after receiving a random training set of size k < d, the expected
  square loss is still 1 − k/(d−1)", not its body; sampling without replacement
  is the scheme under which that value is exact.)

Every trial records ``bound`` = 1 − m/(n − 1) (m = k, n = d).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.linalg import hadamard as _sylvester

from studies.families.base import Family, _numpy, _trial_count, linear_part


@lru_cache(maxsize=16)
def hadamard_matrix(d: int) -> np.ndarray:
    """The d×d Sylvester Hadamard matrix (float64, read-only)."""
    H = _sylvester(d).astype(np.float64)
    H.setflags(write=False)
    return H


def zero_predictor_risk(d: int) -> float:
    """Risk of f = 0: the mean of y² over the rows, 1."""
    return 1.0


def least_squares_risk(d: int, k: int) -> float:
    """Risk of min-norm least squares after k distinct rows (exact, for every training set)."""
    return 1.0 - k / d


def invariant_lower_bound(d: int, k: int) -> float:
    """Warmuth, Kotłowski & Amid's expected risk of rotation-invariant learners after k < d rows."""
    return 1.0 - k / (d - 1)


class Hadamard(Family):
    name = "hadamard"
    task = "regression"
    #: test_points is accepted like every family's, and unused: the risk is always exact
    options: ClassVar[tuple[str, ...]] = ("column", "test_points")

    def __init__(self, column: int = 1, **options: Any):
        super().__init__(**options)
        if isinstance(column, bool) or not isinstance(column, (int, np.integer)) or column < 1:
            raise ValueError(f"hadamard column must be an int >= 1 (column 0 is constant), got {column!r}")
        self.column = int(column)

    def check_n(self, n: int) -> int:
        n = super().check_n(n)
        if n < 8 or n & (n - 1):
            raise ValueError(f"family 'hadamard' needs n = d a power of 2 >= 8, got n={n}")
        if self.column >= n:
            raise ValueError(f"hadamard column {self.column} does not exist for d={n} (columns 1..{n - 1})")
        return n

    def check_m(self, n: int, m: int) -> int:
        m = super().check_m(n, m)
        if m >= n:
            raise ValueError(f"family 'hadamard' needs m = k < d = n distinct rows, got m={m}, n={n}")
        return m

    def usable(self, n: int, m: int) -> bool:
        return m < n

    def bayes_risk(self, n: int) -> float:
        self.check_n(n)
        return 0.0

    def extra_metrics(self, n: int, m: int) -> dict[str, float]:
        return {"bound": invariant_lower_bound(n, m)}

    def _facts(self, n: int) -> dict[str, Any]:
        return {"column": self.column, "construction": "sylvester", "sampling": "k distinct rows, uniform"}

    def _draw(self, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        H = hadamard_matrix(n)
        rows = np.random.default_rng(seed).choice(n, size=m, replace=False)
        return H[rows], H[rows, self.column]

    def _exact_risk(self, n: int, fit) -> np.ndarray:
        H = hadamard_matrix(n)
        target = H[:, self.column]
        linear = linear_part(fit)
        if linear is not None:
            coef, intercept, finite = linear
            predictions = coef @ H.T + intercept[:, None]  # (T, d)
        else:
            T = _trial_count(fit)
            predictions = _numpy(fit.predict(torch.from_numpy(np.broadcast_to(H, (T, n, n)).copy())))
            finite = np.isfinite(predictions).all(axis=1)
        out = np.mean((predictions - target) ** 2, axis=1)
        out[~finite] = np.nan
        return out
