"""``l1-logistic`` and ``l2-logistic``: Ng's (2004) learners, as :mod:`studies.ng2004` runs them.

Each trial minimises, on the first 70 % of its examples (m' of them, labels y ∈ {0, 1},
ỹ = 2y − 1),

    F(w) = (1/m') Σᵢ log(1 + exp(−ỹᵢ wᵀxᵢ)) + λ‖w‖₁         (l1-logistic)
    F(w) = (1/m') Σᵢ log(1 + exp(−ỹᵢ wᵀxᵢ)) + (λ/2)‖w‖₂²    (l2-logistic)

for every λ of the grid (default :data:`learners.logistic.DEFAULT_LAMBDAS`, 10 down to 1e-4,
4 per decade), and keeps the λ with the lowest hold-out 0/1 error on the last 30 % (ties to
the larger λ): :func:`learners.logistic.holdout_select` with ng2004's solver settings
(no intercept, tol 1e-8, at most 200 Newton steps per λ). The reported model is the one
fitted on the first 70 %. L2 is rotation invariant (Ng's Def. 4.1); L1 is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch

from learners.logistic import DEFAULT_LAMBDAS, holdout_select
from learners.logistic.validation import check_lambdas, positive_float, positive_int
from learners.sample.base import BatchFit, SampleLearner, statuses


class PenalisedLogistic(SampleLearner):
    penalty: ClassVar[str] = ""
    tasks = frozenset({"classification"})

    def __init__(self, *, lambdas: Sequence[float] = DEFAULT_LAMBDAS, holdout: float = 0.3,
                 fit_intercept: bool = False, tol: float = 1e-8, max_iter: int = 200):
        super().__init__(holdout=holdout)
        self.lambdas = [float(v) for v in check_lambdas(lambdas).tolist()]
        if not isinstance(fit_intercept, bool):
            raise ValueError(f"fit_intercept must be true or false, got {fit_intercept!r}")
        self.fit_intercept = fit_intercept
        self.tol = positive_float("tol", tol)
        self.max_iter = positive_int("max_iter", max_iter)

    def _fit(self, X: torch.Tensor, y: torch.Tensor, task: str, seed: int) -> BatchFit:
        result = holdout_select(X, y, self.penalty, self.lambdas, holdout=self.holdout, metrics=("zero_one",),
                                fit_intercept=self.fit_intercept, tol=self.tol, max_iter=self.max_iter)
        chosen = result.index["zero_one"]
        lam = result.lambdas
        coef, intercept = result.coef["zero_one"], result.intercept["zero_one"]
        finite = torch.isfinite(coef).all(1) & torch.isfinite(intercept)
        at_edge = (lam[chosen] == lam.max()) | (lam[chosen] == lam.min())
        return BatchFit(
            coef=coef, intercept=intercept,
            selected={"lam": lam[chosen].numpy().copy(), "lam_at_edge": at_edge.numpy().copy()},
            status=statuses(finite),
            extra={"nonzeros": (coef != 0).sum(1).numpy().copy(),
                   "converged": result.converged["zero_one"].numpy().copy()},
        )


class L1Logistic(PenalisedLogistic):
    name = "l1-logistic"
    penalty = "l1"
    description = "L1-penalised logistic regression, λ by Ng's 70/30 hold-out 0/1 error (not rotation invariant)"


class L2Logistic(PenalisedLogistic):
    name = "l2-logistic"
    penalty = "l2"
    description = "L2-penalised logistic regression, λ by Ng's 70/30 hold-out 0/1 error (rotation invariant)"
