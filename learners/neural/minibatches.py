"""Seeded minibatch order: a hold-out split, then one permutation per epoch.

The order depends only on the number of rows and the seed, never on the data
values, so two runs on ``S`` and on ``g(S)`` with one seed see the same rows
in the same minibatches (the coupled equivariance test relies on this).
"""

from __future__ import annotations

import math

import torch


class MinibatchOrder:
    """Row indices for training: ``train_rows``, ``holdout_rows`` and ``next_epoch()``.

    One ``torch.Generator`` seeded with ``seed`` first draws the hold-out split
    (if ``holdout`` is a fraction: ``round(holdout·n)`` rows, at least one, and
    at least one row left for training), then one permutation of the training
    rows per call to :meth:`next_epoch`.
    """

    def __init__(self, n_rows: int, seed: int, holdout: float | None = None):
        self.generator = torch.Generator().manual_seed(int(seed))
        if holdout is None:
            self.train_rows = torch.arange(n_rows)
            self.holdout_rows = None
        else:
            n_holdout = min(max(1, round(holdout * n_rows)), n_rows - 1)
            if n_holdout < 1:
                raise ValueError(f"holdout needs at least 2 training rows, got {n_rows}")
            shuffled = torch.randperm(n_rows, generator=self.generator)
            self.holdout_rows = shuffled[:n_holdout].sort().values
            self.train_rows = shuffled[n_holdout:].sort().values
        self._identity_rows = holdout is None

    @property
    def n_train(self) -> int:
        return len(self.train_rows)

    def next_epoch(self) -> torch.Tensor:
        """The training rows in this epoch's order (advances the generator)."""
        permutation = torch.randperm(self.n_train, generator=self.generator)
        return permutation if self._identity_rows else self.train_rows[permutation]


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Minibatches per epoch; the last one holds the remainder if any."""
    return math.ceil(n_train / batch_size)
