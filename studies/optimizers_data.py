"""Data for the ``optimizers`` study: where the files are, substitutes, and a per-process cache.

* The data folder: the config's ``data_dir``; if empty, ``$SYMBENCH_DATA``;
  else the ``shared/data`` folder beside the repository, when it exists.
* A substitute, only for a dataset the user did not name: when the default
  config's file dataset (MNIST, CIFAR-10) is not in the data folder, the study
  trains on ``fallback_dataset`` (``digits`` by default, bundled with
  scikit-learn, so the study always runs), taking all of it, and says so on
  the terminal (``prepare``), in every trial's metrics and in the report. A
  dataset the user names (``--set two_layer_dataset=mnist``, a config file)
  is never replaced: missing files are an error before the sweep, as they are
  with ``fallback_dataset = ""``.
* Checked once: ``check_data`` loads every dataset the sweep's trials read, in
  the runner's process, before anything is stored; a truncated or corrupt file
  is a one-line error naming the file.
* The cache: a worker process keeps the last few loaded datasets, so the
  batches of one experiment read and standardise the files once.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from studies import datasets
from studies.datasets.sources import DATA_ENV

#: the ``shared/data`` folder beside the repository (the machines' real data)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: the group whose Haar-random element rotates the pixel basis in the rotation experiment
ROTATION_GROUP = "orthogonal"


def data_folder(configured: str) -> Path | None:
    """The data folder to read: ``configured``, else $SYMBENCH_DATA, else ``SHARED_DATA`` if it exists."""
    if configured:
        return Path(configured).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return SHARED_DATA if SHARED_DATA.is_dir() else None


def dataset_to_use(requested: str, folder: Path | None, fallback: str, named: bool = False) -> str:
    """``requested`` if its data is there, if the user named it, or if no substitute is
    configured; else ``fallback``."""
    if named or not fallback or datasets.available(requested, folder):
        return requested
    return fallback


def substitution_note(requested: str, used: str, folder: Path | None) -> str | None:
    """One sentence for the trial and the report when ``used`` stands in for ``requested``."""
    if used == requested:
        return None
    where = f"in {folder}" if folder is not None else f"(no data folder: data_dir empty, ${DATA_ENV} unset)"
    return (f"{requested} files not found {where}: trained on {used} instead (all of it), "
            f"a substitute so that the study runs; set data_dir to use {requested}")


@dataclass(frozen=True)
class DataRequest:
    """Everything that fixes a loaded dataset (hashable: the cache key)."""

    name: str
    folder: str | None
    seed: int
    n_train: int | None
    n_test: int | None
    dtype: str
    rotation_seed: int | None = None

    def load(self) -> datasets.Dataset:
        return _load_cached(self)


@functools.lru_cache(maxsize=4)
def _load_cached(request: DataRequest) -> datasets.Dataset:
    rotated = request.rotation_seed is not None
    return datasets.load(
        request.name, request.folder, seed=request.seed, n_train=request.n_train, n_test=request.n_test,
        dtype=request.dtype, transform=ROTATION_GROUP if rotated else None,
        transform_seed=request.rotation_seed if rotated else None,
    )
