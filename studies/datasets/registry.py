"""The dataset registry: names, descriptions, and ``load`` (split, subsample, scale, transform).

``load`` applies, in this order (each step recorded in the provenance):

1. read the official splits (files, scikit-learn or the MNIST-1D generator);
2. split: ``"official"`` train/test; ``"holdout"`` a stratified, seeded split
   of the official test set (a fraction ``holdout_fraction`` becomes the test
   set); ``"auto"`` official when the training split exists, else holdout (so on
   a machine with only the MNIST test set, 8,000 train / 2,000 test);
3. subsample to ``n_train`` / ``n_test`` examples (stratified, seeded);
4. scale stored pixel values to [0, 1] (÷255 for MNIST/CIFAR, ÷16 for digits),
   then standardise with statistics of the (final) training set;
5. apply a group element g of :mod:`invariance.groups` to every input,
   flattened to a vector of length d: X ← g·X. It comes last so that the
   transformed dataset is exactly g(S) = {(g x, y)} of the untransformed one.

Arithmetic is float64 throughout and the result is cast once to ``dtype``, so a
float32 load equals the float64 load rounded to float32. Random choices use
``numpy.random.default_rng([seed, stream])`` with one stream per purpose (split,
train subsample, test subsample): changing ``n_test`` never changes which
training examples are drawn.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studies.datasets import sources
from studies.datasets.dataset import Dataset
from studies.datasets.errors import DataNotFoundError, DatasetError, check_int
from studies.datasets.preprocess import (
    STANDARDIZE_MODES,
    apply_flat,
    sample_group_element,
    standardization,
    stratified_indices,
)

SPLITS = {
    "auto": "the official split when the training split exists, else a stratified holdout of the test set",
    "official": "the official train/test split (an error when the training split is missing)",
    "holdout": "a stratified, seeded holdout of the official test set (the official training set is not used)",
}
DTYPES = {"float32": torch.float32, "float64": torch.float64}
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
_SPLIT_STREAM, _TRAIN_STREAM, _TEST_STREAM = 0, 1, 2


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its reader and whether it needs files from a data folder."""

    name: str
    description: str
    reader: Callable[..., sources.RawData]
    needs_files: bool
    locate: Callable[[Path], object] | None = None

    @property
    def options(self) -> tuple[str, ...]:
        """The dataset's own keyword options (its reader's parameters after ``data_dir``)."""
        return tuple(p for p in inspect.signature(self.reader).parameters if p != "data_dir")


def _read_mnist(data_dir) -> sources.RawData:
    return sources.read_idx_dataset("mnist", data_dir, sources.MNIST_CLASSES)


def _read_fashion_mnist(data_dir) -> sources.RawData:
    return sources.read_idx_dataset("fashion-mnist", data_dir, sources.FASHION_CLASSES)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec("digits", "scikit-learn's 8×8 handwritten digits: 1,797 real images, bundled (no download)",
                    sources.read_digits, needs_files=False),
        DatasetSpec("mnist1d", "MNIST-1D: 5,000 generated 40-sample 1-D digit signals (options n_samples, "
                    "generator_seed=42)", sources.read_mnist1d, needs_files=False),
        DatasetSpec("mnist", "MNIST 28×28 handwritten digits, from the official IDX files in the data folder",
                    _read_mnist, needs_files=True, locate=lambda root: sources.locate_idx("mnist", root)),
        DatasetSpec("fashion-mnist", "Fashion-MNIST 28×28 clothing images, from the official IDX files in the "
                    "data folder", _read_fashion_mnist, needs_files=True,
                    locate=lambda root: sources.locate_idx("fashion-mnist", root)),
        DatasetSpec("cifar10", "CIFAR-10 32×32 colour images, from the official binary or python batches in the "
                    "data folder (option format=auto|binary|python)", sources.read_cifar10, needs_files=True,
                    locate=sources.locate_cifar10),
    ]
}


