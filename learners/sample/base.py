"""What every learner of :mod:`learners.sample` shares: the fitted batch (:class:`BatchFit`),
the learner interface (:class:`SampleLearner`), the checks of the data, and Ng's hold-out
protocol — fit on the first part of each trial's m examples, keep the hyperparameter value
with the lowest hold-out metric on the last ``holdout`` fraction
(:func:`learners.logistic.holdout_size` examples), ties going to the simpler model."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from learners.logistic import holdout_size
from learners.logistic.validation import fraction

DTYPE = torch.float64
TASKS = ("classification", "regression")
#: the hold-out metric of each task: 0/1 error of the label 1{score > 0}, or the mean square loss
METRICS = {"classification": "zero_one", "regression": "square"}


@dataclass
class BatchFit:
    """T fitted predictors, one per trial.

    ``coef`` (T, n) and ``intercept`` (T,) when the predictor is linear, f(x) = x·coef + intercept
    (else None, and ``predictor`` computes the scores); ``selected`` holds each chosen
    hyperparameter "<name>" (T,) and "<name>_at_edge" (T,) bool (the choice is the first or
    last value of its grid); ``status`` (T,) "ok" or "diverged"; ``extra`` optional per-trial
    numbers worth storing."""

    coef: torch.Tensor | None
    intercept: torch.Tensor | None
    selected: dict[str, np.ndarray]
    status: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    predictor: Callable[[torch.Tensor], torch.Tensor] | None = None

    def predict(self, X: Any) -> torch.Tensor:
        """Real scores (T, p) at inputs X (T, p, n); a classifier's label is 1{score > 0}."""
        X = _as_float64(X, "X")
        if self.coef is None:
            if self.predictor is None:
                raise ValueError("this fit has neither coefficients nor a predictor")
            return self.predictor(X)
        T, n = self.coef.shape
        if X.ndim != 3 or X.shape[0] != T or X.shape[2] != n:
            raise ValueError(f"X must have shape ({T}, p, {n}) (trials, points, features), got {tuple(X.shape)}")
        scores = torch.bmm(X, self.coef[:, :, None])[..., 0]
        return scores if self.intercept is None else scores + self.intercept[:, None]


class SampleLearner:
    """A learner fitted to T independent training sets at once (float64).

    Subclasses set ``name``, ``tasks`` and ``description``, take their options as keyword
    arguments (validated in ``__init__``: a bad one raises a one-line ValueError) and
    implement :meth:`_fit` on checked data."""

    name: ClassVar[str] = ""
    tasks: ClassVar[frozenset[str]] = frozenset()
    description: ClassVar[str] = ""

    def __init__(self, *, holdout: float = 0.3):
        self.holdout = fraction("holdout", holdout)

    @property
    def options(self) -> dict[str, Any]:
        """The options as given to :func:`learners.sample.make` (JSON-able)."""
        return {key: value for key, value in vars(self).items() if not key.startswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.options.items())
        return f"{type(self).__name__}({args})"

    def fit(self, X: Any, y: Any, task: str = "classification", seed: int = 0) -> BatchFit:
        """Fit T trials: X (T, m, n), y (T, m) (classification: labels in {0, 1}; regression:
        real targets). ``seed`` seeds the learner's own randomness (if it has any): one int,
        or a list of T ints (one per trial, so that a trial's fit does not depend on which
        other trials share the call)."""
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; accepted: {', '.join(TASKS)}")
        if task not in self.tasks:
            raise ValueError(f"learner {self.name!r} does not do {task}; it does {', '.join(sorted(self.tasks))}")
        X, y = check_data(X, y, task)
        seed = _check_seed(seed, X.shape[0])
        holdout_size(X.shape[1], self.holdout)  # m >= 2: one example on each side at least
        return self._fit(X, y, task, seed)

    def _fit(self, X: torch.Tensor, y: torch.Tensor, task: str, seed: int) -> BatchFit:
        raise NotImplementedError

    def split(self, X: torch.Tensor, y: torch.Tensor):
        """(X_fit, y_fit, X_hold, y_hold): the first and the last ``holdout`` part of each trial."""
        n_fit = X.shape[1] - holdout_size(X.shape[1], self.holdout)
        return X[:, :n_fit], y[:, :n_fit], X[:, n_fit:], y[:, n_fit:]


