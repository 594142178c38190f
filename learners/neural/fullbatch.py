"""Full-batch training of K networks at once, each on its **own** data, with early stopping.

Member k of a :class:`~learners.neural.batched.BatchedMLP` (one score output) trains on
``X[k]`` (m, d) with targets ``y[k]`` and is scored on its own hold-out ``X_hold[k]``:
every tensor carries the member axis, so one step is one batched forward and backward
(``baddbmm`` per layer) for all members, whatever their data. This is what the
sample-complexity study needs: T trials × a learning-rate grid of L values, each trial
with its own training set, as K = L·T members.

The loop, per step: loss of each member (the mean over its m rows), backward of their
sum (each member receives its own gradient), optimizer step. Every ``eval_every`` steps
(and at step 0, the initial model) each member's hold-out metric is measured — the 0/1
error of the label 1{score > 0} for ``logistic``, the mean square error for ``square`` —
and the member keeps the parameters with the lowest (metric, hold-out loss), compared
lexicographically, the earlier step winning a tie. A member that has not improved for
``patience`` evaluations is done; the batch stops when every member is done or the
budget of ``steps`` is spent. Losses are read back once per evaluation, not per step.

A member whose training or hold-out loss becomes non-finite is recorded as diverged
(with the step), its parameters and optimizer state are zeroed and its gradients masked,
so it can never reach the others; they go on. Its best parameters (from before the
divergence) are kept, so a trial whose lr grid partly diverges still has a model.

Numbers: member k's trajectory equals the same network trained alone by the same loop
(``tests/test_fullbatch.py``), since batched matmuls and the optimizers (``batch_dims``)
treat the members independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

import optimizers
from learners.neural import relu_gradients
from learners.neural.batched import BatchedMLP
from learners.neural.validation import choice, positive_int

LOSSES = ("logistic", "square")


@dataclass
class FullBatchResult:
    """Per member (arrays of length K): ``status`` "ok"/"diverged"; ``diverged_at`` the number
    of steps after which the loss was non-finite (-1: never); ``best_step`` the step of the
    kept parameters (0 = the initial model); ``best_metric``/``best_loss`` its hold-out
    metric and loss (inf when no finite evaluation); ``steps`` how many steps it trained;
    ``stopped_early`` whether patience ended it. ``model`` holds each member's kept
    parameters. ``evaluations`` counts hold-out evaluations of the whole batch."""

    model: BatchedMLP
    status: np.ndarray
    diverged_at: np.ndarray
    best_step: np.ndarray
    best_metric: np.ndarray
    best_loss: np.ndarray
    steps: np.ndarray
    stopped_early: np.ndarray
    evaluations: int
    batched: bool = True


def member_losses(scores: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss of each member: scores, targets (K, m) -> (K,). ``logistic`` takes targets in
    {0, 1} (the loss log(1 + exp(-s·f)), s = 2y − 1); ``square`` real targets ((f − y)²)."""
    if loss == "logistic":
        return F.softplus(-(2 * targets - 1) * scores).mean(-1)
    return (scores - targets).square().mean(-1)


