"""Names of the studies and where they live (imported lazily: a study pulls in torch)."""

from __future__ import annotations

import importlib
import importlib.util

from studies.spec import Study

_STUDIES = {
    "ng2004": ("studies.ng2004", "Ng (2004) Figure 1: L1 vs L2 logistic regression, and sample complexity m*(n)"),
    "equivariance": ("studies.equivariance", "which symmetries each optimizer and learner has (coupled + distributional tests)"),
    "optimizers": ("studies.optimizers", "the seed's optimizer comparisons on MNIST and CIFAR-10, and the cost of symmetry on images"),
    "sample_complexity": ("studies.sample_complexity", "sample complexity m*(n) of any learner on hard data families and their rotated twins"),
    "atlas": ("studies.atlas", "the symmetries of every optimizer in torch.optim, pytorch-optimizer and ours"),
}


def names() -> list[str]:
    return [n for n in _STUDIES if _importable(n)]


def _importable(name: str) -> bool:
    return importlib.util.find_spec(_STUDIES[name][0]) is not None


def describe() -> dict[str, str]:
    return {n: _STUDIES[n][1] for n in names()}


def get(name: str) -> Study:
    """A study by name, or a user's own by import path ``package.module:OBJECT``."""
    if ":" in name:
        from symbench.imports import import_object

        study = import_object(name, "study")
        if not isinstance(study, Study):
            raise ValueError(f"{name!r} is a {type(study).__name__}, not a studies.spec.Study instance")
        return study
    if name not in _STUDIES or not _importable(name):
        raise ValueError(f"unknown study {name!r}; accepted: {', '.join(names())} or package.module:STUDY")
    return importlib.import_module(_STUDIES[name][0]).STUDY
