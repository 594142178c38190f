"""Penalised logistic regression: a batched float64 solver, Ng's hold-out selection,
and scikit-learn estimators around them.

Objective of one problem (data X (m, n), labels y ∈ {0, 1}^m, ỹ = 2y − 1):

    F(w, b) = (1/m) Σᵢ log(1 + exp(−ỹᵢ (wᵀxᵢ + b))) + λ‖w‖₁        (penalty "l1")
    F(w, b) = (1/m) Σᵢ log(1 + exp(−ỹᵢ (wᵀxᵢ + b))) + (λ/2)‖w‖₂²    (penalty "l2")

with an unpenalised intercept b when ``fit_intercept`` (b = 0 otherwise). This is
scikit-learn's ``LogisticRegression(l1_ratio=1 or 0, C=1/(λm))`` divided by Cm.

One job per module:

* :mod:`~learners.logistic.path` — :func:`fit_path` (B problems along a path of K
  strengths, largest first, each warm-started from the previous solution) and :func:`fit`;
  the batching and determinism rules;
* :mod:`~learners.logistic.l2` — Newton in the row space with lazy Hessians;
* :mod:`~learners.logistic.l1` — orthant-wise Newton on a working set;
* :mod:`~learners.logistic.line_search` — backtracking on a halving ladder of steps;
* :mod:`~learners.logistic.problem` — what the solvers pass each other (:class:`Problem`,
  :class:`Iterate`, :class:`SolverOptions`) and their per-member bookkeeping;
* :mod:`~learners.logistic.numerics` — the loss, batched products, Hessians, Cholesky;
* :mod:`~learners.logistic.holdout` — Ng's hold-out selection of λ;
* :mod:`~learners.logistic.estimators` — the scikit-learn estimators;
* :mod:`~learners.logistic.validation` — checks of the inputs.
"""

from learners.logistic.estimators import HoldoutLogisticRegression, PenalizedLogisticRegression
from learners.logistic.holdout import DEFAULT_LAMBDAS, METRICS, HoldoutResult, holdout_select, holdout_size
from learners.logistic.path import PENALTIES, PathResult, fit, fit_path

__all__ = [
    "DEFAULT_LAMBDAS",
    "METRICS",
    "PENALTIES",
    "HoldoutLogisticRegression",
    "HoldoutResult",
    "PathResult",
    "PenalizedLogisticRegression",
    "fit",
    "fit_path",
    "holdout_select",
    "holdout_size",
]
