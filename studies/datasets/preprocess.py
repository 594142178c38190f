"""Seeded stratified splits, scaling and standardisation, and group actions on a dataset.

Everything here is a pure function of its inputs and an explicit
``numpy.random.Generator``; nothing reads global RNG state.
"""

from __future__ import annotations

import numpy as np

from studies.datasets.errors import DatasetError

STANDARDIZE_MODES = {
    "none": "no standardisation",
    "global": "one mean and std over all training values",
    "channel": "a mean and std per channel over the training set",
    "feature": "a mean and std per input coordinate over the training set (constant coordinates get std 1)",
}


def stratified_indices(labels: np.ndarray, n_first: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split indices 0..N-1 into (first, rest), ``len(first) == n_first``, keeping class proportions.

    Class c (n_c examples) contributes ⌊n_first·n_c/N⌋ examples to ``first``;
    the remaining slots go to the classes with the largest fractional parts
    (ties to the smaller class index), so every class share is within one
    example of proportional. Within a class the examples are a uniformly random
    subset (from ``rng``). Both index arrays are sorted, i.e. in file order.
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    if not 0 <= n_first <= n:
        raise DatasetError(f"cannot take {n_first} of {n} examples")
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n_first / n
    quota = np.floor(exact).astype(np.int64)
    shortfall = n_first - int(quota.sum())
    # stable sort on the negated remainder: largest remainder first, ties in class order
    quota[np.argsort(-(exact - quota), kind="stable")[:shortfall]] += 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quota)]
    first = np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)
    rest = np.setdiff1d(np.arange(n), first, assume_unique=True)
    return first, rest


def standardization(X_train: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std), float64, broadcastable against arrays shaped like ``X_train`` (N, C, ...).

    Population statistics (ddof 0) of the training set; a zero std (a constant
    coordinate) is replaced by 1 so that it maps to 0 instead of dividing by 0.
    """
    if mode not in STANDARDIZE_MODES:
        raise DatasetError(f"unknown standardize mode {mode!r}; accepted: {', '.join(STANDARDIZE_MODES)}")
    if mode == "none" or X_train.shape[0] == 0:
        return np.zeros((1,) * X_train.ndim), np.ones((1,) * X_train.ndim)
    axes = {"global": None, "channel": (0,) + tuple(range(2, X_train.ndim)), "feature": (0,)}[mode]
    mean = X_train.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = X_train.std(axis=axes, keepdims=True, dtype=np.float64)
    return mean, np.where(std > 0, std, 1.0)


def sample_group_element(group: str, d: int, seed: int, input_shape: tuple[int, ...], options: dict):
    """An element of an input group of :mod:`invariance.groups` acting on flattened inputs of length d.

    Image actions (those taking ``image_shape``) get the dataset's (C, H, W)
    unless ``options`` give one.
    """
    from invariance import groups

    spec = groups.GROUPS.get(group) if isinstance(group, str) else None
    if spec is None:
        accepted = ", ".join(n for n, s in groups.GROUPS.items() if s.acts_on == "inputs")
        raise DatasetError(f"unknown transform {group!r}; accepted: {accepted}")
    if spec.acts_on != "inputs":
        raise DatasetError(f"transform {group!r} acts on {spec.acts_on}; a dataset transform must act on inputs")
    options = dict(options)
    if "image_shape" in spec.options and "image_shape" not in options:
        if len(input_shape) != 3:
            raise DatasetError(
                f"transform {group!r} acts on (C, H, W) images; this dataset's inputs have shape {input_shape}"
            )
        options["image_shape"] = tuple(input_shape)
    return groups.sample(group, d, seed=seed, **options)


def apply_flat(element, X: np.ndarray) -> np.ndarray:
    """g applied to each example of X (N, *shape) as a flat vector of length prod(shape)."""
    return element.apply(X.reshape(X.shape[0], -1)).reshape(X.shape)
