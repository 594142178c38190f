"""Unpickling CIFAR-10's python batches without ever running code from the file.

A pickle is a small program: its GLOBAL/STACK_GLOBAL opcodes import any callable
and REDUCE calls it, so ``pickle.load`` on an untrusted file can run anything
(``os.system``, ``builtins.eval``). The official CIFAR-10 python batches
(``data_batch_1`` … ``test_batch``, ``batches.meta``; written by Python 2's
cPickle, protocol 2) contain only dicts, lists, ints, strings and numpy uint8
arrays. The only globals they name are numpy's array-reconstruction internals:

* ``numpy.core.multiarray._reconstruct`` (``numpy._core.multiarray`` in numpy 2)
  called as ``_reconstruct(ndarray, (0,), b'b')`` to make an empty array whose
  state (shape, dtype, raw bytes) is then set by BUILD (``ndarray.__setstate__``);
* ``numpy.ndarray``, only as the argument above;
* ``numpy.dtype``, called with a type string such as ``'u1'``.

:class:`RestrictedUnpickler` resolves exactly these names, and to stand-ins
rather than the real objects: ``numpy.ndarray`` becomes an inert token (so no
pickle can call the ndarray constructor with a buffer and strides of its
choice), ``_reconstruct`` accepts only that token, and ``dtype`` accepts only a
type string. Every other global is refused before anything is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from studies.datasets.errors import DatasetError
from studies.datasets.fileio import read_file


class UnsafePickleError(DatasetError):
    """The pickle names a global outside the allowed numpy array internals."""


class _NdarrayToken:
    """What ``numpy.ndarray`` resolves to: usable only as ``_reconstruct``'s first argument."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<numpy.ndarray token>"


_NDARRAY = _NdarrayToken()


def _reconstruct_array(subtype, shape, dtype_code):
    """Empty ndarray for BUILD to fill, as numpy's ``_reconstruct`` but for plain ndarrays only."""
    if subtype is not _NDARRAY:
        raise UnsafePickleError(f"array reconstruction of {subtype!r} refused: only numpy.ndarray is allowed")
    return np.ndarray(shape, dtype=_dtype(dtype_code))


def _dtype(spec, align=False, copy=False):
    """``numpy.dtype`` restricted to a type string (e.g. 'u1', b'b'); no structured or object types."""
    if not isinstance(spec, (str, bytes)):
        raise UnsafePickleError(f"numpy.dtype({spec!r}) refused: only a type string is allowed")
    dtype = np.dtype(spec.decode("latin1") if isinstance(spec, bytes) else spec, align=bool(align))
    if dtype.hasobject or dtype.fields is not None:
        raise UnsafePickleError(f"numpy.dtype({spec!r}) refused: object and structured types are not allowed")
    return dtype


ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_array,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_array,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`.

    ``find_class`` is the single gate through which a pickle obtains a callable
    (GLOBAL, STACK_GLOBAL and the EXT opcodes all go through it), so refusing
    there means nothing from the file is ever imported or called.
    """

    def find_class(self, module: str, name: str):
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise UnsafePickleError(
                f"refused global {module}.{name}: only numpy array reconstruction "
                f"({', '.join(sorted({f'{m}.{n}' for m, n in ALLOWED_GLOBALS}))}) is allowed"
            )
        return allowed

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refused persistent id {pid!r}")


def safe_loads(content: bytes, source: str):
    """Unpickle ``content`` with :class:`RestrictedUnpickler`; errors name ``source``.

    ``encoding='latin1'`` turns Python 2 strings into str: this is what numpy
    needs for the raw bytes of arrays pickled by Python 2 (the official files).
    """
    try:
        return RestrictedUnpickler(io.BytesIO(content), encoding="latin1").load()
    except DatasetError as exc:
        raise type(exc)(f"{source}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any failure inside a pickle stream means a corrupt file
        raise DatasetError(f"{source}: not a valid pickle ({type(exc).__name__}: {exc})") from None


def safe_load(path: Path):
    """Unpickle a file with :class:`RestrictedUnpickler` (see :func:`safe_loads`)."""
    content, _ = read_file(Path(path))
    return safe_loads(content, str(path))