def describe() -> dict[str, str]:
    """{dataset name: one-line description}, for ``symbench list datasets``."""
    return {name: spec.description for name, spec in DATASETS.items()}


def get_spec(name: str) -> DatasetSpec:
    spec = DATASETS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise DatasetError(f"unknown dataset {name!r}; accepted: {', '.join(DATASETS)}")
    return spec


def available(name: str, data_dir=None) -> bool:
    """Whether ``load(name, data_dir)`` finds its data (always True for digits and mnist1d)."""
    spec = get_spec(name)
    if not spec.needs_files:
        return True
    try:
        root = sources.resolve_data_dir(data_dir, name)
    except DataNotFoundError:
        return False
    return spec.locate(root) is not None


def _check_choice(value, what: str, accepted) -> None:
    if not isinstance(value, str) or value not in accepted:
        raise DatasetError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}")


def _resolve_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise DatasetError(f"unknown dtype {dtype!r}; accepted: {', '.join(DTYPES)}")


def _split(raw: sources.RawData, name: str, split: str, fraction: float, seed: int):
    """(train (X, y), test (X, y), description, notes) according to the split rule."""
    if split == "official" or (split == "auto" and raw.train is not None):
        if raw.train is None:
            raise DataNotFoundError(
                f"{name}: split='official' needs the training split, but {raw.train_missing_reason}; "
                "split='auto' splits the test set instead"
            )
        return raw.train, raw.test, f"official: {len(raw.train[1])} train / {len(raw.test[1])} test", []
    X, y = raw.test
    n_holdout = int(round(fraction * len(y)))
    if not 0 < n_holdout < len(y):
        raise DatasetError(f"holdout_fraction={fraction} leaves an empty train or test set of {len(y)} examples")
    train_index, test_index = stratified_indices(y, len(y) - n_holdout, np.random.default_rng([seed, _SPLIT_STREAM]))
    description = (
        f"holdout: a stratified split (seed {seed}) of {raw.test_set_name} ({len(y):,} examples) into "
        f"{len(train_index)} train / {len(test_index)} test"
    )
    if raw.train is None:
        reason = raw.train_missing_reason
    else:
        reason = "split='holdout' leaves the official training set unused"
    note = (
        f"{name}: {reason}; train and test are {len(train_index)} / {len(test_index)} examples of "
        f"{raw.test_set_name} (stratified split, seed {seed})"
    )
    return (X[train_index], y[train_index]), (X[test_index], y[test_index]), description, [note]


def _subsample(part, n, what: str, stream: int, seed: int):
    X, y = part
    if n is None:
        return part
    if n > len(y):
        raise DatasetError(f"{what}={n} exceeds the {len(y)} examples available; accepted: 1..{len(y)}")
    index, _ = stratified_indices(y, n, np.random.default_rng([seed, stream]))
    return X[index], y[index]


def _scale(train: np.ndarray, test: np.ndarray, pixel_max: float | None, mode: str):
    """Float64 copies scaled to [0, 1] (when ``pixel_max``) and standardised with training statistics.

    Returns (X_train, X_test, description, record); the record holds the
    statistics for the global and channel modes.
    """
    X_train, X_test = train.astype(np.float64), test.astype(np.float64)
    description = "stored values used as they are"
    if pixel_max is not None:
        X_train /= pixel_max
        X_test /= pixel_max
        description = f"stored values / {pixel_max:g} -> [0, 1]"
    record = {"mode": mode}
    if mode == "none":
        return X_train, X_test, description, record
    mean, std = standardization(X_train, mode)
    for X in (X_train, X_test):
        X -= mean
        X /= std
    if mode in ("global", "channel"):
        record.update(mean=mean.ravel().tolist(), std=std.ravel().tolist())
    return X_train, X_test, f"{description}; then standardised ({STANDARDIZE_MODES[mode]})", record


