"""``spindly``: Warmuth, Kotłowski & Amid's (ALT 2021, arXiv 2010.08625) spindly two-layer
linear network, trained by gradient descent with the number of steps chosen on the hold-out.

The network: each input reaches the output through its own chain of two weights,

    f(x) = Σᵢ uᵢ vᵢ xᵢ = x·w,   w = u ⊙ v,

trained on the first 70 % of each trial's examples (X (m', n), target t: the real y, or
2y − 1 for classification) by full-batch gradient descent on the square loss

    L(u, v) = (1/(2m')) ‖X(u ⊙ v) − t‖²,   g = ∇_w L = Xᵀ(Xw − t)/m',
    u ← u − η v ⊙ g,   v ← v − η u ⊙ g      (simultaneous),

from the small equal initialisation uᵢ = vᵢ = α. The hold-out metric (square loss, or 0/1
error of 1{score > 0}) is evaluated along the path at log-spaced checkpoints — step 0 and
round(10^(j/c)) for j = 0, 1, … (c = ``checkpoints_per_decade``) up to ``max_steps`` — and
the reported model is the network at the best checkpoint (ties to fewer steps: a
checkpoint replaces the best so far only if it is lower by more than ``TIE_RTOL`` relative).

Choices, and why (the search tool gave us the paper's abstract, not its body; the
network's analysis is Amid & Warmuth's, COLT 2020 "Winnowing with gradient descent" and
NeurIPS 2020 "Reparameterizing mirror descent as gradient descent"):

* **Equal initialisation keeps u = v** (both get the same update), so w = u² ≥ 0 and
  w ← w ⊙ (1 − ηg)²: gradient descent on the spindly network *is* the reparameterised
  unnormalised exponentiated-gradient update EGU (w ← w ⊙ exp(−2ηg) to first order), a
  multiplicative update. Its weights stay non-negative: it learns the Hadamard target
  (one feature, w* = e_c) and any target with w* ≥ 0, and approaches others only as far as
  non-negative weights allow.
* **α = n^(−1/2)** by default (w₀ = 1/n per coordinate, total mass 1): the unnormalised
  relative entropy from w₀ = α²·1 to a unit target e_c is log(1/α²) + nα² − 1, smallest
  (= log n) at α² = 1/n. That is the "log d" of "about log(d)/k": EGU's loss bound over
  k examples is of order D(w*‖w₀)/(ηk) for targets with ‖w*‖₁ ≤ 1 and inputs with
  ‖x‖∞ ≤ 1 (online-to-batch), i.e. about log(d)/k, constants depending on η.
* **η = lr / maxᵢ Aᵢᵢ** with Aᵢᵢ = (1/m')Σⱼ xⱼᵢ² (per trial) and lr = 0.5 by default.
  Near a solution the (uᵢ, vᵢ) block of the Hessian of L has the eigenvalue 2Aᵢᵢ|w*ᵢ|, so GD is stable
  while lr·|w*ᵢ| < 1; at lr = 0.5 the Hadamard target's coordinate (Aᵢᵢ = 1, w* = 1) settles
  in a handful of steps and targets with |w*ᵢ| < 2 are stable. Larger targets can diverge:
  such a trial (non-finite training loss) gets status ``diverged``, NaN coefficients and
  NaN steps, and the others go on.
* **Full-batch GD with early stopping** (the study's protocol) rather than the online GD of
  the loss bound: the hold-out picks the number of steps as Ng's protocol picks λ.

``selected``: ``steps`` and ``steps_at_edge`` (the choice is step 0 or the last checkpoint).
``extra``: ``train_loss`` L at the chosen step, ``mass`` Σᵢ wᵢ there.
"""

from __future__ import annotations

import math

import torch

from learners.logistic.numerics import matvec, rmatvec
from learners.logistic.validation import positive_float, positive_int
from learners.sample.base import (
    BatchFit,
    SampleLearner,
    holdout_metric,
    regression_target,
    statuses,
    tie_tolerance,
)


#: weights below this magnitude are set to 0: their products are then either 0 or normal
#: doubles (≥ 2^-1000), never subnormal — subnormal arithmetic is ~100× slower on x86, and
#: chains decaying geometrically towards 0 reach it within a few hundred steps
_FLUSH = 2.0 ** -500


def _flush(weights: torch.Tensor) -> torch.Tensor:
    return weights.masked_fill_(weights.abs() < _FLUSH, 0.0)


