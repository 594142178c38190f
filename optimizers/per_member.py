"""One batched network, a different optimizer (or learning rate) for each member.

A learning-rate grid over K batched members (``["adam(lr=1e-3)", "adam(lr=1e-2)", ...]``)
cannot be one optimizer: a param group has one ``lr``. :class:`PerMemberOptimizer` splits
the members into runs of consecutive members that share a spec, and gives each run its
own child optimizer over *views* of the batched parameters:

    view_r = p[a_r:b_r]           (shares p's storage: stepping the view moves p)
    grad(view_r) = grad(p)[a_r:b_r]   (set before every step, no copy)

so the forward and backward passes stay one batched computation and each member moves
exactly as it would under its own optimizer, alone (the optimizers honour
``batch_dims``; member k's update depends on member k only). Runs are contiguous slices
because a view of a non-contiguous index set would be a copy: order the members so that
equal specs sit together (e.g. member = grid index × trials + trial) to get one child per
grid value.

A child that rebinds ``p.data`` instead of updating in place would break the aliasing;
the step checks and copies such a view back, so the result stays right either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.optim import Optimizer

from optimizers.closure import closure_loss
from optimizers.layers import batch_dims, layer_groups


class PerMember:
    """A spec for :func:`optimizers.create`: one optimizer spec per member of a batched network."""

    def __init__(self, specs: Sequence):
        specs = list(specs)
        if not specs:
            raise ValueError("PerMember needs one optimizer spec per member, got an empty list")
        self.specs = specs

    def runs(self) -> list[tuple[int, int, object]]:
        """(start, stop, spec) of each run of consecutive members with one spec."""
        runs: list[tuple[int, int, object]] = []
        for k, spec in enumerate(self.specs):
            if runs and _same(runs[-1][2], spec):
                runs[-1] = (runs[-1][0], k + 1, runs[-1][2])
            else:
                runs.append((k, k + 1, spec))
        return runs

    def __len__(self) -> int:
        return len(self.specs)

    def __repr__(self) -> str:
        return f"PerMember({self.specs!r})"


def _same(a, b) -> bool:
    return a is b or (type(a) is type(b) and a == b)


class PerMemberOptimizer(Optimizer):
    """Steps one child optimizer per run of members; see the module docstring."""

    def __init__(self, spec: PerMember, model_or_params, build: Callable[[object, list], Optimizer]):
        params = ([p for layer in layer_groups(model_or_params) for p in layer]
                  if isinstance(model_or_params, nn.Module) else list(model_or_params))
        if not params:
            raise ValueError("PerMemberOptimizer needs parameters to optimise")
        for p in params:
            if batch_dims(p) < 1 or p.shape[0] != len(spec):
                raise ValueError(f"PerMember has {len(spec)} specs; every parameter must be batched with "
                                 f"{len(spec)} members (batch_dims >= 1, leading size {len(spec)}), got shape "
                                 f"{tuple(p.shape)} with batch_dims {batch_dims(p)}")
        self.parents = params
        self.runs = spec.runs()
        self.views: list[list[nn.Parameter]] = []
        children = []
        for start, stop, member_spec in self.runs:
            views = [_view(p, start, stop) for p in params]
            self.views.append(views)
            children.append(build(member_spec, views))
        super().__init__([v for views in self.views for v in views], defaults={})
        self.children = children
        self.param_groups = [group for child in children for group in child.param_groups]

    def add_param_group(self, param_group: dict) -> None:
        if hasattr(self, "children"):
            raise TypeError("PerMemberOptimizer's groups belong to its children")
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        loss = closure_loss(closure)
        for (start, stop, _), views, child in zip(self.runs, self.views, self.children):
            for parent, view in zip(self.parents, views):
                view.grad = None if parent.grad is None else parent.grad[start:stop]
            child.step()
            for parent, view in zip(self.parents, views):
                if view.data_ptr() != parent[start:stop].data_ptr():  # the child rebound p.data
                    parent[start:stop] = view
                    view.data = parent.data[start:stop]
                view.grad = None
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parents:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    @torch.no_grad()
    def zero_member_(self, k: int) -> None:
        """Zero member ``k``'s optimizer state (every state tensor shaped like its parameter)."""
        for (start, stop, _), views, child in zip(self.runs, self.views, self.children):
            if start <= k < stop:
                for state in _states(child):
                    for view in views:
                        for value in state.get(view, {}).values():
                            if torch.is_tensor(value) and value.shape == view.shape:
                                value[k - start] = 0

    def state_dict(self) -> dict:
        return {"children": [child.state_dict() for child in self.children]}

    def load_state_dict(self, state_dict: dict) -> None:
        saved = state_dict.get("children")
        if not isinstance(saved, list) or len(saved) != len(self.children):
            raise ValueError(f"state_dict does not match this PerMemberOptimizer's {len(self.children)} children")
        for child, child_state in zip(self.children, saved):
            child.load_state_dict(child_state)
        self.param_groups = [group for child in self.children for group in child.param_groups]

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "children": self.children}


@torch.no_grad()
def zero_member_state_(optimizer: Optimizer, params: Sequence[torch.Tensor], k: int) -> None:
    """Zero member ``k``'s entries of every optimizer state tensor shaped like its batched
    parameter (any optimizer, composites and :class:`PerMemberOptimizer` included): what a
    member that diverged needs so that its non-finite state cannot move it again."""
    if isinstance(optimizer, PerMemberOptimizer):
        optimizer.zero_member_(k)
        return
    for state in _states(optimizer):
        for p in params:
            for value in state.get(p, {}).values():
                if torch.is_tensor(value) and value.shape == p.shape:
                    value[k] = 0


def _view(p: torch.Tensor, start: int, stop: int) -> nn.Parameter:
    view = nn.Parameter(p.detach()[start:stop], requires_grad=True)
    view.batch_dims = batch_dims(p)
    return view


def _states(optimizer: Optimizer):
    """Every per-parameter state mapping, including those of nested children."""
    yield optimizer.state
    for child in getattr(optimizer, "children", ()):
        yield from _states(child)
