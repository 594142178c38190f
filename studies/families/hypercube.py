"""Boolean families on the hypercube: x uniform on {±1}^n, noiseless labels (Bayes risk 0).

* ``sparse-parity`` (Barak et al., NeurIPS 2022): y = (1 + x₁x₂⋯x_k)/2 ∈ {0, 1}, the
  parity of the first k coordinates (default k = 3).
* ``staircase`` (Abbe, Boix-Adsera & Misiakiewicz, COLT 2022, the merged-staircase
  function x₁ + x₁x₂ + … + x₁⋯x_k): we implement its *sign*, a classification target,
  y = 1{S > 0} with S = Σ_{j≤k} Π_{i≤j} x_i (default k = 3). The partial products
  Π_{i≤j} x_i are independent uniform signs, so S is a sum of k independent ±1 and
  is 0 only for even k; a tie is broken by the leading term, y = 1{x₁ > 0}
  (y = 1{S + x₁/2 > 0}). Flipping x₁ flips every partial product and x₁, so the
  labels are balanced for every k.

Risk of a predictor: exact over all 2^n points where 2^n ≤ ``test_points`` (the
cube is smaller than a fresh sample would be), else on ``test_points`` fresh
uniform points per trial. (A linear predictor's risk on a parity is ½ only on
average over its coefficients, so there is no shortcut.)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from studies.families.base import _CHUNK_FLOATS, Family, _trial_count, linear_part, scores


def random_signs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Independent uniform ±1 (float64) of the given shape, eight per random byte."""
    size = int(np.prod(shape))
    bits = np.unpackbits(np.frombuffer(rng.bytes((size + 7) // 8), dtype=np.uint8), count=size)
    return (1.0 - 2.0 * bits).reshape(shape)


def all_points(n: int) -> np.ndarray:
    """The 2^n points of {±1}^n (2^n, n), coordinate 0 varying slowest."""
    codes = np.arange(2 ** n)[:, None] >> np.arange(n - 1, -1, -1)
    return 1.0 - 2.0 * (codes & 1)


class _Hypercube(Family):
    task = "classification"
    options: ClassVar[tuple[str, ...]] = ("k", "test_points")

    def __init__(self, k: int = 3, **options: Any):
        super().__init__(**options)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{self.name} degree k must be a positive int, got {k!r}")
        self.k = int(k)

    def labels(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def check_n(self, n: int) -> int:
        n = super().check_n(n)
        if n < self.k:
            raise ValueError(f"family {self.name!r} with k={self.k} needs n >= {self.k}, got n={n}")
        return n

    def bayes_risk(self, n: int) -> float:
        self.check_n(n)
        return 0.0

    def _facts(self, n: int) -> dict[str, Any]:
        return {"k": self.k, "support": list(range(self.k)), "exact_risk": bool(self._enumerable(n))}

    def _enumerable(self, n: int) -> bool:
        return 2 ** n <= self.test_points

    def _draw(self, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X = random_signs(np.random.default_rng(seed), (m, n))
        return X, self.labels(X).astype(np.float64)

    def _draw_inputs(self, n: int, p: int, rng: np.random.Generator) -> np.ndarray:
        return random_signs(rng, (p, n))

    def _pointwise_loss(self, X: np.ndarray, s: np.ndarray) -> np.ndarray:
        return ((s > 0) != self.labels(X)).astype(np.float64)

    def _exact_risk(self, n: int, fit) -> np.ndarray | None:
        if not self._enumerable(n):
            return None
        cube = all_points(n)
        linear = linear_part(fit)
        T = _trial_count(fit)
        total = np.zeros(T)
        per_chunk = max(1, _CHUNK_FLOATS // max(1, T * n))
        for start in range(0, len(cube), per_chunk):
            X = np.broadcast_to(cube[start:start + per_chunk], (T, min(per_chunk, len(cube) - start), n))
            total += self._pointwise_loss(X, scores(fit, X, linear)).sum(axis=1)
        out = total / len(cube)
        if linear is not None:
            out[~linear[2]] = np.nan
        return out


class SparseParity(_Hypercube):
    name = "sparse-parity"

    def labels(self, X: np.ndarray) -> np.ndarray:
        return np.prod(X[..., :self.k], axis=-1) > 0


class SparseParity2(SparseParity):
    """Sparse parity of degree 2: ``sparse-parity`` with k = 2 under a name of its own, so that
    a study can run both degrees (the data seeds follow the family's name)."""

    name = "sparse-parity-2"
    options = tuple(o for o in SparseParity.options if o != "k")

    def __init__(self, **options):
        super().__init__(k=2, **options)


class Staircase(_Hypercube):
    name = "staircase"

    def labels(self, X: np.ndarray) -> np.ndarray:
        total = np.cumprod(X[..., :self.k], axis=-1).sum(axis=-1)
        return total + 0.5 * X[..., 0] > 0

    def _facts(self, n: int) -> dict[str, Any]:
        return {**super()._facts(n), "variant": "sign of x1 + x1x2 + ... + x1...xk", "ties": "broken by x1"}