class Spindly(SampleLearner):
    name = "spindly"
    tasks = frozenset({"classification", "regression"})
    description = ("spindly two-layer linear net f(x) = Σ uᵢvᵢxᵢ, GD on the square loss from uᵢ = vᵢ = α, "
                   "steps by the 70/30 hold-out (not rotation invariant)")

    def __init__(self, *, lr: float = 0.5, init_scale: float | None = None, max_steps: int = 1000,
                 checkpoints_per_decade: int = 8, holdout: float = 0.3):
        super().__init__(holdout=holdout)
        self.lr = positive_float("lr", lr)
        self.init_scale = None if init_scale is None else positive_float("init_scale", init_scale)
        self.max_steps = positive_int("max_steps", max_steps)
        self.checkpoints_per_decade = positive_int("checkpoints_per_decade", checkpoints_per_decade)

    def checkpoints(self) -> list[int]:
        """Steps at which the hold-out metric is evaluated: 0, then log-spaced up to ``max_steps``."""
        decades = math.log10(self.max_steps)
        count = math.floor(decades * self.checkpoints_per_decade + 1e-9)
        steps = {0, self.max_steps} | {round(10 ** (j / self.checkpoints_per_decade)) for j in range(count + 1)}
        return sorted(s for s in steps if s <= self.max_steps)

    def _fit(self, X: torch.Tensor, y: torch.Tensor, task: str, seed: int) -> BatchFit:
        X_fit, y_fit, X_hold, y_hold = self.split(X, y)
        t = regression_target(y_fit, task)
        T, m, n = X_fit.shape
        alpha = n ** -0.5 if self.init_scale is None else self.init_scale
        eta = self.lr / (X_fit * X_fit).mean(1).amax(1).clamp(min=torch.finfo(X.dtype).tiny)   # (T,)
        u = torch.full((T, n), alpha, dtype=X.dtype)
        v = u.clone()
        checkpoints = self.checkpoints()
        best_metric = torch.full((T,), math.inf, dtype=X.dtype)
        best_index = torch.zeros(T, dtype=torch.int64)
        best_w = torch.zeros(T, n, dtype=X.dtype)
        best_loss = torch.full((T,), math.nan, dtype=X.dtype)
        diverged = torch.zeros(T, dtype=torch.bool)
        live = torch.arange(T)
        Xl, tl, etal = X_fit, t, eta
        step = 0
        for index, checkpoint in enumerate(checkpoints):
            while step < checkpoint and live.numel():
                w = u[live] * v[live]
                residual = matvec(Xl, w) - tl
                finite = torch.isfinite(residual).all(1)
                if not bool(finite.all()):  # drop the diverged trials; the others go on
                    diverged[live[~finite]] = True
                    live, Xl, tl, etal = live[finite], Xl[finite], tl[finite], etal[finite]
                    w, residual = w[finite], residual[finite]
                g = rmatvec(Xl, residual) / m
                ul, vl = u[live], v[live]
                u[live], v[live] = _flush(ul - etal[:, None] * vl * g), _flush(vl - etal[:, None] * ul * g)
                step += 1
            if live.numel() == 0:
                break
            w = u[live] * v[live]
            finite = torch.isfinite(w).all(1)
            metric = holdout_metric(matvec(X_hold[live], w)[:, :, None], y_hold[live], task)[:, 0]
            best_so_far = best_metric[live]
            # ties (within TIE_RTOL) keep fewer steps
            threshold = torch.where(torch.isfinite(best_so_far), best_so_far - tie_tolerance(best_so_far), best_so_far)
            better = finite & (metric < threshold)
            rows = live[better]
            best_metric[rows], best_index[rows], best_w[rows] = metric[better], index, w[better]
            best_loss[rows] = 0.5 * ((matvec(Xl[better], w[better]) - tl[better]) ** 2).mean(1)
        ok = ~diverged
        steps = torch.tensor(checkpoints, dtype=X.dtype)[best_index]
        at_edge = (best_index == 0) | (best_index == len(checkpoints) - 1)
        coef = torch.where(ok[:, None], best_w, torch.full_like(best_w, math.nan))
        return BatchFit(
            coef=coef, intercept=torch.zeros(T, dtype=X.dtype),
            selected={"steps": torch.where(ok, steps, math.nan).numpy().copy(),
                      "steps_at_edge": (at_edge & ok).numpy().copy()},
            status=statuses(ok),
            extra={"train_loss": torch.where(ok, best_loss, math.nan).numpy().copy(),
                   "mass": torch.where(ok, best_w.sum(1), math.nan).numpy().copy()},
        )
