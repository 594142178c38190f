"""Checks of the public functions' inputs: one-line ValueErrors that name what is accepted."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from learners.logistic.numerics import DTYPE


def as_batch(X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """X (B, m, n) or (m, n) and y (B, m) or (m,) in {0, 1} as contiguous float64 tensors with a batch axis."""
    Xt = to_tensor(X, "X")
    yt = to_tensor(y, "y")
    if Xt.ndim == 2:
        Xt = Xt[None]
        if yt.ndim == 1:
            yt = yt[None]
    if Xt.ndim != 3 or yt.ndim != 2 or yt.shape != Xt.shape[:2]:
        raise ValueError(f"X must be (B, m, n) or (m, n) and y (B, m) or (m,) to match; got X {tuple(Xt.shape)}, "
                         f"y {tuple(yt.shape)}")
    if Xt.shape[1] < 1 or Xt.shape[2] < 1:
        raise ValueError(f"X must have at least one example and one feature, got shape {tuple(Xt.shape)}")
    if not bool(torch.isfinite(Xt).all()):
        raise ValueError("X must be finite (no NaN or inf)")
    if not bool(((yt == 0) | (yt == 1)).all()):
        raise ValueError("y must contain only the labels 0 and 1")
    return Xt.contiguous(), yt.contiguous()


def to_tensor(a: Any, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to(DTYPE)
    try:
        array = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric numpy array or torch tensor, got {type(a).__name__}") from None
    return torch.as_tensor(array if array.flags.writeable else array.copy())


def check_lambdas(lambdas: Any) -> torch.Tensor:
    lam = torch.as_tensor(np.asarray(lambdas, dtype=np.float64) if not isinstance(lambdas, torch.Tensor) else lambdas,
                          dtype=DTYPE).reshape(-1)
    if lam.numel() == 0 or not bool(torch.isfinite(lam).all()) or bool((lam < 0).any()):
        raise ValueError(f"lambdas must be a non-empty sequence of finite values >= 0, got {lambdas!r}")
    return lam


def check_choice(name: str, value: Any, accepted: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in accepted:
        raise ValueError(f"unknown {name} {value!r}; accepted: {', '.join(accepted)}")
    return value


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def nonnegative_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a fraction strictly between 0 and 1, got {value!r}")
    return float(value)
