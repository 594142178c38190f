"""Automatic Gradient Descent (Bernstein, Mingard, Huang, Azizan & Yue 2023, arXiv 2304.05187).

For an L-layer MLP with weight matrices W_k of shape d_k x d_{k-1}:

    s_k   = sqrt(d_k / d_{k-1})                       (the initial singular value)
    init  : W_k = s_k * (Haar-random semi-orthogonal)  (``agd_init_``)
    G     = (1/L) sum_k s_k ||grad_k||_F               (gradient summary)
    eta   = log((1 + sqrt(1 + 4G)) / 2)                (minimises -eta*G + (e^eta - 1)^2 / 2)
    W_k  <- W_k - gain * (eta/L) * s_k * grad_k / ||grad_k||_F

so every layer moves by the same relative amount: ||dW_k||_F = gain * eta * s_k / L.
A layer whose gradient is zero does not move (the reference code would divide by zero).

Convolution kernels (d_k, d_{k-1}, kx, ky) follow the reference code: every
spatial slice W[:, :, x, y] is a matrix of its own with s = sqrt(d_k/d_{k-1}) /
sqrt(kx*ky), normalised separately, and G sums over the slices.

Biases (the paper's networks have none).  Rule chosen here: a dense layer
x -> W x + b is the bias-free layer [W b] acting on [x; 1], so the bias is one
more column of the layer's matrix.  Hence s_k = sqrt(d_k / (d_{k-1} + 1)),
||grad_k||_F^2 = ||grad_W||_F^2 + ||grad_b||^2, weight and bias move together
along the normalised augmented gradient, and ``agd_init_`` makes [W b]
semi-orthogonal.  This keeps every statement above exact for the augmented
matrix and keeps AGD's rotation equivariance (rotating x rotates only W's
columns).  Bias-free layers give the paper's algorithm unchanged.  Conv
kernels with biases are not supported.

Variants (the seed's, science.md section 4):

* ``momentum=beta`` (``agd-momentum``): AGD applied to the bias-corrected
  momentum average m_t = beta*m_{t-1} + (1-beta)*grad_t, m_hat = m_t/(1-beta^t),
  in place of the raw gradient -- in G (hence eta) and in the direction.  The
  bias correction makes the first step AGD's.
* ``layerwise=True`` (``agd-layerwise``): layer k's step divided by k
  (k = 1 the input layer); G and eta unchanged.

Batched parameters (``p.batch_dims``): the leading dims index independent
networks; G and eta are per-member tensors and member k moves exactly as
network k would alone.  ``last_step_size`` holds the latest eta.

Param groups: one group per layer ({"params": [weight] or [weight, bias]}),
input layer first; a flat parameter list is grouped by ``optimizers.layers``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.optim import Optimizer

from optimizers.closure import closure_loss
from optimizers.layers import (
    batch_dims,
    is_matrix,
    layer_groups,
    layer_param_groups,
    member_shape,
    to_member_shape,
)


def _parts(group: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(weight, bias or None) of a one-layer param group, validated."""
    params = group["params"]
    weights = [p for p in params if is_matrix(p)]
    others = [p for p in params if not is_matrix(p)]
    if len(weights) != 1 or len(others) > 1:
        shapes = [tuple(p.shape) for p in params]
        raise ValueError(f"AGD needs each layer to be one weight matrix and at most one bias; got shapes {shapes}")
    weight, bias = weights[0], (others[0] if others else None)
    if bias is not None:
        bd = batch_dims(weight)
        if weight.dim() - bd != 2:
            raise ValueError(
                f"AGD supports biases on dense layers only; got a {tuple(weight.shape)} kernel with a bias"
            )
        if batch_dims(bias) != bd or bias.shape != weight.shape[: bd + 1]:
            raise ValueError(f"bias of shape {tuple(bias.shape)} does not match weight {tuple(weight.shape)}")
    return weight, bias


def layer_scale(weight: torch.Tensor, bias: torch.Tensor | None = None) -> float:
    """s_k: sqrt(d_out / d_in), with d_in + 1 for a bias and / sqrt(kx*ky) per conv slice."""
    bd = batch_dims(weight)
    d_out, d_in = weight.shape[bd], weight.shape[bd + 1]
    kernel = math.prod(weight.shape[bd + 2 :])
    return math.sqrt(d_out / (d_in + (bias is not None))) / math.sqrt(kernel)


def agd_step_size(summary: torch.Tensor) -> torch.Tensor:
    """eta = log((1 + sqrt(1 + 4G)) / 2), written as log1p(2G / (1 + sqrt(1 + 4G))) to stay exact for small G."""
    return torch.log1p(2 * summary / (1 + torch.sqrt(1 + 4 * summary)))


def _slice_norms(d_weight: torch.Tensor, d_bias: torch.Tensor | None, bd: int) -> torch.Tensor:
    """Frobenius norm of each (augmented) matrix slice, shape (*batch, 1, 1, *kernel)."""
    sq = d_weight.square().sum(dim=(bd, bd + 1), keepdim=True)
    if d_bias is not None:
        sq = sq + d_bias.square().sum(dim=bd, keepdim=True).unsqueeze(-1)
    return sq.sqrt()


