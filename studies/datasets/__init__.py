"""Datasets for symbench: a registry of real and generated classification datasets.

    studies.datasets.describe()            # {name: one-line description}
    ds = studies.datasets.load("mnist", data_dir, split="auto", seed=0, n_train=2000,
                               transform="orthogonal", transform_seed=3)
    ds.X_train, ds.y_train, ds.X_test, ds.y_test, ds.input_shape, ds.class_names, ds.provenance
    studies.datasets.download("cifar10", data_dir)

``digits`` (scikit-learn, bundled) and ``mnist1d`` (generated) always work;
``mnist``, ``fashion-mnist`` and ``cifar10`` read their official files from a
data folder (``data_dir`` or $SYMBENCH_DATA). See :mod:`studies.datasets.registry`
for the loading steps and :mod:`studies.datasets.download` for the downloader.
"""

from studies.datasets.dataset import Dataset
from studies.datasets.download import DOWNLOADS, download
from studies.datasets.errors import DataNotFoundError, DatasetError, DownloadError
from studies.datasets.registry import DATASETS, available, describe, load

__all__ = [
    "DATASETS",
    "DOWNLOADS",
    "DataNotFoundError",
    "Dataset",
    "DatasetError",
    "DownloadError",
    "available",
    "describe",
    "download",
    "load",
]
