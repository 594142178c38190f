"""The training engine: minibatch training on tensors held in memory.

:func:`train` trains one network in place; :func:`train_batched` trains the K
members of a :class:`~learners.neural.batched.BatchedMLP` as one computation.
Both run the same loop, written for outputs with a member axis (of length 1
for a single network).

Hot loop: index the in-memory tensors with the epoch's permutation, forward,
loss, backward, optimizer step. Nothing in it waits for the device: each
step's per-member loss is written into an on-device buffer and the epoch's
buffer is read once at the end of the epoch, which is where divergence (a
non-finite loss) is detected, at the exact step it happened.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

import optimizers
from learners.neural.batched import BatchedMLP
from learners.neural.losses import make_loss
from learners.neural.minibatches import MinibatchOrder, steps_per_epoch
from learners.neural.validation import choice, fraction, positive_int, resolve_dtype, seed_int

TRAIN_METRICS = ("running", "full")
HISTORY_COLUMNS = ("epoch", "step", "train_loss", "train_acc", "test_loss", "test_acc",
                   "holdout_loss", "holdout_acc")
EVAL_ROWS = 8192  # rows × members evaluated per chunk outside the hot loop


class BatchingFallbackWarning(UserWarning):
    """An optimizer cannot treat batched parameters per member; members train one by one."""


@dataclass
class TrainResult:
    """What one training run produced.

    ``status`` is ``"ok"`` or ``"diverged"``; ``diverged_at_step = s`` means the
    parameters after ``s`` optimizer steps gave a non-finite loss (so ``0`` is
    the initial model). ``history`` holds one value per epoch for each of
    :data:`HISTORY_COLUMNS` (``nan`` where not measured; the last epoch may be
    partial when ``steps`` was given). Train metrics are the running means over
    the epoch's minibatches unless ``train_metrics="full"``. With a hold-out,
    ``model`` holds the parameters of ``best_epoch`` (lowest hold-out loss).
    """

    model: nn.Module
    status: str
    diverged_at_step: int | None
    steps: int
    history: dict = field(repr=False)
    best_epoch: int | None = None
    stopped_early: bool = False

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.history, columns=list(HISTORY_COLUMNS))

    @property
    def final(self) -> dict:
        """The metrics of the returned model's epoch (``best_epoch`` with a hold-out, else the last)."""
        if not self.history["epoch"]:
            return {}
        row = self.history["epoch"].index(self.best_epoch) if self.best_epoch else -1
        return {name: values[row] for name, values in self.history.items()}


@dataclass
class BatchedTrainResult:
    """One :class:`TrainResult` per member; ``model`` is the trained batched network.

    ``batched`` is False when the optimizer could not be batched and the
    members were trained one after another.
    """

    model: BatchedMLP
    members: list[TrainResult]
    batched: bool

    @property
    def statuses(self) -> list[str]:
        return [member.status for member in self.members]


