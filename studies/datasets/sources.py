"""Where each dataset's examples come from: files in a data folder, scikit-learn, or a generator.

A reader returns :class:`RawData`: the official splits as stored (uint8 images,
or real-valued signals), before any splitting, scaling or transform; the
registry turns that into a :class:`~studies.datasets.dataset.Dataset`.

Data-folder layout (what ``symbench data download`` writes; torchvision's
layout is also recognised)::

    DATA/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    DATA/fashion-mnist/…same names…
    DATA/cifar10/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin, batches.meta.txt
    DATA/cifar10/cifar-10-batches-py/{data_batch_1..5,test_batch}, batches.meta
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studies.datasets import cifar
from studies.datasets.errors import DataNotFoundError, DatasetError, check_int
from studies.datasets.idx import read_idx_pair
from studies.datasets.mnist1d import MNIST1DConfig, generate

DATA_ENV = "SYMBENCH_DATA"

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
IDX_FOLDERS = {"mnist": ("mnist", "MNIST/raw"), "fashion-mnist": ("fashion-mnist", "FashionMNIST/raw")}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR_FOLDERS = {
    "binary": (f"cifar10/{cifar.BINARY_FOLDER}", cifar.BINARY_FOLDER),
    "python": (f"cifar10/{cifar.PYTHON_FOLDER}", cifar.PYTHON_FOLDER),
}


@dataclass
class RawData:
    """A dataset's official splits as stored, and where they came from.

    ``train`` is None when the source has no (available) training split.
    ``pixel_max`` divides the stored values into [0, 1]; None when they are
    already real-valued (no scaling). A holdout split divides ``test``, which
    ``test_set_name`` names in the provenance.
    """

    test: tuple[np.ndarray, np.ndarray]
    train: tuple[np.ndarray, np.ndarray] | None
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    pixel_max: float | None
    source: str
    files: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    train_missing_reason: str = ""
    test_set_name: str = "the official test set"


def resolve_data_dir(data_dir, dataset: str) -> Path:
    """``data_dir``, else $SYMBENCH_DATA; a one-line DataNotFoundError when neither is given."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_ENV) or None
    if chosen is None:
        raise DataNotFoundError(
            f"{dataset} is read from a data folder: pass data_dir=... or set ${DATA_ENV} "
            f"(fetch it with `symbench data download {dataset} --data-dir DIR`)"
        )
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(f"data folder {path} does not exist (for {dataset})")
    return path


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def locate_idx(name: str, data_dir: Path) -> Path | None:
    """The first folder for ``name`` that holds the official test files, or None."""
    for relative in IDX_FOLDERS[name]:
        folder = data_dir / relative
        if all(_find(folder, stem) for stem in IDX_FILES["test"]):
            return folder
    return None


def read_idx_dataset(name: str, data_dir, class_names: tuple[str, ...]) -> RawData:
    """MNIST or Fashion-MNIST from the IDX files in the data folder (training files optional)."""
    root = resolve_data_dir(data_dir, name)
    folder = locate_idx(name, root)
    if folder is None:
        expected = ", ".join(f"{root / IDX_FOLDERS[name][0] / stem}[.gz]" for stem in IDX_FILES["test"])
        raise DataNotFoundError(f"{name}: test files not found: expected {expected} (`symbench data download {name}`)")
    splits, files = {}, []
    for split, (image_stem, label_stem) in IDX_FILES.items():
        images_path, labels_path = _find(folder, image_stem), _find(folder, label_stem)
        if images_path is None or labels_path is None:
            continue
        images, labels, records = read_idx_pair(images_path, labels_path, len(class_names))
        splits[split] = (images, labels)
        files += records
    shapes = {tuple(images.shape[1:]) for images, _ in splits.values()}
    if len(shapes) != 1:
        raise DatasetError(f"{folder}: training and test images differ in shape: {sorted(shapes)}")
    return RawData(
        test=splits["test"],
        train=splits.get("train"),
        input_shape=shapes.pop(),
        class_names=class_names,
        pixel_max=255.0,
        source=f"{name} IDX files in {folder}",
        files=files,
        train_missing_reason=f"no training files ({IDX_FILES['train'][0]}[.gz]) in {folder}",
    )


def locate_cifar10(data_dir: Path, fmt: str = "auto") -> tuple[str, Path] | None:
    """(format, folder) of the first CIFAR-10 folder that holds the test batch, or None."""
    formats = ("binary", "python") if fmt == "auto" else (fmt,)
    for candidate in formats:
        test_name = cifar.TEST_BATCH + (".bin" if candidate == "binary" else "")
        for relative in CIFAR_FOLDERS[candidate]:
            if (data_dir / relative / test_name).is_file():
                return candidate, data_dir / relative
    return None


