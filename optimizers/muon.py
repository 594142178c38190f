"""Muon: MomentUm Orthogonalized by Newton-Schulz (Keller Jordan 2024, kellerjordan.github.io/posts/muon).

For each weight matrix W with gradient g (conv kernels viewed as d_out x rest):

    B <- beta*B + (1 - beta)*g                        (momentum buffer)
    U  = (1 - beta)*g + beta*B  if nesterov else B
    O  = NS5(U) ~ polar factor of U (U = P S Q^T  ->  O ~ P Q^T)
    W <- (1 - lr*wd)*W - lr * sqrt(max(1, d_out/d_in)) * O

NS5 is the quintic Newton-Schulz iteration X <- a X + (b A + c A^2) X, A = X X^T,
(a, b, c) = (3.4445, -4.7750, 2.0315), started from U / (||U||_F + 1e-7), on the
wide orientation.  These coefficients trade exact convergence for speed: the
singular values land near 1 (roughly in [0.7, 1.2]), not exactly on it.  Odd
matrix polynomials commute with rotations, NS5(P U Q^T) = P NS5(U) Q^T, so a
Muon-trained first layer keeps rotation equivariance.  We run the iteration in
the parameter's dtype (the reference uses bfloat16 on GPU), and batched
parameters (``p.batch_dims``) are orthogonalised per member by batched matmul.

Which parameters: biases and other non-matrix parameters always go to AdamW.
Keller Jordan's guidance for language models also gives the input embedding and
the output head to AdamW; here the first layer of an MLP is a dense matrix, and
giving it to Muon keeps the rotation equivariance that science.md section 1
relies on, so by default every weight matrix uses Muon.  ``first_layer`` and
``last_layer`` ("muon" or "adamw") hand those layers (weight and bias) to AdamW.
"First" and "last" are the first and last layers this optimizer is given.

(``torch.optim.Muon`` exists but accepts 2-D parameters only, so it cannot
take batched (K, d_out, d_in) weights; the core is therefore written here.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim import Optimizer

from optimizers.closure import closure_loss
from optimizers.composite import CompositeOptimizer
from optimizers.layers import batch_dims, is_matrix, layer_param_groups

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz5(update: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Approximate polar factor of each matrix in the last two dims of ``update``."""
    a, b, c = NS_COEFFICIENTS
    tall = update.size(-2) > update.size(-1)
    x = update.mT if tall else update  # iterate on the wide side: X X^T is the small Gram matrix
    x = x / (torch.linalg.matrix_norm(x, keepdim=True) + eps)  # spectral norm <= Frobenius norm <= 1
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.mT if tall else x


class MuonMatrices(Optimizer):
    """The Muon update for weight matrices only (one param group per layer)."""

    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True,
                 ns_steps: int = 5, weight_decay: float = 0.0):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if not (isinstance(ns_steps, int) and ns_steps >= 1):
            raise ValueError(f"ns_steps must be a positive int, got {ns_steps!r}")
        groups = layer_param_groups(params)
        for group in groups:
            for p in group["params"]:
                if not is_matrix(p):
                    raise ValueError(f"Muon updates weight matrices only; got a parameter of shape {tuple(p.shape)}")
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps, weight_decay=weight_decay)
        super().__init__(groups, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            beta = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buffer = state["momentum_buffer"].lerp_(p.grad, 1 - beta)
                update = p.grad.lerp(buffer, beta) if group["nesterov"] else buffer
                matrices = update.reshape(*p.shape[: batch_dims(p) + 1], -1)  # conv: d_out x (d_in*kx*ky)
                ortho = newton_schulz5(matrices, steps=group["ns_steps"])
                ortho = ortho * max(1.0, matrices.size(-2) / matrices.size(-1)) ** 0.5
                p.mul_(1 - group["lr"] * group["weight_decay"]).sub_(ortho.reshape(p.shape), alpha=group["lr"])
        return loss


_PLACES = ("muon", "adamw")


class Muon(CompositeOptimizer):
    """Muon for weight matrices, torch.optim.AdamW for biases and the layers given to it."""

    def __init__(
        self,
        params,
        lr: float = 0.02,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_steps: int = 5,
        weight_decay: float = 0.0,
        adamw_lr: float = 1e-3,
        adamw_betas: tuple[float, float] = (0.9, 0.95),
        adamw_eps: float = 1e-10,
        adamw_weight_decay: float = 0.0,
        first_layer: str = "muon",
        last_layer: str = "muon",
    ):
        for name, value in (("first_layer", first_layer), ("last_layer", last_layer)):
            if value not in _PLACES:
                raise ValueError(f"{name} must be one of {_PLACES}, got {value!r}")
        groups = layer_param_groups(params)
        matrix_groups, adamw_params = [], []
        for k, group in enumerate(groups):
            to_adamw = (k == 0 and first_layer == "adamw") or (k == len(groups) - 1 and last_layer == "adamw")
            matrices = [p for p in group["params"] if is_matrix(p) and not to_adamw]
            adamw_params += [p for p in group["params"] if not is_matrix(p) or to_adamw]
            if matrices:
                matrix_groups.append(dict(group, params=matrices))
        children = []
        if matrix_groups:
            children.append(MuonMatrices(matrix_groups, lr=lr, momentum=momentum, nesterov=nesterov,
                                         ns_steps=ns_steps, weight_decay=weight_decay))
        if adamw_params:
            children.append(torch.optim.AdamW(adamw_params, lr=adamw_lr, betas=adamw_betas, eps=adamw_eps,
                                              weight_decay=adamw_weight_decay))
        super().__init__(children)
