"""The downloader against a local HTTP server on 127.0.0.1: checksums, resume, atomic writes, safe extraction, CLI."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from studies.datasets import DOWNLOADS, DatasetError, DownloadError, download, load
from studies.datasets.cifar import CLASS_NAMES
from studies.datasets.cli import main
from studies.datasets.download import Distribution, Resource
from tests.test_datasets_formats import cifar_records, idx_bytes, random_images, balanced_labels


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    support_range: bool = True
    truncate_once: set[str] = field(default_factory=set)
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    """Serves ``state.files``; honours ``Range: bytes=N-`` when ``support_range``; can cut one response short."""

    def do_GET(self):  # noqa: N802 - http.server's name
        state: ServerState = self.server.state
        requested_range = self.headers.get("Range")
        state.requests.append((self.path, requested_range))
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404, "not here")
            return
        start = 0
        if requested_range and state.support_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", requested_range).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.path in state.truncate_once:  # promise everything, send half, hang up
            state.truncate_once.discard(self.path)
            payload = payload[: len(payload) // 2]
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.state = ServerState()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield httpd.state, f"http://127.0.0.1:{httpd.server_address[1]}/files"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def md5(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


def serve_mnist(state: ServerState, monkeypatch) -> dict[str, bytes]:
    """Four small gzipped IDX files on the server, registered as the 'mnist' download with their md5s."""
    import gzip

    rng = np.random.default_rng(0)
    contents = {}
    for split, n in (("train", 50), ("t10k", 20)):
        contents[f"{split}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(random_images(rng, n, (28, 28))), mtime=0)
        contents[f"{split}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(balanced_labels(rng, n)), mtime=0)
    for name, content in contents.items():
        state.files[f"/files/{name}"] = content
    resources = tuple(Resource(name, md5(c), ("http://unused.invalid/" + name,)) for name, c in contents.items())
    monkeypatch.setitem(DOWNLOADS, "mnist", Distribution("mnist", "mnist", "test MNIST", resources))
    return contents


def test_download_verifies_and_the_loader_reads_the_result(tmp_path, server, monkeypatch):
    state, url = server
    contents = serve_mnist(state, monkeypatch)
    paths = download("mnist", tmp_path, base_url=url, progress=False)
    assert [p.name for p in paths] == list(contents)
    assert all(p.read_bytes() == contents[p.name] for p in paths)
    assert not list((tmp_path / "mnist").glob("*.part"))
    ds = load("mnist", tmp_path)
    assert (ds.n_train, ds.n_test) == (50, 20)
    # a second call finds every file verified and asks the server for nothing
    state.requests.clear()
    download("mnist", tmp_path, base_url=url, progress=False)
    assert state.requests == []


def test_checksum_mismatch_leaves_no_file(tmp_path, server, monkeypatch):
    state, url = server
    served = b"tampered content"
    state.files["/files/t10k-labels-idx1-ubyte.gz"] = served
    expected = DOWNLOADS["mnist"].resources[3]
    assert expected.filename == "t10k-labels-idx1-ubyte.gz" and expected.md5 == "ec29112dd5afa0611ce80d1b7f02629c"
    monkeypatch.setitem(DOWNLOADS, "mnist", Distribution("mnist", "mnist", "labels only", (expected,)))
    with pytest.raises(DatasetError) as caught:
        download("mnist", tmp_path, base_url=url, progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{url}/t10k-labels-idx1-ubyte.gz: checksum mismatch" in message
    assert md5(served) in message and "ec29112dd5afa0611ce80d1b7f02629c" in message
    assert not (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz.part").exists()


def test_interrupted_download_resumes_with_a_range_request(tmp_path, server, monkeypatch):
    state, url = server
    contents = serve_mnist(state, monkeypatch)
    name = "train-images-idx3-ubyte.gz"
    state.truncate_once.add(f"/files/{name}")
    with pytest.raises(DownloadError, match=rf"{name}: download failed .*connection closed after"):
        download("mnist", tmp_path, base_url=url, progress=False)
    partial = tmp_path / "mnist" / f"{name}.part"
    half = len(contents[name]) // 2
    assert partial.read_bytes() == contents[name][:half]
    assert not (tmp_path / "mnist" / name).exists()  # atomic: no final file from a partial transfer

    state.requests.clear()
    download("mnist", tmp_path, base_url=url, progress=False)
    assert (f"/files/{name}", f"bytes={half}-") in state.requests
    assert (tmp_path / "mnist" / name).read_bytes() == contents[name]
    assert not partial.exists()


def test_server_ignoring_range_restarts_from_scratch(tmp_path, server, monkeypatch):
    state, url = server
    contents = serve_mnist(state, monkeypatch)
    state.support_range = False
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz.part").write_bytes(b"stale bytes from elsewhere")
    download("mnist", tmp_path, base_url=url, progress=False)
    assert ("/files/t10k-images-idx3-ubyte.gz", "bytes=26-") in state.requests  # asked, got a 200
    assert (folder / "t10k-images-idx3-ubyte.gz").read_bytes() == contents["t10k-images-idx3-ubyte.gz"]


def test_complete_partial_file_is_verified_after_a_416(tmp_path, server, monkeypatch):
    state, url = server
    contents = serve_mnist(state, monkeypatch)
    folder = tmp_path / "mnist"
    folder.mkdir()
    name = "t10k-labels-idx1-ubyte.gz"
    (folder / f"{name}.part").write_bytes(contents[name])
    download("mnist", tmp_path, base_url=url, progress=False)
    assert (folder / name).read_bytes() == contents[name]


def test_missing_file_is_a_download_error(tmp_path, server, monkeypatch):
    state, url = server
    serve_mnist(state, monkeypatch)
    del state.files["/files/t10k-images-idx3-ubyte.gz"]
    with pytest.raises(DownloadError, match="HTTP 404"):
        download("mnist", tmp_path, base_url=url, progress=False)
    assert not (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_unreachable_host_is_a_download_error(tmp_path):
    # a port that was free a moment ago: connection refused, nothing written
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError, match="download failed"):
        download("mnist", tmp_path, base_url=f"http://127.0.0.1:{port}", progress=False, timeout=5)


def test_unknown_name():
    with pytest.raises(DatasetError, match="unknown download 'imagenet'; accepted: mnist, fashion-mnist, cifar10"):
        download("imagenet", "/tmp")


def _tarball(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, content in members:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def _file(name: str, content: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info, content


def _cifar_tarball(rng) -> bytes:
    members = [(tarfile.TarInfo("cifar-10-batches-bin"), None)]
    members[0][0].type = tarfile.DIRTYPE
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        members.append(_file(f"cifar-10-batches-bin/{name}",
                             cifar_records(random_images(rng, 10, (3, 32, 32)), balanced_labels(rng, 10))))
    members.append(_file("cifar-10-batches-bin/batches.meta.txt", "\n".join(CLASS_NAMES).encode()))
    return _tarball(members)


def _register_tarball(state, monkeypatch, content: bytes) -> None:
    state.files["/files/cifar-10-binary.tar.gz"] = content
    original = DOWNLOADS["cifar10"]
    resource = Resource("cifar-10-binary.tar.gz", md5(content), original.resources[0].urls)
    monkeypatch.setitem(DOWNLOADS, "cifar10", Distribution(
        "cifar10", "cifar10", "test", (resource,), extract=original.extract, required=original.required))


def test_tarball_is_verified_and_extracted(tmp_path, server, monkeypatch):
    state, url = server
    _register_tarball(state, monkeypatch, _cifar_tarball(np.random.default_rng(1)))
    paths = download("cifar10", tmp_path, base_url=url, progress=False)
    assert paths[-1] == tmp_path / "cifar10" / "cifar-10-batches-bin"
    ds = load("cifar10", tmp_path)
    assert (ds.n_train, ds.n_test) == (50, 10) and ds.provenance["notes"] == []
    assert [p.name for p in (tmp_path / "cifar10").iterdir() if p.name.startswith(".")] == []  # staging removed
    state.requests.clear()
    download("cifar10", tmp_path, base_url=url, progress=False)  # complete folder: nothing to fetch
    assert state.requests == []


@pytest.mark.parametrize(
    "member, phrase",
    [
        (_file("../escaped.txt", b"x"), "unsafe member path '../escaped.txt'"),
        (_file("/etc/escaped.txt", b"x"), "unsafe member path '/etc/escaped.txt'"),
        (_file("cifar-10-batches-bin/../../escaped.txt", b"x"), "unsafe member path"),
        (_file("elsewhere/file.bin", b"x"), "only paths inside cifar-10-batches-bin/"),
    ],
    ids=["parent", "absolute", "nested-parent", "outside-top"],
)
def test_unsafe_tarball_paths_are_refused(tmp_path, server, monkeypatch, member, phrase):
    state, url = server
    _register_tarball(state, monkeypatch, _tarball([member]))
    with pytest.raises(DatasetError, match=re.escape(phrase)):
        download("cifar10", tmp_path / "data", base_url=url, progress=False)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "data" / "escaped.txt").exists()
    assert not (tmp_path / "data" / "cifar10" / "cifar-10-batches-bin").exists()


def test_links_in_tarballs_are_refused(tmp_path, server, monkeypatch):
    state, url = server
    link = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    _register_tarball(state, monkeypatch, _tarball([(link, None)]))
    with pytest.raises(DatasetError, match="refusing member 'cifar-10-batches-bin/test_batch.bin': a link"):
        download("cifar10", tmp_path, base_url=url, progress=False)
    assert not (tmp_path / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin").exists()


def test_incomplete_tarball_is_reported(tmp_path, server, monkeypatch):
    state, url = server
    _register_tarball(state, monkeypatch, _tarball([_file("cifar-10-batches-bin/test_batch.bin", b"")]))
    with pytest.raises(DatasetError, match="incomplete archive: cifar-10-batches-bin/ lacks data_batch_1.bin"):
        download("cifar10", tmp_path, base_url=url, progress=False)


def test_cli_download_and_errors(tmp_path, server, monkeypatch, capsys):
    state, url = server
    contents = serve_mnist(state, monkeypatch)
    assert main(["data", "download", "mnist", "--data-dir", str(tmp_path), "--base-url", url, "--no-progress"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "mnist" / name) for name in contents]

    assert main(["data", "download", "imagenet", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown download 'imagenet'" in err

    monkeypatch.delenv("SYMBENCH_DATA", raising=False)
    assert main(["data", "download", "mnist"]) == 2
    assert "pass --data-dir DIR or set $SYMBENCH_DATA" in capsys.readouterr().err

    state.files["/files/t10k-images-idx3-ubyte.gz"] = b"tampered"
    assert main(["data", "download", "mnist", "--data-dir", str(tmp_path / "other"), "--base-url", url,
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checksum mismatch" in err

    del state.files["/files/t10k-images-idx3-ubyte.gz"]
    assert main(["data", "download", "mnist", "--data-dir", str(tmp_path / "third"), "--base-url", url,
                 "--no-progress"]) == 1
    assert "HTTP 404" in capsys.readouterr().err


def test_cli_list(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SYMBENCH_DATA", raising=False)
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"digits\s+built in", out) and re.search(r"mnist\s+not found", out)
    assert re.search(r"cifar10-python\s+CIFAR-10 python version", out)


def test_official_table():
    # what the downloader will ask for on a machine with internet access
    mnist = {r.filename: r for r in DOWNLOADS["mnist"].resources}
    assert mnist["t10k-images-idx3-ubyte.gz"].md5 == "9fb629c4189551a2d022fa330f9573f3"
    assert mnist["t10k-images-idx3-ubyte.gz"].urls == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
        "http://yann.lecun.com/exdb/mnist/t10k-images-idx3-ubyte.gz",
    )
    assert DOWNLOADS["cifar10"].resources[0].urls == ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",)
    assert DOWNLOADS["cifar10-python"].resources[0].md5 == "c58f30108f718f92721af3b95e74349a"
    assert all(re.fullmatch(r"[0-9a-f]{32}", r.md5) for d in DOWNLOADS.values() for r in d.resources)
