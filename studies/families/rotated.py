"""``rotated-NAME``: any family with its inputs rotated by a fixed Haar rotation.

For each n the rotation is one draw Q = ``invariance.groups.sample("orthogonal", n,
seed=s)`` with s = derive_seed(seed, "rotation", NAME, n) mod 2^53: seeded per (family, n)
and recorded by :meth:`describe`. A trial's data are the base family's, x ↦ Qx,
with the labels unchanged — from the same seed, so a family and its twin see the
same draws (a paired contrast). This is how a sparse target becomes a dense one:
1{x₁ ≥ t} becomes 1{(Qᵀe₁)ᵀx' ≥ t} on x' = Qx.

Risk: a linear predictor c on rotated inputs is the predictor Qᵀc on the base
inputs (cᵀ(Qx) = (Qᵀc)ᵀx), so the base family's exact risk applies to the pulled-
back coefficients; otherwise the base family's fresh points are rotated before
the predictor sees them. The Bayes risk and (for hadamard) the bound are the
base family's: an orthogonal map changes neither.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import torch

from studies.families.base import Family
from studies.spec import derive_seed

PREFIX = "rotated-"


class _PulledBack:
    """A fit on rotated inputs seen as a fit on the base family's inputs."""

    def __init__(self, fit, Q: torch.Tensor):
        self._fit, self._Q = fit, Q
        coef = getattr(fit, "coef", None)
        self.coef = None if coef is None else _per_trial(torch.as_tensor(coef, dtype=torch.float64)[:, None, :], Q)[:, 0]
        self.intercept = getattr(fit, "intercept", None)
        self.status = getattr(fit, "status", None)

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        return self._fit.predict(_per_trial(X, self._Q.T))


class Rotated(Family):
    def __init__(self, base: Family, seed: int = 0):
        if isinstance(base, Rotated):
            raise ValueError(f"{base.name!r} is already rotated; a second rotation is again a Haar rotation")
        super().__init__(base.test_points)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"rotation seed must be a non-negative int, got {seed!r}")
        self.base = base
        self.seed = int(seed)
        self.name = PREFIX + base.name
        self.task = base.task
        self.min_m = base.min_m

    def rotation_seed(self, n: int) -> int:
        # below 2^53, so that the recorded seed survives a float column (pandas, JSON readers) exactly
        return derive_seed(self.seed, "rotation", self.base.name, int(n)) % 2 ** 53

    def rotation(self, n: int) -> torch.Tensor:
        """The rotation matrix Q (n, n) of dimension n, float64."""
        return _rotation(self.check_n(n), self.rotation_seed(n))

    # the base family decides every size and fact
    def check_n(self, n: int) -> int:
        return self.base.check_n(n)

    def check_m(self, n: int, m: int) -> int:
        return self.base.check_m(n, m)

    def usable(self, n: int, m: int) -> bool:
        return self.base.usable(n, m)

    def bayes_risk(self, n: int) -> float:
        return self.base.bayes_risk(n)

    def extra_metrics(self, n: int, m: int) -> dict[str, float]:
        return self.base.extra_metrics(n, m)

    def describe(self, n: int) -> dict[str, Any]:
        return {**self.base.describe(n), "family": self.name, "base": self.base.name,
                "rotation": {"group": "orthogonal", "seed": self.rotation_seed(n)}}

    def sample(self, n: int, m: int, seeds: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        X, y = self.base.sample(n, m, seeds)
        return _per_trial(X, self.rotation(n).T), y

    def risk(self, n: int, fit, seed) -> np.ndarray:
        return self.base.risk(n, _PulledBack(fit, self.rotation(n)), seed)


def _per_trial(X: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """X (T, p, n) @ M, one trial at a time: each trial's rounding is then that of its own
    (p, n) product, whatever the batch it is in. (A coefficient row c becomes cQ = (Qᵀc)ᵀ.)"""
    return torch.stack([x @ M for x in X])


@lru_cache(maxsize=64)
def _rotation(n: int, seed: int) -> torch.Tensor:
    from invariance import groups

    return torch.from_numpy(np.ascontiguousarray(groups.sample("orthogonal", n, seed=seed).matrix(np.float64)))
