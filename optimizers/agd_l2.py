"""AGD for an L2-regularised loss (the seed's variant; derivation in docs/agd_l2.md).

Loss L(w) = Lhat(w) + lam * R(w), R = (1/2) sum_k ||W_k||_F^2 (a layer's bias is
a column of its augmented matrix, see ``optimizers.agd``, so it is regularised
too).  Same update form as AGD, along the gradient of the regularised loss:

    grad_k  = grad_k Lhat + lam * W_k
    G       = (1/L) sum_k s_k ||grad_k||_F
    dtilde  = (1/L) sum_k s_k^2 = (1/L) sum_k d_k / d_{k-1}
    eta     = argmin_eta  M(eta) = -eta*G + (e^eta - 1)^2 / 2 + lam*dtilde*eta^2 / (2L)
            = the root of  M'(eta) = -G + (e^eta - 1) e^eta + (lam*dtilde/L) eta = 0
    W_k    <- W_k - gain * (eta/L) * s_k * grad_k / ||grad_k||_F

The regulariser term of M is exact: R is quadratic, so R(w + dw) = R(w) +
<grad R, dw> + (1/2) sum_k ||dW_k||_F^2 with ||dW_k||_F = (eta/L) s_k.  (A
layer or conv slice with zero gradient does not move and drops out of dtilde.)

M' is increasing and convex on eta >= 0, M'(0) = -G <= 0 and M'(eta_AGD) =
(lam*dtilde/L) eta_AGD >= 0, so the root is unique and lies in [0, eta_AGD];
Newton's method started at eta_AGD decreases monotonically onto it.  At lam = 0
it is AGD's eta.  Solved per member for batched parameters, in float64.
"""

from __future__ import annotations

import torch

from optimizers.agd import AGD, agd_step_size

_MAX_NEWTON_STEPS = 100


def regularised_step_size(summary: torch.Tensor, reg: torch.Tensor | float) -> torch.Tensor:
    """Root of -G + (e^eta - 1) e^eta + reg * eta = 0 for eta >= 0 (reg = lam*dtilde/L >= 0), elementwise."""
    g = torch.as_tensor(summary, dtype=torch.float64)
    c = torch.as_tensor(reg, dtype=torch.float64)
    eta = agd_step_size(g)  # the root at c = 0: an upper bound
    for _ in range(_MAX_NEWTON_STEPS):
        e = torch.exp(eta)
        value = torch.expm1(eta) * e + c * eta - g  # expm1: no cancellation for small eta
        slope = 2 * e * e - e + c
        proposal = eta - value / slope
        # monotone decrease in exact arithmetic: stop once rounding stalls it
        moved = proposal < eta
        if not bool(moved.any()):
            break
        eta = torch.where(moved, proposal, eta)
    return eta.clamp_min(0.0)


class AGDL2(AGD):
    """AGD on Lhat + (weight_decay/2) * sum ||W_k||_F^2; see the module docstring."""

    def __init__(self, params, weight_decay: float = 1e-3, gain: float = 1.0):
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        super().__init__(params, gain=gain)
        self.weight_decay = weight_decay  # one lambda: the step size is shared by all layers

    def _direction(self, group: dict, p: torch.Tensor) -> torch.Tensor:
        grad = super()._direction(group, p)
        return grad + self.weight_decay * p

    def _step_size(self, summary: torch.Tensor, unit_sq: torch.Tensor, depth: int) -> torch.Tensor:
        dtilde = torch.as_tensor(unit_sq, dtype=torch.float64) / depth
        eta = regularised_step_size(summary, self.weight_decay * dtilde / depth)
        return eta.to(torch.as_tensor(summary).dtype)