def read_cifar10(data_dir, format: str = "auto") -> RawData:  # noqa: A002 - the option's natural name
    """CIFAR-10 from its binary or python batches ("auto": binary when present)."""
    if format not in ("auto", "binary", "python"):
        raise DatasetError(f"cifar10: unknown format {format!r}; accepted: auto, binary, python")
    root = resolve_data_dir(data_dir, "cifar10")
    found = locate_cifar10(root, format)
    if found is None:
        formats = ("binary", "python") if format == "auto" else (format,)
        wanted = " or ".join(str(root / CIFAR_FOLDERS[f][0]) for f in formats)
        raise DataNotFoundError(f"cifar10: no test batch in {wanted} (`symbench data download cifar10`)")
    fmt, folder = found
    suffix, read_batch = (".bin", cifar.read_binary_batch) if fmt == "binary" else ("", cifar.read_python_batch)
    files, notes = [], []
    test_images, test_labels, record = read_batch(folder / f"{cifar.TEST_BATCH}{suffix}")
    files.append(record)
    train_parts = []
    for batch in cifar.TRAIN_BATCHES:
        path = folder / f"{batch}{suffix}"
        if path.is_file():
            images, labels, record = read_batch(path)
            train_parts.append((images, labels))
            files.append(record)
    if 0 < len(train_parts) < len(cifar.TRAIN_BATCHES):
        names = ", ".join(Path(r["path"]).name for r in files[1:])
        count = sum(len(labels) for _, labels in train_parts)
        notes.append(
            f"training set: {names} only ({len(train_parts)} of the {len(cifar.TRAIN_BATCHES)} official "
            f"training batches, {count:,} images)"
        )
    meta_path = folder / (cifar.BINARY_META if fmt == "binary" else cifar.PYTHON_META)
    if meta_path.is_file():
        read_meta = cifar.read_binary_meta if fmt == "binary" else cifar.read_python_meta
        class_names, record = read_meta(meta_path)
        files.append(record)
    else:
        class_names = cifar.CLASS_NAMES
        notes.append(f"no {meta_path.name} in {folder}: using the standard CIFAR-10 class names")
    train = None
    if train_parts:
        train = (np.concatenate([i for i, _ in train_parts]), np.concatenate([l for _, l in train_parts]))
    return RawData(
        test=(test_images, test_labels),
        train=train,
        input_shape=cifar.IMAGE_SHAPE,
        class_names=class_names,
        pixel_max=255.0,
        source=f"CIFAR-10 {fmt} batches in {folder}",
        files=files,
        notes=notes,
        train_missing_reason=f"no training batches (data_batch_1..5{suffix}) in {folder}",
    )


def read_digits(data_dir=None) -> RawData:
    """scikit-learn's 8×8 digits (1,797 images, values 0..16), bundled with scikit-learn: no download."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)[:, None, :, :]  # stored as float64 holding integers 0..16
    return RawData(
        test=(images, digits.target.astype(np.int64)),
        train=None,
        input_shape=(1, 8, 8),
        class_names=tuple(str(d) for d in digits.target_names),
        pixel_max=16.0,
        source="scikit-learn load_digits() (UCI optical recognition of handwritten digits, test part), bundled",
        train_missing_reason="scikit-learn's digits has no official train/test split",
        test_set_name="the whole dataset",
    )


def read_mnist1d(data_dir=None, n_samples: int = 5000, generator_seed: int = 42) -> RawData:
    """MNIST-1D generated locally (:mod:`studies.datasets.mnist1d`); generator seed 42 is the canonical set."""
    config = MNIST1DConfig(num_samples=check_int(n_samples, "mnist1d n_samples", 10),
                           seed=check_int(generator_seed, "mnist1d generator_seed", 0))
    data = generate(config)
    shape = (1, config.final_seq_length)
    return RawData(
        test=(data["x_test"][:, None, :], data["y_test"]),
        train=(data["x_train"][:, None, :], data["y_train"]),
        input_shape=shape,
        class_names=tuple(str(d) for d in range(10)),
        pixel_max=None,
        source=(
            f"MNIST-1D generated locally (our implementation of the mnist1d generator; num_samples={n_samples}, "
            f"seed={generator_seed}; official split: first {config.train_split:.0%} train)"
        ),
        notes=["MNIST-1D signals are already standardised by the generator (over train and test together)"],
    )
