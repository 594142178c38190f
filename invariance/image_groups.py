"""Image actions as pixel permutations of images flattened row-major from (C, H, W).

Each builder returns a ``source`` index array of length C·H·W such that the
transformed flat image is ``x[source]``: output pixel (c, i, j) reads input
pixel (c, si, sj). The index formulas are written out here (not obtained by
running numpy's own image functions on an index grid), so comparing the
result with ``np.rot90`` / ``np.flip`` / ``np.roll`` is an independent check.

With rows r = i, columns c = j, and n = H = W for rotations:

* rot90 by k quarter turns, as ``np.rot90(img, k, axes=(H, W))``
  (counter-clockwise when row 0 is drawn at the top):
  k=1: (i, j) <- (j, n-1-i);  k=2: (i, j) <- (n-1-i, n-1-j);  k=3: (i, j) <- (n-1-j, i).
* horizontal flip (mirror left-right, ``np.flip`` on W): (i, j) <- (i, W-1-j);
  vertical flip (upside down, ``np.flip`` on H): (i, j) <- (H-1-i, j).
* cyclic shift by (dy, dx), as ``np.roll(img, (dy, dx), axis=(H, W))``:
  (i, j) <- ((i - dy) mod H, (j - dx) mod W).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

FLIP_AXES = ("horizontal", "vertical")


def check_image_shape(image_shape, d: int, group: str) -> tuple[int, int, int]:
    """Validate ``image_shape`` = (C, H, W) of positive ints with C·H·W = d."""
    if image_shape is None:
        raise ValueError(f"group {group!r} needs image_shape=(C, H, W) with C*H*W = d = {d}")
    if (
        isinstance(image_shape, (str, bytes))
        or not isinstance(image_shape, Sequence | np.ndarray)
        or len(image_shape) != 3
        or not all(_is_int(s) and s >= 1 for s in image_shape)
    ):
        raise ValueError(
            f"group {group!r}: image_shape must be three positive ints (C, H, W), got {image_shape!r}"
        )
    shape = tuple(int(s) for s in image_shape)
    if shape[0] * shape[1] * shape[2] != d:
        raise ValueError(
            f"group {group!r}: image_shape {shape} has C*H*W = {shape[0] * shape[1] * shape[2]}, "
            f"but d = {d}"
        )
    return shape


def rot90_source(image_shape: tuple[int, int, int], k: int) -> np.ndarray:
    """Source indices of a rotation by k quarter turns (k taken mod 4, as np.rot90)."""
    _, height, width = image_shape
    if height != width:
        raise ValueError(f"group 'image_rot90' needs square images (H = W), got image_shape {image_shape}")
    n = height
    rows, cols = np.indices((n, n))
    k = k % 4
    if k == 0:
        src_rows, src_cols = rows, cols
    elif k == 1:
        src_rows, src_cols = cols, n - 1 - rows
    elif k == 2:
        src_rows, src_cols = n - 1 - rows, n - 1 - cols
    else:
        src_rows, src_cols = n - 1 - cols, rows
    return _flat_source(image_shape, src_rows, src_cols)


def flip_source(image_shape: tuple[int, int, int], axis: str) -> np.ndarray:
    """Source indices of a horizontal (left-right) or vertical (up-down) mirror."""
    _, height, width = image_shape
    rows, cols = np.indices((height, width))
    if axis == "horizontal":
        return _flat_source(image_shape, rows, width - 1 - cols)
    if axis == "vertical":
        return _flat_source(image_shape, height - 1 - rows, cols)
    raise ValueError(f"group 'image_flip': axis must be one of {FLIP_AXES}, got {axis!r}")


def shift_source(image_shape: tuple[int, int, int], shift: tuple[int, int]) -> np.ndarray:
    """Source indices of a cyclic shift by (dy, dx) rows and columns."""
    _, height, width = image_shape
    dy, dx = shift
    rows, cols = np.indices((height, width))
    return _flat_source(image_shape, (rows - dy) % height, (cols - dx) % width)


def check_shift(shift) -> tuple[int, int]:
    """Validate a shift option: a pair of ints (dy, dx)."""
    if (
        isinstance(shift, (str, bytes))
        or not isinstance(shift, Sequence | np.ndarray)
        or len(shift) != 2
        or not all(_is_int(s) for s in shift)
    ):
        raise ValueError(f"group 'image_shift': shift must be a pair of ints (dy, dx), got {shift!r}")
    return int(shift[0]), int(shift[1])


def _flat_source(image_shape, src_rows: np.ndarray, src_cols: np.ndarray) -> np.ndarray:
    channels, height, width = image_shape
    channel_offset = (np.arange(channels) * (height * width)).reshape(channels, 1, 1)
    return (channel_offset + src_rows * width + src_cols).reshape(-1).astype(np.intp)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
