"""signSGD and Signum (Bernstein, Wang, Azizzadenesheli & Anandkumar 2018, arXiv 1802.04434).

    momentum = 0 (signSGD, Alg. 1):  x <- x - lr * sign(g)
    momentum = beta (Signum, Alg. 3): m <- beta*m + (1 - beta)*g ;  x <- x - lr * sign(m)

Element-wise, so batched parameters need nothing special.  sign(0) = 0: a
coordinate with zero gradient (or momentum) does not move.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import Optimizer

from optimizers.closure import closure_loss
from optimizers.layers import layer_param_groups


class SignSGD(Optimizer):
    """Steps every coordinate by lr against the sign of its gradient (or momentum)."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(layer_param_groups(params), dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                direction = p.grad
                if group["momentum"] > 0:
                    state = self.state[p]
                    if not state:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    direction = state["momentum_buffer"].lerp_(p.grad, 1 - group["momentum"])
                p.add_(torch.sign(direction), alpha=-group["lr"])
        return loss
