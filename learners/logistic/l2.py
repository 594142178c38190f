"""The L2 solver: Newton's method in the row space, with lazy Hessians.

The solution lies in the span of the rows of X (the penalty kills any component
orthogonal to them), so with the thin QR factorisation Xᵀ = QR (when n > m) w = Qv and
F depends on v ∈ R^m only through the features Rᵀ: an exact reduction to min(m, n)
dimensions (done by :class:`learners.logistic.path.Coordinates`; this solver sees the
reduced features). Each step solves (M + λI) d = −∇F by Cholesky, with M = XᵀDX/m the
data part of the Hessian kept from an earlier point (along the path too) and recomputed
only when the last step backtracked or cut ‖∇F‖ by less than ``CHORD_RATE``; M and its
factor are float32 (``HESSIAN_DTYPE``): they only shape the step, a descent direction for
any positive definite matrix, while the gradient, the objective and the stopping test are
float64. An Armijo line search on the affine margins z + t·Xd makes every step a descent
step. It stops when ‖∇F‖₂ ≤ tol.
"""

from __future__ import annotations

import math

import torch

from learners.logistic.line_search import AffineLine, affine_line_search
from learners.logistic.numerics import DTYPE, HESSIAN_DTYPE, cholesky, hessian, loss_terms, matvec, rows_of
from learners.logistic.problem import GradientKeeper, Iterate, LiveData, Problem, SolveInfo, SolverOptions, Tracker

CHORD_RATE = 0.05  # recompute the Hessian when a step cut ‖∇F‖ by less than this factor


def solve_l2(problem: Problem, state: Iterate, options: SolverOptions, cache: dict) -> tuple[Iterate, SolveInfo]:
    """Newton's method with lazily refreshed Hessians and Armijo backtracking, from ``state``
    (updated in place and returned).

    The data part of the Hessian, M = XᵀDX/m (the costly product), is kept in ``cache``
    across iterations and across the λ path; each step solves (M + λI) d = −∇F with the
    kept M (a chord step: still a descent direction, as M + λI is positive definite) and M
    is recomputed at the current point only when the previous step backtracked, failed or
    cut ‖∇F‖ by less than a factor ``CHORD_RATE``. Near the solution this is Newton's
    method at a fraction of the cost; far from it, it is Newton's method."""
    X, sign, lam, fit_intercept = problem.X, problem.sign, problem.lam, problem.fit_intercept
    w, b, z = state.w, state.b, state.z
    B, m, d = X.shape
    D = d + int(fit_intercept)
    if cache.get("M") is None:
        cache["M"] = torch.zeros(B, D, D, dtype=HESSIAN_DTYPE)
        cache["have"] = torch.zeros(B, dtype=torch.bool)
        cache["X_hessian"] = X.to(HESSIAN_DTYPE)
    M, have, X_hessian = cache["M"], cache["have"], cache["X_hessian"]
    factor = torch.zeros(B, D, D, dtype=HESSIAN_DTYPE)    # Cholesky factor of M + λ·I (penalised block)
    factored = torch.zeros(B, dtype=torch.bool)
    refresh = ~have
    last_norm = torch.full((B,), math.inf, dtype=DTYPE)
    diag = torch.arange(d)
    track = Tracker(B)
    data = LiveData(X)
    keeper = GradientKeeper(B, d, cache)
    while True:
        live = track.live()
        if live.numel() == 0:
            break
        Xc, cur, at = data.view(live)  # gradients over the superset cur; the live are cur[at]
        loss, residual, curvature = loss_terms(z[cur], sign[cur])
        g, gb = keeper.gradient(Xc, residual, at, fit_intercept)
        keeper.keep(live, g, gb)
        grad = g + lam[live, None] * w[live]
        if fit_intercept:
            grad = torch.cat([grad, gb[:, None]], 1)
        F = loss[at].mean(1) + 0.5 * lam[live] * (w[live] * w[live]).sum(1)
        norm = grad.norm(dim=1)
        go = track.check(live, norm, options)
        if not bool(go.any()):
            continue
        sel = go.nonzero()[:, 0]
        rows, pos = live[sel], at[sel]
        fresh = refresh[rows] | (norm[sel] > CHORD_RATE * last_norm[rows])
        if bool(fresh.any()):
            new = rows[fresh]
            M[new] = hessian(rows_of(X_hessian, new, B), (curvature[pos[fresh]] / m).to(HESSIAN_DTYPE), fit_intercept)
            have[new] = True
            factored[new] = False
        todo = rows[~factored[rows]]
        if todo.numel():
            H = M[todo].clone()
            H[:, diag, diag] += lam[todo, None].to(HESSIAN_DTYPE)
            factor[todo] = cholesky(H)
            factored[todo] = True
        step = -torch.cholesky_solve(grad[sel, :, None].to(HESSIAN_DTYPE), factor[rows])[..., 0].to(DTYPE)
        dw = step[:, :d]
        db = step[:, d] if fit_intercept else torch.zeros_like(step[:, 0])
        dW = torch.zeros(cur.numel(), d, dtype=DTYPE)
        dW[pos] = dw
        dz = matvec(Xc, dW)[pos] + db[:, None]
        w0 = w[rows]
        slope = (grad[sel] * step).sum(1)
        line = AffineLine(z[rows], dz, sign[rows], lam[rows], (w0 * w0).sum(1), (w0 * dw).sum(1), (dw * dw).sum(1))
        t_best, z_best, found = affine_line_search(line, F[sel], slope)
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
    return Iterate(w, b, z), track.result()