def train(model: nn.Module, optimizer_spec, X, y, *, order_seed: int, epochs: int | None = None,
          steps: int | None = None, batch_size: int | None = 128, loss: str = "cross_entropy",
          X_test=None, y_test=None, holdout: float | None = None, patience: int = 10,
          train_metrics: str = "running", dtype=None, device=None) -> TrainResult:
    """Train ``model`` in place with minibatches drawn from ``(X, y)``.

    ``optimizer_spec`` goes to ``optimizers.create(spec, model)``. Give exactly
    one of ``epochs`` and ``steps``. ``batch_size=None`` (or one at least the
    number of training rows) is full-batch training. The minibatch order
    depends on ``order_seed`` and the number of rows only. ``holdout`` is the
    fraction of rows set aside for early stopping: training stops after
    ``patience`` epochs without a lower hold-out loss and the best epoch's
    parameters are restored. ``dtype``/``device`` move the model and data
    (default: the model's). ``y`` holds integer labels ``0 … C-1``.
    A non-finite loss ends the run with ``status="diverged"``; it never raises.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, BatchedMLP):
        raise TypeError("train takes one network; train a BatchedMLP with train_batched")
    seed = seed_int("order_seed", order_seed)
    loop = _Loop(model, optimizer_spec, X, y, members=1, batched=False, epochs=epochs, steps=steps,
                 batch_size=batch_size, loss=loss, X_test=X_test, y_test=y_test, holdout=holdout,
                 patience=patience, train_metrics=train_metrics, dtype=dtype, device=device,
                 order_seeds=[seed])
    return loop.run()[0]


def train_batched(model: BatchedMLP, optimizer_spec, X, y, *, order_seed, epochs: int | None = None,
                  steps: int | None = None, batch_size: int | None = 128, loss: str = "cross_entropy",
                  X_test=None, y_test=None, holdout: float | None = None, patience: int = 10,
                  train_metrics: str = "running", dtype=None, device=None) -> BatchedTrainResult:
    """Train the K members of ``model`` at once; member k's result equals ``train`` on ``model.member(k)``.

    ``optimizer_spec`` may be ``optimizers.PerMember([...])``, one spec per member (a
    learning-rate grid in one batched network). ``order_seed`` is one seed per member (each sees its own minibatch order
    and hold-out split) or a single int (all members share one order). The
    objective is the sum over members of each member's mean loss, so each
    member receives its own gradient. A member whose loss becomes non-finite
    is marked diverged and frozen (its parameters and optimizer state are
    zeroed and its gradients masked) while the others continue. Optimizers
    for which ``optimizers.supports_batching(spec)`` is False are run member
    by member instead, with a :class:`BatchingFallbackWarning`.
    Other arguments as in :func:`train`.
    """
    if not isinstance(model, BatchedMLP):
        raise TypeError(f"model must be a BatchedMLP, got {type(model).__name__}")
    order_seeds = _order_seeds(order_seed, model.num_members)
    options = dict(epochs=epochs, steps=steps, batch_size=batch_size, loss=loss, X_test=X_test,
                   y_test=y_test, holdout=holdout, patience=patience, train_metrics=train_metrics,
                   dtype=dtype, device=device)
    if not optimizers.supports_batching(optimizer_spec):
        return _train_members_one_by_one(model, optimizer_spec, X, y, order_seeds, options)
    loop = _Loop(model, optimizer_spec, X, y, members=model.num_members, batched=True,
                 order_seeds=order_seeds, **options)
    members = loop.run()
    return BatchedTrainResult(model=model, members=members, batched=True)


def batching_fallbacks(specs=None) -> list:
    """The optimizer specs (default: every registry name) that :func:`train_batched`
    runs member by member, because ``optimizers.supports_batching`` is False for them."""
    specs = optimizers.names() if specs is None else list(specs)
    return [spec for spec in specs if not optimizers.supports_batching(spec)]


def _order_seeds(order_seed, num_members: int) -> list[int] | int:
    """One int (a shared order) or one seed per member."""
    if isinstance(order_seed, numbers.Integral) or not isinstance(order_seed, Iterable):
        return seed_int("order_seed", order_seed)
    seeds = [seed_int("order_seed entry", s) for s in order_seed]
    if len(seeds) != num_members:
        raise ValueError(f"order_seed needs one seed per member ({num_members}), got {len(seeds)}")
    return seeds


def _train_members_one_by_one(model: BatchedMLP, optimizer_spec, X, y, order_seeds, options):
    warnings.warn(f"optimizer {optimizer_spec!r} does not support batched parameters; "
                  f"training the {model.num_members} members one after another",
                  BatchingFallbackWarning, stacklevel=3)
    dtype = options["dtype"]
    model.to(device=options["device"], dtype=None if dtype is None else resolve_dtype(dtype))
    results = []
    for k in range(model.num_members):
        seed = order_seeds if isinstance(order_seeds, int) else order_seeds[k]
        spec = optimizer_spec.specs[k] if isinstance(optimizer_spec, optimizers.PerMember) else optimizer_spec
        result = train(model.member(k), spec, X, y, order_seed=seed, **options)
        model.set_member(k, result.model)
        results.append(result)
    return BatchedTrainResult(model=model, members=results, batched=False)


def as_tensor(values) -> torch.Tensor:
    """``torch.as_tensor`` without sharing read-only numpy memory (torch cannot honour it)."""
    if isinstance(values, np.ndarray) and not values.flags.writeable:
        values = values.copy()
    return torch.as_tensor(values)


def _as_features(name: str, X, dtype: torch.dtype, device) -> torch.Tensor:
    X = as_tensor(X)
    if X.dim() < 2:
        raise ValueError(f"{name} must have one row per sample (2-D or more), got shape {tuple(X.shape)}")
    X = X.to(device=device, dtype=dtype)
    # min and max are NaN or ±inf exactly when some entry is; one pass, no temporary
    if X.numel() and not all(torch.isfinite(extreme) for extreme in torch.aminmax(X)):
        raise ValueError(f"{name} contains non-finite values")
    return X


def _as_labels(name: str, y, n_rows: int, num_classes: int, device) -> torch.Tensor:
    y = as_tensor(y)
    if y.dim() != 1 or len(y) != n_rows:
        raise ValueError(f"{name} must be 1-D with one label per row ({n_rows}), got shape {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels 0..{num_classes - 1}, got dtype {y.dtype}")
    if n_rows and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"{name} must hold labels in 0..{num_classes - 1} (the model has "
                         f"{num_classes} outputs), got range {int(y.min())}..{int(y.max())}")
    return y.to(device=device, dtype=torch.long)


def _model_dtype(model: nn.Module) -> torch.dtype:
    for parameter in model.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    raise ValueError("model has no floating-point parameters to train")


def _number_of_outputs(model: nn.Module, X: torch.Tensor) -> int:
    out_features = getattr(model, "out_features", None)
    if out_features is not None:
        return int(out_features)
    with torch.no_grad():
        return int(model(X[:1]).shape[-1])


def _schedule(epochs, steps, n_train: int, batch_size) -> tuple[int, int, int]:
    """(batch size, number of epochs, total optimizer steps)."""
    if (epochs is None) == (steps is None):
        raise ValueError(f"give exactly one of epochs and steps, got epochs={epochs!r}, steps={steps!r}")
    batch_size = n_train if batch_size is None else min(positive_int("batch_size", batch_size), n_train)
    per_epoch = steps_per_epoch(n_train, batch_size)
    if epochs is not None:
        epochs = positive_int("epochs", epochs)
        return batch_size, epochs, epochs * per_epoch
    steps = positive_int("steps", steps)
    return batch_size, math.ceil(steps / per_epoch), steps


class _Loop:
    """State of one (possibly batched) training run; ``run()`` returns one result per member."""

    def __init__(self, model, optimizer_spec, X, y, *, members, batched, order_seeds, epochs, steps,
                 batch_size, loss, X_test, y_test, holdout, patience, train_metrics, dtype, device):
        self.model, self.members, self.batched = model, members, batched
        self.loss = make_loss(loss)
        self.train_metrics = choice("train_metrics", train_metrics, TRAIN_METRICS)
        self.dtype = _model_dtype(model) if dtype is None else resolve_dtype(dtype)
        self.device = next(model.parameters()).device if device is None else torch.device(device)
        model.to(device=self.device, dtype=self.dtype)

        self.X = _as_features("X", X, self.dtype, self.device)
        num_classes = _number_of_outputs(model, self.X)
        self.labels = _as_labels("y", y, len(self.X), num_classes, self.device)
        self.targets = self.loss.prepare_targets(self.labels, num_classes, self.dtype)
        if (X_test is None) != (y_test is None):
            raise ValueError("give both X_test and y_test, or neither")
        self.X_test = None if X_test is None else _as_features("X_test", X_test, self.dtype, self.device)
        if self.X_test is not None:
            self.labels_test = _as_labels("y_test", y_test, len(self.X_test), num_classes, self.device)
            self.targets_test = self.loss.prepare_targets(self.labels_test, num_classes, self.dtype)

        self.holdout = None if holdout is None else fraction("holdout", holdout)
        self.patience = positive_int("patience", patience)
        if len(self.X) < (2 if self.holdout else 1):
            raise ValueError(f"X needs at least {2 if self.holdout else 1} rows, got {len(self.X)}")
        seeds = [order_seeds] if isinstance(order_seeds, int) else order_seeds
        self.orders = [MinibatchOrder(len(self.X), seed, self.holdout) for seed in seeds]
        self.train_rows = self._stack_rows([o.train_rows for o in self.orders])
        self.holdout_rows = None if self.holdout is None else self._stack_rows([o.holdout_rows for o in self.orders])
        self.n_train = self.orders[0].n_train
        self.batch_size, self.n_epochs, self.total_steps = _schedule(epochs, steps, self.n_train, batch_size)

        self.optimizer = optimizers.create(optimizer_spec, model)
        self.parameters = list(model.parameters())

        m = members
        self.status = ["ok"] * m
        self.diverged_at = [None] * m
        self.active = np.ones(m, dtype=bool)
        self.last_epoch = np.zeros(m, dtype=int)
        self.steps_done = np.zeros(m, dtype=int)
        self.best_loss = np.full(m, np.inf)
        self.best_epoch = [None] * m
        self.waiting = np.zeros(m, dtype=int)
        self.stopped_early = [False] * m
        self.best_state = None
        self.frozen = None  # on-device mask of members whose gradients are zeroed
        self.rows = []  # per epoch: {column: array over members}

    def _stack_rows(self, rows: list[torch.Tensor]) -> torch.Tensor:
        return (rows[0] if len(rows) == 1 else torch.stack(rows)).to(self.device)

    # ------------------------------------------------------------------ loop
    def run(self) -> list[TrainResult]:
        step = 0
        for epoch in range(1, self.n_epochs + 1):
            n_steps = min(steps_per_epoch(self.n_train, self.batch_size), self.total_steps - step)
            step_losses, correct = self._train_epoch(n_steps)
            step += n_steps
            self._end_epoch(epoch, step, n_steps, step_losses, correct)
            if not self.active.any():
                break
        self._finish()
        return self._results()

    def _next_order(self) -> torch.Tensor:
        orders = [o.next_epoch() for o in self.orders]
        return self._stack_rows(orders)

    def _train_epoch(self, n_steps: int):
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss
        X, targets, labels, batch_size = self.X, self.targets, self.labels, self.batch_size
        order = self._next_order()
        step_losses = torch.empty((n_steps, self.members), dtype=self.dtype, device=self.device)
        correct = torch.zeros(self.members, dtype=torch.long, device=self.device)
        frozen = self.frozen
        self.model.train()
        for i in range(n_steps):
            rows = order[..., i * batch_size:(i + 1) * batch_size]
            outputs = model(X[rows])
            batch_targets = targets[rows]
            member_losses = loss_fn(outputs, batch_targets)
            optimizer.zero_grad(set_to_none=True)
            (member_losses.sum() if self.batched else member_losses).backward()
            if frozen is not None:
                self._mask_gradients(frozen)
            optimizer.step()
            step_losses[i] = member_losses.detach()
            batch_labels = batch_targets if targets is labels else labels[rows]
            correct += (outputs.detach().argmax(-1) == batch_labels).sum(-1)
        return step_losses, correct

    def _mask_gradients(self, frozen: torch.Tensor) -> None:
        for p in self.parameters:
            if p.grad is not None:
                p.grad.masked_fill_(frozen.view(-1, *[1] * (p.dim() - 1)), 0)

    # ------------------------------------------------------- end of an epoch
    def _end_epoch(self, epoch: int, step: int, n_steps: int, step_losses, correct) -> None:
        losses = step_losses.cpu().numpy()
        was_active = self.active.copy()
        self.last_epoch[was_active] = epoch
        self.steps_done[was_active] = step
        finite = np.isfinite(losses)
        diverged = np.flatnonzero(was_active & ~finite.all(0))
        for k in diverged:
            self._diverge(k, step - n_steps + int(np.argmin(finite[:, k])))

        sizes = np.full(n_steps, self.batch_size)
        sizes[-1] = min(self.batch_size, self.n_train - (n_steps - 1) * self.batch_size)
        row = dict(epoch=np.full(self.members, epoch), step=np.full(self.members, step))
        if self.train_metrics == "running":
            row["train_loss"] = (sizes @ losses) / sizes.sum()
            row["train_acc"] = correct.cpu().numpy() / sizes.sum()
        else:
            row["train_loss"], row["train_acc"] = self._evaluate(self.X, self.targets, self.labels, self.train_rows)
        nan = np.full(self.members, np.nan)
        evaluate = self.active.any()  # nothing to learn from evaluating only diverged members
        row["test_loss"], row["test_acc"] = self._evaluate(
            self.X_test, self.targets_test, self.labels_test) if evaluate and self.X_test is not None else (nan, nan)
        row["holdout_loss"], row["holdout_acc"] = self._evaluate(
            self.X, self.targets, self.labels, self.holdout_rows) if evaluate and self.holdout is not None else (nan, nan)
        # A member that diverged in this epoch is scored nan, as it would be alone
        # (batched, its parameters were just cleared, so an evaluation would mislead).
        for column in ("test_loss", "test_acc", "holdout_loss", "holdout_acc") + (
                ("train_loss", "train_acc") if self.train_metrics == "full" else ()):
            row[column] = np.where(np.isin(np.arange(self.members), diverged), np.nan, row[column])
        self.rows.append(row)
        if self.holdout is not None:
            self._early_stopping(epoch, row["holdout_loss"])

    def _diverge(self, k: int, at_step: int) -> None:
        self.status[k] = "diverged"
        self.diverged_at[k] = at_step
        self.active[k] = False
        if self.batched and self.active.any():
            self._zero_member(k)
            self._freeze()

    @torch.no_grad()
    def _zero_member(self, k: int) -> None:
        """Clear a diverged member's non-finite values so they cannot reach anything else."""
        optimizers.zero_member_state_(self.optimizer, self.parameters, k)
        for p in self.parameters:
            p[k] = 0

    def _freeze(self) -> None:
        self.frozen = torch.as_tensor(~self.active, device=self.device)

    def _early_stopping(self, epoch: int, holdout_loss: np.ndarray) -> None:
        if self.best_state is None:
            self.best_state = [p.detach().clone() for p in self.parameters]
        for k in np.flatnonzero(self.active):
            if holdout_loss[k] < self.best_loss[k]:
                self.best_loss[k], self.best_epoch[k], self.waiting[k] = holdout_loss[k], epoch, 0
                self._copy_member(self.parameters, self.best_state, k)
            else:
                self.waiting[k] += 1
                if self.waiting[k] >= self.patience:
                    self.active[k] = False
                    self.stopped_early[k] = True
        if self.batched and self.active.any() and not self.active.all():
            self._freeze()

    @torch.no_grad()
    def _copy_member(self, sources, destinations, k: int) -> None:
        for source, destination in zip(sources, destinations):
            if self.batched:
                destination[k] = source[k]
            else:
                destination.copy_(source)

    @torch.no_grad()
    def _evaluate(self, X, targets, labels, rows=None) -> tuple[np.ndarray, np.ndarray]:
        """Mean loss and accuracy per member on ``X[rows]`` (all of ``X`` if ``rows`` is None)."""
        self.model.eval()
        n = len(X) if rows is None else rows.shape[-1]
        chunk = max(1, EVAL_ROWS // self.members)
        total_loss = torch.zeros(self.members, dtype=torch.float64, device=self.device)
        correct = torch.zeros(self.members, dtype=torch.long, device=self.device)
        for start in range(0, n, chunk):
            index = slice(start, start + chunk) if rows is None else rows[..., start:start + chunk]
            outputs = self.model(X[index])
            size = outputs.shape[-2]
            total_loss += self.loss(outputs, targets[index]).double() * size
            correct += (outputs.argmax(-1) == labels[index]).sum(-1)
        self.model.train()
        return (total_loss / n).cpu().numpy(), correct.cpu().numpy() / n

    # --------------------------------------------------------------- results
    def _finish(self) -> None:
        if self.best_state is not None:
            for k in range(self.members):
                if self.best_epoch[k] is not None and self.status[k] == "ok":
                    self._copy_member(self.best_state, self.parameters, k)
        for k in np.flatnonzero([s == "ok" for s in self.status]):
            if not self._member_is_finite(k):
                self.status[k], self.diverged_at[k] = "diverged", int(self.steps_done[k])

    @torch.no_grad()
    def _member_is_finite(self, k: int) -> bool:
        return all(bool(torch.isfinite(p[k] if self.batched else p).all()) for p in self.parameters)

    def _results(self) -> list[TrainResult]:
        results = []
        for k in range(self.members):
            epochs = self.last_epoch[k]
            history = {column: [_plain(row[column][k]) for row in self.rows[:epochs]]
                       for column in HISTORY_COLUMNS}
            model = self.model.member(k) if self.batched else self.model
            results.append(TrainResult(model=model, status=self.status[k], diverged_at_step=self.diverged_at[k],
                                       steps=int(self.steps_done[k]), history=history,
                                       best_epoch=self.best_epoch[k], stopped_early=self.stopped_early[k]))
        return results


def _plain(value):
    """numpy scalars as Python numbers, so histories serialise to JSON unchanged."""
    return value.item() if isinstance(value, np.generic) else value
