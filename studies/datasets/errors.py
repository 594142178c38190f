"""Errors raised by the dataset loaders and the downloader.

Every message is one line that names the file (or URL) and what is wrong with it.
"""

from __future__ import annotations

import numbers

import numpy as np

from studies.errors import SymbenchError


class DatasetError(SymbenchError):
    """Bad or corrupt dataset input: unknown name or option, malformed or truncated file, bad checksum."""


class DataNotFoundError(DatasetError):
    """The files a dataset needs are not in the data folder (download them with ``symbench data download``)."""


class DownloadError(OSError):
    """A network transfer failed; a partial file is kept so that the next attempt resumes."""


def check_label_range(labels: np.ndarray, n_classes: int, source: str) -> None:
    """Raise DatasetError unless every label lies in 0..n_classes-1.

    ``source`` names the file the labels were read from; the message names the
    first offending record.
    """
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        first = int(bad[0])
        raise DatasetError(
            f"{source}: label out of range: record {first} has label {int(labels[first])} "
            f"({bad.size} bad in all); accepted labels are 0..{n_classes - 1}"
        )


def check_int(value, what: str, minimum: int, allow_none: bool = False) -> int | None:
    """``value`` as an int ≥ ``minimum`` (None passes when allowed); TypeError / DatasetError otherwise."""
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int ≥ {minimum}{' or None' if allow_none else ''}, got {value!r}")
    if value < minimum:
        raise DatasetError(f"{what} must be an int ≥ {minimum}, got {value}")
    return int(value)
