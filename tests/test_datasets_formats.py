"""Loaders of the official file formats, on small files written here: IDX (gz and raw), CIFAR-10 binary
and python batches, and one-line errors for each kind of corrupt input.

The writers below build files byte by byte from the format specifications (not
with the loaders' own code), so a loader that misreads the layout fails.
Other dataset tests import them.
"""

from __future__ import annotations

import gzip
import pickle
import pickletools
import struct
from pathlib import Path

import numpy as np
import pytest

from studies.datasets import DatasetError, load
from studies.datasets.cifar import CLASS_NAMES

# --------------------------------------------------------------------------- writers


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: 00 00 08 ndim, big-endian uint32 sizes, values."""
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    content = idx_bytes(array)
    path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
    return path


def random_images(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def balanced_labels(rng: np.random.Generator, n: int, n_classes: int = 10) -> np.ndarray:
    return rng.permutation(np.arange(n) % n_classes).astype(np.uint8)


def write_idx_folder(folder: Path, rng: np.random.Generator, n_train: int | None, n_test: int,
                     gz: bool = True, image_shape=(28, 28)) -> dict[str, np.ndarray]:
    """An MNIST-style folder: t10k-* files (and train-* when n_train is given); returns the arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        if n is None:
            continue
        arrays[f"{split}_images"] = random_images(rng, n, image_shape)
        arrays[f"{split}_labels"] = balanced_labels(rng, n)
        write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", arrays[f"{split}_images"], gz)
        write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", arrays[f"{split}_labels"], gz)
    return arrays


def cifar_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """Binary CIFAR-10 records: per image, the label byte then R, G, B planes (1,024 bytes each, row-major)."""
    out = bytearray()
    for image, label in zip(images, labels):
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                out += bytes(image[channel, row].tolist())
    return bytes(out)


class Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` (SHORT_BINSTRING / BINSTRING), as cPickle wrote the official batches."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def py2_pickle(obj) -> bytes:
    """Protocol-2 pickle as Python 2 + numpy 1.x wrote it (numpy.core.multiarray._reconstruct)."""
    import io

    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def cifar_python_batch(images: np.ndarray, labels: np.ndarray) -> bytes:
    return py2_pickle({
        b"batch_label": b"training batch 1 of 5",
        b"labels": [int(v) for v in labels],
        b"data": np.ascontiguousarray(images.reshape(len(images), -1)),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    })


def write_cifar_folder(root: Path, rng: np.random.Generator, n_per_batch: int, n_train_batches: int,
                       fmt: str = "binary") -> dict[str, np.ndarray]:
    """DATA/cifar10/cifar-10-batches-{bin,py}/ with small batches; returns the concatenated arrays."""
    folder = root / "cifar10" / ("cifar-10-batches-bin" if fmt == "binary" else "cifar-10-batches-py")
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"train": [], "test": []}
    names = [f"data_batch_{i}" for i in range(1, n_train_batches + 1)] + ["test_batch"]
    for name in names:
        images = random_images(rng, n_per_batch, (3, 32, 32))
        labels = balanced_labels(rng, n_per_batch)
        parts["test" if name == "test_batch" else "train"].append((images, labels))
        if fmt == "binary":
            (folder / f"{name}.bin").write_bytes(cifar_records(images, labels))
        else:
            (folder / name).write_bytes(cifar_python_batch(images, labels))
    if fmt == "binary":
        (folder / "batches.meta.txt").write_text("\n".join(CLASS_NAMES) + "\n\n")
    else:
        (folder / "batches.meta").write_bytes(py2_pickle({
            b"label_names": [n.encode() for n in CLASS_NAMES], b"num_cases_per_batch": n_per_batch, b"num_vis": 3072,
        }))
    arrays = {}
    for split, items in parts.items():
        if items:
            arrays[f"{split}_images"] = np.concatenate([i for i, _ in items])
            arrays[f"{split}_labels"] = np.concatenate([l for _, l in items])
    return arrays


def exact(ds_tensor) -> np.ndarray:
    return ds_tensor.numpy()


RAW = {"standardize": "none", "dtype": "float64"}

# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_idx_official_split_reads_every_value(tmp_path, gz):
    arrays = write_idx_folder(tmp_path / "mnist", np.random.default_rng(1), n_train=40, n_test=20, gz=gz)
    ds = load("mnist", tmp_path, split="official", **RAW)
    assert ds.input_shape == (1, 28, 28) and ds.n_classes == 10
    np.testing.assert_array_equal(exact(ds.X_train), arrays["train_images"][:, None] / 255.0)
    np.testing.assert_array_equal(exact(ds.y_train), arrays["train_labels"])
    np.testing.assert_array_equal(exact(ds.X_test), arrays["t10k_images"][:, None] / 255.0)
    np.testing.assert_array_equal(exact(ds.y_test), arrays["t10k_labels"])
    assert [Path(f["path"]).name for f in ds.provenance["files"]] == [
        f"{stem}{'.gz' if gz else ''}" for stem in
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    ]
    assert ds.provenance["notes"] == []


def test_idx_reads_non_square_images_and_fashion_mnist_names(tmp_path):
    arrays = write_idx_folder(tmp_path / "fashion-mnist", np.random.default_rng(2), 20, 10, image_shape=(5, 7))
    ds = load("fashion-mnist", tmp_path, **RAW)
    assert ds.input_shape == (1, 5, 7)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(exact(ds.X_test), arrays["t10k_images"][:, None] / 255.0)


def test_idx_without_training_files_splits_the_test_set(tmp_path):
    arrays = write_idx_folder(tmp_path / "mnist", np.random.default_rng(3), n_train=None, n_test=100)
    ds = load("mnist", tmp_path, seed=5, **RAW)
    assert (ds.n_train, ds.n_test) == (80, 20)
    # the two parts partition the official test set: every image used once
    together = np.concatenate([exact(ds.X_train), exact(ds.X_test)]).reshape(100, -1)
    original = arrays["t10k_images"].reshape(100, -1) / 255.0
    assert np.array_equal(np.unique(together, axis=0), np.unique(original, axis=0))
    assert np.bincount(exact(ds.y_test), minlength=10).tolist() == [2] * 10  # stratified: 10 per class → 2 held out
    assert "no training files" in ds.provenance["notes"][0] and "80 / 20" in ds.provenance["notes"][0]
    assert ds.provenance["split"].startswith("holdout")
    with pytest.raises(DatasetError, match="split='official' needs the training split"):
        load("mnist", tmp_path, split="official")


# --------------------------------------------------------------------------- CIFAR-10


def test_cifar_binary_record_layout_is_label_then_rgb_planes(tmp_path):
    # one hand-made record: the label byte, then pixel (c, i, j) at 1 + 1024·c + 32·i + j
    images = np.zeros((10, 3, 32, 32), dtype=np.uint8)
    images[0, 1, 2, 3] = 200  # green, row 2, column 3
    images[0, 2, 31, 0] = 77  # blue, last row, first column
    labels = np.arange(10, dtype=np.uint8)
    record = cifar_records(images, labels)[:3073]
    assert record[0] == 0 and record[1 + 1024 * 1 + 32 * 2 + 3] == 200 and record[1 + 2048 + 32 * 31] == 77
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    (folder / "test_batch.bin").write_bytes(cifar_records(images, labels))
    (folder / "data_batch_1.bin").write_bytes(cifar_records(images, labels))
    ds = load("cifar10", tmp_path, **RAW)
    assert exact(ds.X_test)[0, 1, 2, 3] == 200 / 255 and exact(ds.X_test)[0, 2, 31, 0] == 77 / 255
    assert ds.class_names == CLASS_NAMES  # no batches.meta.txt: standard names, and a note says so
    assert any("batches.meta.txt" in note for note in ds.provenance["notes"])


def test_cifar_binary_batches(tmp_path):
    arrays = write_cifar_folder(tmp_path, np.random.default_rng(4), n_per_batch=20, n_train_batches=2)
    ds = load("cifar10", tmp_path, **RAW)
    assert ds.input_shape == (3, 32, 32) and ds.class_names == CLASS_NAMES
    np.testing.assert_array_equal(exact(ds.X_train), arrays["train_images"] / 255.0)
    np.testing.assert_array_equal(exact(ds.y_train), arrays["train_labels"])
    np.testing.assert_array_equal(exact(ds.X_test), arrays["test_images"] / 255.0)
    assert any("2 of the 5 official training batches" in note for note in ds.provenance["notes"])


def test_cifar_python_batches_written_as_python2_did(tmp_path):
    arrays = write_cifar_folder(tmp_path, np.random.default_rng(5), n_per_batch=20, n_train_batches=5, fmt="python")
    content = (tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    globals_named = {arg for op, arg, _ in pickletools.genops(content) if op.name == "GLOBAL"}
    assert globals_named == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}
    ds = load("cifar10", tmp_path, **RAW)
    assert ds.provenance["source"].startswith("CIFAR-10 python batches")
    np.testing.assert_array_equal(exact(ds.X_train), arrays["train_images"] / 255.0)
    np.testing.assert_array_equal(exact(ds.y_train), arrays["train_labels"])
    np.testing.assert_array_equal(exact(ds.y_test), arrays["test_labels"])
    assert ds.provenance["notes"] == [] and ds.class_names == CLASS_NAMES


def test_cifar_python_batch_repickled_by_python3(tmp_path):
    # a copy re-saved by Python 3 (protocol 4: bytes keys, numpy._core names) loads the same
    rng = np.random.default_rng(6)
    images, labels = random_images(rng, 10, (3, 32, 32)), balanced_labels(rng, 10)
    folder = tmp_path / "cifar-10-batches-py"  # torchvision's layout: directly in the data folder
    folder.mkdir()
    batch = {b"data": images.reshape(10, -1), b"labels": labels.tolist()}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=4))
    ds = load("cifar10", tmp_path, **RAW)
    np.testing.assert_array_equal(exact(ds.X_train).shape, (8, 3, 32, 32))  # holdout of the test batch
    assert any("no training batches" in note for note in ds.provenance["notes"])


def test_cifar_format_option_chooses_the_folder(tmp_path):
    binary = write_cifar_folder(tmp_path, np.random.default_rng(7), 10, 1, fmt="binary")
    python = write_cifar_folder(tmp_path, np.random.default_rng(8), 10, 1, fmt="python")
    auto, as_python = load("cifar10", tmp_path, **RAW), load("cifar10", tmp_path, format="python", **RAW)
    np.testing.assert_array_equal(exact(auto.X_test), binary["test_images"] / 255.0)
    np.testing.assert_array_equal(exact(as_python.X_test), python["test_images"] / 255.0)
    with pytest.raises(DatasetError, match="unknown format 'jpeg'"):
        load("cifar10", tmp_path, format="jpeg")


# --------------------------------------------------------------------------- corrupt input: one-line errors


def _one_line_error(path: Path, phrase: str, dataset: str, data_dir: Path, **options) -> str:
    with pytest.raises(DatasetError) as caught:
        load(dataset, data_dir, **options)
    message = str(caught.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    assert phrase in message, message
    return message


@pytest.fixture
def mnist_dir(tmp_path):
    write_idx_folder(tmp_path / "mnist", np.random.default_rng(9), n_train=20, n_test=10, gz=False)
    return tmp_path


def test_idx_bad_magic_number(mnist_dir):
    path = mnist_dir / "mnist" / "t10k-images-idx3-ubyte"
    content = bytearray(path.read_bytes())
    content[2] = 0x07  # not an IDX type code
    path.write_bytes(bytes(content))
    _one_line_error(path, "bad magic number 0x00000703", "mnist", mnist_dir)


def test_idx_labels_file_in_place_of_images(mnist_dir):
    images, labels = mnist_dir / "mnist" / "train-images-idx3-ubyte", mnist_dir / "mnist" / "train-labels-idx1-ubyte"
    images.write_bytes(labels.read_bytes())
    message = _one_line_error(images, "bad magic number 0x00000801", "mnist", mnist_dir)
    assert "expected 0x00000803" in message


def test_idx_truncated(mnist_dir):
    path = mnist_dir / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    phrase = "truncated: the header declares 10×28×28 values (7,840 bytes) but only 7,740 bytes follow"
    _one_line_error(path, phrase, "mnist", mnist_dir)


def test_idx_truncated_header(mnist_dir):
    path = mnist_dir / "mnist" / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:6])
    _one_line_error(path, "truncated: 6 bytes, shorter than the 8-byte IDX header", "mnist", mnist_dir)


def test_idx_trailing_bytes(mnist_dir):
    path = mnist_dir / "mnist" / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes() + b"\x00\x01")
    _one_line_error(path, "wrong size: 2 unexpected bytes", "mnist", mnist_dir)


def test_idx_truncated_gzip(tmp_path):
    write_idx_folder(tmp_path / "mnist", np.random.default_rng(10), n_train=None, n_test=10, gz=True)
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    _one_line_error(path, "corrupt or truncated gzip stream", "mnist", tmp_path)


def test_idx_label_out_of_range(mnist_dir):
    path = mnist_dir / "mnist" / "train-labels-idx1-ubyte"
    labels = np.zeros(20, dtype=np.uint8)
    labels[7] = 10
    path.write_bytes(idx_bytes(labels))
    _one_line_error(path, "label out of range: record 7 has label 10", "mnist", mnist_dir)


def test_idx_label_count_mismatch(mnist_dir):
    path = mnist_dir / "mnist" / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.zeros(19, dtype=np.uint8)))
    _one_line_error(path, "holds 19 labels but train-images-idx3-ubyte holds 20 images", "mnist", mnist_dir)


@pytest.fixture
def cifar_dir(tmp_path):
    write_cifar_folder(tmp_path, np.random.default_rng(11), n_per_batch=10, n_train_batches=1)
    return tmp_path


def test_cifar_binary_wrong_record_size(cifar_dir):
    path = cifar_dir / "cifar10" / "cifar-10-batches-bin" / "data_batch_1.bin"
    path.write_bytes(path.read_bytes()[:-1])
    phrase = "wrong record size: 30,729 bytes is not a whole number of 3,073-byte records"
    _one_line_error(path, phrase, "cifar10", cifar_dir)


def test_cifar_binary_label_out_of_range(cifar_dir):
    path = cifar_dir / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin"
    content = bytearray(path.read_bytes())
    content[3073 * 4] = 12  # the label byte of record 4
    path.write_bytes(bytes(content))
    _one_line_error(path, "label out of range: record 4 has label 12", "cifar10", cifar_dir)


def test_cifar_binary_bad_meta(cifar_dir):
    path = cifar_dir / "cifar10" / "cifar-10-batches-bin" / "batches.meta.txt"
    path.write_text("cat\ndog\n")
    _one_line_error(path, "expected 10 class names", "cifar10", cifar_dir)


@pytest.mark.parametrize(
    "batch, phrase",
    [
        ([1, 2, 3], "the pickle holds a list, not a dict"),
        ({"labels": [0]}, "no 'data' entry"),
        ({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, "'data' must be a uint8 array of shape (N, 3072)"),
        ({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}, "got float32 array"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, "holds 1 labels for 2 images"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": ["a", "b"]}, "'labels' must be a list of ints"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, "label out of range: record 1 has label 10"),
    ],
    ids=["not-a-dict", "no-data", "wrong-width", "wrong-dtype", "count", "label-type", "label-range"],
)
def test_cifar_python_corrupt_batches(tmp_path, batch, phrase):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    path = folder / "test_batch"
    path.write_bytes(pickle.dumps(batch, protocol=2 if isinstance(batch, list) else 4))
    _one_line_error(path, phrase, "cifar10", tmp_path)


def test_cifar_python_truncated_pickle(tmp_path):
    write_cifar_folder(tmp_path, np.random.default_rng(12), n_per_batch=10, n_train_batches=1, fmt="python")
    path = tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_1"
    path.write_bytes(path.read_bytes()[:5000])
    _one_line_error(path, "not a valid pickle", "cifar10", tmp_path)
