"""The L1 solver: orthant-wise Newton on a working set.

At (w, b) let g = ∇f and v the minimum-norm subgradient (vⱼ = gⱼ + λ sign wⱼ where
wⱼ ≠ 0, the soft-threshold sign(gⱼ)·max(|gⱼ| − λ, 0) where wⱼ = 0); v = 0 exactly at the
optimum. An outer loop (:func:`solve_l1`) computes g over all n features and picks a
working set W: the nonzeros, then the features by decreasing violation |gⱼ| − λ (at most
as many new violators as there are nonzeros, 8 at least), its size rounded up to one of
``WORKING_SET_SIZES``. An inner loop (:func:`solve_restricted`) solves the problem
restricted to W: the active set A holds the nonzeros and the violators, each with an
orthant ζⱼ = sign wⱼ (or −sign gⱼ for a violator); on that orthant F is smooth with
gradient v_A, so the step solves (H_AA + μI) d = −v_A with the logistic Hessian H
(gathered on A alone, so its cost follows |A|), damping μ = min(‖v‖∞, 1e-2) times the
mean of diag H_AA (Levenberg–Marquardt: it vanishes at the solution, where H_AA is
nonsingular for data in general position), and a line search along the orthant
projection of w + td (coordinates that would cross zero stop at zero) accepts the first
t with F(w_t) ≤ F(w) + σ·v_Aᵀ(w_t − w). If none does, a proximal-gradient step with
backtracking guarantees descent. The inner loop stops at ‖v_W‖∞ ≤ tol/2, the outer one
when ‖v‖∞ ≤ tol over all features (the KKT conditions to tolerance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from learners.logistic.line_search import ARMIJO, STEPS, backtrack, first_true, slack
from learners.logistic.numerics import DTYPE, hessian, loss_terms, rmatvec, robust_solve, rows_of, softplus
from learners.logistic.problem import GradientKeeper, Iterate, LiveData, Problem, SolveInfo, SolverOptions, Tracker

#: working-set sizes (about ×√2 apart): the dense systems follow the support, not n
WORKING_SET_SIZES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


@dataclass
class LocalModel:
    """What a step needs at the current point of each member of a restricted problem."""

    loss: torch.Tensor       # (R, m) per-example loss
    F: torch.Tensor          # (R,) objective
    g: torch.Tensor          # (R, P) ∇f
    gb: torch.Tensor         # (R,) ∂f/∂b (zeros without an intercept)
    v: torch.Tensor          # (R, P) minimum-norm subgradient
    kkt: torch.Tensor        # (R,) max(‖v‖∞, |∂f/∂b|)
    violation: torch.Tensor  # (R, P) |g| − λ
    curvature: torch.Tensor  # (R, m) σ(z)σ(−z)

    def take(self, rows: torch.Tensor) -> LocalModel:
        return LocalModel(*(t[rows] for t in (self.loss, self.F, self.g, self.gb, self.v, self.kkt, self.violation,
                                               self.curvature)))


def solve_l1(problem: Problem, state: Iterate, options: SolverOptions, cache: dict) -> tuple[Iterate, SolveInfo]:
    """Outer loop: the full gradient, the KKT check and a working set per member; inner loop:
    orthant-wise Newton on the working set (:func:`solve_restricted`) to tol/2. ``state`` is
    updated in place and returned."""
    X, sign, lam, fit_intercept = problem.X, problem.sign, problem.lam, problem.fit_intercept
    w, b, z = state.w, state.b, state.z
    B, m, n = X.shape
    if "columns" not in cache:  # features as rows: working sets are gathered as contiguous rows
        cache["columns"] = X.transpose(1, 2).contiguous().view(B * n, m)
    track = Tracker(B)
    data = LiveData(X)
    keeper = GradientKeeper(B, n, cache)
    while True:
        live = track.live()
        if live.numel() == 0:
            break
        Xc, cur, at = data.view(live)
        _, residual, _ = loss_terms(z[cur], sign[cur])
        g, gb = keeper.gradient(Xc, residual, at, fit_intercept)
        keeper.keep(live, g, gb)
        wl = w[live]
        v, violation = min_norm_subgradient(wl, g, lam[live])
        go = track.check(live, torch.maximum(v.abs().amax(1), gb.abs()), options)
        if not bool(go.any()):
            continue
        sel = go.nonzero()[:, 0]
        nonzero = wl[sel] != 0
        nnz = nonzero.sum(1)
        new = ((violation[sel] > 0) & ~nonzero).sum(1)
        size = bucket(nnz + torch.minimum(new, nnz.clamp(min=8)), n)
        # nonzeros first (score ∞), then by violation |g| − λ: the strongest violators, then the nearest
        score = torch.where(nonzero, math.inf, violation[sel])
        for P in torch.unique(size).tolist():
            part = (size == P).nonzero()[:, 0]
            rows = live[sel[part]]
            idx = torch.sort(torch.topk(score[part], P, dim=1).indices, dim=1).values
            XW = cache["columns"].index_select(0, (rows[:, None] * n + idx).reshape(-1)) \
                .view(rows.numel(), P, m).transpose(1, 2)
            budget = options.max_iter - track.n_iter[rows]
            restricted = Problem(XW, sign[rows], lam[rows], fit_intercept)
            start = Iterate(torch.gather(w[rows], 1, idx), b[rows], z[rows])
            end, steps, stalled = solve_restricted(restricted, start, 0.5 * options.tol, budget)
            w[rows] = torch.zeros(rows.numel(), n, dtype=DTYPE).scatter(1, idx, end.w)
            b[rows], z[rows] = end.b, end.z
            track.n_iter[rows] += steps
            track.stopped[rows[stalled]] = True
            keeper.moved(rows)
    keeper.store(cache)
    return Iterate(w, b, z), track.result()


def min_norm_subgradient(w, g, lam):
    """v = the minimum-norm element of ∂F (v = 0 iff optimal), and the violations |g| − λ."""
    violation = g.abs() - lam[:, None]
    v = torch.where(w != 0, g + lam[:, None] * torch.sign(w), torch.sign(g) * violation.clamp(min=0))
    return v, violation


def bucket(need: torch.Tensor, n: int) -> torch.Tensor:
    """Working-set sizes: the smallest of ``WORKING_SET_SIZES`` ≥ need (at most n)."""
    sizes = torch.tensor(WORKING_SET_SIZES + (n,), dtype=need.dtype)
    size = sizes[torch.searchsorted(sizes[:-1], need).clamp(max=len(WORKING_SET_SIZES))]
    return size.clamp(max=n)


def solve_restricted(problem: Problem, state: Iterate, tol: float, budget: torch.Tensor):
    """Orthant-wise Newton on R small problems (X (R, m, P)) until ‖v‖∞ ≤ tol, the step budget
    (R,) is spent, or no step decreases F. Returns the end point (``state``, updated in place),
    the steps taken and who stalled."""
    R, m, _ = problem.X.shape
    w, b, z = state.w, state.b, state.z
    fit_intercept = problem.fit_intercept
    steps = torch.zeros(R, dtype=torch.int64)
    finished = budget <= 0
    stalled = torch.zeros(R, dtype=torch.bool)
    while True:
        act = (~finished).nonzero()[:, 0]
        if act.numel() == 0:
            break
        pa, ia = problem.take(act, R), state.take(act, R)
        loss, residual, curvature = loss_terms(ia.z, pa.sign)
        F = loss.mean(1) + pa.lam * ia.w.abs().sum(1)
        g = rmatvec(pa.X, residual) / m
        gb = residual.mean(1) if fit_intercept else torch.zeros_like(ia.b)
        v, violation = min_norm_subgradient(ia.w, g, pa.lam)
        kkt = torch.maximum(v.abs().amax(1), gb.abs())
        stop = (kkt <= tol) | (steps[act] >= budget[act])
        finished[act[stop]] = True
        if bool(stop.all()):
            continue
        sel = (~stop).nonzero()[:, 0]
        rows = act[sel]
        ps = Problem(rows_of(pa.X, sel, act.numel()), pa.sign[sel], pa.lam[sel], fit_intercept)
        its = ia.take(sel)
        local = LocalModel(loss, F, g, gb, v, kkt, violation, curvature).take(sel)
        new, found = orthant_newton_step(ps, its, local)
        if not bool(found.all()):
            bad = (~found).nonzero()[:, 0]
            fallback, again = prox_gradient_step(ps.take(bad), its.take(bad), local.take(bad))
            new.w[bad], new.b[bad], new.z[bad], found[bad] = fallback.w, fallback.b, fallback.z, again
        w[rows[found]], b[rows[found]], z[rows[found]] = new.w[found], new.b[found], new.z[found]
        steps[rows] += 1
        stalled[rows[~found]] = True
        finished[rows[~found]] = True
    return Iterate(w, b, z), steps, stalled


def orthant_newton_step(problem: Problem, at: Iterate, local: LocalModel) -> tuple[Iterate, torch.Tensor]:
    """One orthant-wise Newton step with a projected Armijo line search (see the module docstring).
    Returns the new point and whether a step was accepted."""
    X, sign, lam = problem.X, problem.sign, problem.lam
    w, b = at.w, at.b
    F, v, gb = local.F, local.v, local.gb
    R, m, _ = X.shape
    active = (w != 0) | (local.violation > 0)
    zeta = torch.where(w != 0, torch.sign(w), -torch.sign(local.g)) * active
    dw, db = active_newton_direction(problem, local, active)

    def evaluate(r, steps):
        t = steps[None, :]
        W_t = w[r, None, :] + t[..., None] * dw[r, None, :]
        W_t = torch.where(W_t * zeta[r, None, :] > 0, W_t, 0.0)   # stop at zero instead of crossing it
        b_t = b[r, None] + t * db[r, None]
        Z_t = (torch.bmm(rows_of(X, r, R), W_t.transpose(1, 2)) + b_t[:, None, :]).transpose(1, 2)  # (r, T, m)
        F_t = softplus(-sign[r, None, :] * Z_t).mean(2) + lam[r, None] * W_t.abs().sum(2)
        predicted = ((W_t - w[r, None, :]) * v[r, None, :]).sum(2) + (b_t - b[r, None]) * gb[r, None]
        ok = (F_t <= F[r, None] + ARMIJO * predicted + slack(F[r])[:, None]) & (predicted < 0)
        return ok, (W_t, b_t, Z_t)

    (new_w, new_b, new_z), found = backtrack(evaluate, R)
    return Iterate(new_w, new_b, new_z), found


def active_newton_direction(problem: Problem, local: LocalModel, active: torch.Tensor):
    """Solve (H_AA + μI) d_A = −v_A on each member's active coordinates (zero elsewhere), H the
    logistic Hessian XᵀDX (bordered by the always-free intercept), μ = min(‖v‖∞, 1e-2) times
    the mean of diag H_AA. The active coordinates are gathered into systems of a bucketed size
    of their own (members grouped by it), so the cost follows |A|, not the working set."""
    X, fit_intercept = problem.X, problem.fit_intercept
    R, m, P = X.shape
    weight, v, gb, kkt = local.curvature / m, local.v, local.gb, local.kkt
    count = active.sum(1)
    size = bucket(count.clamp(min=1), P)
    dw = torch.zeros(R, P, dtype=DTYPE)
    db = torch.zeros(R, dtype=DTYPE)
    for Q in torch.unique(size).tolist():
        rows = (size == Q).nonzero()[:, 0]
        # active coordinates first (in feature order), then padding
        order = torch.argsort((~active[rows]).to(torch.int32), dim=1, stable=True)[:, :Q]
        mask = torch.gather(active[rows], 1, order).to(DTYPE)
        # gather along the contiguous axis of the (R, P, m) layout the working sets come in
        XA = torch.gather(rows_of(X.transpose(1, 2), rows, R), 1, order[:, :, None].expand(-1, -1, m)).transpose(1, 2)
        H = hessian(XA, weight[rows], fit_intercept)
        diag = torch.diagonal(H, dim1=1, dim2=2)[:, :Q]
        mean_diag = (diag * mask).sum(1) / mask.sum(1).clamp(min=1)
        mu = kkt[rows].clamp(max=1e-2) * mean_diag.clamp(min=1e-12)
        diagonal = 1.0 - mask + mu[:, None] * mask
        rhs = torch.gather(v[rows], 1, order) * mask
        if fit_intercept:  # the intercept is always free and undamped
            mask = torch.cat([mask, torch.ones(rows.numel(), 1, dtype=DTYPE)], 1)
            diagonal = torch.cat([diagonal, torch.zeros(rows.numel(), 1, dtype=DTYPE)], 1)
            rhs = torch.cat([rhs, gb[rows, None]], 1)
        # padding coordinates get identity rows and columns, hence a zero step
        H.mul_(mask[:, :, None] * mask[:, None, :])
        H.diagonal(dim1=1, dim2=2).add_(diagonal)
        step = -robust_solve(H, rhs)
        dw[rows] = torch.zeros(rows.numel(), P, dtype=DTYPE).scatter(1, order, step[:, :Q] * mask[:, :Q])
        if fit_intercept:
            db[rows] = step[:, Q]
    return dw, db


def prox_gradient_step(problem: Problem, at: Iterate, local: LocalModel) -> tuple[Iterate, torch.Tensor]:
    """Proximal-gradient step with the largest step size η on a halving ladder that satisfies
    f(w⁺) ≤ f(w) + gᵀΔ + |Δ|²/(2η) and decreases F: a descent step whatever the curvature.
    Returns the new point and whether a step was found."""
    X, sign, lam, fit_intercept = problem.X, problem.sign, problem.lam, problem.fit_intercept
    w, b = at.w, at.b
    f0, g, gb = local.loss.mean(1), local.g, local.gb
    R, m, _ = X.shape
    curvature_bound = (X * X).sum(1).amax(1) / (4 * m) + (0.25 if fit_intercept else 0.0)
    eta = (4.0 / curvature_bound)[:, None] * STEPS[None, :]            # (R, T)
    raw = w[:, None, :] - eta[..., None] * g[:, None, :]
    W_t = torch.sign(raw) * (raw.abs() - eta[..., None] * lam[:, None, None]).clamp(min=0)
    b_t = b[:, None] - eta * gb[:, None] if fit_intercept else b[:, None].expand(R, eta.shape[1])
    Z_t = torch.bmm(X, W_t.transpose(1, 2)) + b_t[:, None, :]
    f_t = softplus(-sign[:, :, None] * Z_t).mean(1)
    dW, db = W_t - w[:, None, :], b_t - b[:, None]
    bound = f0[:, None] + (dW * g[:, None, :]).sum(2) + db * gb[:, None] + ((dW * dW).sum(2) + db * db) / (2 * eta)
    F_t = f_t + lam[:, None] * W_t.abs().sum(2)
    F0 = f0 + lam * w.abs().sum(1)
    ok = (f_t <= bound + slack(f0)[:, None]) & (F_t < F0[:, None])
    first, found = first_true(ok)
    r = torch.arange(R)
    return Iterate(W_t[r, first], b_t[r, first], Z_t[r, :, first]), found
