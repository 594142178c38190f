"""Adam with per-layer hyperparameters (the seed's "asymmetric" Adam).

Layer k (input layer first, see ``optimizers.layers``) runs Adam with learning
rate ``lrs[k]`` and ``betas[k]``; when a list is shorter than the number of
layers, its last entry covers the remaining layers.  A single number (for
``lrs``) or a single pair (for ``betas``) applies to every layer.  The update
itself is torch.optim.Adam's, one param group per layer; it is element-wise,
so batched parameters need nothing special.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from optimizers.layers import layer_param_groups


def _per_layer(values, count: int, name: str, is_item) -> list:
    items = [values] if is_item(values) else list(values) if isinstance(values, Sequence) else None
    if not items or not all(is_item(v) for v in items):
        raise ValueError(f"{name} must be one value or a non-empty list of values, got {values!r}")
    return [items[min(k, len(items) - 1)] for k in range(count)]


def _is_rate(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _is_betas(v) -> bool:
    return isinstance(v, Sequence) and len(v) == 2 and all(_is_rate(b) or b == 0 for b in v) and all(b < 1 for b in v)


class AdamLayerwise(torch.optim.Adam):
    """torch.optim.Adam with one param group per layer carrying that layer's lr and betas."""

    def __init__(
        self,
        params,
        lrs: float | Sequence[float] = (1e-3,),
        betas: Sequence[float] | Sequence[Sequence[float]] = ((0.9, 0.999),),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ):
        groups = layer_param_groups(params)
        layer_lrs = _per_layer(lrs, len(groups), "lrs", _is_rate)
        layer_betas = _per_layer(betas, len(groups), "betas", _is_betas)
        for group, lr, beta in zip(groups, layer_lrs, layer_betas):
            group.update(lr=float(lr), betas=tuple(float(b) for b in beta))
        super().__init__(groups, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
