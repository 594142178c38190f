"""Fitting B problems along a path of regularisation strengths (:func:`fit_path`) or each at
its own strength (:func:`fit`), in the solver's coordinates (:class:`Coordinates`).

Every member of a batch iterates until its own criterion holds (or ``max_iter`` Newton steps)
and is then frozen, and every decision (step, working set, stop) reads only that member's
numbers: a trial takes the same steps alone as inside any batch. Its arithmetic still depends
on the batch at the level of rounding, because MKL's batched products and torch's vectorised
loops round a row differently by batch size and memory position (measured: ≤ 1e-15 per
operation, ≤ 7e-13 on the solutions at tol 1e-12).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from learners.logistic.l1 import solve_l1
from learners.logistic.l2 import solve_l2
from learners.logistic.numerics import DTYPE, matvec
from learners.logistic.problem import Iterate, Problem, SolveInfo, SolverOptions
from learners.logistic.validation import as_batch, check_choice, check_lambdas, positive_float, positive_int

PENALTIES = ("l1", "l2")


@dataclass
class PathResult:
    """Solutions of B problems at K regularisation strengths (in the order asked)."""

    lambdas: torch.Tensor      # (K,)
    coef: torch.Tensor         # (B, K, n)
    intercept: torch.Tensor    # (B, K)
    converged: torch.Tensor    # (B, K) bool
    n_iter: torch.Tensor       # (B, K) int64
    kkt: torch.Tensor          # (B, K): final ‖v‖∞ (L1) or ‖∇F‖₂ (L2)


def fit_path(X: Any, y: Any, lambdas: Sequence[float] | Any, penalty: str = "l1", *, fit_intercept: bool = False,
             tol: float = 1e-10, max_iter: int = 200) -> PathResult:
    """Fit B problems at every strength in ``lambdas`` (a path, warm-started, largest λ first).

    X: (B, m, n) or (m, n); y: (B, m) or (m,) in {0, 1}; numpy or torch (computed in float64).
    ``max_iter`` bounds the Newton steps per problem and λ. Returns a :class:`PathResult`
    with leading batch axis B (1 for unbatched input) and the λ axis in the order given.
    Each λ starts from the previous solution, its margins Xw + b and its gradient.
    """
    Xt, yt = as_batch(X, y)
    check_choice("penalty", penalty, PENALTIES)
    lam = check_lambdas(lambdas)
    options = SolverOptions(positive_float("tol", tol), positive_int("max_iter", max_iter))
    B, m, _ = Xt.shape
    K = lam.numel()
    coordinates = Coordinates(Xt, yt, penalty, fit_intercept)
    w, b = coordinates.zeros()
    state = Iterate(w, b, torch.zeros(B, m, dtype=DTYPE))  # the margins Xw + b are carried along the path
    weights = torch.zeros(B, K, w.shape[1], dtype=DTYPE)
    intercept = torch.zeros(B, K, dtype=DTYPE)
    converged = torch.zeros(B, K, dtype=torch.bool)
    n_iter = torch.zeros(B, K, dtype=torch.int64)
    kkt = torch.zeros(B, K, dtype=DTYPE)
    for k in torch.argsort(lam, descending=True, stable=True).tolist():
        state, info = coordinates.solve(lam[k].expand(B), state, options)
        weights[:, k], intercept[:, k] = state.w, state.b
        converged[:, k], n_iter[:, k], kkt[:, k] = info.converged, info.n_iter, info.kkt
    return PathResult(lam, coordinates.to_features(weights), intercept, converged, n_iter, kkt)


def fit(X: Any, y: Any, lam: Any, penalty: str = "l1", *, fit_intercept: bool = False, tol: float = 1e-10,
        max_iter: int = 200, warm_start: tuple[Any, Any] | None = None) -> PathResult:
    """Fit B problems, each at its own strength ``lam`` (a scalar or (B,)); K = 1 in the result.

    ``warm_start``: optional (coef (B, n), intercept (B,)) to start from.
    """
    Xt, yt = as_batch(X, y)
    check_choice("penalty", penalty, PENALTIES)
    B, _, n = Xt.shape
    lam_t = check_lambdas(lam)
    if lam_t.numel() == 1:
        lam_t = lam_t.expand(B).clone()
    if lam_t.shape != (B,):
        raise ValueError(f"lam must be a scalar or have shape ({B},) (one per problem), got {tuple(lam_t.shape)}")
    coordinates = Coordinates(Xt, yt, penalty, fit_intercept)
    w, b = coordinates.zeros()
    if warm_start is not None:
        w, b = coordinates.from_features(torch.as_tensor(warm_start[0], dtype=DTYPE).reshape(B, n),
                                         torch.as_tensor(warm_start[1], dtype=DTYPE).reshape(B))
    options = SolverOptions(positive_float("tol", tol), positive_int("max_iter", max_iter))
    state, info = coordinates.solve(lam_t, Iterate(w, b, None), options)
    return PathResult(lam_t, coordinates.to_features(state.w[:, None]), state.b[:, None], info.converged[:, None],
                      info.n_iter[:, None], info.kkt[:, None])


class Coordinates:
    """B logistic problems sharing m and n, in the solver's coordinates: for L2 with n > m the
    features Rᵀ of the thin QR factorisation Xᵀ = QR (w = Qv), else X itself."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, penalty: str, fit_intercept: bool):
        self.penalty = penalty
        self.fit_intercept = bool(fit_intercept)
        self.sign = 2.0 * y - 1.0
        _, m, n = X.shape
        self.basis = None
        if penalty == "l2" and n > m:
            Q, R = torch.linalg.qr(X.transpose(1, 2), mode="reduced")
            self.basis, X = Q, R.transpose(1, 2).contiguous()
        self.X = X
        self.cache: dict[str, Any] = {}  # kept along the path: L2 Hessians, the last gradients, ...

    def zeros(self) -> tuple[torch.Tensor, torch.Tensor]:
        B, _, d = self.X.shape
        return torch.zeros(B, d, dtype=DTYPE), torch.zeros(B, dtype=DTYPE)

    def from_features(self, coef: torch.Tensor, intercept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.basis is not None:
            coef = torch.bmm(coef[:, None, :], self.basis)[:, 0]  # Qᵀw: the penalty removes the rest
        return coef.clone(), (intercept.clone() if self.fit_intercept else torch.zeros_like(intercept))

    def to_features(self, weights: torch.Tensor) -> torch.Tensor:
        """(B, K, d) solver coordinates -> (B, K, n) coefficients on the features."""
        if self.basis is None:
            return weights
        return torch.bmm(weights, self.basis.transpose(1, 2))

    def solve(self, lam: torch.Tensor, start: Iterate, options: SolverOptions) -> tuple[Iterate, SolveInfo]:
        """Solve at strengths lam (B,) from ``start`` (not modified); its margins z = Xw + b
        may be None (computed, and no gradient is kept from an earlier solve)."""
        w, b = start.w.clone(), start.b.clone()
        if start.z is None:
            self.cache.pop("grad", None)  # a new starting point: no gradient kept for it
        z = matvec(self.X, w) + b[:, None] if start.z is None else start.z.clone()
        solver = solve_l1 if self.penalty == "l1" else solve_l2
        return solver(Problem(self.X, self.sign, lam, self.fit_intercept), Iterate(w, b, z), options, self.cache)
