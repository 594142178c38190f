"""Reading dataset files whole, with a provenance record (path, size, md5) for each.

A file is read once: the md5 recorded in the provenance is of exactly the bytes
that were parsed. Gzip is recognised by its magic bytes (1f 8b), not by the
file name, so ``foo.gz`` holding raw data and ``foo`` holding gzip both work.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

from studies.datasets.errors import DatasetError

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def md5_of_file(path: Path) -> str:
    """Hex md5 of a file, read in 1 MiB chunks (the official checksums are md5)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_file(path: Path) -> tuple[bytes, dict]:
    """The file's content, decompressed when it is gzip, and its provenance record.

    The record is {"path", "bytes", "md5"} of the file as stored (before
    decompression), so it can be compared with the official checksums.
    """
    path = Path(path)
    try:
        stored = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    record = {"path": str(path), "bytes": len(stored), "md5": hashlib.md5(stored, usedforsecurity=False).hexdigest()}
    if stored[:2] != GZIP_MAGIC:
        return stored, record
    try:
        return gzip.decompress(stored), record
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a truncated stream raises EOFError
        raise DatasetError(f"{path}: corrupt or truncated gzip stream ({exc}); accepted: a complete gzip file "
                           "or the uncompressed file (fetch it again with `symbench data download`)") from None
