"""Ng's (2004) hold-out selection of the regularisation strength."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from learners.logistic.numerics import DTYPE, softplus
from learners.logistic.path import PENALTIES, PathResult, fit, fit_path
from learners.logistic.validation import as_batch, check_choice, check_lambdas, fraction

METRICS = ("zero_one", "log_loss")
#: the default regularisation grid: 21 values, 4 per decade, from 10 down to 1e-4
DEFAULT_LAMBDAS = tuple(float(10.0 ** (1 - k / 4)) for k in range(21))


@dataclass
class HoldoutResult:
    """Ng's hold-out selection for each metric (see :func:`holdout_select`)."""

    lambdas: torch.Tensor            # (K,) in the order asked
    path: PathResult                 # the grid fitted on the first part
    scores: dict[str, torch.Tensor]  # metric -> (B, K) hold-out values
    index: dict[str, torch.Tensor]   # metric -> (B,) chosen grid index
    coef: dict[str, torch.Tensor]    # metric -> (B, n) the returned model
    intercept: dict[str, torch.Tensor]
    converged: dict[str, torch.Tensor]  # metric -> (B,) the returned model converged
    n_train: int                     # examples the grid was fitted on

    def lambda_(self, metric: str) -> torch.Tensor:
        return self.lambdas[self.index[metric]]

    def at_edge(self, metric: str) -> torch.Tensor:
        """(B,) bool: the choice by ``metric`` may lie beyond the grid.

        True when the chosen λ is the grid's smallest, or its largest with a hold-out value
        strictly below the next larger λ's. A choice of the largest λ by a tie with the next one
        is a plateau that the tie rule resolved (e.g. L1's all-zero model, which every λ above
        the data's λ_max gives): a larger λ would score the same, so it is not counted
        (:meth:`top_tie` counts it). A one-value grid is all edge.
        """
        top, bottom, next_top = self._ends()
        chosen = self.index[metric]
        if next_top is None:
            return torch.ones_like(chosen, dtype=torch.bool)
        s = self.scores[metric]
        return (chosen == bottom) | ((chosen == top) & (s[:, top] < s[:, next_top]))

    def top_tie(self, metric: str) -> torch.Tensor:
        """(B,) bool: ``metric`` chose the largest λ by a tie with the next larger λ (see :meth:`at_edge`)."""
        top, _, next_top = self._ends()
        chosen = self.index[metric]
        if next_top is None:
            return torch.zeros_like(chosen, dtype=torch.bool)
        s = self.scores[metric]
        return (chosen == top) & (s[:, top] == s[:, next_top])

    def inner_neighbour(self, metric: str) -> torch.Tensor:
        """(B,) grid index of the λ next to the choice by ``metric`` on the grid's inner side: the
        second smallest for a choice of the smallest λ, the second largest for the largest, the
        choice itself otherwise (and on a one-value grid). Comparing the two models tells how far
        the path still moves at the edge, i.e. what a wider grid could change."""
        order = torch.argsort(self.lambdas, descending=True, stable=True)
        chosen = self.index[metric]
        if len(order) < 2:
            return chosen.clone()
        top, bottom = int(order[0]), int(order[-1])
        out = chosen.clone()
        out[chosen == top] = int(order[1])
        out[chosen == bottom] = int(order[-2])
        return out

    def _ends(self) -> tuple[int, int, int | None]:
        """Grid positions of the largest λ, the smallest λ and the second largest (None if K = 1)."""
        order = torch.argsort(self.lambdas, descending=True, stable=True).tolist()
        return order[0], order[-1], (order[1] if len(order) > 1 else None)


def holdout_select(X: Any, y: Any, penalty: str = "l1", lambdas: Sequence[float] | None = None, *,
                   holdout: float = 0.3, metrics: Sequence[str] = METRICS, refit: bool = False,
                   fit_intercept: bool = False, tol: float = 1e-10, max_iter: int = 200) -> HoldoutResult:
    """Ng's (2004) selection of λ: fit the grid on the first examples, keep the λ with the lowest
    value of each metric on the last ``holdout`` fraction (round(holdout·m) examples).

    Ties go to the larger λ (the simpler model). The returned model is the one fitted on the
    first part, as in Ng's algorithm; ``refit=True`` refits on all m examples at the chosen λ
    (warm-started from the first-part solution).
    """
    Xt, yt = as_batch(X, y)
    check_choice("penalty", penalty, PENALTIES)
    lam = check_lambdas(DEFAULT_LAMBDAS if lambdas is None else lambdas)
    for metric in metrics:
        check_choice("metric", metric, METRICS)
    if not metrics:
        raise ValueError(f"metrics must name at least one of {', '.join(METRICS)}")
    B, m, _ = Xt.shape
    n_hold = holdout_size(m, holdout)
    n_train = m - n_hold
    path = fit_path(Xt[:, :n_train], yt[:, :n_train], lam, penalty, fit_intercept=fit_intercept, tol=tol,
                    max_iter=max_iter)
    X_hold, y_hold = Xt[:, n_train:], yt[:, n_train:]
    z = torch.bmm(X_hold, path.coef.transpose(1, 2)) + path.intercept[:, None, :]   # (B, m_hold, K)
    all_scores = {
        "zero_one": ((z > 0).to(DTYPE) != y_hold[:, :, None]).to(DTYPE).mean(1),
        "log_loss": softplus(-(2 * y_hold[:, :, None] - 1) * z).mean(1),
    }
    # scan the grid from the largest λ: argmin returns the first minimum, i.e. the largest λ on ties
    order = torch.argsort(lam, descending=True, stable=True)
    scores, index, coef, intercept, converged = {}, {}, {}, {}, {}
    rows = torch.arange(B)
    for metric in metrics:
        s = all_scores[metric]
        chosen = order[torch.argmin(s[:, order], dim=1)]
        scores[metric], index[metric] = s, chosen
        coef[metric] = path.coef[rows, chosen]
        intercept[metric] = path.intercept[rows, chosen]
        converged[metric] = path.converged[rows, chosen]
        if refit:
            full = fit(Xt, yt, lam[chosen], penalty, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                       warm_start=(coef[metric], intercept[metric]))
            coef[metric], intercept[metric] = full.coef[:, 0], full.intercept[:, 0]
            converged[metric] = full.converged[:, 0]
    return HoldoutResult(lam, path, scores, index, coef, intercept, converged, n_train)


def holdout_size(m: int, holdout: float) -> int:
    """Examples held out of m: holdout·m rounded half up, at least 1 and at most m − 1."""
    holdout = fraction("holdout", holdout)
    if m < 2:
        raise ValueError(f"hold-out selection needs at least 2 examples, got m={m}")
    return min(m - 1, max(1, math.floor(holdout * m + 0.5 + 1e-9)))
