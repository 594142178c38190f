"""One-line argument checks shared by the neural learners."""

from __future__ import annotations

import numbers

import torch

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def positive_int(name: str, value) -> int:
    """``value`` as an int if it is a positive integer, else a one-line error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def seed_int(name: str, value) -> int:
    """``value`` as an int if it is a non-negative integer seed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer seed, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer seed, got {value!r}")
    return int(value)


def fraction(name: str, value) -> float:
    """``value`` as a float strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a fraction strictly between 0 and 1, got {value!r}")
    return float(value)


def resolve_dtype(dtype) -> torch.dtype:
    """A floating torch dtype from ``torch.float32``/``torch.float64`` or their names."""
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    if dtype in DTYPES.values():
        return dtype
    raise ValueError(f"dtype must be one of {', '.join(DTYPES)} (or the torch dtype), got {dtype!r}")


def choice(name: str, value, accepted) -> str:
    """``value`` if it is one of ``accepted``, else a one-line ValueError listing them."""
    if value not in accepted:
        raise ValueError(f"unknown {name} {value!r}; accepted: {', '.join(accepted)}")
    return value
