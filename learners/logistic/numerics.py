"""Numerical kernels shared by the logistic solvers: the loss and its derivatives, batched
products, Hessians and their Cholesky factors (all float64 unless stated)."""

from __future__ import annotations

import torch

DTYPE = torch.float64
# L2 keeps its Hessians in float32 (half the cost of the products and factorisations): they only
# shape the step, a descent direction for any positive definite matrix, while the gradient, the
# objective and the stopping test stay in float64, so the solution's accuracy is unchanged
HESSIAN_DTYPE = torch.float32


def softplus(z: torch.Tensor) -> torch.Tensor:
    """log(1 + e^z), exact for every z (torch's ``softplus`` returns z above a threshold)."""
    return z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))


def loss_terms(z: torch.Tensor, sign: torch.Tensor):
    """Per-example loss softplus(−ỹz), residual σ(z) − y = −ỹσ(−ỹz) and curvature σ(z)σ(−z)."""
    margin = sign * z
    tail = torch.sigmoid(-margin)
    return softplus(-margin), -sign * tail, tail * torch.sigmoid(margin)


# Batched products are written as row vector × matrix: torch's bmm(X, w[..., None]) takes a
# different kernel for a batch of one, which made a lone trial round differently more often.
def matvec(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(B, m, d) × (B, d) -> (B, m)."""
    return torch.bmm(w[:, None, :], X.transpose(1, 2))[:, 0]


def rmatvec(X: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """(B, m, d)ᵀ × (B, m) -> (B, d)."""
    return torch.bmm(r[:, None, :], X)[:, 0]


def rows_of(t: torch.Tensor, rows: torch.Tensor, total: int) -> torch.Tensor:
    """t[rows], without a copy when rows are all of them."""
    return t if rows.numel() == total else t[rows]


def hessian(X: torch.Tensor, weight: torch.Tensor, fit_intercept: bool) -> torch.Tensor:
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


def robust_solve(H: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve SPD systems H x = rhs by Cholesky (see :func:`cholesky`)."""
    return torch.cholesky_solve(rhs[..., None], cholesky(H))[..., 0]


def cholesky(H: torch.Tensor) -> torch.Tensor:
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
