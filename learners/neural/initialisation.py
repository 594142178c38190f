"""Seeded weight initialisations for the neural learners.

Every draw comes from a local ``torch.Generator`` in float64 on the CPU and is
then cast, so a seed gives the same network (up to rounding) for every dtype
and device, and global RNG state is never read or advanced.

Schemes, for a weight of fan-in ``n_in`` (``d_in`` for a linear layer,
``C_in·k_h·k_w`` for a convolution, whose kernel is viewed as a
``C_out × n_in`` matrix) and ``d_out`` outputs:

``torch-default``
    PyTorch's ``nn.Linear``/``nn.Conv2d`` default: every weight and bias entry
    uniform on ``[-1/sqrt(n_in), 1/sqrt(n_in)]``. Not rotation invariant.
``gaussian``
    Entries i.i.d. ``N(0, 1/n_in)``, biases zero. ``W M`` has the law of ``W``
    for every orthogonal ``M``, so the initialisation is rotation invariant.
``orthogonal``
    AGD's initialisation (Bernstein et al. 2023): ``W = s · Q`` with ``Q`` a
    Haar-random semi-orthogonal ``d_out × n_in`` matrix and
    ``s = sqrt(d_out / n_in)``, so every singular value of ``W`` is ``s``;
    biases zero. Rotation invariant as well (Haar measure).
"""

from __future__ import annotations

import math

import torch

from learners.neural.validation import choice
from optimizers import agd

INITS = ("torch-default", "gaussian", "orthogonal")


def check_init(init: str) -> str:
    """Return ``init`` if it names a scheme, else raise a one-line ValueError."""
    return choice("init", init, INITS)


def haar_semi_orthogonal(rows: int, cols: int, generator: torch.Generator) -> torch.Tensor:
    """A Haar-distributed ``rows × cols`` matrix with orthonormal rows or columns
    (the optimizers' draw, shared so that AGD and the networks agree bit for bit)."""
    return agd.haar_semi_orthogonal(1, rows, cols, generator)[0]


def draw_weight(shape: tuple[int, ...], init: str, generator: torch.Generator) -> torch.Tensor:
    """A float64 weight of ``shape`` (``(d_out, d_in)`` or ``(C_out, C_in, k_h, k_w)``)."""
    d_out = shape[0]
    fan_in = math.prod(shape[1:])
    if init == "torch-default":
        bound = 1.0 / math.sqrt(fan_in)
        return torch.empty(shape, dtype=torch.float64).uniform_(-bound, bound, generator=generator)
    if init == "gaussian":
        return torch.randn(shape, generator=generator, dtype=torch.float64) / math.sqrt(fan_in)
    if init == "orthogonal":
        scale = math.sqrt(d_out / fan_in)
        return (scale * haar_semi_orthogonal(d_out, fan_in, generator)).reshape(shape)
    raise ValueError(f"unknown init {init!r}; accepted: {', '.join(INITS)}")


def draw_bias(d_out: int, fan_in: int, init: str, generator: torch.Generator) -> torch.Tensor:
    """A float64 bias: uniform for ``torch-default``, zero (no draw) otherwise."""
    if init == "torch-default":
        bound = 1.0 / math.sqrt(fan_in)
        return torch.empty(d_out, dtype=torch.float64).uniform_(-bound, bound, generator=generator)
    return torch.zeros(d_out, dtype=torch.float64)


@torch.no_grad()
def initialise_layers_(layers, init: str, seed: int) -> None:
    """Fill the ``weight`` (and ``bias``, if any) of each layer in order from ``seed``.

    Layers are visited input layer first, weight before bias, so the draws (and
    hence the network) depend only on the architecture, the scheme and the seed.
    """
    check_init(init)
    generator = torch.Generator().manual_seed(int(seed))
    for layer in layers:
        weight = layer.weight
        weight.copy_(draw_weight(tuple(weight.shape), init, generator))
        if layer.bias is not None:
            fan_in = math.prod(weight.shape[1:])
            layer.bias.copy_(draw_bias(weight.shape[0], fan_in, init, generator))