def load(
    name: str,
    data_dir=None,
    split: str = "auto",
    seed: int = 0,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    holdout_fraction: float = 0.2,
    dtype="float32",
    standardize: str = "channel",
    transform: str | None = None,
    transform_seed: int | None = None,
    transform_options: dict | None = None,
    **options,
) -> Dataset:
    """Load dataset ``name`` as in-memory tensors (see the module docstring for the steps).

    Parameters: ``data_dir`` (else $SYMBENCH_DATA; only for file datasets),
    ``split`` (auto | official | holdout), ``seed`` (split and subsampling),
    ``n_train``/``n_test`` (stratified subsample sizes), ``holdout_fraction``
    (share of the official test set held out as the test set by a holdout
    split), ``dtype`` (float32 | float64), ``standardize`` (none | global |
    channel | feature), ``transform`` (an input group of invariance.groups),
    ``transform_seed`` (default: ``seed``), ``transform_options`` (the group's
    options), and the dataset's own options (``DATASETS[name].options``).
    """
    spec = get_spec(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = ", ".join(spec.options) or "none"
        raise DatasetError(f"{name} got unknown options {unknown}; its own options: {accepted}")
    _check_choice(split, "split", SPLITS)
    _check_choice(standardize, "standardize mode", STANDARDIZE_MODES)
    seed = check_int(seed, "seed", 0)
    n_train = check_int(n_train, "n_train", 1, allow_none=True)
    n_test = check_int(n_test, "n_test", 1, allow_none=True)
    if not isinstance(holdout_fraction, numbers.Real) or not 0 < holdout_fraction < 1:
        raise DatasetError(f"holdout_fraction must be a number in (0, 1), got {holdout_fraction!r}")
    torch_dtype = _resolve_dtype(dtype)
    transform_seed = seed if transform_seed is None else check_int(transform_seed, "transform_seed", 0)
    if transform is not None and not isinstance(transform, str):
        raise TypeError(f"transform must be a group name or None, got {transform!r}")
    if transform_options and transform is None:
        raise DatasetError("transform_options given without a transform")

    raw = spec.reader(data_dir, **options)
    train, test, split_text, notes = _split(raw, name, split, float(holdout_fraction), seed)
    train = _subsample(train, n_train, "n_train", _TRAIN_STREAM, seed)
    test = _subsample(test, n_test, "n_test", _TEST_STREAM, seed)

    X_train, X_test, scaling, standardization_record = _scale(train[0], test[0], raw.pixel_max, standardize)
    transform_record = None
    if transform is not None:
        element = sample_group_element(transform, math.prod(raw.input_shape), transform_seed, raw.input_shape,
                                       dict(transform_options or {}))
        X_train, X_test = apply_flat(element, X_train), apply_flat(element, X_test)
        transform_record = {
            "group": transform,
            "seed": transform_seed,
            "element": element.to_dict(),
            "applied": f"x -> g·x on every train and test input flattened to d = {element.d}, after standardisation",
        }

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=_NUMPY_DTYPES[torch_dtype]))

    provenance = {
        "dataset": name,
        "source": raw.source,
        "files": raw.files,
        "split": split_text,
        "split_rule": split,
        "seed": seed,
        "subsample": (
            {"n_train": n_train, "n_test": n_test, "rule": "stratified, seeded"} if (n_train or n_test) else None
        ),
        "n_train": len(train[1]),
        "n_test": len(test[1]),
        "scaling": scaling,
        "standardize": standardization_record,
        "transform": transform_record,
        "dtype": str(torch_dtype).removeprefix("torch."),
        "options": dict(options),
        "notes": raw.notes + notes,
    }
    return Dataset(
        name=name,
        X_train=tensor(X_train),
        y_train=torch.from_numpy(np.ascontiguousarray(train[1], dtype=np.int64)),
        X_test=tensor(X_test),
        y_test=torch.from_numpy(np.ascontiguousarray(test[1], dtype=np.int64)),
        input_shape=tuple(raw.input_shape),
        class_names=tuple(raw.class_names),
        provenance=provenance,
    )
