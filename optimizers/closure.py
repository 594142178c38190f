"""The closure convention of ``torch.optim.Optimizer.step``, written once."""

from __future__ import annotations

from typing import Callable

import torch


def closure_loss(closure: Callable[[], float] | None):
    """Re-evaluate the loss with gradients on (``step`` itself runs under
    ``torch.no_grad``), or return None when no closure is given."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
