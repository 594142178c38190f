"""LAMB (You et al. 2019, arXiv 1904.00962, Algorithm 2), with phi the identity.

For each parameter tensor x (a layer's weight, or its bias) with gradient g, step t:

    m <- beta1*m + (1 - beta1)*g ;  v <- beta2*v + (1 - beta2)*g^2
    r  = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
    u  = r + lam*x
    x <- x - lr * (||x|| / ||u||) * u

The trust ratio ||x|| / ||u|| is 1 where either norm is zero.  Norms are per
member for batched parameters (``p.batch_dims``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import Optimizer

from optimizers.closure import closure_loss
from optimizers.lars import trust_ratio
from optimizers.layers import batch_dims, layer_param_groups, member_norm


class LAMB(Optimizer):
    """Adam's direction rescaled per tensor to the tensor's norm."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.01,
    ):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
        if not eps >= 0 or not weight_decay >= 0:
            raise ValueError(f"need eps >= 0 and weight_decay >= 0, got {eps}, {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(layer_param_groups(params), defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m = state["exp_avg"].lerp_(p.grad, 1 - beta1)
                v = state["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                r = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + group["eps"])
                u = r + group["weight_decay"] * p
                bd = batch_dims(p)
                p.sub_(group["lr"] * trust_ratio(member_norm(p, bd), member_norm(u, bd)) * u)
        return loss
