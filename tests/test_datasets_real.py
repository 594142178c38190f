"""The real data in ../shared/data (the MNIST test set; a 10k + 10k CIFAR-10 subset in binary format).

Skipped with a reason when the folder is absent. Each dataset is loaded once per
module (fixtures), so the 20,000 CIFAR-10 images are read a single time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from studies.datasets import load
from studies.datasets.cifar import CLASS_NAMES, read_binary_batch
from tests.test_datasets_formats import cifar_python_batch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

pytestmark = pytest.mark.data

# class counts of the official MNIST test set (t10k-labels-idx1-ubyte)
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _require(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent")
    return path


def nearest_centroid_accuracy(ds) -> float:
    """Test accuracy of the nearest class mean: far above chance only if images and labels line up."""
    X_train, X_test = ds.X_train.reshape(ds.n_train, -1).double(), ds.X_test.reshape(ds.n_test, -1).double()
    centroids = torch.stack([X_train[ds.y_train == c].mean(0) for c in range(ds.n_classes)])
    return float((torch.cdist(X_test, centroids).argmin(1) == ds.y_test).double().mean())


@pytest.fixture(scope="module")
def mnist():
    _require("mnist/t10k-images-idx3-ubyte.gz")
    return load("mnist", SHARED_DATA, seed=0, standardize="none")


@pytest.fixture(scope="module")
def cifar10():
    _require("cifar10/cifar-10-batches-bin/test_batch.bin")
    return load("cifar10", SHARED_DATA, standardize="none")


def test_mnist_files_are_the_official_ones(mnist):
    md5s = {Path(f["path"]).name: f["md5"] for f in mnist.provenance["files"]}
    assert md5s == {
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }


def test_mnist_test_set_is_split_8000_2000_and_says_so(mnist):
    assert (mnist.n_train, mnist.n_test) == (8000, 2000) and mnist.input_shape == (1, 28, 28)
    counts = np.bincount(mnist.y_train.numpy(), minlength=10) + np.bincount(mnist.y_test.numpy(), minlength=10)
    assert counts.tolist() == MNIST_TEST_COUNTS
    held_out = np.bincount(mnist.y_test.numpy(), minlength=10)
    assert np.all(np.abs(held_out - np.array(MNIST_TEST_COUNTS) * 0.2) < 1)  # stratified
    assert any("no training files" in note and "8000 / 2000" in note for note in mnist.notes)
    assert "8000 / 2000" in mnist.summary()
    assert float(mnist.X_train.min()) == 0.0 and float(mnist.X_train.max()) == 1.0


def test_mnist_images_match_their_labels(mnist):
    assert nearest_centroid_accuracy(mnist) > 0.78  # 0.82 measured; chance is 0.10


def test_mnist_standardised_and_rotated(mnist):
    ds = load("mnist", SHARED_DATA, n_train=1000, n_test=500, transform="orthogonal", transform_seed=3)
    assert (ds.n_train, ds.n_test) == (1000, 500) and ds.provenance["transform"]["element"]["d"] == 784
    # a rotation of the pixel basis keeps the geometry, so the nearest centroid is unchanged
    plain = load("mnist", SHARED_DATA, n_train=1000, n_test=500)
    assert abs(nearest_centroid_accuracy(ds) - nearest_centroid_accuracy(plain)) < 1e-3


def test_cifar10_subset_loads(cifar10):
    assert (cifar10.n_train, cifar10.n_test) == (10000, 10000) and cifar10.input_shape == (3, 32, 32)
    assert cifar10.class_names == CLASS_NAMES
    assert np.bincount(cifar10.y_train.numpy()).tolist() == [1000] * 10
    assert np.bincount(cifar10.y_test.numpy()).tolist() == [1000] * 10
    assert any("1 of the 5 official training batches" in note for note in cifar10.notes)
    # per-channel means of CIFAR-10 training images are about (0.491, 0.482, 0.447)
    means = cifar10.X_train.double().mean(dim=(0, 2, 3))
    np.testing.assert_allclose(means.numpy(), [0.491, 0.482, 0.447], atol=0.015)


def test_cifar10_images_match_their_labels(cifar10):
    assert nearest_centroid_accuracy(cifar10) > 0.24  # 0.277 measured; chance is 0.10


def test_cifar10_python_format_of_the_same_images(tmp_path, cifar10):
    # rewrite the real test batch in the official python format; the two loaders must agree
    images, labels, _ = read_binary_batch(_require("cifar10/cifar-10-batches-bin/test_batch.bin"))
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(cifar_python_batch(images[:2000], labels[:2000]))
    (folder / "data_batch_1").write_bytes(cifar_python_batch(images[2000:4000], labels[2000:4000]))
    ds = load("cifar10", tmp_path, standardize="none")
    assert torch.equal(ds.X_test, cifar10.X_test[:2000]) and torch.equal(ds.y_train, cifar10.y_test[2000:4000])
