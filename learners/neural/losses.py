"""Training losses, reduced per network so batched networks train independently.

A loss maps outputs of shape ``(..., B, C)`` (leading dims index independent
networks, if any) and prepared targets to the mean loss of each network,
shape ``(...)``. Summing those means over networks gives each network's
parameters exactly the gradient of its own mean loss.

``cross_entropy``
    ``-log softmax(f(x))_y``, averaged over the batch.
``mse``
    AGD's square loss: ``mean over batch and classes of (f(x) - √C·e_y)²``,
    with ``e_y`` the one-hot vector of the label and C the number of classes
    (the √C scale gives the target unit norm per class on average).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from learners.neural.validation import choice


class Loss:
    """A named loss: ``prepare_targets`` once per dataset, then call per minibatch."""

    name: str

    def prepare_targets(self, labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CrossEntropy(Loss):
    name = "cross_entropy"

    def prepare_targets(self, labels, num_classes, dtype):
        return labels

    def __call__(self, outputs, targets):
        if outputs.dim() == 2:  # one network: torch's fused mean
            return F.cross_entropy(outputs, targets)
        leading = outputs.shape[:-1]
        per_sample = F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]),
                                     targets.expand(leading).reshape(-1), reduction="none")
        return per_sample.view(leading).mean(-1)


class ScaledSquare(Loss):
    name = "mse"

    def prepare_targets(self, labels, num_classes, dtype):
        return F.one_hot(labels, num_classes).to(dtype) * math.sqrt(num_classes)

    def __call__(self, outputs, targets):
        return (outputs - targets).square().mean((-2, -1))


LOSSES = {"cross_entropy": CrossEntropy, "mse": ScaledSquare}


def make_loss(name: str) -> Loss:
    """The loss called ``name`` (``cross_entropy`` or ``mse``)."""
    return LOSSES[choice("loss", name, tuple(LOSSES))]()
