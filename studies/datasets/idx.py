"""The IDX format of MNIST and Fashion-MNIST (gzipped or not).

Layout (big-endian): two zero bytes, a type code, the number of dimensions n,
then n uint32 sizes, then the values in row-major order. The official files are
unsigned bytes: images have magic 0x00000803 (3 dims: count, rows, columns),
labels 0x00000801 (1 dim: count).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

from studies.datasets.errors import DatasetError, check_label_range
from studies.datasets.fileio import read_file

IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def parse_idx(content: bytes, source: str) -> tuple[int, np.ndarray]:
    """(magic number, array) from the bytes of an IDX file; ``source`` names it in errors."""
    if len(content) < 4:
        raise DatasetError(f"{source}: truncated: {len(content)} bytes, shorter than the 4-byte IDX magic number")
    magic = int.from_bytes(content[:4], "big")
    type_code, ndim = content[2], content[3]
    if content[0] != 0 or content[1] != 0 or type_code not in IDX_TYPES or ndim == 0:
        raise DatasetError(
            f"{source}: bad magic number 0x{magic:08x}: not an IDX file "
            f"(expected 00 00, a type code in {{{', '.join(f'0x{c:02x}' for c in IDX_TYPES)}}}, dimensions ≥ 1)"
        )
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DatasetError(f"{source}: truncated: {len(content)} bytes, shorter than the {header}-byte IDX header")
    shape = struct.unpack(f">{ndim}I", content[4:header])
    dtype = IDX_TYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(content) - header
    dims = "×".join(map(str, shape))
    if found < expected:
        raise DatasetError(
            f"{source}: truncated: the header declares {dims} values ({expected:,} bytes) "
            f"but only {found:,} bytes follow"
        )
    if found > expected:
        raise DatasetError(
            f"{source}: wrong size: {found - expected:,} unexpected bytes after the {dims} values the header declares"
        )
    array = np.frombuffer(content, dtype=dtype, count=math.prod(shape), offset=header).reshape(shape)
    return magic, array


def read_idx(path: Path, expected_magic: int) -> tuple[np.ndarray, dict]:
    """(array, provenance record) of an IDX file whose magic number must be ``expected_magic``."""
    content, record = read_file(path)
    magic, array = parse_idx(content, str(path))
    if magic != expected_magic:
        kinds = {IMAGES_MAGIC: "unsigned-byte images, 3 dimensions", LABELS_MAGIC: "unsigned-byte labels, 1 dimension"}
        raise DatasetError(
            f"{path}: bad magic number 0x{magic:08x} (expected 0x{expected_magic:08x}: "
            f"{kinds.get(expected_magic, 'IDX')})"
        )
    return array, record


def read_idx_pair(images_path: Path, labels_path: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Images (N, 1, H, W) uint8, labels (N,) int64, and both files' records.

    Checks that the counts agree and that every label is a class index.
    """
    images, images_record = read_idx(images_path, IMAGES_MAGIC)
    labels, labels_record = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"{labels_path}: holds {labels.shape[0]} labels but {images_path.name} holds {images.shape[0]} images"
        )
    check_label_range(labels, n_classes, str(labels_path))
    return images[:, None, :, :], labels.astype(np.int64), [images_record, labels_record]
