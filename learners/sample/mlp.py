"""``mlp:SPEC``: a fully connected network trained by the optimizer SPEC, as a sample learner.

SPEC is any spec the optimizer registry accepts (``adam``, ``agd``, ``layers: [adam, sgd]``,
``pto:soap``, ``mypkg.optim:MyOpt(lr=0.1)``). The network has one output, the score f(x):
logistic loss and the label 1{f > 0} for classification, square loss for regression;
Gaussian initialisation by default (entries N(0, 1/fan-in), so that SGD, AGD and Muon are
rotation-equivariant in law, science.md section 1).

Hyperparameters as Ng chooses λ (:mod:`learners.sample.base`): each trial fits on the first
70 % of its m examples and is scored on the last 30 %. The step size comes from a grid of
``grid`` factors times the spec's own step size (``lr``; AGD's gain; see
:mod:`optimizers.step_size`) — the same number of values for every optimizer, so no
optimizer gets a larger tuning budget — and the number of full-batch steps from early
stopping on the hold-out curve (:mod:`learners.neural.fullbatch`). The reported model is
the one the hold-out selects: the (factor, step) with the lowest (hold-out metric,
hold-out loss), a tie going to the smaller step size.

Batching: the T trials × L grid values are K = L·T members of one batched network, member
ℓ·T + t trained on trial t's data with grid value ℓ, all members of trial t starting from
one initialisation (seeded per trial). An optimizer that cannot treat batched parameters
per member is trained member by member, with a :class:`BatchingFallbackWarning`; the fit
records which (``batched``).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

import optimizers
from learners.neural.batched import BatchedMLP
from learners.neural.engine import BatchingFallbackWarning
from learners.neural.fullbatch import FullBatchResult, train_full_batch
from learners.neural.initialisation import check_init
from learners.neural.models import ACTIVATIONS
from learners.neural.validation import choice, positive_int, resolve_dtype
from learners.sample.base import BatchFit, SampleLearner, statuses
from optimizers.step_size import scale_step_size, step_size
from symbench.seeding import derive_seed

PREFIX = "mlp:"
#: the default grid: 9 factors of the spec's step size, 0.1 … 1000, √10 apart. The registry's
#: defaults are minibatch step sizes; full-batch training on a few hundred rows takes larger ones:
#: with 7 factors up to 100, the top value was selected in 14–45 % of a learner's trials (adam
#: 45 %, muon 44 %, layers: [sgd, adam] 41 %; a 15,129-trial pilot), so the grid grew upwards
DEFAULT_GRID = (0.1, 0.316, 1.0, 3.16, 10.0, 31.6, 100.0, 316.0, 1000.0)
LOSS_OF_TASK = {"classification": "logistic", "regression": "square"}
#: the options a study sets for every mlp:SPEC learner at once (network, budget, precision)
STUDY_OPTIONS = ("width", "depth", "init", "activation", "steps", "eval_every", "patience", "grid", "dtype")
#: floats of activations and data per training call (members are split to stay below it)
MEMBER_FLOATS = 2 ** 26


class MLPLearner(SampleLearner):
    """A one-output MLP trained by ``optimizer`` on each trial; see the module docstring."""

    name = "mlp"
    tasks = frozenset({"classification", "regression"})
    description = ("mlp:SPEC — a fully connected network trained by optimizer SPEC (any registry spec), "
                   "step size from a grid and steps by early stopping on the hold-out")

    def __init__(self, optimizer: str, *, width: int = 32, depth: int = 2, init: str = "gaussian",
                 activation: str = "relu", grid: Sequence[float] = DEFAULT_GRID, steps: int = 300,
                 eval_every: int = 10, patience: int = 6, dtype: str = "float32", device: str = "cpu",
                 holdout: float = 0.3):
        super().__init__(holdout=holdout)
        if not isinstance(optimizer, str) and not isinstance(optimizer, dict):
            raise ValueError(f"optimizer must be a registry spec, got {optimizer!r}")
        optimizers.resolve(optimizer)  # a bad spec is a one-line ValueError here
        self.optimizer = optimizer
        self.width, self.depth = positive_int("width", width), positive_int("depth", depth)
        self.init = check_init(init)
        self.activation = choice("activation", activation, ACTIVATIONS)
        grid = [float(g) for g in grid] if isinstance(grid, (list, tuple)) else None
        if not grid or not all(math.isfinite(g) and g > 0 for g in grid) or len(set(grid)) != len(grid):
            raise ValueError(f"grid must be a list of distinct positive step-size factors, got {grid!r}")
        self.grid = sorted(grid)
        self.step_sizes = [scale_step_size(optimizer, g) for g in self.grid]  # fails early if no step size
        self.steps, self.eval_every = positive_int("steps", steps), positive_int("eval_every", eval_every)
        self.patience = positive_int("patience", patience)
        self.dtype = dtype
        resolve_dtype(dtype)
        self.device = str(torch.device(device))

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        """The defaults of ``STUDY_OPTIONS``, as TOML values (the grid a list): a study's table of them."""
        parameters = inspect.signature(cls.__init__).parameters
        return {name: list(parameters[name].default) if name == "grid" else parameters[name].default
                for name in STUDY_OPTIONS}

    @property
    def options(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if not key.startswith("_") and key != "step_sizes"}

    def _fit(self, X: torch.Tensor, y: torch.Tensor, task: str, seed) -> BatchFit:
        T = X.shape[0]
        trial_seeds = self.trial_seeds(seed, T)
        X_fit, y_fit, X_hold, y_hold = self.split(X, y)
        L, loss = len(self.grid), LOSS_OF_TASK[task]
        batched = optimizers.supports_batching(self.optimizer)
        if not batched:
            warnings.warn(f"optimizer {self.optimizer!r} does not support batched parameters; training the "
                          f"{L * T} networks of this fit one after another", BatchingFallbackWarning, stacklevel=3)
        chunks = self._trial_chunks(T, X_fit.shape[1], X.shape[2], X_hold.shape[1])
        results = [self._train_trials(X_fit[a:b], y_fit[a:b], X_hold[a:b], y_hold[a:b], trial_seeds[a:b], loss,
                                      batched) for a, b in chunks]
        members, picks = zip(*(self._choose(result, b - a) for result, (a, b) in zip(results, chunks)))
        picks = np.concatenate(picks)

        def chosen(name: str) -> np.ndarray:
            return np.concatenate([getattr(r, name)[k] for r, k in zip(results, members)])

        extra = {
            "steps": chosen("best_step"),
            "stopped_early": chosen("stopped_early"),
            "diverged_share": np.concatenate([(r.status.reshape(L, -1) == "diverged").mean(0) for r in results]),
            "batched": np.full(T, batched),
        }
        return BatchFit(coef=None, intercept=None,
                        selected={"lr": np.array([step_size(self.step_sizes[i]) for i in picks]),
                                  "lr_at_edge": (picks == 0) | (picks == L - 1)},
                        status=statuses(np.isfinite(chosen("best_metric"))), extra=extra,
                        predictor=self._predictor([r.model.select(k) for r, k in zip(results, members)]))

    # ------------------------------------------------------------------ pieces
    def trial_seeds(self, seed, T: int) -> list[int]:
        """One initialisation seed per trial: the given list, or derived from one int."""
        if isinstance(seed, (list, tuple, np.ndarray)):
            if len(seed) != T:
                raise ValueError(f"seed lists one seed per trial ({T}), got {len(seed)}")
            return [int(s) for s in seed]
        return [derive_seed(int(seed), "trial", t) for t in range(T)]

    def _trial_chunks(self, T: int, m_fit: int, n: int, p: int) -> list[tuple[int, int]]:
        per_member = (m_fit + p) * (n + 4 * self.width * self.depth)
        per_trial = max(1, len(self.grid) * per_member)
        size = max(1, min(T, MEMBER_FLOATS // per_trial))
        return [(a, min(T, a + size)) for a in range(0, T, size)]

    def _network(self, n: int, seeds: list[int]) -> BatchedMLP:
        dtype = resolve_dtype(self.dtype)
        return BatchedMLP(n, 1, seeds=seeds, width=self.width, depth=self.depth, activation=self.activation,
                          init=self.init, dtype=dtype).to(self.device)

    def _train_trials(self, X_fit, y_fit, X_hold, y_hold, seeds, loss: str, batched: bool) -> FullBatchResult:
        """Train T trials × L grid values: members ℓ·T + t (see the module docstring)."""
        L, T = len(self.grid), X_fit.shape[0]
        dtype = resolve_dtype(self.dtype)
        data = [t.to(device=self.device, dtype=dtype) for t in (X_fit, y_fit, X_hold, y_hold)]
        model = self._network(X_fit.shape[2], seeds).repeated(L)
        options = dict(loss=loss, steps=self.steps, eval_every=self.eval_every, patience=self.patience)
        if batched:
            tiled = [t.repeat(L, *[1] * (t.dim() - 1)) for t in data]
            spec = optimizers.PerMember([s for s in self.step_sizes for _ in range(T)])
            return train_full_batch(model, spec, *tiled, **options)
        return _one_by_one(model, [s for s in self.step_sizes for _ in range(T)], data, T, options)

    def _choose(self, result: FullBatchResult, T: int) -> tuple[np.ndarray, np.ndarray]:
        """(member index, grid index) per trial: the lowest (metric, loss), then the smaller step."""
        L = len(self.grid)
        metric, loss = result.best_metric.reshape(L, T), result.best_loss.reshape(L, T)
        grid_index = np.empty(T, dtype=int)
        for t in range(T):
            grid_index[t] = np.lexsort((np.arange(L), loss[:, t], metric[:, t]))[0]
        return grid_index * T + np.arange(T), grid_index

    def _predictor(self, models: list[BatchedMLP]):
        dtype = resolve_dtype(self.dtype)

        @torch.no_grad()
        def predict(X: torch.Tensor) -> torch.Tensor:
            out, start = [], 0
            for model in models:
                size = model.num_members
                out.append(model(X[start:start + size].to(device=self.device, dtype=dtype))[..., 0])
                start += size
            return torch.cat(out).to(device="cpu", dtype=torch.float64)

        return predict


def _one_by_one(model: BatchedMLP, specs: list, data, T: int, options) -> FullBatchResult:
    """The fallback: each member alone (a one-member batch), results stacked as if batched."""
    X_fit, y_fit, X_hold, y_hold = data
    parts = []
    for k, spec in enumerate(specs):
        member = model.select([k])
        t = k % T
        parts.append(train_full_batch(member, spec, X_fit[t:t + 1], y_fit[t:t + 1], X_hold[t:t + 1],
                                      y_hold[t:t + 1], **options))
    with torch.no_grad():
        for k, part in enumerate(parts):
            for layer, trained in zip(model.layers, part.model.layers):
                layer.weight[k] = trained.weight[0]
                if layer.bias is not None:
                    layer.bias[k] = trained.bias[0]
    stacked = {name: np.concatenate([getattr(p, name) for p in parts])
               for name in ("status", "diverged_at", "best_step", "best_metric", "best_loss", "steps",
                            "stopped_early")}
    return FullBatchResult(model=model, evaluations=sum(p.evaluations for p in parts), batched=False, **stacked)
