"""Layers of a network as optimizers see them, and per-member batched maths.

Layer rule (ARCHITECTURE.md "Layer order"): the layers of an ``nn.Module`` are
the modules that own parameters directly, in ``model.modules()`` order (input
layer first for ``nn.Sequential``).  Within one module, and within a flat list
of parameters, every *matrix-shaped* parameter (two or more dimensions after
the batch dimensions) starts a new layer, and a vector parameter joins the
preceding matrix as its bias when its length equals that matrix's ``d_out`` and
the layer has no bias yet; any other vector forms a layer of its own.  So an
``nn.Linear``'s weight and bias form one layer.  Parameters that do not require
a gradient are left out, and a parameter shared by two modules counts once.

Batched parameters carry ``p.batch_dims = 1``: their leading dimension indexes
K independent networks, weight (K, d_out, d_in), bias (K, d_out).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def batch_dims(p: torch.Tensor) -> int:
    """Number of leading dimensions of ``p`` that index independent members."""
    dims = getattr(p, "batch_dims", 0)
    if not isinstance(dims, int) or dims < 0 or dims > p.dim():
        raise ValueError(f"batch_dims must be an int in [0, {p.dim()}] for a {p.dim()}-D parameter, got {dims!r}")
    return dims


def is_matrix(p: torch.Tensor) -> bool:
    """True when ``p`` is a weight matrix (or conv kernel) of each member."""
    return p.dim() - batch_dims(p) >= 2


def _split(params: Iterable[torch.Tensor]) -> list[list[torch.Tensor]]:
    layers: list[list[torch.Tensor]] = []
    current: list[torch.Tensor] | None = None  # open layer that may still take a bias
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"expected parameters (torch.Tensor), got {type(p).__name__}")
        if is_matrix(p):
            current = [p]
            layers.append(current)
        elif (
            current is not None
            and len(current) == 1
            and p.dim() - batch_dims(p) == 1
            and p.shape[-1] == current[0].shape[batch_dims(current[0])]
        ):
            current.append(p)
            current = None
        else:
            layers.append([p])
            current = None
    return layers


def layer_groups(model_or_params) -> list[list[torch.Tensor]]:
    """The layers of a module or of a flat parameter list, input layer first."""
    seen: set[int] = set()

    def fresh(ps):
        out = []
        for p in ps:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        return out

    if isinstance(model_or_params, nn.Module):
        layers = []
        for module in model_or_params.modules():
            layers += _split(fresh(module.parameters(recurse=False)))
        return layers
    if isinstance(model_or_params, torch.Tensor):
        raise TypeError("expected an nn.Module or an iterable of parameters, got a single tensor")
    return _split(fresh(model_or_params))


def layer_param_groups(params) -> list[dict]:
    """Param groups with one group per layer, as our layer-aware optimizers take them.

    ``params`` is an ``nn.Module``, a flat iterable of tensors (grouped by the
    layer rule) or an iterable of dicts (each dict is already one layer).
    """
    if isinstance(params, nn.Module):
        return [{"params": layer} for layer in layer_groups(params)]
    if isinstance(params, torch.Tensor):
        raise TypeError("expected an nn.Module or an iterable of parameters, got a single tensor")
    items = list(params)
    if items and all(isinstance(item, dict) for item in items):
        return [dict(item, params=list(item["params"])) for item in items]
    if any(isinstance(item, dict) for item in items):
        raise TypeError("params mixes dicts and tensors; pass either param groups or tensors")
    return [{"params": layer} for layer in layer_groups(items)]


def member_shape(params: Iterable[torch.Tensor]) -> torch.Size:
    """The common batch shape (leading ``batch_dims`` sizes) of ``params``."""
    shapes = {tuple(p.shape[: batch_dims(p)]) for p in params}
    if len(shapes) > 1:
        raise ValueError(f"parameters disagree on their batch shape (leading batch_dims sizes): {sorted(shapes)}")
    return torch.Size(shapes.pop() if shapes else ())


def member_norm(x: torch.Tensor, bdims: int) -> torch.Tensor:
    """Frobenius norm of each member of ``x``, shaped to broadcast against ``x``."""
    dims = tuple(range(bdims, x.dim()))
    if not dims:
        return x.abs()
    return torch.linalg.vector_norm(x, dim=dims, keepdim=True)


def to_member_shape(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a per-member tensor (batch shape) to broadcast against ``like``."""
    return v.reshape(v.shape + (1,) * (like.dim() - v.dim()))
