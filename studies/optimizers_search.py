"""Equal tuning budgets for the ``optimizers`` study: learning-rate grids and hold-out selection.

Every optimizer of an experiment is tuned with the same budget: ``points``
candidate trainings, each over the experiment's full horizon, scored on a
hold-out split of the training rows.

* The tuned hyperparameter (:func:`tuned_parameter`): the learning rate
  ``lr``; for AGD and its variants (no learning rate) the ``gain``; for
  ``adam-layerwise`` the pair ``lrs = (lr_input, lr_rest)`` (the input layer's
  rate, and one rate for every other layer).
* The grid (:func:`candidate_grid`) is centred on the spec's own value (its
  ``lr=`` or the registry default: Adam 1e-3, SGD 0.1, AGD gain 1), so the
  default is always a candidate: ``points`` values ``centre · 10^(step·j)``,
  j = -(points-1)/2 … (points-1)/2. ``adam-layerwise`` spends the same budget
  on a √points × √points grid of (lr_input, lr_rest) around (centre, centre),
  spaced by ``layerwise_step`` decades (input rate varying slowest). Its centre
  is the rate its experiment's Adam chose on the hold-out (the study passes it;
  see ``optimizers.OptimizersStudy.layerwise_centre``): centred on Adam's
  *default* 1e-3, 100 % of its choices sat on the grid's top edge, since Adam's
  own optimum lies half a decade to a decade above its default there.
* All candidates × seeds of one (experiment, dataset, depth, optimizer, basis)
  train as ONE batched network (``optimizers.PerMember``; member =
  candidate × seeds + seed, so each candidate is one child optimizer). The
  candidates of a seed share its initialisation, minibatch order and hold-out
  split (common random numbers).
* Selection (:func:`select`), per seed: a candidate's score is its highest
  hold-out accuracy over the epochs (early stopping's epoch; ties: the lower
  hold-out loss, then the earlier epoch); a candidate that diverged within the
  horizon is not eligible. The seed keeps the best-scoring candidate (ties: the
  lower hold-out loss, then grid order); the trial's result is that
  candidate's test metrics at its selected epoch.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import optimizers
from optimizers.adam_layerwise import AdamLayerwise
from optimizers.spec import parse_one

#: the bare name whose tuning is a per-layer grid of (lr_input, lr_rest)
LAYERWISE = "adam-layerwise"


@dataclass(frozen=True)
class Tuned:
    """What is tuned in a spec: the parameter's name and the spec's own value (the grid's centre)."""

    name: str
    parameter: str  # "lr", "gain" or "lrs"
    centre: float
    kwargs: Mapping[str, Any]

    def spec(self, value) -> str:
        """The registry spec with the tuned parameter set to ``value`` (a float, or a pair for ``lrs``)."""
        value = [float(v) for v in value] if self.parameter == "lrs" else float(value)
        kwargs = {**self.kwargs, self.parameter: value}
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def tuned_parameter(spec: str) -> Tuned:
    """The hyperparameter a grid search varies for ``spec``; ValueError for a spec that has none."""
    if not isinstance(spec, str) or spec.startswith("layers:"):
        raise ValueError(f"cannot tune {spec!r}: a per-layer rule has no single learning rate")
    parsed = parse_one(spec)
    resolved = optimizers.resolve(spec)
    signature = inspect.signature(resolved.cls.__init__).parameters
    if resolved.cls is AdamLayerwise:
        lrs = resolved.kwargs.get("lrs", signature["lrs"].default)
        lrs = [lrs] if isinstance(lrs, (int, float)) else list(lrs)
        if len(set(lrs)) != 1:
            raise ValueError(f"cannot tune {spec!r}: its grid is centred on one rate for every layer, got lrs={lrs}")
        kwargs = {k: v for k, v in parsed.kwargs.items() if k != "lrs"}
        return Tuned(parsed.name, "lrs", float(lrs[0]), kwargs)
    for parameter in ("lr", "gain"):
        if parameter in resolved.kwargs or parameter in signature:
            value = resolved.kwargs.get(parameter, signature[parameter].default if parameter in signature else None)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                kwargs = {k: v for k, v in parsed.kwargs.items() if k != parameter}
                return Tuned(parsed.name, parameter, float(value), kwargs)
    raise ValueError(f"cannot tune {spec!r}: it has no positive lr or gain to search")


def side(points: int) -> int:
    """The side of the square per-layer grid that spends ``points`` candidates (ValueError if none)."""
    root = math.isqrt(points)
    if root * root != points:
        raise ValueError(f"adam-layerwise spends the budget on a square grid: grid points must be a "
                         f"square (1, 9, 25, ...), got {points}")
    return root


def axis(centre: float, points: int, step: float) -> list[float]:
    """``points`` values ``centre · 10^(step·j)`` centred on ``centre`` (``points`` odd)."""
    half = (points - 1) / 2
    return [float(f"{centre * 10 ** (step * (j - half)):.6g}") for j in range(points)]


def candidate_grid(tuned: Tuned, points: int, step: float, layerwise_step: float,
                   centre: float | None = None) -> list:
    """The candidates of one tuned optimizer: floats, or (lr_input, lr_rest) pairs for adam-layerwise
    (around (``centre``, ``centre``) when given, else around the spec's own rate)."""
    if tuned.parameter == "lrs":
        values = axis(tuned.centre if centre is None else centre, side(points), layerwise_step)
        return [(a, b) for a in values for b in values]
    return axis(tuned.centre, points, step)


def is_edge(grid: Sequence, value) -> bool:
    """Whether ``value`` lies on the grid's boundary (for pairs: either coordinate at its axis' end)."""
    if isinstance(value, (list, tuple)):
        return any(is_edge(sorted({c[i] for c in grid}), v) for i, v in enumerate(value))
    values = sorted(grid)
    return len(values) > 1 and value in (values[0], values[-1])


@dataclass
class Candidate:
    """One candidate's training for one seed: its hold-out score and its test metrics."""

    value: Any
    status: str
    holdout_acc: float  # the highest over the epochs (nan when not eligible)
    holdout_loss: float  # at that epoch
    epoch: int | None  # the selected epoch
    final_test_acc: float  # last epoch (nan when diverged)
    final_test_loss: float

    def to_dict(self) -> dict:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"value": value, "status": self.status, "holdout_acc": _finite_or_none(self.holdout_acc),
                "holdout_loss": _finite_or_none(self.holdout_loss), "epoch": self.epoch,
                "final_test_acc": _finite_or_none(self.final_test_acc),
                "final_test_loss": _finite_or_none(self.final_test_loss)}


def score(value, status: str, history: Mapping[str, Sequence[float]]) -> Candidate:
    """Score one candidate's history (see the module docstring)."""
    last_acc = history["test_acc"][-1] if history["test_acc"] else math.nan
    last_loss = history["test_loss"][-1] if history["test_loss"] else math.nan
    if status != "ok":
        return Candidate(value, status, math.nan, math.nan, None, math.nan, math.nan)
    epochs = [(acc, -loss, -epoch) for epoch, acc, loss in zip(history["epoch"], history["holdout_acc"],
                                                               history["holdout_loss"])
              if math.isfinite(acc) and math.isfinite(loss)]
    if not epochs:
        return Candidate(value, status, math.nan, math.nan, None, last_acc, last_loss)
    acc, neg_loss, neg_epoch = max(epochs)
    return Candidate(value, status, acc, -neg_loss, -neg_epoch, last_acc, last_loss)


def select(candidates: Sequence[Candidate]) -> int | None:
    """Index of the chosen candidate (None when none is eligible)."""
    eligible = [(c.holdout_acc, -c.holdout_loss, -i) for i, c in enumerate(candidates)
                if c.epoch is not None and math.isfinite(c.holdout_acc)]
    return -max(eligible)[2] if eligible else None


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
