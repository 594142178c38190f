"""The learners of the sample-complexity study by name: ``make(name, **options)``.

The classic learners have fixed names (:func:`names`); ``mlp:SPEC`` names a network trained
by any optimizer spec SPEC (:mod:`learners.sample.mlp`)."""

from __future__ import annotations

import inspect
from typing import Any

from learners.sample.base import SampleLearner
from learners.sample.logistic import L1Logistic, L2Logistic
from learners.sample.mlp import PREFIX, MLPLearner
from learners.sample.ridge import Ridge
from learners.sample.spindly import Spindly

LEARNERS: dict[str, type[SampleLearner]] = {cls.name: cls for cls in (L1Logistic, L2Logistic, Ridge, Spindly)}


def names() -> tuple[str, ...]:
    """The classic learners' names (``mlp:SPEC`` takes any optimizer spec)."""
    return tuple(LEARNERS)


def is_neural(name: str) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def is_known(name: str) -> bool:
    """A classic learner's name or ``mlp:`` followed by a spec (checked when the learner is made)."""
    return name in LEARNERS or (is_neural(name) and bool(name[len(PREFIX):].strip()))


def accepted() -> str:
    """The accepted names, for error messages."""
    return ", ".join(LEARNERS) + ", mlp:SPEC (SPEC any optimizer spec, e.g. mlp:adam)"


def describe() -> dict[str, str]:
    """{name: one-line description} of every learner."""
    return {**{name: cls.description for name, cls in LEARNERS.items()}, "mlp:SPEC": MLPLearner.description}


def make(name: str, **options: Any) -> SampleLearner:
    """A fresh learner; its options are keyword arguments (a bad one raises a one-line ValueError)."""
    if not is_known(name):
        raise ValueError(f"unknown learner {name!r}; accepted: {accepted()}")
    if is_neural(name):
        _check_options(name, MLPLearner, options, skip=("optimizer",))
        return MLPLearner(name[len(PREFIX):].strip(), **options)
    _check_options(name, LEARNERS[name], options)
    return LEARNERS[name](**options)


def _check_options(name: str, cls: type[SampleLearner], options: dict, skip: tuple[str, ...] = ()) -> None:
    known = [p for p in inspect.signature(cls.__init__).parameters if p != "self" and p not in skip]
    unknown = [key for key in options if key not in known]
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} for learner {name!r}; accepted: {', '.join(known)}")