def haar_semi_orthogonal(count: int, rows: int, cols: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` independent Haar-distributed matrices with orthonormal rows or columns (float64)."""
    z = torch.randn(count, max(rows, cols), min(rows, cols), generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(z)
    signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    signs = torch.where(signs == 0, 1.0, signs)
    q = q * signs.unsqueeze(-2)  # moving R's signs into Q makes Q Haar (Mezzadri 2007), not QR-biased
    return q if rows >= cols else q.mT


@torch.no_grad()
def agd_init_(model_or_params, generator: torch.Generator | int) -> None:
    """AGD's initialisation, in place: every layer matrix (augmented by its bias) = s_k * semi-orthogonal.

    ``generator`` is a ``torch.Generator`` or an int seed; each member of a
    batched parameter and each conv slice gets its own Haar draw.
    """
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or an int seed, got {type(generator).__name__}")
    for layer in layer_groups(model_or_params):
        weight, bias = _parts({"params": layer})
        bd = batch_dims(weight)
        d_out, d_in = weight.shape[bd], weight.shape[bd + 1]
        members, kernel = weight.shape[:bd], weight.shape[bd + 2 :]
        cols = d_in + (bias is not None)
        scale = layer_scale(weight, bias)
        draws = scale * haar_semi_orthogonal(members.numel() * kernel.numel(), d_out, cols, generator)
        draws = draws.reshape(*members, *kernel, d_out, cols)
        weight.copy_(draws[..., :d_in].movedim((-2, -1), (bd, bd + 1)))
        if bias is not None:
            bias.copy_(draws[..., d_in])


class AGD(Optimizer):
    """Automatic Gradient Descent; see the module docstring for the maths."""

    def __init__(self, params, gain: float = 1.0, momentum: float = 0.0, layerwise: bool = False):
        if not gain > 0:
            raise ValueError(f"gain must be > 0, got {gain}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        groups = layer_param_groups(params)
        super().__init__(groups, dict(gain=gain, momentum=momentum, layerwise=layerwise))
        parts = [_parts(group) for group in self.param_groups]
        member_shape([p for group in self.param_groups for p in group["params"]])
        if len({batch_dims(w) for w, _ in parts}) > 1:
            raise ValueError("all layers of an AGD optimizer must have the same batch_dims")
        self.last_step_size: torch.Tensor | None = None

    def _direction(self, group: dict, p: torch.Tensor) -> torch.Tensor:
        """What replaces the raw gradient of ``p``: the gradient, or its momentum average."""
        grad = p.grad if p.grad is not None else torch.zeros_like(p)
        beta = group["momentum"]
        if beta == 0:
            return grad
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["momentum_buffer"] = torch.zeros_like(p)
        state["step"] += 1
        state["momentum_buffer"].lerp_(grad, 1 - beta)
        return state["momentum_buffer"] / (1 - beta ** state["step"])

    def _step_size(self, summary: torch.Tensor, unit_sq: torch.Tensor, depth: int) -> torch.Tensor:
        """eta minimising the majorant -eta*G + (e^eta - 1)^2 / 2 (per member)."""
        return agd_step_size(summary)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        loss = closure_loss(closure)
        depth = len(self.param_groups)
        layers = []
        summary = unit_sq = 0.0
        for group in self.param_groups:
            weight, bias = _parts(group)
            bd = batch_dims(weight)
            d_weight = self._direction(group, weight)
            d_bias = self._direction(group, bias) if bias is not None else None
            norms = _slice_norms(d_weight, d_bias, bd)
            scale = layer_scale(weight, bias)
            slice_dims = tuple(range(bd, norms.dim()))
            summary = summary + scale * norms.sum(dim=slice_dims)
            # ||dW_k||_F^2 per unit of (eta/L): s_k^2 per slice that moves (used by agd-l2)
            unit_sq = unit_sq + scale**2 * (norms > 0).sum(dim=slice_dims).to(norms.dtype)
            layers.append((group, weight, bias, d_weight, d_bias, norms, scale))
        summary = summary / depth
        eta = self._step_size(summary, unit_sq, depth)
        for index, (group, weight, bias, d_weight, d_bias, norms, scale) in enumerate(layers, start=1):
            bd = batch_dims(weight)
            rate = group["gain"] * scale / depth / (index if group["layerwise"] else 1)
            # zero-norm slices get zero factor instead of 0/0
            factor = torch.where(norms > 0, rate / norms.clamp_min(torch.finfo(norms.dtype).tiny), 0.0)
            factor = factor * to_member_shape(eta, factor)
            weight.sub_(factor * d_weight)
            if bias is not None:
                bias.sub_(factor.squeeze(-1) * d_bias)
        self.last_step_size = eta
        return loss
