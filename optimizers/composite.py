"""An optimizer made of child optimizers, each owning a disjoint set of parameters.

This is how per-layer rules ("SGD on layer 1, Adam elsewhere") and hybrids
(Muon for matrices, AdamW for the rest) are written.  ``step``, ``zero_grad``,
``state_dict`` and ``load_state_dict`` delegate to the children.  The
composite's ``param_groups`` are the children's group dicts themselves (the
same objects), so a learning-rate scheduler acting on the composite changes
the children's learning rates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.optim import Optimizer

from optimizers.closure import closure_loss


class CompositeOptimizer(Optimizer):
    """Steps each child optimizer in turn; a parameter may belong to one child only."""

    def __init__(self, children: Sequence[Optimizer]):
        children = list(children)
        if not children:
            raise ValueError("a composite optimizer needs at least one child optimizer")
        for child in children:
            if not isinstance(child, Optimizer):
                raise TypeError(f"children must be torch.optim.Optimizer instances, got {type(child).__name__}")
        params = [p for child in children for group in child.param_groups for p in group["params"]]
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter belongs to more than one child optimizer")
        super().__init__(params, defaults={})
        self.children = children
        self.param_groups = [group for child in children for group in child.param_groups]

    def add_param_group(self, param_group: dict) -> None:
        if hasattr(self, "children"):
            raise TypeError("add parameter groups to a child optimizer, not to the composite")
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        loss = closure_loss(closure)
        for child in self.children:
            child.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        for child in self.children:
            child.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"children": [child.state_dict() for child in self.children]}

    def load_state_dict(self, state_dict: dict) -> None:
        saved = state_dict.get("children")
        if not isinstance(saved, list) or len(saved) != len(self.children):
            found = len(saved) if isinstance(saved, list) else "no"
            raise ValueError(f"state_dict has {found} children; this composite has {len(self.children)}")
        for child, child_state in zip(self.children, saved):
            child.load_state_dict(child_state)
        # torch rebuilds a child's group dicts on load: share the new ones
        self.param_groups = [group for child in self.children for group in child.param_groups]

    def __getstate__(self) -> dict:  # keep the children through copy.deepcopy and pickle
        return {**super().__getstate__(), "children": self.children}

    def __repr__(self) -> str:
        inner = ",\n".join("  " + repr(child).replace("\n", "\n  ") for child in self.children)
        return f"{type(self).__name__}(\n{inner}\n)"
