"""What the logistic solvers pass each other: the problems (:class:`Problem`), the point they
are at (:class:`Iterate`), how far to go (:class:`SolverOptions`), and the per-member
bookkeeping every solver shares (who still iterates, which data rows are live, the last
gradients kept for the next λ of a path)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from learners.logistic.numerics import DTYPE, rmatvec, rows_of


def _take(t: torch.Tensor, rows: torch.Tensor, total: int | None) -> torch.Tensor:
    return t[rows] if total is None else rows_of(t, rows, total)


@dataclass
class Problem:
    """B penalised logistic problems sharing m and d, in the solver's coordinates."""

    X: torch.Tensor        # (B, m, d)
    sign: torch.Tensor     # (B, m) ỹ = 2y − 1
    lam: torch.Tensor      # (B,) penalty strengths
    fit_intercept: bool

    def take(self, rows: torch.Tensor, total: int | None = None) -> Problem:
        """The members ``rows``: copies, or (with ``total``, the batch size) no copy when rows are all."""
        return Problem(_take(self.X, rows, total), _take(self.sign, rows, total), _take(self.lam, rows, total),
                       self.fit_intercept)


@dataclass
class Iterate:
    """A point of each member: weights w (B, d), intercepts b (B,) and margins z = Xw + b (B, m)."""

    w: torch.Tensor
    b: torch.Tensor
    z: torch.Tensor

    def take(self, rows: torch.Tensor, total: int | None = None) -> Iterate:
        return Iterate(_take(self.w, rows, total), _take(self.b, rows, total), _take(self.z, rows, total))


@dataclass(frozen=True)
class SolverOptions:
    tol: float       # stopping tolerance on the residual (‖v‖∞ for L1, ‖∇F‖₂ for L2)
    max_iter: int    # Newton steps per member and λ


@dataclass
class SolveInfo:
    """Per member: whether the stopping test held, Newton steps taken, the final residual."""

    converged: torch.Tensor   # (B,) bool
    n_iter: torch.Tensor      # (B,) int64
    kkt: torch.Tensor         # (B,)


class Tracker:
    """Per-member bookkeeping: who still iterates, Newton steps taken, last residual."""

    def __init__(self, B: int):
        self.converged = torch.zeros(B, dtype=torch.bool)
        self.stopped = torch.zeros(B, dtype=torch.bool)
        self.n_iter = torch.zeros(B, dtype=torch.int64)
        self.kkt = torch.full((B,), math.inf, dtype=DTYPE)

    def live(self) -> torch.Tensor:
        return (~self.stopped).nonzero()[:, 0]

    def check(self, rows: torch.Tensor, kkt: torch.Tensor, options: SolverOptions) -> torch.Tensor:
        """Record residuals; stop members that converged or ran out of steps; return those that go on."""
        self.kkt[rows] = kkt
        done = kkt <= options.tol
        self.converged[rows[done]] = True
        stop = done | (self.n_iter[rows] >= options.max_iter)
        self.stopped[rows[stop]] = True
        return ~stop

    def result(self) -> SolveInfo:
        return SolveInfo(self.converged, self.n_iter, self.kkt)


class LiveData:
    """The data of a superset of the live members, re-gathered (a copy) only when fewer than
    half of its rows are still live: the passes over X then cost at most twice the live
    members' share, and the copies stay rare."""

    def __init__(self, X: torch.Tensor):
        self.full = X
        self.X = X
        self.rows = torch.arange(X.shape[0])
        self.position = torch.arange(X.shape[0])

    def view(self, live: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(X of the superset, its member indices, positions of ``live`` within it)."""
        if 2 * live.numel() < self.rows.numel():
            self.rows, self.X = live, self.full[live]
            self.position = torch.full((self.full.shape[0],), -1, dtype=torch.int64)
            self.position[live] = torch.arange(live.numel())
        return self.X, self.rows, self.position[live]


class GradientKeeper:
    """The smooth part's gradient ∇f of each member, and whether it still holds at the member's
    point. A solve starts where the previous one (the previous λ of a path) stopped, so its first
    gradients are the ones the previous solve left in ``cache`` (:meth:`store`)."""

    def __init__(self, B: int, d: int, cache: dict):
        self.previous = cache.get("grad")
        self.first = True
        self.g = torch.zeros(B, d, dtype=DTYPE)
        self.gb = torch.zeros(B, dtype=DTYPE)
        self.valid = torch.zeros(B, dtype=torch.bool)

    def gradient(self, Xc: torch.Tensor, residual: torch.Tensor, at: torch.Tensor, fit_intercept: bool):
        """∇f (B_live, d) and ∂f/∂b at the live members' points (rows ``at`` of the superset Xc):
        from the previous solve on the first round, else one pass over the data."""
        first, self.first = self.first, False
        kept = self.previous
        if first and kept is not None and bool(kept[2].all()):
            return kept[0], kept[1]
        m = Xc.shape[1]
        g = (rmatvec(Xc, residual) / m)[at]
        gb = residual[at].mean(1) if fit_intercept else torch.zeros(at.numel(), dtype=DTYPE)
        return g, gb

    def keep(self, rows, g, gb):
        self.g[rows], self.gb[rows], self.valid[rows] = g, gb, True

    def moved(self, rows):
        self.valid[rows] = False

    def store(self, cache):
        cache["grad"] = (self.g, self.gb, self.valid)
