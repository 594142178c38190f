"""The learners of the sample-complexity study by name: ``make(name, **options)``."""

from __future__ import annotations

import inspect
from typing import Any

from learners.sample.base import SampleLearner
from learners.sample.logistic import L1Logistic, L2Logistic
from learners.sample.ridge import Ridge
from learners.sample.spindly import Spindly

LEARNERS: dict[str, type[SampleLearner]] = {cls.name: cls for cls in (L1Logistic, L2Logistic, Ridge, Spindly)}


def names() -> tuple[str, ...]:
    return tuple(LEARNERS)


def describe() -> dict[str, str]:
    """{name: one-line description} of every learner."""
    return {name: cls.description for name, cls in LEARNERS.items()}


def make(name: str, **options: Any) -> SampleLearner:
    """A fresh learner; its options are keyword arguments (a bad one raises a one-line ValueError)."""
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; accepted: {', '.join(LEARNERS)}")
    cls = LEARNERS[name]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} for learner {name!r}; accepted: {', '.join(accepted)}")
    return cls(**options)
