"""The in-memory dataset every study trains on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True, repr=False, eq=False)
class Dataset:
    """Train and test examples as torch tensors, and where they came from.

    ``X_train`` (n_train, *input_shape) and ``X_test`` are float32 (or float64)
    on the CPU; ``y_train``/``y_test`` are int64 class indices in
    0..n_classes-1. ``provenance`` is a JSON-able dict: dataset, source, files
    read (path, bytes, md5), split rule, subsampling, scaling and
    standardisation, transform (the group element's record), dtype, seed, and
    ``notes`` (a list of sentences a study should print, e.g. that MNIST's
    training set was not available and the test set was split instead).
    """

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    provenance: dict

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        """d = prod(input_shape): the length of a flattened input, on which group actions act."""
        return math.prod(self.input_shape)

    @property
    def n_train(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.y_test.shape[0])

    @property
    def notes(self) -> list[str]:
        return list(self.provenance.get("notes", []))

    def summary(self) -> str:
        """A few lines for a study's output: sizes, shape, split rule, transform and notes."""
        p = self.provenance
        lines = [
            f"{self.name}: {self.n_train} train / {self.n_test} test, input {self.input_shape}, "
            f"{self.n_classes} classes, {p.get('dtype')}",
            f"  source: {p.get('source')}",
            f"  split: {p.get('split')}",
            f"  scaling: {p.get('scaling')}",
        ]
        if p.get("transform"):
            lines.append(f"  transform: {p['transform']['group']} (seed {p['transform']['seed']})")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, n_train={self.n_train}, n_test={self.n_test}, "
            f"input_shape={self.input_shape}, n_classes={self.n_classes}, dtype={self.X_train.dtype})"
        )
