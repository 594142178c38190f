"""Lion, EvoLved Sign Momentum (Chen et al. 2023, arXiv 2302.06675, Program 1).

    c     = beta1*m + (1 - beta1)*g           (interpolation used for the update)
    theta <- theta - lr * (sign(c) + lam*theta)  (decoupled weight decay)
    m     = beta2*m + (1 - beta2)*g           (momentum tracked with beta2)

Element-wise, so batched parameters need nothing special.  The paper's advice:
lr 3-10x smaller than AdamW's, weight decay 3-10x larger.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import Optimizer

from optimizers.closure import closure_loss
from optimizers.layers import layer_param_groups


class Lion(Optimizer):
    """Sign of an interpolated momentum, with decoupled weight decay."""

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        super().__init__(layer_param_groups(params), dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay))

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
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                update = torch.sign(m.lerp(p.grad, 1 - beta1))
                p.mul_(1 - group["lr"] * group["weight_decay"]).sub_(update, alpha=group["lr"])
                m.lerp_(p.grad, 1 - beta2)
        return loss
