"""Penalised logistic regression: a batched float64 solver, Ng's hold-out selection,
and scikit-learn estimators around them.

Objective of one problem (data X (m, n), labels y ∈ {0, 1}^m, ỹ = 2y − 1):

    F(w, b) = (1/m) Σᵢ log(1 + exp(−ỹᵢ (wᵀxᵢ + b))) + λ‖w‖₁        (penalty "l1")
    F(w, b) = (1/m) Σᵢ log(1 + exp(−ỹᵢ (wᵀxᵢ + b))) + (λ/2)‖w‖₂²    (penalty "l2")

with an unpenalised intercept b when ``fit_intercept`` (b = 0 otherwise). This is
scikit-learn's ``LogisticRegression(l1_ratio=1 or 0, C=1/(λm))`` divided by Cm.

:func:`fit_path` solves B independent problems (a batch of trials) along a path
of K regularisation strengths, largest first, each warm-started from the
previous solution (its margins Xw + b and gradient are carried along too):

* **L2: Newton in the row space, with lazy Hessians.** The solution lies in the
  span of the rows of X (the penalty kills any component orthogonal to them), so
  with the thin QR factorisation Xᵀ = QR (when n > m) w = Qv and F depends on
  v ∈ R^m only through the features Rᵀ: an exact reduction to min(m, n)
  dimensions. Each step solves (M + λI) d = −∇F by Cholesky, with M = XᵀDX/m the
  data part of the Hessian kept from an earlier point (along the path too) and
  recomputed only when the last step backtracked or cut ‖∇F‖ by less than
  ``_CHORD_RATE``; M and its factor are float32 (``_HESSIAN_DTYPE``): they only
  shape the step, a descent direction for any positive definite matrix, while
  the gradient, the objective and the stopping test are float64. An Armijo line
  search on the affine margins z + t·Xd makes every step a descent step. It stops
  when ‖∇F‖₂ ≤ tol.
* **L1: orthant-wise Newton on a working set.** At (w, b) let g = ∇f and v the
  minimum-norm subgradient (vⱼ = gⱼ + λ sign wⱼ where wⱼ ≠ 0, the soft-threshold
  sign(gⱼ)·max(|gⱼ| − λ, 0) where wⱼ = 0); v = 0 exactly at the optimum. An
  outer loop computes g over all n features and picks a working set W: the
  nonzeros, then the features by decreasing violation |gⱼ| − λ (at most as many
  new violators as there are nonzeros, 8 at least), its size rounded up to one
  of ``_WORKING_SET_SIZES``. An inner loop solves the problem restricted to W:
  the active set A holds the nonzeros and the violators, each with an orthant
  ζⱼ = sign wⱼ (or −sign gⱼ for a violator); on that orthant F is smooth with
  gradient v_A, so the step solves (H_AA + μI) d = −v_A with the logistic Hessian
  H (gathered on A alone, so its cost follows |A|), damping μ = min(‖v‖∞, 1e-2)
  times the mean of diag H_AA (Levenberg–Marquardt: it vanishes at the solution,
  where H_AA is nonsingular for data in general position), and a line search
  along the orthant projection of w + td (coordinates that would cross zero stop
  at zero) accepts the first t with F(w_t) ≤ F(w) + σ·v_Aᵀ(w_t − w). If none does,
  a proximal-gradient step with backtracking guarantees descent. The inner loop
  stops at ‖v_W‖∞ ≤ tol/2, the outer one when ‖v‖∞ ≤ tol over all features
  (the KKT conditions to tolerance).

Every member of a batch iterates until its own criterion holds (or ``max_iter``
Newton steps) and is then frozen, and every decision (step, working set, stop)
reads only that member's numbers: a trial takes the same steps alone as inside
any batch. Its arithmetic still depends on the batch at the level of rounding,
because MKL's batched products and torch's vectorised loops round a row
differently by batch size and memory position (measured: ≤ 1e-15 per operation,
≤ 7e-13 on the solutions at tol 1e-12).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

PENALTIES = ("l1", "l2")
METRICS = ("zero_one", "log_loss")
#: the default regularisation grid: 21 values, 4 per decade, from 10 down to 1e-4
DEFAULT_LAMBDAS = tuple(float(10.0 ** (1 - k / 4)) for k in range(21))

_DTYPE = torch.float64
_ARMIJO = 1e-4
_STEPS = 2.0 ** -torch.arange(0, 30, dtype=_DTYPE)  # line-search candidates 1, 1/2, ..., 2^-29
_FIRST_STEPS = 2  # candidates tried for every member before the rest of the ladder
_CHORD_RATE = 0.05  # L2: recompute the Hessian when a step cut ‖∇F‖ by less than this factor
# L2 keeps its Hessians in float32 (half the cost of the products and factorisations): they only
# shape the step, a descent direction for any positive definite matrix, while the gradient, the
# objective and the stopping test stay in float64, so the solution's accuracy is unchanged
_HESSIAN_DTYPE = torch.float32
#: working-set sizes (about ×√2 apart): the dense systems follow the support, not n
_WORKING_SET_SIZES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


@dataclass
class PathResult:
    """Solutions of B problems at K regularisation strengths (in the order asked)."""

    lambdas: torch.Tensor      # (K,)
    coef: torch.Tensor         # (B, K, n)
    intercept: torch.Tensor    # (B, K)
    converged: torch.Tensor    # (B, K) bool
    n_iter: torch.Tensor       # (B, K) int64
    kkt: torch.Tensor          # (B, K): final ‖v‖∞ (L1) or ‖∇F‖₂ (L2)


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


# ---------------------------------------------------------------------------
# the batched solver


def fit_path(X: Any, y: Any, lambdas: Sequence[float] | Any, penalty: str = "l1", *, fit_intercept: bool = False,
             tol: float = 1e-10, max_iter: int = 200) -> PathResult:
    """Fit B problems at every strength in ``lambdas`` (a path, warm-started, largest λ first).

    X: (B, m, n) or (m, n); y: (B, m) or (m,) in {0, 1}; numpy or torch (computed in float64).
    ``max_iter`` bounds the Newton steps per problem and λ. Returns a :class:`PathResult`
    with leading batch axis B (1 for unbatched input) and the λ axis in the order given.
    """
    Xt, yt = _as_batch(X, y)
    _check_choice("penalty", penalty, PENALTIES)
    lam = _check_lambdas(lambdas)
    tol = _positive_float("tol", tol)
    max_iter = _positive_int("max_iter", max_iter)
    B, m, _ = Xt.shape
    K = lam.numel()
    problem = _Problem(Xt, yt, penalty, fit_intercept)
    w, b = problem.zeros()
    z = torch.zeros(B, m, dtype=_DTYPE)  # margins Xw + b, carried along the path
    weights = torch.zeros(B, K, w.shape[1], dtype=_DTYPE)
    intercept = torch.zeros(B, K, dtype=_DTYPE)
    converged = torch.zeros(B, K, dtype=torch.bool)
    n_iter = torch.zeros(B, K, dtype=torch.int64)
    kkt = torch.zeros(B, K, dtype=_DTYPE)
    for k in torch.argsort(lam, descending=True, stable=True).tolist():
        w, b, z, info = problem.solve(lam[k].expand(B), w, b, z, tol, max_iter)
        weights[:, k], intercept[:, k] = w, b
        converged[:, k], n_iter[:, k], kkt[:, k] = info
    return PathResult(lam, problem.to_features(weights), intercept, converged, n_iter, kkt)


def fit(X: Any, y: Any, lam: Any, penalty: str = "l1", *, fit_intercept: bool = False, tol: float = 1e-10,
        max_iter: int = 200, warm_start: tuple[Any, Any] | None = None) -> PathResult:
    """Fit B problems, each at its own strength ``lam`` (a scalar or (B,)); K = 1 in the result.

    ``warm_start``: optional (coef (B, n), intercept (B,)) to start from.
    """
    Xt, yt = _as_batch(X, y)
    _check_choice("penalty", penalty, PENALTIES)
    B, _, n = Xt.shape
    lam_t = _check_lambdas(lam)
    if lam_t.numel() == 1:
        lam_t = lam_t.expand(B).clone()
    if lam_t.shape != (B,):
        raise ValueError(f"lam must be a scalar or have shape ({B},) (one per problem), got {tuple(lam_t.shape)}")
    problem = _Problem(Xt, yt, penalty, fit_intercept)
    w, b = problem.zeros()
    if warm_start is not None:
        w, b = problem.from_features(torch.as_tensor(warm_start[0], dtype=_DTYPE).reshape(B, n),
                                     torch.as_tensor(warm_start[1], dtype=_DTYPE).reshape(B))
    w, b, _, (conv, iters, kkt) = problem.solve(lam_t, w, b, None, _positive_float("tol", tol),
                                                _positive_int("max_iter", max_iter))
    return PathResult(lam_t, problem.to_features(w[:, None]), b[:, None], conv[:, None], iters[:, None], kkt[:, None])


class _Problem:
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
        return torch.zeros(B, d, dtype=_DTYPE), torch.zeros(B, dtype=_DTYPE)

    def from_features(self, coef: torch.Tensor, intercept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.basis is not None:
            coef = torch.bmm(coef[:, None, :], self.basis)[:, 0]  # Qᵀw: the penalty removes the rest
        return coef.clone(), (intercept.clone() if self.fit_intercept else torch.zeros_like(intercept))

    def to_features(self, weights: torch.Tensor) -> torch.Tensor:
        """(B, K, d) solver coordinates -> (B, K, n) coefficients on the features."""
        if self.basis is None:
            return weights
        return torch.bmm(weights, self.basis.transpose(1, 2))

    def solve(self, lam: torch.Tensor, w: torch.Tensor, b: torch.Tensor, z: torch.Tensor | None, tol: float,
              max_iter: int):
        """Solve at strengths lam (B,) from (w, b) with margins z = Xw + b (None: computed).
        Returns w, b, z and (converged, n_iter, kkt)."""
        w, b = w.clone(), b.clone()
        if z is None:
            self.cache.pop("grad", None)  # a new starting point: no gradient kept for it
        z = _matvec(self.X, w) + b[:, None] if z is None else z.clone()
        solver = _solve_l1 if self.penalty == "l1" else _solve_l2
        return solver(self.X, self.sign, lam, w, b, z, self.fit_intercept, tol, max_iter, self.cache)


def _softplus(z: torch.Tensor) -> torch.Tensor:
    """log(1 + e^z), exact for every z (torch's ``softplus`` returns z above a threshold)."""
    return z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))


