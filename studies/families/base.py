"""What every data family of the ``sample_complexity`` study shares.

A family is a distribution of examples (x, y) for every dimension n, with

* ``sample(n, m, seeds)``: T training sets of m examples, trial t drawn from
  ``seeds[t]`` alone (so a trial's data do not depend on the batch it runs in);
* ``risk(n, fit, seed)``: the test risk of T fitted predictors, exact where the
  family allows it, otherwise on fresh points drawn from ``seed`` (one int for
  all trials, or one int per trial);
* ``bayes_risk(n)`` and ``describe(n)`` (JSON-able facts to record).

A *fit* is anything with the attributes of ``learners.sample``'s fits:
``coef`` (T, n) and ``intercept`` (T,) when the predictor is linear,
f(x) = x·coef + intercept (else ``None``), and ``predict(X)``: X (T, p, n) ->
real scores (T, p). A classifier predicts the label 1{score > 0} (a tie
predicts 0, as :mod:`studies.ng_data` and scikit-learn do).

Trials whose coefficients or scores are not finite (a diverged fit) get risk NaN.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
import torch

TASKS = ("classification", "regression")
METRICS = {"classification": "zero_one", "regression": "square"}
#: fresh test points per trial where the risk is not computed exactly
DEFAULT_TEST_POINTS = 10_000
#: test arrays are built in chunks of at most this many floats (memory)
_CHUNK_FLOATS = 2 ** 22


class Fit(Protocol):
    coef: torch.Tensor | None
    intercept: torch.Tensor | None

    def predict(self, X: torch.Tensor) -> torch.Tensor: ...


class Family:
    """Base class: subclasses set ``name`` and ``task`` and implement ``_draw``,
    ``bayes_risk`` and either ``_exact_risk`` or ``_pointwise_loss`` + ``_draw_inputs``."""

    name: ClassVar[str] = ""
    task: ClassVar[str] = "classification"
    #: the smallest m a family accepts (the learners' 70/30 hold-out needs examples on both sides)
    min_m: ClassVar[int] = 4

    def __init__(self, test_points: int = DEFAULT_TEST_POINTS):
        self.test_points = _positive_int("test_points", test_points)

    # ------------------------------------------------------------------ facts
    @property
    def metric(self) -> str:
        return METRICS[self.task]

    def bayes_risk(self, n: int) -> float:
        raise NotImplementedError

    def describe(self, n: int) -> dict[str, Any]:
        """JSON-able facts worth recording with each trial."""
        self.check_n(n)
        return {"family": self.name, "task": self.task, "metric": self.metric, "n": int(n), **self._facts(n)}

    def _facts(self, n: int) -> dict[str, Any]:
        return {}

    def extra_metrics(self, n: int, m: int) -> dict[str, float]:
        """Family-specific numbers stored with every trial (e.g. hadamard's lower bound)."""
        return {}

    # ------------------------------------------------------------------ sizes
    def check_n(self, n: int) -> int:
        """n as an int, or a one-line ValueError saying which n this family accepts."""
        return _positive_int("n", n)

    def check_m(self, n: int, m: int) -> int:
        m = _positive_int("m", m)
        if m < self.min_m:
            raise ValueError(f"family {self.name!r} needs m >= {self.min_m} examples (the hold-out needs "
                             f"examples on both sides), got m={m}")
        return m

    def usable(self, n: int, m: int) -> bool:
        """Whether (n, m) is a point of this family's grids (hadamard: only m < n)."""
        return True

    # ------------------------------------------------------------------ data
    def sample(self, n: int, m: int, seeds: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """T training sets: X float64 (T, m, n), y float64 (T, m); trial t from ``seeds[t]`` alone."""
        n = self.check_n(n)
        m = self.check_m(n, m)
        seeds = _seed_list(seeds)
        X = np.empty((len(seeds), m, n))
        y = np.empty((len(seeds), m))
        for t, seed in enumerate(seeds):
            X[t], y[t] = self._draw(n, m, seed)
        return torch.from_numpy(X), torch.from_numpy(y)

    def _draw(self, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    # ------------------------------------------------------------------ risk
    def risk(self, n: int, fit: Fit, seed: int | Sequence[int]) -> np.ndarray:
        """Test risk (T,) of the T predictors in ``fit``: exact where the family allows it,
        else the mean loss over ``test_points`` fresh points per trial drawn from ``seed``
        (an int: the same points for every trial; a sequence: trial t's from seed[t])."""
        n = self.check_n(n)
        exact = self._exact_risk(n, fit)
        if exact is not None:
            return exact
        return self._fresh_risk(n, fit, seed)

    def _exact_risk(self, n: int, fit: Fit) -> np.ndarray | None:
        """The exact risk, or None where this family has no exact formula for ``fit``."""
        return None

    def _draw_inputs(self, n: int, p: int, rng: np.random.Generator) -> np.ndarray:
        """p fresh inputs (p, n) from the family's input distribution."""
        raise NotImplementedError

    def _pointwise_loss(self, X: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The expected loss at each input given the predictor's score there: X (T, p, n),
        scores (T, p) -> (T, p). Averaging over the label noise given x (where there is
        any) keeps the estimate unbiased and lowers its variance."""
        raise NotImplementedError

    def _test_inputs(self, n: int, T: int, seed: int | Sequence[int]) -> Iterator[np.ndarray]:
        """Chunks (T, p, n) of every trial's fresh test inputs (``test_points`` per trial)."""
        seeds = _seed_list([seed] * T if _is_int(seed) else seed)
        if len(seeds) != T:
            raise ValueError(f"risk needs one seed or one per trial ({T}), got {len(seeds)} seeds")
        rngs = [np.random.default_rng(s) for s in seeds]
        per_chunk = max(1, _CHUNK_FLOATS // max(1, T * n))
        for start in range(0, self.test_points, per_chunk):
            p = min(per_chunk, self.test_points - start)
            yield np.stack([self._draw_inputs(n, p, rng) for rng in rngs])

    def _fresh_risk(self, n: int, fit: Fit, seed: int | Sequence[int]) -> np.ndarray:
        T = _trial_count(fit)
        total = np.zeros(T)
        linear = linear_part(fit)
        for X in self._test_inputs(n, T, seed):
            total += self._pointwise_loss(X, scores(fit, X, linear)).sum(axis=1)
        out = total / self.test_points
        if linear is not None:
            out[~linear[2]] = np.nan
        out[~np.isfinite(out)] = np.nan
        return out


# ---------------------------------------------------------------------------
# predictors


def linear_part(fit: Fit) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(coef (T, n), intercept (T,), finite (T,) bool) of a linear fit as float64 numpy,
    non-finite trials' coefficients replaced by zeros; None for a non-linear fit."""
    coef = getattr(fit, "coef", None)
    if coef is None:
        return None
    coef = _numpy(coef)
    if coef.ndim != 2:
        raise ValueError(f"fit.coef must have shape (T, n), got {coef.shape}")
    intercept = getattr(fit, "intercept", None)
    intercept = np.zeros(coef.shape[0]) if intercept is None else _numpy(intercept).reshape(-1)
    if intercept.shape != (coef.shape[0],):
        raise ValueError(f"fit.intercept must have shape ({coef.shape[0]},), got {intercept.shape}")
    finite = np.isfinite(coef).all(axis=1) & np.isfinite(intercept)
    coef = np.where(finite[:, None], coef, 0.0)
    intercept = np.where(finite, intercept, 0.0)
    return coef, intercept, finite


def scores(fit: Fit, X: np.ndarray, linear=None) -> np.ndarray:
    """Real scores (T, p) of the fit at inputs X (T, p, n)."""
    if linear is not None:
        coef, intercept, _ = linear
        return np.einsum("tpn,tn->tp", X, coef) + intercept[:, None]
    out = fit.predict(torch.from_numpy(np.ascontiguousarray(X)))
    return _numpy(out)


def _trial_count(fit: Fit) -> int:
    coef = getattr(fit, "coef", None)
    if coef is not None:
        return int(coef.shape[0])
    status = getattr(fit, "status", None)
    if status is not None:
        return len(status)
    raise ValueError("cannot tell the number of trials of a fit with neither coef nor status")


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------------------
# validation


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _positive_int(name: str, value: Any) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _seed_list(seeds: Any) -> list[int]:
    if _is_int(seeds) or isinstance(seeds, (str, bytes)):
        raise ValueError(f"seeds must be a sequence of ints (one per trial), got {seeds!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed (one per trial)")
    for s in seeds:
        if not _is_int(s) or s < 0:
            raise ValueError(f"seeds must be non-negative ints, got {s!r}")
    return [int(s) for s in seeds]

