"""Data families of the ``sample_complexity`` study, by name.

    from studies.families import get, names
    fam = get("ng-one")                  # names(): see FAMILIES below
    fam = get("rotated-ng-one", seed=0)  # any family as rotated-NAME (a fixed Haar rotation per n)
    X, y = fam.sample(n, m, seeds)       # float64 (T, m, n), (T, m); trial t from seeds[t] alone
    fam.risk(n, fit, seed)               # (T,) exact where possible, else fresh points from seed
    fam.bayes_risk(n), fam.describe(n), fam.task, fam.metric

Options are keyword arguments (``get("sparse-parity", k=2)``); each family lists
the ones it accepts in ``options``. One module per kind of family:
:mod:`.ng` (Ng 2004), :mod:`.threshold` (Gaussian threshold), :mod:`.hadamard`
(Warmuth et al. 2021), :mod:`.hypercube` (sparse parity, staircase), :mod:`.rotated`.
"""

from __future__ import annotations

from typing import Any, Callable

from studies.families.base import Family
from studies.families.hadamard import Hadamard
from studies.families.hypercube import SparseParity, SparseParity2, Staircase
from studies.families.ng import NgFamily
from studies.families.rotated import PREFIX, Rotated
from studies.families.threshold import GaussianThreshold

_BUILDERS: dict[str, tuple[Callable[..., Family], tuple[str, ...], str]] = {
    "ng-one": (lambda **o: NgFamily("one", **o), NgFamily.options, "Ng (2004): one relevant feature, logistic labels"),
    "ng-three": (lambda **o: NgFamily("three", **o), NgFamily.options, "Ng (2004): three relevant features"),
    "ng-decay": (lambda **o: NgFamily("decay", **o), NgFamily.options, "Ng (2004): exponentially decaying relevance"),
    "gaussian-threshold": (GaussianThreshold, GaussianThreshold.options, "x ~ N(0, I), y = 1{x1 >= t}, noiseless"),
    "hadamard": (Hadamard, Hadamard.options, "rows of a Hadamard matrix, one column as target, square loss"),
    "sparse-parity": (SparseParity, SparseParity.options, "x uniform on {±1}^n, y = parity of k coordinates"),
    "sparse-parity-2": (SparseParity2, SparseParity2.options,
                        "sparse parity of degree 2 (sparse-parity's degree is an option, 3 in the study)"),
    "staircase": (Staircase, Staircase.options, "x uniform on {±1}^n, y = sign(x1 + x1x2 + ... + x1...xk)"),
}

__all__ = ["Family", "PREFIX", "base_name", "describe", "get", "is_known", "names"]


def names() -> list[str]:
    """The base families (each also exists as ``rotated-NAME``)."""
    return list(_BUILDERS)


def describe() -> dict[str, str]:
    return {name: text for name, (_, _, text) in _BUILDERS.items()}


def base_name(name: str) -> str:
    """NAME of ``rotated-NAME``, else the name itself."""
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def is_known(name: str) -> bool:
    return isinstance(name, str) and base_name(name) in _BUILDERS


def accepted() -> str:
    return f"{', '.join(names())}, or rotated-NAME for any of them"


def get(name: str, seed: int = 0, **options: Any) -> Family:
    """A family by name; ``seed`` seeds the rotation of ``rotated-NAME`` (ignored otherwise)."""
    if not is_known(name):
        raise ValueError(f"unknown family {name!r}; accepted: {accepted()}")
    build, allowed, _ = _BUILDERS[base_name(name)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"family {base_name(name)!r} got unknown options {unknown}; accepted: "
                         f"{', '.join(allowed) or 'none'}")
    family = build(**options)
    return Rotated(family, seed=seed) if name.startswith(PREFIX) else family