def _loss_terms(z: torch.Tensor, sign: torch.Tensor):
    """Per-example loss softplus(−ỹz), residual σ(z) − y = −ỹσ(−ỹz) and curvature σ(z)σ(−z)."""
    margin = sign * z
    tail = torch.sigmoid(-margin)
    return _softplus(-margin), -sign * tail, tail * torch.sigmoid(margin)


# Batched products are written as row vector × matrix: torch's bmm(X, w[..., None]) takes a
# different kernel for a batch of one, which made a lone trial round differently more often.
def _matvec(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(B, m, d) × (B, d) -> (B, m)."""
    return torch.bmm(w[:, None, :], X.transpose(1, 2))[:, 0]


def _rmatvec(X: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """(B, m, d)ᵀ × (B, m) -> (B, d)."""
    return torch.bmm(r[:, None, :], X)[:, 0]


def _rows(t: torch.Tensor, rows: torch.Tensor, total: int) -> torch.Tensor:
    """t[rows], without a copy when rows are all of them."""
    return t if rows.numel() == total else t[rows]


class _LiveData:
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


def _hessian(X: torch.Tensor, weight: torch.Tensor, fit_intercept: bool) -> torch.Tensor:
    """Xᵀ diag(weight) X, bordered by the intercept's row and column when ``fit_intercept``."""
    R, _, d = X.shape
    WX = X * weight[:, :, None]
    Hww = torch.bmm(X.transpose(1, 2), WX)
    if not fit_intercept:
        return Hww
    H = torch.empty(R, d + 1, d + 1, dtype=X.dtype)
    H[:, :d, :d] = Hww
    H[:, :d, d] = H[:, d, :d] = WX.sum(1)
    H[:, d, d] = weight.sum(1)
    return H


def _smooth_gradient(cache, first: bool, Xc, residual, at, m, fit_intercept):
    """∇f (B_live, d) and ∂f/∂b at the live members' points: from the cache on a solve's first
    round (the previous solve ended at the same points), else one pass over the data."""
    kept = cache.get("grad")
    if first and kept is not None and bool(kept[2].all()):
        return kept[0], kept[1]
    g = (_rmatvec(Xc, residual) / m)[at]
    gb = residual[at].mean(1) if fit_intercept else torch.zeros(at.numel(), dtype=_DTYPE)
    return g, gb


class _GradientKeeper:
    """The last ∇f of each member and whether it still holds at the member's point, left in the
    cache at the end of a solve for the next λ (which starts where this one stopped)."""

    def __init__(self, B: int, d: int):
        self.g = torch.zeros(B, d, dtype=_DTYPE)
        self.gb = torch.zeros(B, dtype=_DTYPE)
        self.valid = torch.zeros(B, dtype=torch.bool)

    def keep(self, rows, g, gb):
        self.g[rows], self.gb[rows], self.valid[rows] = g, gb, True

    def moved(self, rows):
        self.valid[rows] = False

    def store(self, cache):
        cache["grad"] = (self.g, self.gb, self.valid)


class _Tracker:
    """Per-member bookkeeping: who still iterates, Newton steps taken, last residual."""

    def __init__(self, B: int):
        self.converged = torch.zeros(B, dtype=torch.bool)
        self.stopped = torch.zeros(B, dtype=torch.bool)
        self.n_iter = torch.zeros(B, dtype=torch.int64)
        self.kkt = torch.full((B,), math.inf, dtype=_DTYPE)

    def live(self) -> torch.Tensor:
        return (~self.stopped).nonzero()[:, 0]

    def check(self, rows: torch.Tensor, kkt: torch.Tensor, tol: float, max_iter: int) -> torch.Tensor:
        """Record residuals; stop members that converged or ran out of steps; return those that go on."""
        self.kkt[rows] = kkt
        done = kkt <= tol
        self.converged[rows[done]] = True
        stop = done | (self.n_iter[rows] >= max_iter)
        self.stopped[rows[stop]] = True
        return ~stop

    def result(self):
        return self.converged, self.n_iter, self.kkt


def _solve_l2(X, sign, lam, w, b, z, fit_intercept, tol, max_iter, cache):
    """Newton's method with lazily refreshed Hessians and Armijo backtracking.

    The data part of the Hessian, M = XᵀDX/m (the costly product), is kept in ``cache``
    across iterations and across the λ path; each step solves (M + λI) d = −∇F with the
    kept M (a chord step: still a descent direction, as M + λI is positive definite) and M
    is recomputed at the current point only when the previous step backtracked, failed or
    cut ‖∇F‖ by less than a factor ``_CHORD_RATE``. Near the solution this is Newton's
    method at a fraction of the cost; far from it, it is Newton's method."""
    B, m, d = X.shape
    D = d + int(fit_intercept)
    if cache.get("M") is None:
        cache["M"] = torch.zeros(B, D, D, dtype=_HESSIAN_DTYPE)
        cache["have"] = torch.zeros(B, dtype=torch.bool)
        cache["X_hessian"] = X.to(_HESSIAN_DTYPE)
    M, have, X_hessian = cache["M"], cache["have"], cache["X_hessian"]
    factor = torch.zeros(B, D, D, dtype=_HESSIAN_DTYPE)    # Cholesky factor of M + λ·I (penalised block)
    factored = torch.zeros(B, dtype=torch.bool)
    refresh = ~have
    last_norm = torch.full((B,), math.inf, dtype=_DTYPE)
    diag = torch.arange(d)
    track = _Tracker(B)
    data = _LiveData(X)
    keeper = _GradientKeeper(B, d)
    first = True
    while True:
        live = track.live()
        if live.numel() == 0:
            break
        Xc, cur, at = data.view(live)  # gradients over the superset cur; the live are cur[at]
        loss, residual, curvature = _loss_terms(z[cur], sign[cur])
        g, gb = _smooth_gradient(cache, first, Xc, residual, at, m, fit_intercept)
        first = False
        keeper.keep(live, g, gb)
        grad = g + lam[live, None] * w[live]
        if fit_intercept:
            grad = torch.cat([grad, gb[:, None]], 1)
        F = loss[at].mean(1) + 0.5 * lam[live] * (w[live] * w[live]).sum(1)
        norm = grad.norm(dim=1)
        go = track.check(live, norm, tol, max_iter)
        if not bool(go.any()):
            continue
        sel = go.nonzero()[:, 0]
        rows, pos = live[sel], at[sel]
        fresh = refresh[rows] | (norm[sel] > _CHORD_RATE * last_norm[rows])
        if bool(fresh.any()):
            new = rows[fresh]
            M[new] = _hessian(_rows(X_hessian, new, B), (curvature[pos[fresh]] / m).to(_HESSIAN_DTYPE), fit_intercept)
            have[new] = True
            factored[new] = False
        todo = rows[~factored[rows]]
        if todo.numel():
            H = M[todo].clone()
            H[:, diag, diag] += lam[todo, None].to(_HESSIAN_DTYPE)
            factor[todo] = _cholesky(H)
            factored[todo] = True
        step = -torch.cholesky_solve(grad[sel, :, None].to(_HESSIAN_DTYPE), factor[rows])[..., 0].to(_DTYPE)
        dw = step[:, :d]
        db = step[:, d] if fit_intercept else torch.zeros_like(step[:, 0])
        dW = torch.zeros(cur.numel(), d, dtype=_DTYPE)
        dW[pos] = dw
        dz = _matvec(Xc, dW)[pos] + db[:, None]
        w0 = w[rows]
        slope = (grad[sel] * step).sum(1)
        t_best, z_best, found = _affine_line_search(z[rows], dz, sign[rows], F[sel], slope, lam[rows],
                                                    (w0 * w0).sum(1), (w0 * dw).sum(1), (dw * dw).sum(1))
        moved = rows[found]
        keeper.moved(moved)
        w[moved] = (w0 + t_best[:, None] * dw)[found]
        b[moved] = (b[rows] + t_best * db)[found]
        z[moved] = z_best[found]
        track.n_iter[rows] += 1
        # a stale Hessian that gave no decrease is refreshed; a fresh one that gave none means
        # no decrease is representable in float64: stop, not converged
        track.stopped[rows[~found & fresh]] = True
        refresh[rows] = ~found | (t_best < 1)
        last_norm[rows] = norm[sel]
    keeper.store(cache)
    return w, b, z, track.result()


def _affine_line_search(z, dz, sign, F, slope, lam, ww, wd, dd):
    """Armijo backtracking for L2, where the margins are affine in the step: z + t·dz, and the
    penalty (λ/2)|w + t·d|² = (λ/2)(ww + 2t·wd + t²·dd). Returns (t, z + t·dz, found)."""

    def evaluate(r, steps):
        t = steps[None, :]
        z_t = z[r, None, :] + t[..., None] * dz[r, None, :]
        F_t = _softplus(-sign[r, None, :] * z_t).mean(2) \
            + 0.5 * lam[r, None] * (ww[r, None] + 2 * t * wd[r, None] + t * t * dd[r, None])
        ok = F_t <= F[r, None] + _ARMIJO * t * slope[r, None] + _slack(F[r])[:, None]
        return ok, (t.expand_as(F_t), z_t)

    (t_best, z_best), found = _backtrack(evaluate, z.shape[0])
    return t_best, z_best, found


def _solve_l1(X, sign, lam, w, b, z, fit_intercept, tol, max_iter, cache):
    """Outer loop: the full gradient, the KKT check and a working set per member; inner loop:
    orthant-wise Newton on the working set (:func:`_l1_restricted`) to tol/2."""
    B, m, n = X.shape
    if "columns" not in cache:  # features as rows: working sets are gathered as contiguous rows
        cache["columns"] = X.transpose(1, 2).contiguous().view(B * n, m)
    track = _Tracker(B)
    data = _LiveData(X)
    keeper = _GradientKeeper(B, n)
    first = True
    while True:
        live = track.live()
        if live.numel() == 0:
            break
        Xc, cur, at = data.view(live)
        _, residual, _ = _loss_terms(z[cur], sign[cur])
        g, gb = _smooth_gradient(cache, first, Xc, residual, at, m, fit_intercept)
        first = False
        keeper.keep(live, g, gb)
        wl = w[live]
        v, violation = _min_norm_subgradient(wl, g, lam[live])
        go = track.check(live, torch.maximum(v.abs().amax(1), gb.abs()), tol, max_iter)
        if not bool(go.any()):
            continue
        sel = go.nonzero()[:, 0]
        nonzero = wl[sel] != 0
        nnz = nonzero.sum(1)
        new = ((violation[sel] > 0) & ~nonzero).sum(1)
        size = _bucket(nnz + torch.minimum(new, nnz.clamp(min=8)), n)
        # nonzeros first (score ∞), then by violation |g| − λ: the strongest violators, then the nearest
        score = torch.where(nonzero, math.inf, violation[sel])
        for P in torch.unique(size).tolist():
            part = (size == P).nonzero()[:, 0]
            rows = live[sel[part]]
            idx = torch.sort(torch.topk(score[part], P, dim=1).indices, dim=1).values
            XW = cache["columns"].index_select(0, (rows[:, None] * n + idx).reshape(-1)) \
                .view(rows.numel(), P, m).transpose(1, 2)
            budget = max_iter - track.n_iter[rows]
            wW, bW, zW, steps, stalled = _l1_restricted(XW, sign[rows], lam[rows], torch.gather(w[rows], 1, idx),
                                                        b[rows], z[rows], fit_intercept, 0.5 * tol, budget)
            w[rows] = torch.zeros(rows.numel(), n, dtype=_DTYPE).scatter(1, idx, wW)
            b[rows], z[rows] = bW, zW
            track.n_iter[rows] += steps
            track.stopped[rows[stalled]] = True
            keeper.moved(rows)
    keeper.store(cache)
    return w, b, z, track.result()


def _min_norm_subgradient(w, g, lam):
    """v = the minimum-norm element of ∂F (v = 0 iff optimal), and the violations |g| − λ."""
    violation = g.abs() - lam[:, None]
    v = torch.where(w != 0, g + lam[:, None] * torch.sign(w), torch.sign(g) * violation.clamp(min=0))
    return v, violation


def _bucket(need: torch.Tensor, n: int) -> torch.Tensor:
    """Working-set sizes: the smallest of ``_WORKING_SET_SIZES`` ≥ need (at most n)."""
    sizes = torch.tensor(_WORKING_SET_SIZES + (n,), dtype=need.dtype)
    size = sizes[torch.searchsorted(sizes[:-1], need).clamp(max=len(_WORKING_SET_SIZES))]
    return size.clamp(max=n)


def _l1_restricted(X, sign, lam, w, b, z, fit_intercept, tol, budget):
    """Orthant-wise Newton on R small problems (X (R, m, P)) until ‖v‖∞ ≤ tol, the step budget
    (R,) is spent, or no step decreases F. Returns w, b, z, steps taken and who stalled."""
    R, m, _ = X.shape
    steps = torch.zeros(R, dtype=torch.int64)
    finished = budget <= 0
    stalled = torch.zeros(R, dtype=torch.bool)
    while True:
        act = (~finished).nonzero()[:, 0]
        if act.numel() == 0:
            break
        Xa, sa, lam_a, wa, ba, za = (_rows(t, act, R) for t in (X, sign, lam, w, b, z))
        loss, residual, curvature = _loss_terms(za, sa)
        F = loss.mean(1) + lam_a * wa.abs().sum(1)
        g = _rmatvec(Xa, residual) / m
        gb = residual.mean(1) if fit_intercept else torch.zeros_like(ba)
        v, violation = _min_norm_subgradient(wa, g, lam_a)
        kkt = torch.maximum(v.abs().amax(1), gb.abs())
        stop = (kkt <= tol) | (steps[act] >= budget[act])
        finished[act[stop]] = True
        if bool(stop.all()):
            continue
        sel = (~stop).nonzero()[:, 0]
        rows = act[sel]
        Xs = _rows(Xa, sel, act.numel())
        new_w, new_b, new_z, found = _orthant_newton_step(
            Xs, sa[sel], lam_a[sel], wa[sel], ba[sel], za[sel], F[sel], g[sel], gb[sel], v[sel], kkt[sel],
            violation[sel], curvature[sel], fit_intercept)
        if not bool(found.all()):
            bad = (~found).nonzero()[:, 0]
            pw, pb, pz, pfound = _prox_gradient_step(Xs[bad], sa[sel][bad], lam_a[sel][bad], wa[sel][bad],
                                                     ba[sel][bad], loss[sel][bad].mean(1), g[sel][bad], gb[sel][bad],
                                                     fit_intercept)
            new_w[bad], new_b[bad], new_z[bad], found[bad] = pw, pb, pz, pfound
        w[rows[found]], b[rows[found]], z[rows[found]] = new_w[found], new_b[found], new_z[found]
        steps[rows] += 1
        stalled[rows[~found]] = True
        finished[rows[~found]] = True
    return w, b, z, steps, stalled


def _orthant_newton_step(X, sign, lam, w, b, z, F, g, gb, v, kkt, violation, curvature, fit_intercept):
    """One orthant-wise Newton step with a projected Armijo line search (see the module docstring).
    Returns the new w, b, z and whether a step was accepted."""
    R, m, _ = X.shape
    active = (w != 0) | (violation > 0)
    zeta = torch.where(w != 0, torch.sign(w), -torch.sign(g)) * active
    dw, db = _active_newton_direction(X, curvature / m, v, gb, kkt, active, fit_intercept)

    def evaluate(r, steps):
        t = steps[None, :]
        W_t = w[r, None, :] + t[..., None] * dw[r, None, :]
        W_t = torch.where(W_t * zeta[r, None, :] > 0, W_t, 0.0)   # stop at zero instead of crossing it
        b_t = b[r, None] + t * db[r, None]
        Z_t = (torch.bmm(_rows(X, r, R), W_t.transpose(1, 2)) + b_t[:, None, :]).transpose(1, 2)  # (r, T, m)
        F_t = _softplus(-sign[r, None, :] * Z_t).mean(2) + lam[r, None] * W_t.abs().sum(2)
        predicted = ((W_t - w[r, None, :]) * v[r, None, :]).sum(2) + (b_t - b[r, None]) * gb[r, None]
        ok = (F_t <= F[r, None] + _ARMIJO * predicted + _slack(F[r])[:, None]) & (predicted < 0)
        return ok, (W_t, b_t, Z_t)

    (new_w, new_b, new_z), found = _backtrack(evaluate, R)
    return new_w, new_b, new_z, found


def _active_newton_direction(X, weight, v, gb, kkt, active, fit_intercept):
    """Solve (H_AA + μI) d_A = −v_A on each member's active coordinates (zero elsewhere), H the
    logistic Hessian XᵀDX (bordered by the always-free intercept), μ = min(‖v‖∞, 1e-2) times
    the mean of diag H_AA. The active coordinates are gathered into systems of a bucketed size
    of their own (members grouped by it), so the cost follows |A|, not the working set."""
    R, m, P = X.shape
    count = active.sum(1)
    size = _bucket(count.clamp(min=1), P)
    dw = torch.zeros(R, P, dtype=_DTYPE)
    db = torch.zeros(R, dtype=_DTYPE)
    for Q in torch.unique(size).tolist():
        rows = (size == Q).nonzero()[:, 0]
        # active coordinates first (in feature order), then padding
        order = torch.argsort((~active[rows]).to(torch.int32), dim=1, stable=True)[:, :Q]
        mask = torch.gather(active[rows], 1, order).to(_DTYPE)
        # gather along the contiguous axis of the (R, P, m) layout the working sets come in
        XA = torch.gather(_rows(X.transpose(1, 2), rows, R), 1, order[:, :, None].expand(-1, -1, m)).transpose(1, 2)
        H = _hessian(XA, weight[rows], fit_intercept)
        diag = torch.diagonal(H, dim1=1, dim2=2)[:, :Q]
        mean_diag = (diag * mask).sum(1) / mask.sum(1).clamp(min=1)
        mu = kkt[rows].clamp(max=1e-2) * mean_diag.clamp(min=1e-12)
        diagonal = 1.0 - mask + mu[:, None] * mask
        rhs = torch.gather(v[rows], 1, order) * mask
        if fit_intercept:  # the intercept is always free and undamped
            mask = torch.cat([mask, torch.ones(rows.numel(), 1, dtype=_DTYPE)], 1)
            diagonal = torch.cat([diagonal, torch.zeros(rows.numel(), 1, dtype=_DTYPE)], 1)
            rhs = torch.cat([rhs, gb[rows, None]], 1)
        # padding coordinates get identity rows and columns, hence a zero step
        H.mul_(mask[:, :, None] * mask[:, None, :])
        H.diagonal(dim1=1, dim2=2).add_(diagonal)
        step = -_robust_solve(H, rhs)
        dw[rows] = torch.zeros(rows.numel(), P, dtype=_DTYPE).scatter(1, order, step[:, :Q] * mask[:, :Q])
        if fit_intercept:
            db[rows] = step[:, Q]
    return dw, db


def _prox_gradient_step(X, sign, lam, w, b, f0, g, gb, fit_intercept):
    """Proximal-gradient step with the largest step size η on a halving ladder that satisfies
    f(w⁺) ≤ f(w) + gᵀΔ + |Δ|²/(2η) and decreases F: a descent step whatever the curvature."""
    R, m, _ = X.shape
    curvature_bound = (X * X).sum(1).amax(1) / (4 * m) + (0.25 if fit_intercept else 0.0)
    eta = (4.0 / curvature_bound)[:, None] * _STEPS[None, :]            # (R, T)
    raw = w[:, None, :] - eta[..., None] * g[:, None, :]
    W_t = torch.sign(raw) * (raw.abs() - eta[..., None] * lam[:, None, None]).clamp(min=0)
    b_t = b[:, None] - eta * gb[:, None] if fit_intercept else b[:, None].expand(R, eta.shape[1])
    Z_t = torch.bmm(X, W_t.transpose(1, 2)) + b_t[:, None, :]
    f_t = _softplus(-sign[:, :, None] * Z_t).mean(1)
    dW, db = W_t - w[:, None, :], b_t - b[:, None]
    bound = f0[:, None] + (dW * g[:, None, :]).sum(2) + db * gb[:, None] + ((dW * dW).sum(2) + db * db) / (2 * eta)
    F_t = f_t + lam[:, None] * W_t.abs().sum(2)
    F0 = f0 + lam * w.abs().sum(1)
    ok = (f_t <= bound + _slack(f0)[:, None]) & (F_t < F0[:, None])
    first, found = _first_true(ok)
    r = torch.arange(R)
    return W_t[r, first], b_t[r, first], Z_t[r, :, first], found


def _backtrack(evaluate, R: int):
    """Backtracking over the step ladder for R members at once: every member tries the first
    ``_FIRST_STEPS`` candidates, and only those that accept none try the rest.

    ``evaluate(rows, steps)`` returns (ok (r, T), values: tensors (r, T, ...)); the result is the
    values at each member's first acceptable candidate, and whether it found one."""
    rows = torch.arange(R)
    ok, values = evaluate(rows, _STEPS[:_FIRST_STEPS])
    first, found = _first_true(ok)
    chosen = [value[rows, first] for value in values]
    if not bool(found.all()):
        bad = (~found).nonzero()[:, 0]
        ok, values = evaluate(bad, _STEPS[_FIRST_STEPS:])
        first, again = _first_true(ok)
        r = torch.arange(bad.numel())
        for c, value in zip(chosen, values):
            c[bad] = value[r, first]
        found[bad] = again
    return chosen, found


def _slack(F: torch.Tensor) -> torch.Tensor:
    """Rounding allowance in sufficient-decrease tests: a few ulps of the objective."""
    return 8 * torch.finfo(_DTYPE).eps * (F.abs() + 1.0)


def _first_true(ok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the first True in each row (0 if none) and whether there is one."""
    found = ok.any(1)
    first = torch.where(found, ok.to(torch.int8).argmax(1), torch.zeros_like(found, dtype=torch.int64))
    return first, found


def _robust_solve(H: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve SPD systems H x = rhs by Cholesky (see :func:`_cholesky`)."""
    return torch.cholesky_solve(rhs[..., None], _cholesky(H))[..., 0]


def _cholesky(H: torch.Tensor) -> torch.Tensor:
    """Cholesky factors of SPD matrices; a member whose factorisation fails gets a growing ridge."""
    L, info = torch.linalg.cholesky_ex(H)
    bad = (info != 0).nonzero()[:, 0]
    ridge = 1e-12
    while bad.numel():
        Hb = H[bad]
        scale = torch.diagonal(Hb, dim1=1, dim2=2).abs().amax(1).clamp(min=1e-300)
        eye = torch.eye(H.shape[1], dtype=H.dtype)
        Lb, info_b = torch.linalg.cholesky_ex(Hb + (ridge * scale)[:, None, None] * eye)
        L[bad] = Lb
        bad = bad[info_b != 0]
        ridge *= 100
        if ridge > 1e8:
            raise FloatingPointError("the Newton system is not positive definite even with a large ridge "
                                     "(non-finite data?)")
    return L


# ---------------------------------------------------------------------------
# Ng's hold-out selection


def holdout_select(X: Any, y: Any, penalty: str = "l1", lambdas: Sequence[float] | None = None, *,
                   holdout: float = 0.3, metrics: Sequence[str] = METRICS, refit: bool = False,
                   fit_intercept: bool = False, tol: float = 1e-10, max_iter: int = 200) -> HoldoutResult:
    """Ng's (2004) selection of λ: fit the grid on the first examples, keep the λ with the lowest
    value of each metric on the last ``holdout`` fraction (round(holdout·m) examples).

    Ties go to the larger λ (the simpler model). The returned model is the one fitted on the
    first part, as in Ng's algorithm; ``refit=True`` refits on all m examples at the chosen λ
    (warm-started from the first-part solution).
    """
    Xt, yt = _as_batch(X, y)
    _check_choice("penalty", penalty, PENALTIES)
    lam = _check_lambdas(DEFAULT_LAMBDAS if lambdas is None else lambdas)
    for metric in metrics:
        _check_choice("metric", metric, METRICS)
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
        "zero_one": ((z > 0).to(_DTYPE) != y_hold[:, :, None]).to(_DTYPE).mean(1),
        "log_loss": _softplus(-(2 * y_hold[:, :, None] - 1) * z).mean(1),
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
    holdout = _fraction("holdout", holdout)
    if m < 2:
        raise ValueError(f"hold-out selection needs at least 2 examples, got m={m}")
    return min(m - 1, max(1, math.floor(holdout * m + 0.5 + 1e-9)))


# ---------------------------------------------------------------------------
# scikit-learn estimators


class _LogisticBase(ClassifierMixin, BaseEstimator):
    """Binary classification with labels mapped to classes_[0] → 0, classes_[1] → 1."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # Ng's problems are binary
        return tags

    def _prepare(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        check_classification_targets(y)
        target = type_of_target(y, input_name="y", raise_unknown=True)
        if target != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target is {target}.")
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            count = self.classes_.size
            raise ValueError(f"{type(self).__name__} is a binary classifier: y must have exactly 2 classes, "
                             f"got {count} class{'es' if count != 1 else ''}")
        _check_choice("penalty", self.penalty, PENALTIES)
        return X, (y == self.classes_[1]).astype(np.float64)

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict(self, X) -> np.ndarray:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def predict_proba(self, X) -> np.ndarray:
        z = torch.as_tensor(self.decision_function(X))
        return np.stack([torch.sigmoid(-z).numpy(), torch.sigmoid(z).numpy()], axis=1)  # σ(−z), not 1 − σ(z)

    def predict_log_proba(self, X) -> np.ndarray:
        z = torch.as_tensor(self.decision_function(X))
        return np.stack([torch.nn.functional.logsigmoid(-z).numpy(), torch.nn.functional.logsigmoid(z).numpy()], 1)

    def _set_model(self, coef: torch.Tensor, intercept: torch.Tensor, converged: bool, n_iter: int) -> None:
        self.coef_ = coef.numpy().reshape(1, -1).copy()
        self.intercept_ = intercept.numpy().reshape(1).copy()
        self.converged_ = bool(converged)
        self.n_iter_ = np.array([int(n_iter)])


class PenalizedLogisticRegression(_LogisticBase):
    """L1- or L2-penalised logistic regression at a fixed strength λ, fitted by :func:`fit`.

    Minimises (1/m)Σ log(1 + exp(−ỹ(wᵀx + b))) + λ‖w‖₁ (or (λ/2)‖w‖²): scikit-learn's
    ``LogisticRegression(penalty=penalty, C=1/(lam·m))``.
    """

    def __init__(self, penalty: str = "l1", lam: float = 0.01, fit_intercept: bool = False, tol: float = 1e-10,
                 max_iter: int = 200):
        self.penalty = penalty
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        X, y01 = self._prepare(X, y)
        result = fit(X, y01, _nonnegative_float("lam", self.lam), self.penalty, fit_intercept=self.fit_intercept,
                     tol=self.tol, max_iter=self.max_iter)
        self._set_model(result.coef[0, 0], result.intercept[0, 0], result.converged[0, 0], result.n_iter[0, 0])
        return self


class HoldoutLogisticRegression(_LogisticBase):
    """Penalised logistic regression with λ chosen by Ng's hold-out (:func:`holdout_select`).

    Attributes after ``fit``: ``lambda_`` (chosen λ), ``holdout_scores_`` (hold-out value of
    ``select_by`` for each λ of ``lambdas_``), ``coef_``, ``intercept_``, ``converged_``.
    """

    def __init__(self, penalty: str = "l1", lambdas: Sequence[float] | None = None, holdout: float = 0.3,
                 select_by: str = "zero_one", refit: bool = False, fit_intercept: bool = False, tol: float = 1e-10,
                 max_iter: int = 200):
        self.penalty = penalty
        self.lambdas = lambdas
        self.holdout = holdout
        self.select_by = select_by
        self.refit = refit
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        X, y01 = self._prepare(X, y)
        _check_choice("select_by", self.select_by, METRICS)
        result = holdout_select(X, y01, self.penalty, self.lambdas, holdout=self.holdout, metrics=(self.select_by,),
                                refit=self.refit, fit_intercept=self.fit_intercept, tol=self.tol,
                                max_iter=self.max_iter)
        metric = self.select_by
        k = int(result.index[metric][0])
        self.lambdas_ = result.lambdas.numpy().copy()
        self.lambda_ = float(result.lambdas[k])
        self.holdout_scores_ = result.scores[metric][0].numpy().copy()
        self._set_model(result.coef[metric][0], result.intercept[metric][0], result.converged[metric][0],
                        result.path.n_iter[0, k])
        return self


# ---------------------------------------------------------------------------
# validation


def _as_batch(X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    Xt = _to_tensor(X, "X")
    yt = _to_tensor(y, "y")
    if Xt.ndim == 2:
        Xt = Xt[None]
        if yt.ndim == 1:
            yt = yt[None]
    if Xt.ndim != 3 or yt.ndim != 2 or yt.shape != Xt.shape[:2]:
        raise ValueError(f"X must be (B, m, n) or (m, n) and y (B, m) or (m,) to match; got X {tuple(Xt.shape)}, "
                         f"y {tuple(yt.shape)}")
    if Xt.shape[1] < 1 or Xt.shape[2] < 1:
        raise ValueError(f"X must have at least one example and one feature, got shape {tuple(Xt.shape)}")
    if not bool(torch.isfinite(Xt).all()):
        raise ValueError("X must be finite (no NaN or inf)")
    if not bool(((yt == 0) | (yt == 1)).all()):
        raise ValueError("y must contain only the labels 0 and 1")
    return Xt.contiguous(), yt.contiguous()


def _to_tensor(a: Any, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to(_DTYPE)
    try:
        array = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric numpy array or torch tensor, got {type(a).__name__}") from None
    return torch.as_tensor(array if array.flags.writeable else array.copy())


def _check_lambdas(lambdas: Any) -> torch.Tensor:
    lam = torch.as_tensor(np.asarray(lambdas, dtype=np.float64) if not isinstance(lambdas, torch.Tensor) else lambdas,
                          dtype=_DTYPE).reshape(-1)
    if lam.numel() == 0 or not bool(torch.isfinite(lam).all()) or bool((lam < 0).any()):
        raise ValueError(f"lambdas must be a non-empty sequence of finite values >= 0, got {lambdas!r}")
    return lam


def _check_choice(name: str, value: Any, accepted: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in accepted:
        raise ValueError(f"unknown {name} {value!r}; accepted: {', '.join(accepted)}")
    return value


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _nonnegative_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a fraction strictly between 0 and 1, got {value!r}")
    return float(value)
