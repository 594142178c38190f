"""The restricted unpickler: official-format CIFAR batches load; pickles that would run code are refused
before any code runs (each test checks that the payload's side effect did not happen)."""

from __future__ import annotations

import builtins
import os
import pickle
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from studies.datasets import DatasetError, load
from studies.datasets.safe_pickle import UnsafePickleError, safe_load, safe_loads
from tests.test_datasets_formats import py2_pickle, write_cifar_folder


class RunsShellCommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class EvaluatesExpression:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.eval, (f"__import__('pathlib').Path({str(self.marker)!r}).write_text('ran')",)


class CallsSubprocess:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return subprocess.check_call, (["touch", str(self.marker)],)


PAYLOADS = [RunsShellCommand, EvaluatesExpression, CallsSubprocess]


def test_payloads_do_run_under_plain_pickle(tmp_path):
    # the control: the same bytes given to pickle.loads do execute, so the refusals below are meaningful
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(EvaluatesExpression(marker)))
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_code_running_pickles_are_refused(tmp_path, payload, protocol):
    marker = tmp_path / "marker"
    # protocols < 3 write Python 2 module names (posix, __builtin__, commands)
    content = pickle.dumps({"data": payload(marker)}, protocol=protocol)
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl: refused global \w+\.(system|eval|check_call):"):
        safe_loads(content, "evil.pkl")
    assert not marker.exists()


def test_malicious_cifar_batch_is_refused_by_the_loader(tmp_path):
    write_cifar_folder(tmp_path, np.random.default_rng(0), n_per_batch=10, n_train_batches=1, fmt="python")
    marker = tmp_path / "pwned"
    path = tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": RunsShellCommand(marker), "labels": [0]}, protocol=2))
    with pytest.raises(DatasetError) as caught:
        load("cifar10", tmp_path)
    assert str(path) in str(caught.value) and "refused global posix.system" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not marker.exists()


def _hand_made(*opcodes: bytes) -> bytes:
    return b"\x80\x02" + b"".join(opcodes) + b"."


def test_reconstruct_accepts_only_plain_ndarray(tmp_path):
    # _reconstruct(1, (0,), 'b'): the allowed function called with something other than numpy.ndarray
    content = _hand_made(b"cnumpy.core.multiarray\n_reconstruct\n", b"K\x01K\x00\x85U\x01b\x87R")
    with pytest.raises(UnsafePickleError, match="array reconstruction of 1 refused"):
        safe_loads(content, "x")


def test_ndarray_constructor_cannot_be_called():
    # numpy.ndarray(...) via REDUCE: the name resolves to an inert token, not the constructor
    content = _hand_made(b"cnumpy\nndarray\n", b"K\x03\x85R")
    with pytest.raises(DatasetError, match="not a valid pickle"):
        safe_loads(content, "x")


def test_object_dtypes_are_refused():
    content = _hand_made(b"cnumpy\ndtype\n", b"U\x02O8\x85R")
    with pytest.raises(UnsafePickleError, match="object and structured types are not allowed"):
        safe_loads(content, "x")


def test_nested_globals_are_refused_even_inside_numpy():
    # a global from an allowed module but not on the list (numpy.load could unpickle again)
    content = _hand_made(b"cnumpy\nload\n", b"U\x01x\x85R")
    with pytest.raises(UnsafePickleError, match="refused global numpy.load"):
        safe_loads(content, "x")


def test_official_format_batch_round_trips(tmp_path):
    data = np.arange(2 * 3072, dtype=np.uint64).astype(np.uint8).reshape(2, 3072)
    path = tmp_path / "batch"
    path.write_bytes(py2_pickle({b"data": data, b"labels": [3, 9], b"batch_label": b"testing batch 1 of 1"}))
    batch = safe_load(path)
    assert batch["labels"] == [3, 9] and batch["batch_label"] == "testing batch 1 of 1"
    assert batch["data"].dtype == np.uint8 and np.array_equal(batch["data"], data)


def test_no_unsafe_deserialisation_in_the_package():
    # the datasets package never calls pickle.load(s)/torch.load/numpy.load(allow_pickle=True) directly
    package = Path(__file__).resolve().parents[1] / "studies" / "datasets"
    pattern = re.compile(r"\bpickle\.loads?\(|torch\.load\(|allow_pickle\s*=\s*True")
    offenders = [
        f"{path.name}:{number}"
        for path in package.glob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
