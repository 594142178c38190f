"""``ridge``: squared loss with an L2 penalty, λ chosen by the 70/30 hold-out.

Each trial fits, on the first 70 % of its examples (X (m', n), target t: the real y for
regression, 2y − 1 for classification, whose label is then 1{score > 0}),

    w_λ = argmin_w (1/m')‖Xw − t‖² + λ‖w‖²  =  V diag(φ_λ(s)) Uᵀt,   φ_λ(s) = s / (s² + m'λ),

with X = U diag(s) Vᵀ its thin SVD (via a QR factorisation first, see :func:`spectral_factors`):
one factorisation per trial gives the whole grid, and
the hold-out scores of every λ cost one product X_hold V. The grid keeps the λ with the
lowest hold-out metric (square loss, or 0/1 error for classification), ties going to the
larger λ; the reported model is the one fitted on the first 70 %.

The λ → 0 limit is min-norm least squares, w₀ = X⁺t = V diag(1/s) Uᵀt, and the default grid
reaches it exactly: it ends with λ = 0, where φ₀(s) = 1/s. Singular values at or below
max(m', n)·eps·s_max count as zero (φ = 0), the cut-off of ``torch.linalg.pinv``, so that
X⁺ is the pseudo-inverse of the numerically rank-deficient part too. Above it, the default
grid runs from 1e3 down to 1e-6, 4 per decade. ‖w_λ − w₀‖ ≤ (m'λ/s²_min)‖w₀‖, and with
standardised features the nonzero eigenvalues s²/m' lie near n/m' ± 2√(n/m') + 1
(Marchenko–Pastur), so away from n ≈ m' λ = 1e-6 is already min-norm least squares to about
1e-6 relative, and λ = 1e3 is essentially the zero predictor.

``fit_intercept``: an unpenalised intercept, by centring X and t on their first-part means.
Ridge is rotation invariant: data XQ give coefficients Qᵀw and the same predictions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from learners.logistic.validation import check_lambdas
from learners.sample.base import BatchFit, SampleLearner, choose, holdout_metric, regression_target, statuses

#: 1e3 down to 1e-6, 4 per decade, then λ = 0 (min-norm least squares)
DEFAULT_LAMBDAS = tuple(float(10.0 ** (3 - k / 4)) for k in range(37)) + (0.0,)


class Ridge(SampleLearner):
    name = "ridge"
    tasks = frozenset({"classification", "regression"})
    description = ("ridge regression (square loss), λ by the 70/30 hold-out, λ = 0 = min-norm least squares "
                   "(rotation invariant); classification regresses on 2y − 1")

    def __init__(self, *, lambdas: Sequence[float] = DEFAULT_LAMBDAS, holdout: float = 0.3,
                 fit_intercept: bool = False):
        super().__init__(holdout=holdout)
        self.lambdas = [float(v) for v in check_lambdas(lambdas).tolist()]
        if not isinstance(fit_intercept, bool):
            raise ValueError(f"fit_intercept must be true or false, got {fit_intercept!r}")
        self.fit_intercept = fit_intercept

    def _fit(self, X: torch.Tensor, y: torch.Tensor, task: str, seed: int) -> BatchFit:
        X_fit, y_fit, X_hold, y_hold = self.split(X, y)
        t = regression_target(y_fit, task)
        T, m, n = X_fit.shape
        if self.fit_intercept:
            x_mean, t_mean = X_fit.mean(1), t.mean(1)
            X_fit, t = X_fit - x_mean[:, None, :], t - t_mean[:, None]
        lam = torch.tensor(self.lambdas, dtype=X.dtype)
        factors = spectral_factors(X_fit)
        U, s, Vh, kept = factors
        projected = torch.bmm(t[:, None, :], U)[:, 0]                         # Uᵀt (T, r)
        phi = ridge_filter(s, kept, m, lam)                                   # (T, K, r)
        hold_features = torch.bmm(X_hold - x_mean[:, None, :] if self.fit_intercept else X_hold,
                                  Vh.transpose(1, 2))                         # X_hold V (T, p, r)
        scores = torch.bmm(hold_features, (phi * projected[:, None, :]).transpose(1, 2))   # (T, p, K)
        if self.fit_intercept:
            scores = scores + t_mean[:, None, None]
        metric = holdout_metric(scores, y_hold, task)
        chosen, at_edge = choose(metric, torch.argsort(lam, descending=True, stable=True))
        rows = torch.arange(T)
        coef = torch.bmm((phi[rows, chosen] * projected)[:, None, :], Vh)[:, 0]  # V φ Uᵀt (T, n)
        intercept = (t_mean - (x_mean * coef).sum(1)) if self.fit_intercept else torch.zeros(T, dtype=X.dtype)
        return BatchFit(
            coef=coef, intercept=intercept,
            selected={"lam": lam[chosen].numpy().copy(), "lam_at_edge": at_edge.numpy().copy()},
            status=statuses(torch.isfinite(coef).all(1)),
            extra={"rank": kept.sum(1).numpy().copy()},
        )


def spectral_factors(X: torch.Tensor):
    """Thin SVD X = U diag(s) Vh of each trial (T, m, n), and which singular values count as
    nonzero: s > max(m, n)·eps·s_max (``torch.linalg.pinv``'s cut-off).

    Computed as a QR factorisation of the long side first and the SVD of the small square
    factor R (Chan's R-SVD: backward stable like a direct SVD, and about twice as fast for
    Ng's shapes, n ≫ m): X = Rᵀ Qᵀ with Xᵀ = QR when n > m, X = QR otherwise."""
    _, m, n = X.shape
    if n > m:
        Q, R = torch.linalg.qr(X.transpose(1, 2), mode="reduced")        # Xᵀ = QR, Q (T, n, m)
        U, s, Wh = torch.linalg.svd(R.transpose(1, 2))                   # Rᵀ = U s Wh
        Vh = torch.bmm(Wh, Q.transpose(1, 2))                             # X = U s (Wh Qᵀ)
    else:
        Q, R = torch.linalg.qr(X, mode="reduced")                          # X = QR, Q (T, m, n)
        W, s, Vh = torch.linalg.svd(R)
        U = torch.bmm(Q, W)
    cutoff = max(m, n) * torch.finfo(X.dtype).eps * s[:, :1]
    return U, s, Vh, s > cutoff


def ridge_filter(s: torch.Tensor, kept: torch.Tensor, m: int, lam: torch.Tensor) -> torch.Tensor:
    """φ_λ(s) = s/(s² + mλ) for every λ (T, K, r); 1/s at λ = 0; 0 for singular values cut off."""
    safe = torch.where(kept, s, torch.ones_like(s))
    phi = safe[:, None, :] / (safe[:, None, :] ** 2 + m * lam[None, :, None])
    return torch.where(kept[:, None, :], phi, torch.zeros_like(phi))
