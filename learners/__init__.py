"""learners: penalised logistic regression (:mod:`learners.logistic`), the neural
classifier (:mod:`learners.neural`), the named catalogue (:mod:`learners.catalog`) and the
batched learners of the sample-complexity study (:mod:`learners.sample`).

The logistic names below are exported lazily, so that ``import learners`` stays
cheap (torch is imported on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "PenalizedLogisticRegression": "learners.logistic",
    "HoldoutLogisticRegression": "learners.logistic",
    "fit_path": "learners.logistic",
    "holdout_select": "learners.logistic",
}

__all__ = ["HoldoutLogisticRegression", "PenalizedLogisticRegression", "fit_path", "holdout_select"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'learners' has no attribute {name!r}")