def member_metric(scores: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """Hold-out metric of each member: the 0/1 error of 1{f > 0} (logistic) or the mean square error."""
    if loss == "logistic":
        return ((scores > 0).to(scores.dtype) != targets).to(scores.dtype).mean(-1)
    return (scores - targets).square().mean(-1)


def train_full_batch(model: BatchedMLP, optimizer_spec, X: torch.Tensor, y: torch.Tensor, X_hold: torch.Tensor,
                     y_hold: torch.Tensor, *, loss: str, steps: int, eval_every: int = 10,
                     patience: int = 10) -> FullBatchResult:
    """Train the K members of ``model`` (one output) on X (K, m, d), y (K, m); hold-out X_hold
    (K, p, d), y_hold (K, p). ``optimizer_spec``: any registry spec (shared by all members) or
    ``optimizers.PerMember`` (one per member). See the module docstring."""
    if not isinstance(model, BatchedMLP) or model.out_features != 1:
        raise ValueError("train_full_batch needs a BatchedMLP with one output (a score per input)")
    loss = choice("loss", loss, LOSSES)
    steps, eval_every, patience = (positive_int("steps", steps), positive_int("eval_every", eval_every),
                                   positive_int("patience", patience))
    K = model.num_members
    for name, tensor, dims in (("X", X, 3), ("y", y, 2), ("X_hold", X_hold, 3), ("y_hold", y_hold, 2)):
        if tensor.dim() != dims or tensor.shape[0] != K:
            raise ValueError(f"{name} must have {dims} dimensions with {K} members first, got {tuple(tensor.shape)}")
    if K > 1 and not optimizers.supports_batching(optimizer_spec):
        raise ValueError(f"optimizer {optimizer_spec!r} does not support batched parameters; "
                         "train its members one by one (learners.sample.mlp falls back to that)")
    return _FullBatchLoop(model, optimizer_spec, X, y, X_hold, y_hold, loss, steps, eval_every, patience).run()


class _FullBatchLoop:
    def __init__(self, model, optimizer_spec, X, y, X_hold, y_hold, loss, steps, eval_every, patience):
        self.model, self.loss = model, loss
        self.X, self.y, self.X_hold, self.y_hold = X, y, X_hold, y_hold
        self.steps, self.eval_every, self.patience = steps, eval_every, patience
        self.parameters = list(model.parameters())
        self.optimizer = optimizers.create(optimizer_spec, model)
        # ReLU networks skip autograd (same gradients, a fraction of the memory traffic)
        self.by_hand = relu_gradients.supports(model)
        # the members whose forward and backward passes run (None: all) and their rows
        self.training_members: torch.Tensor | None = None
        self.training = (X, y)
        K, device = model.num_members, X.device
        self.best = [p.detach().clone() for p in self.parameters]
        self.best_metric = torch.full((K,), torch.inf, dtype=torch.float64, device=device)
        self.best_loss = torch.full((K,), torch.inf, dtype=torch.float64, device=device)
        self.best_step = torch.zeros(K, dtype=torch.long, device=device)
        self.waiting = torch.zeros(K, dtype=torch.long, device=device)
        self.active = np.ones(K, dtype=bool)
        self.status = np.array(["ok"] * K, dtype=object)
        self.diverged_at = np.full(K, -1)
        self.steps_run = np.zeros(K, dtype=int)
        self.stopped_early = np.zeros(K, dtype=bool)
        self.frozen: torch.Tensor | None = None
        self.evaluations = 0

    def run(self) -> FullBatchResult:
        self._evaluate(0, window=None)
        window = torch.empty((self.eval_every, self.model.num_members), dtype=self.X.dtype, device=self.X.device)
        filled = 0
        for step in range(1, self.steps + 1):
            window[filled] = self._step()
            filled += 1
            if filled == self.eval_every or step == self.steps:
                self.steps_run[self.active] = step
                self._evaluate(step, window[:filled])
                filled = 0
                if not self.active.any():
                    break
        return self._result()

    def _step(self) -> torch.Tensor:
        if self.by_hand:
            losses = relu_gradients.losses_and_gradients(self.model, *self.training, self.loss,
                                                         members=self.training_members)
        else:
            scores = self.model(self.X)[..., 0]
            losses = member_losses(scores, self.y, self.loss)
            self.optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
        if self.frozen is not None:
            for p in self.parameters:
                if p.grad is not None:
                    p.grad.masked_fill_(self.frozen.view(-1, *[1] * (p.dim() - 1)), 0)
        self.optimizer.step()
        return losses.detach()

    @torch.no_grad()
    def _evaluate(self, step: int, window: torch.Tensor | None) -> None:
        self.evaluations += 1
        scores = self.model(self.X_hold)[..., 0]
        hold_loss = member_losses(scores, self.y_hold, self.loss).double()
        metric = member_metric(scores, self.y_hold, self.loss).double()
        finite = torch.isfinite(hold_loss) & torch.isfinite(metric)
        if window is not None:
            finite_steps = torch.isfinite(window)
            finite &= finite_steps.all(0)
            first_bad = torch.where(finite_steps.all(0), -1, (~finite_steps).int().argmax(0))
        active = torch.as_tensor(self.active, device=scores.device)
        improved = active & finite & ((metric < self.best_metric)
                                      | ((metric == self.best_metric) & (hold_loss < self.best_loss)))
        self.best_metric = torch.where(improved, metric, self.best_metric)
        self.best_loss = torch.where(improved, hold_loss, self.best_loss)
        self.best_step = torch.where(improved, step, self.best_step)
        for p, kept in zip(self.parameters, self.best):
            mask = improved.view(-1, *[1] * (p.dim() - 1))
            kept.copy_(torch.where(mask, p, kept))
        self.waiting = torch.where(improved, 0, self.waiting + 1)
        diverged = (active & ~finite).cpu().numpy()
        done = (active & finite & (self.waiting >= self.patience)).cpu().numpy()
        self.active &= ~done
        self.stopped_early |= done
        if diverged.any():
            # the loss at the window's row r is that of the parameters after (step − filled + r) steps
            offsets = first_bad.cpu().numpy() if window is not None else np.zeros(len(diverged), dtype=int)
            for k in np.flatnonzero(diverged):
                bad = int(offsets[k])
                self.diverged_at[k] = step if bad < 0 else step - len(window) + bad
                self._diverge(k)
        self._shrink()

    def _shrink(self) -> None:
        """Finished members stop costing forward and backward passes: the next steps compute
        the gradients of the active members only (their rows gathered once, here), the others'
        gradients are zero. Their kept parameters are already final."""
        active = int(self.active.sum())
        computed = self.model.num_members if self.training_members is None else len(self.training_members)
        if not self.by_hand or active == computed or active == 0:
            return
        self.training_members = torch.as_tensor(np.flatnonzero(self.active), device=self.X.device)
        self.training = (self.X[self.training_members], self.y[self.training_members])

    @torch.no_grad()
    def _diverge(self, k: int) -> None:
        self.status[k] = "diverged"
        self.active[k] = False
        optimizers.zero_member_state_(self.optimizer, self.parameters, k)
        for p in self.parameters:
            p[k] = 0
        self.frozen = torch.as_tensor(self.status == "diverged", device=self.X.device)

    @torch.no_grad()
    def _result(self) -> FullBatchResult:
        for p, kept in zip(self.parameters, self.best):
            p.copy_(kept)
        return FullBatchResult(
            model=self.model, status=self.status.astype(str), diverged_at=self.diverged_at,
            best_step=self.best_step.cpu().numpy(), best_metric=self.best_metric.cpu().numpy(),
            best_loss=self.best_loss.cpu().numpy(), steps=self.steps_run, stopped_early=self.stopped_early,
            evaluations=self.evaluations)
