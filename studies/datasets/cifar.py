"""CIFAR-10 in its two official distribution formats.

* Binary (``cifar-10-batches-bin/*.bin``): records of 3,073 bytes, one label
  byte (0–9) then 3,072 pixel bytes: the 1,024 red, then green, then blue
  values of a 32×32 image, row-major. Class names: ``batches.meta.txt``, one a line.
* Python (``cifar-10-batches-py/data_batch_*``, ``test_batch``): pickled dicts
  with ``data`` (a 10000×3072 uint8 numpy array, same pixel order) and
  ``labels`` (a list of ints); ``batches.meta`` holds ``label_names``. Read with
  :mod:`studies.datasets.safe_pickle`, which never runs code from the file.

Both readers return images (N, 3, 32, 32) uint8 and labels (N,) int64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studies.datasets.errors import DatasetError, check_label_range
from studies.datasets.fileio import read_file
from studies.datasets.safe_pickle import safe_loads

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32
RECORD_BYTES = 1 + PIXELS
BINARY_FOLDER = "cifar-10-batches-bin"
PYTHON_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
BINARY_META = "batches.meta.txt"
PYTHON_META = "batches.meta"


def parse_binary(content: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from the bytes of a binary batch."""
    if len(content) == 0 or len(content) % RECORD_BYTES:
        raise DatasetError(
            f"{source}: wrong record size: {len(content):,} bytes is not a whole number of "
            f"{RECORD_BYTES:,}-byte records (1 label byte + {PIXELS:,} pixel bytes)"
        )
    records = np.frombuffer(content, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    check_label_range(labels, len(CLASS_NAMES), source)
    return records[:, 1:].reshape(-1, *IMAGE_SHAPE), labels


def read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(images, labels, provenance record) of one ``*.bin`` batch."""
    content, record = read_file(path)
    images, labels = parse_binary(content, str(path))
    return images, labels, record


def _field(batch: dict, key: str, source: str):
    # Python 2 pickles loaded with encoding='latin1' have str keys; some re-pickled copies have bytes keys
    for candidate in (key, key.encode("latin1")):
        if candidate in batch:
            return batch[candidate]
    raise DatasetError(f"{source}: not a CIFAR-10 python batch: no {key!r} entry (keys: {sorted(map(str, batch))})")


def parse_python_batch(batch, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from an unpickled python batch (a dict), with every field checked."""
    if not isinstance(batch, dict):
        raise DatasetError(
            f"{source}: not a CIFAR-10 python batch: the pickle holds a {type(batch).__name__}, not a dict"
        )
    data = _field(batch, "data", source)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        what = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(
            f"{source}: wrong record size: 'data' must be a uint8 array of shape (N, {PIXELS}), got {what}"
        )
    raw_labels = _field(batch, "labels", source)
    labels = np.asarray(raw_labels) if isinstance(raw_labels, (list, tuple, np.ndarray)) else None
    if labels is None or labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{source}: 'labels' must be a list of ints, got {type(raw_labels).__name__}")
    if labels.shape[0] != data.shape[0]:
        raise DatasetError(f"{source}: holds {labels.shape[0]} labels for {data.shape[0]} images")
    check_label_range(labels, len(CLASS_NAMES), source)
    return data.reshape(-1, *IMAGE_SHAPE), labels.astype(np.int64)


def read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(images, labels, provenance record) of one pickled python batch, read without running code."""
    content, record = read_file(path)
    images, labels = parse_python_batch(safe_loads(content, str(path)), str(path))
    return images, labels, record


def _check_class_names(names: list, source: str) -> tuple[str, ...]:
    if len(names) != len(CLASS_NAMES) or not all(isinstance(n, str) and n for n in names):
        raise DatasetError(f"{source}: expected {len(CLASS_NAMES)} class names, got {names!r}")
    return tuple(names)


def read_binary_meta(path: Path) -> tuple[tuple[str, ...], dict]:
    """Class names from ``batches.meta.txt`` (one a line; blank lines ignored) and the file's record."""
    content, record = read_file(path)
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text file of class names") from None
    return _check_class_names([line.strip() for line in text.splitlines() if line.strip()], str(path)), record


def read_python_meta(path: Path) -> tuple[tuple[str, ...], dict]:
    """Class names from the pickled ``batches.meta`` (its ``label_names``) and the file's record."""
    content, record = read_file(path)
    meta = safe_loads(content, str(path))
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: not a CIFAR-10 batches.meta: the pickle holds a {type(meta).__name__}")
    names = _field(meta, "label_names", str(path))
    if not isinstance(names, list):
        raise DatasetError(f"{path}: 'label_names' must be a list of strings, got {type(names).__name__}")
    names = [n.decode("latin1") if isinstance(n, bytes) else n for n in names]
    return _check_class_names(names, str(path)), record
