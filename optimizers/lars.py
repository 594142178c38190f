"""LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017, arXiv 1708.03888, Alg. 1).

For each parameter tensor w (a layer's weight, or its bias) with gradient g:

    trust = eta * ||w|| / (||g|| + beta*||w||)     (eta: trust coefficient, beta: weight decay)
    v    <- m*v + lr * trust * (g + beta*w)
    w    <- w - v

When ||w|| = 0 or the denominator is 0 the trust ratio is 1 (otherwise a
zero-initialised bias could never move).  Norms are per member for batched
parameters (``p.batch_dims``), so each network gets its own trust ratio.
The trust ratio is rotation invariant, so LARS keeps SGD's rotation
equivariance.  Defaults: trust coefficient 0.001 as in the paper, lr 1
(the paper's global rates are of order 1-10), momentum 0.9.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import Optimizer

from optimizers.closure import closure_loss
from optimizers.layers import batch_dims, layer_param_groups, member_norm


def trust_ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator, or 1 where either is zero (LARS/LAMB convention)."""
    ok = (numerator > 0) & (denominator > 0)
    return torch.where(ok, numerator / torch.where(ok, denominator, 1.0), 1.0)


class LARS(Optimizer):
    """Momentum SGD whose per-tensor step is scaled by ||w|| / ||g||."""

    def __init__(
        self,
        params,
        lr: float = 1.0,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 1e-3,
    ):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if not weight_decay >= 0 or not trust_coefficient > 0:
            raise ValueError(
                f"need weight_decay >= 0 and trust_coefficient > 0, got {weight_decay}, {trust_coefficient}"
            )
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, trust_coefficient=trust_coefficient)
        super().__init__(layer_param_groups(params), defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            decay = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                bd = batch_dims(p)
                w_norm, g_norm = member_norm(p, bd), member_norm(p.grad, bd)
                trust = group["trust_coefficient"] * trust_ratio(w_norm, g_norm + decay * w_norm)
                update = group["lr"] * trust * (p.grad + decay * p)
                state = self.state[p]
                if not state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                velocity = state["momentum_buffer"].mul_(group["momentum"]).add_(update)
                p.sub_(velocity)
        return loss
