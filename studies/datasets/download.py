"""Downloading the official dataset files, resumably, atomically, with md5 verification.

* Resumable: bytes arrive in ``NAME.part``; a later attempt asks for the rest
  with an HTTP ``Range: bytes=N-`` header (a server that ignores it sends the
  whole file, which then replaces the partial one).
* Atomic: the final name appears only through ``os.replace`` of a complete
  ``.part`` whose md5 matches the official checksum; a mismatching download is
  deleted and reported. A crash leaves no half-written file under the real name.
* Safe extraction: a tarball member is extracted only if it is a regular file
  or folder inside the expected top folder (no absolute paths, no ``..``, no
  links or devices); files are written by us, one by one, each with os.replace.

Official locations and md5 checksums (torchvision's and the datasets' own pages):
MNIST from the ossci-datasets S3 mirror, then yann.lecun.com; Fashion-MNIST
from its S3 bucket; CIFAR-10 from www.cs.toronto.edu/~kriz.
``base_url`` replaces the location (``BASE_URL/FILENAME``), e.g. for a local mirror or tests.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from studies.datasets import cifar
from studies.datasets.errors import DatasetError, DownloadError
from studies.datasets.fileio import md5_of_file

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Resource:
    """One official file: its name, md5 and the URLs to try in order."""

    filename: str
    md5: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Distribution:
    """A downloadable dataset: files saved under ``DATA/folder``; a tarball is extracted to ``DATA/folder/extract``."""

    name: str
    folder: str
    description: str
    resources: tuple[Resource, ...]
    extract: str | None = None
    required: tuple[str, ...] = ()


def _idx_resources(mirrors: tuple[str, ...], md5s: dict[str, str]) -> tuple[Resource, ...]:
    return tuple(Resource(name, md5, tuple(m + name for m in mirrors)) for name, md5 in md5s.items())


MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
CIFAR_HOST = "https://www.cs.toronto.edu/~kriz/"

DOWNLOADS: dict[str, Distribution] = {
    d.name: d
    for d in [
        Distribution(
            "mnist", "mnist", "MNIST IDX files (4 gzipped files, 11 MB)",
            _idx_resources(MNIST_MIRRORS, {
                "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
            }),
        ),
        Distribution(
            "fashion-mnist", "fashion-mnist", "Fashion-MNIST IDX files (4 gzipped files, 30 MB)",
            _idx_resources(FASHION_MNIST_MIRRORS, {
                "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
            }),
        ),
        Distribution(
            "cifar10", "cifar10", "CIFAR-10 binary version (cifar-10-binary.tar.gz, 162 MB)",
            (Resource("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530",
                      (CIFAR_HOST + "cifar-10-binary.tar.gz",)),),
            extract=cifar.BINARY_FOLDER,
            required=tuple(f"{b}.bin" for b in (*cifar.TRAIN_BATCHES, cifar.TEST_BATCH)) + (cifar.BINARY_META,),
        ),
        Distribution(
            "cifar10-python", "cifar10", "CIFAR-10 python version (cifar-10-python.tar.gz, 163 MB; pickled batches)",
            (Resource("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
                      (CIFAR_HOST + "cifar-10-python.tar.gz",)),),
            extract=cifar.PYTHON_FOLDER,
            required=(*cifar.TRAIN_BATCHES, cifar.TEST_BATCH, cifar.PYTHON_META),
        ),
    ]
}


def describe() -> dict[str, str]:
    """{download name: one-line description}, for ``symbench data list``."""
    return {name: d.description for name, d in DOWNLOADS.items()}


def download(name: str, data_dir, base_url: str | None = None, progress: bool = True, *,
             timeout: float = 60.0) -> list[Path]:
    """Fetch, verify and (for CIFAR-10) extract the official files of ``name`` into ``data_dir``.

    Returns the paths of the verified files (and of the extracted folder).
    Files already present with the right md5 are not fetched again. Raises
    DatasetError (unknown name, checksum mismatch, unsafe or incomplete
    archive) or DownloadError (network failure; rerun to resume).
    """
    distribution = DOWNLOADS.get(name) if isinstance(name, str) else None
    if distribution is None:
        raise DatasetError(f"unknown download {name!r}; accepted: {', '.join(DOWNLOADS)}")
    if data_dir is None:
        raise DatasetError("download needs a data folder (data_dir)")
    folder = Path(data_dir).expanduser() / distribution.folder
    if distribution.extract and _holds(folder / distribution.extract, distribution.required):
        _say(progress, f"{name}: {folder / distribution.extract} already holds every file; nothing to do")
        return [folder / distribution.extract]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for resource in distribution.resources:
        urls = (base_url.rstrip("/") + "/" + resource.filename,) if base_url else resource.urls
        paths.append(fetch_verified(urls, folder / resource.filename, resource.md5, progress=progress, timeout=timeout))
    if distribution.extract:
        paths.append(extract_tarball(paths[0], folder, distribution.extract, distribution.required))
        _say(progress, f"{name}: extracted {paths[-1]}")
    return paths


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr)


def _holds(folder: Path, required: tuple[str, ...]) -> bool:
    return bool(required) and all((folder / name).is_file() for name in required)


def fetch_verified(urls: tuple[str, ...], destination: Path, md5: str, *, progress: bool = True,
                   timeout: float = 60.0) -> Path:
    """Download to ``destination`` (trying ``urls`` in order) and return it once its md5 matches."""
    if destination.is_file() and md5_of_file(destination) == md5:
        _say(progress, f"{destination.name}: present, md5 verified")
        return destination
    partial = destination.with_name(destination.name + ".part")
    failures = []
    for url in urls:
        try:
            _transfer(url, partial, progress, timeout)
        except DownloadError as exc:
            failures.append(str(exc))
            continue
        digest = md5_of_file(partial)
        if digest != md5:
            partial.unlink()
            raise DatasetError(
                f"{url}: checksum mismatch for {destination.name}: md5 {digest}, expected {md5}; "
                "the download was deleted"
            )
        os.replace(partial, destination)
        _say(progress, f"{destination.name}: downloaded, md5 verified")
        return destination
    kept = f"; {partial.stat().st_size:,} bytes kept in {partial} to resume" if partial.exists() else ""
    raise DownloadError(f"{destination.name}: download failed ({' | '.join(failures)}){kept}")


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _transfer(url: str, partial: Path, progress: bool, timeout: float) -> None:
    """Append the rest of ``url`` to ``partial`` (all of it when the server ignores Range)."""
    offset = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": "symbench-datasets"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return  # nothing after byte `offset`: the partial file is complete; the checksum decides
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    with response:
        if offset and response.status == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != offset:
                partial.unlink()
                raise DownloadError(f"{url}: unexpected Content-Range {response.headers.get('Content-Range')!r}; "
                                    "partial file discarded")
        else:
            offset = 0  # a full response (200): start again
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        written = offset
        try:
            with open(partial, "ab" if offset else "wb") as out, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, desc=partial.name[: -len(".part")],
                disable=not progress, file=sys.stderr, leave=False,
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(f"{url}: transfer interrupted after {written:,} bytes ({exc})") from None
    if total is not None and written != total:
        raise DownloadError(f"{url}: connection closed after {written:,} of {total:,} bytes")


def _member_path(member: tarfile.TarInfo, top: str, archive: Path) -> PurePosixPath:
    """The member's path, checked to be a regular file or folder inside ``top/``."""
    path = PurePosixPath(member.name)
    outside = not path.parts or path.parts[0] != top or ".." in path.parts
    if member.name.startswith("/") or "\\" in member.name or outside:
        raise DatasetError(f"{archive}: unsafe member path {member.name!r}: only paths inside {top}/ are extracted")
    if not (member.isfile() or member.isdir()):
        raise DatasetError(f"{archive}: refusing member {member.name!r}: a link or special file")
    return path


def extract_tarball(archive: Path, folder: Path, top: str, required: tuple[str, ...]) -> Path:
    """Extract ``archive``'s ``top/`` folder into ``folder/top`` safely; return ``folder/top``.

    Members are staged in a temporary folder next to the target, then moved
    into place one by one with os.replace (existing files of the same name
    are replaced, other files in the target are left alone).
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{top}.", dir=folder))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    relative = _member_path(member, top, archive)
                    target = staging / relative
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DatasetError(f"{archive}: not a readable tar archive ({exc})") from None
        missing = [name for name in required if not (staging / top / name).is_file()]
        if missing:
            raise DatasetError(f"{archive}: incomplete archive: {top}/ lacks {', '.join(missing)}")
        destination = folder / top
        for source in sorted((staging / top).rglob("*")):
            target = destination / source.relative_to(staging / top)
            if source.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
        return destination
    finally:
        shutil.rmtree(staging, ignore_errors=True)