def _check_seed(seed: Any, T: int) -> int | list[int]:
    def is_int(value: Any) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    if is_int(seed):
        return int(seed)
    if isinstance(seed, (list, tuple, np.ndarray)) and len(seed) == T and all(is_int(s) for s in seed):
        return [int(s) for s in seed]
    raise ValueError(f"seed must be an int or a list of {T} ints (one per trial), got {seed!r}")


def check_data(X: Any, y: Any, task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """X (T, m, n) and y (T, m) as contiguous float64 tensors, finite; classification labels in {0, 1}."""
    X, y = _as_float64(X, "X"), _as_float64(y, "y")
    if X.ndim != 3 or y.ndim != 2 or tuple(y.shape) != tuple(X.shape[:2]):
        raise ValueError(f"X must be (T, m, n) and y (T, m) (trials, examples, features); got X {tuple(X.shape)}, "
                         f"y {tuple(y.shape)}")
    if min(X.shape) < 1:
        raise ValueError(f"X needs at least one trial, example and feature, got shape {tuple(X.shape)}")
    if not bool(torch.isfinite(X).all()) or not bool(torch.isfinite(y).all()):
        raise ValueError("X and y must be finite (no NaN or inf)")
    if task == "classification" and not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("classification labels y must be 0 or 1")
    return X.contiguous(), y.contiguous()


def _as_float64(a: Any, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to(DTYPE)
    try:
        return torch.as_tensor(np.array(a, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric torch tensor or numpy array, got {type(a).__name__}") from None


def statuses(ok: Any) -> np.ndarray:
    """(T,) "ok" / "diverged" from a (T,) bool array or tensor."""
    ok = ok.numpy() if isinstance(ok, torch.Tensor) else np.asarray(ok, dtype=bool)
    return np.where(ok, "ok", "diverged")


def regression_target(y: torch.Tensor, task: str) -> torch.Tensor:
    """What the square-loss learners regress on: 2y − 1 ∈ {−1, +1} for classification, y itself otherwise."""
    return 2.0 * y - 1.0 if task == "classification" else y


def holdout_metric(scores: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    """Hold-out metric of each candidate: scores (T, p, K), y (T, p) -> (T, K).

    Classification: the 0/1 error of the label 1{score > 0}; regression: the mean square loss."""
    if task == "classification":
        return ((scores > 0).to(DTYPE) != y[:, :, None]).to(DTYPE).mean(1)
    return ((scores - y[:, :, None]) ** 2).mean(1)


#: hold-out values within this relative distance of the lowest count as ties (go to the simpler
#: model): near-equivalent models' square losses differ by rounding only — e.g. ridge on
#: ``hadamard``, where every λ predicts 0 on the held-out rows (orthogonal to the training
#: rows) — and a choice left to rounding would depend on the CPU. 0/1 errors are multiples
#: of 1/p, so their ties stay exact.
TIE_RTOL = 1e-9


def tie_tolerance(best: torch.Tensor) -> torch.Tensor:
    """How much above ``best`` a hold-out value still ties with it."""
    return TIE_RTOL * best.abs()


def choose(metric: torch.Tensor, simplest_first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per trial, the grid index with the lowest metric (T, K) — the simplest model among those
    within :data:`TIE_RTOL` of the lowest — and whether it is an edge of the grid (its simplest
    or its most complex value).

    ``simplest_first``: the grid indices ordered from the simplest model to the most complex."""
    ordered = metric[:, simplest_first]
    best = ordered.min(1).values
    tied = ordered <= (best + tie_tolerance(best))[:, None]
    chosen = simplest_first[tied.to(torch.int8).argmax(1)]  # argmax of a 0/1 row: its first 1
    at_edge = (chosen == simplest_first[0]) | (chosen == simplest_first[-1])
    return chosen, at_edge
