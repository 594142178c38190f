"""Malformed input, tried as a new user would: CLI arguments, TOML configs, ``--set`` values,
optimizer specs and import paths, learner and family names, data files (truncated, wrong
magic, wrong record size, checksum mismatch), a hostile pickle, a results database that is
not one, a scheduler address that does not answer.

Each gets one line on stderr naming the problem and what is accepted, exit 2, no traceback,
and leaves the existing results byte-identical (the database is hashed before and after).
Everything runs in this process (``studies.cli.main``), so the file takes seconds.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import pickle
import socket
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from studies import store
from studies.cli import main
from studies.runner import run_study
from tests.test_datasets_formats import balanced_labels, cifar_records, idx_bytes, random_images

TOY = "tests.toy_study:STUDY"
HAS_DASK = importlib.util.find_spec("distributed") is not None


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results database with stored trials: every case must leave it byte-identical."""
    db = tmp_path_factory.mktemp("results") / "results.db"
    run_study(TOY, db=db, jobs=1, progress=False, quick=True)
    return db


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small bad files of every kind the loaders and the CLI read."""
    root = tmp_path_factory.mktemp("files")
    rng = np.random.default_rng(0)
    images, labels = random_images(rng, 20, (28, 28)), balanced_labels(rng, 20)
    good_images, good_labels = idx_bytes(images), idx_bytes(labels.astype(np.uint8))

    def mnist(name: str, images_bytes: bytes, gz: bool = False, labels_bytes: bytes = good_labels) -> Path:
        folder = root / name / "mnist"
        folder.mkdir(parents=True)
        stem = "t10k-images-idx3-ubyte" + (".gz" if gz else "")
        (folder / stem).write_bytes(images_bytes)
        (folder / "t10k-labels-idx1-ubyte").write_bytes(labels_bytes)
        return root / name

    out = {
        "truncated_gzip": mnist("truncated_gzip", gzip.compress(good_images)[:300], gz=True),
        "truncated_idx": mnist("truncated_idx", good_images[:-100]),
        "wrong_magic": mnist("wrong_magic", good_images, labels_bytes=good_images),  # images where labels belong
        "not_idx": mnist("not_idx", b"GIF89a" + good_images[6:]),
    }
    cifar_images = random_images(rng, 4, (3, 32, 32))
    cifar_labels = balanced_labels(rng, 4)
    for name, content in {"record_size": cifar_records(cifar_images, cifar_labels)[:-5],
                          "label_range": cifar_records(cifar_images, np.array([0, 1, 2, 12]))}.items():
        folder = root / name / "cifar10" / "cifar-10-batches-bin"
        folder.mkdir(parents=True)
        (folder / "test_batch.bin").write_bytes(content)
        out[name] = root / name

    class RunsShellCommand:
        def __reduce__(self):
            return os.system, (f"touch {root / 'pwned'}",)

    folder = root / "hostile" / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(pickle.dumps({"data": RunsShellCommand(), "labels": [0]}, protocol=2))
    out["hostile"], out["pwned"] = root / "hostile", root / "pwned"

    mirror = root / "mirror"
    mirror.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (mirror / f"{stem}.gz").write_bytes(gzip.compress(b"not the official bytes"))
    out["mirror"], out["download_to"] = mirror, root / "downloads"

    (root / "empty").mkdir()
    out["empty"] = root / "empty"
    toml = {"missing.toml": None, "broken.toml": "reps = [\n", "unknown.toml": "[toy]\ncolour = 'red'\n",
            "wrong_type.toml": "reps = 'many'\n", "folder.toml": ""}
    for name, text in toml.items():
        if name == "folder.toml":
            (root / name).mkdir()
        elif text is not None:
            (root / name).write_text(text)
        out[name] = root / name

    garbage = root / "garbage.db"
    garbage.write_bytes(b"this is not an SQLite file " * 64)
    foreign = root / "foreign.db"
    with sqlite3.connect(foreign) as con:
        con.execute("CREATE TABLE addresses (name TEXT, street TEXT)")
        con.execute("INSERT INTO addresses VALUES ('a', 'b')")
    con.close()
    out["garbage_db"], out["foreign_db"], out["folder_db"] = garbage, foreign, root / "empty"
    return out


def _closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _opt(*sets: str) -> list[str]:
    return ["run", "optimizers", *[a for s in sets for a in ("--set", s)]]


def _sc(*sets: str) -> list[str]:
    return ["run", "sample_complexity", *[a for s in sets for a in ("--set", s)]]


# (case id, argv builder (files -> argv), words the one line must hold: the problem, then what is accepted)
CASES = [
    # ---- CLI arguments
    ("no study", lambda f: ["run"], ["the following arguments are required: study"]),
    ("unknown command", lambda f: ["frobnicate"], ["invalid choice: 'frobnicate'", "'run'"]),
    ("jobs zero", lambda f: ["run", TOY, "--jobs", "0"], ["--jobs", "must be at least 1"]),
    ("jobs not a number", lambda f: ["run", TOY, "--jobs", "two"], ["--jobs", "invalid int value: 'two'"]),
    ("unknown backend", lambda f: ["run", TOY, "--backend", "spark"], ["invalid choice: 'spark'", "'local', 'dask'"]),
    ("negative scheduler timeout", lambda f: ["run", TOY, "--backend", "dask", "--scheduler-timeout", "-1"],
     ["--scheduler-timeout", "must be a positive number of seconds"]),
    ("scheduler without dask", lambda f: ["run", TOY, "--scheduler", "tcp://127.0.0.1:8786"],
     ["--scheduler", "needs --backend dask"]),
    ("unknown list", lambda f: ["list", "colours"], ["invalid choice: 'colours'", "'studies'"]),
    ("cluster of no workers", lambda f: ["cluster", "local", "--workers", "0"], ["--workers must be at least 1"]),
    ("check with bad elements", lambda f: ["check", "adam", "--elements", "0"], ["--elements must be at least 1"]),
    # ---- study names and import paths
    ("unknown study", lambda f: ["run", "no_such_study"], ["unknown study 'no_such_study'", "accepted: ng2004"]),
    ("study module missing", lambda f: ["run", "nosuch.module:STUDY"],
     ["cannot import 'nosuch.module:STUDY'", "No module named 'nosuch'"]),
    ("study attribute missing", lambda f: ["run", "tests.toy_study:NOPE"], ["cannot import 'tests.toy_study:NOPE'"]),
    ("study is a class", lambda f: ["run", "tests.toy_study:ToyStudy"],
     ["is a type", "not a studies.spec.Study instance"]),
    # ---- TOML configs
    ("config file missing", lambda f: ["run", TOY, "--config", str(f["missing.toml"])], ["no such config file"]),
    ("config not TOML", lambda f: ["run", TOY, "--config", str(f["broken.toml"])], ["not valid TOML"]),
    ("config unknown key", lambda f: ["run", TOY, "--config", str(f["unknown.toml"])],
     ["unknown key 'colour'", "accepted: crash_batch_rep"]),
    ("config wrong type", lambda f: ["run", TOY, "--config", str(f["wrong_type.toml"])],
     ["bad value for 'reps'", "is not a int (default: 12)"]),
    ("config is a folder", lambda f: ["run", TOY, "--config", str(f["folder.toml"])], ["cannot read the config file"]),
    # ---- --set values
    ("set without =", lambda f: ["run", TOY, "--set", "reps"], ["bad --set 'reps'", "expected key=value"]),
    ("set unknown key", lambda f: ["run", TOY, "--set", "nope=1"], ["unknown key 'nope' in --set", "accepted:"]),
    ("set bad int", lambda f: ["run", TOY, "--set", "reps=x"], ["bad value for 'reps'", "not a int"]),
    ("set out of range", lambda f: ["run", TOY, "--set", "reps=0"], ["reps must be at least 1, got 0"]),
    ("set list for float", lambda f: ["run", TOY, "--set", "scale=[1, 2]"], ["bad value for 'scale'", "not a float"]),
    ("set bad seed count", lambda f: _opt("seeds=1.5"), ["bad value for 'seeds'", "not a int (default: 5)"]),
    # ---- optimizer specs and import paths
    ("unknown optimizer", lambda f: _opt("deep_optimizers=[agd, sgdd]"), ["deep_optimizers", "'sgdd'"]),
    ("optimizer bad literal", lambda f: _opt("deep_optimizers=[adam(lr=oops)]"),
     ["bad optimizer spec 'adam(lr=oops)'", "not a Python literal (numbers"]),
    ("optimizer code in spec", lambda f: ["check", "adam(lr=__import__('os'))"], ["not a Python literal"]),
    ("optimizer module missing", lambda f: _opt("two_layer_optimizers=[nosuch.mod:Opt]"),
     ["two_layer_optimizers", "cannot import 'nosuch.mod:Opt'"]),
    ("optimizer not an optimizer", lambda f: _opt("two_layer_optimizers=[torch.nn:Linear]"),
     ["'torch.nn:Linear' is not a torch.optim.Optimizer subclass"]),
    ("check unknown optimizer", lambda f: ["check", "adamm"], ["unknown optimizer 'adamm'"]),
    ("check of a diverging optimizer", lambda f: ["check", "sgd(lr=1e6)", "--groups", "orthogonal", "--seeds", "0",
                                                 "--elements", "1"],
     ["sgd(lr=1e6) diverged at step", "accepted: an algorithm that trains the checker's task"]),
    ("check estimator missing", lambda f: ["check", "sklearn.svm:NoSuchModel"], ["cannot import 'sklearn.svm:NoSuchModel'"]),
    # ---- learner and family names
    ("unknown family", lambda f: _sc("families=[nosuch]"), ["unknown family 'nosuch'", "accepted: ng-one"]),
    ("unknown rotated family", lambda f: _sc("families=[rotated-nosuch]"), ["unknown family 'rotated-nosuch'"]),
    ("unknown learner", lambda f: _sc("learners=[nosuch]"), ["unknown learner 'nosuch'", "accepted: l1-logistic"]),
    ("unknown dataset", lambda f: _opt("two_layer_dataset=imagenet"),
     ["unknown two_layer_dataset 'imagenet'", "accepted: digits"]),
    # ---- data: folders, files
    ("data folder missing", lambda f: _opt(f"data_dir={f['empty'] / 'nope'}"), ["is not a folder"]),
    ("named dataset missing", lambda f: _opt("experiments=[two_layer]", "two_layer_dataset=mnist",
                                            f"data_dir={f['empty']}"),
     ["two_layer (mnist): mnist: test files not found", "symbench data download mnist"]),
    ("subsample too large", lambda f: _opt("experiments=[two_layer]", "two_layer_dataset=digits",
                                          "two_layer_n_train=99999"),
     ["two_layer (digits): n_train=99999 exceeds the 1438 examples available", "accepted: 1..1438"]),
    ("truncated gzip", lambda f: _opt("experiments=[two_layer]", f"data_dir={f['truncated_gzip']}"),
     ["t10k-images-idx3-ubyte.gz: corrupt or truncated gzip stream", "accepted: a complete gzip file"]),
    ("truncated IDX", lambda f: _opt("experiments=[two_layer]", f"data_dir={f['truncated_idx']}"),
     ["t10k-images-idx3-ubyte: truncated", "the header declares 20×28×28 values"]),
    ("wrong magic", lambda f: _opt("experiments=[two_layer]", f"data_dir={f['wrong_magic']}"),
     ["t10k-labels-idx1-ubyte: bad magic number 0x00000803", "expected 0x00000801: unsigned-byte labels"]),
    ("not an IDX file", lambda f: _opt("experiments=[two_layer]", f"data_dir={f['not_idx']}"),
     ["bad magic number", "not an IDX file (expected 00 00"]),
    ("wrong record size", lambda f: _opt("experiments=[square_loss]", f"data_dir={f['record_size']}"),
     ["test_batch.bin: wrong record size", "3,073-byte records"]),
    ("label out of range", lambda f: _opt("experiments=[square_loss]", f"data_dir={f['label_range']}"),
     ["test_batch.bin: label out of range: record 3 has label 12", "accepted labels are 0..9"]),
    ("hostile pickle", lambda f: _opt("experiments=[square_loss]", f"data_dir={f['hostile']}"),
     ["test_batch: refused global posix.system", "only numpy array reconstruction"]),
    ("checksum mismatch", lambda f: ["data", "download", "mnist", "--data-dir", str(f["download_to"]),
                                     "--base-url", f["mirror"].as_uri(), "--no-progress"],
     ["checksum mismatch for train-images-idx3-ubyte.gz", "expected f68b3c2dcbeaaa9fbdd348bbdeb94873"]),
    # ---- results databases
    ("db not SQLite", lambda f: ["run", TOY, "--db", str(f["garbage_db"])],
     ["not a symbench results database (file is not a database)", "accepted: a file written by `symbench run`"]),
    ("db of another program", lambda f: ["run", TOY, "--db", str(f["foreign_db"])],
     ["not a symbench results database (no trials table; it holds addresses)"]),
    ("db is a folder", lambda f: ["run", TOY, "--db", str(f["folder_db"])],
     ["is a folder", "--db takes the path of a results database file"]),
    ("report of a non-database", lambda f: ["report", "--db", str(f["garbage_db"])],
     ["not a symbench results database"]),
    ("report of a missing db", lambda f: ["report", "--db", str(f["empty"] / "none.db")],
     ["no such results database", "symbench run STUDY"]),
    # ---- the cluster
    pytest.param(("scheduler does not answer",
                  lambda f: ["run", TOY, "--backend", "dask", "--scheduler", f"tcp://127.0.0.1:{_closed_port()}",
                             "--scheduler-timeout", "0.5"],
                  ["no Dask scheduler answers at tcp://127.0.0.1:", "within 0.5 s",
                   "accepted: the address of a running scheduler"]),
                 marks=pytest.mark.skipif(not HAS_DASK, reason="the cluster extra is not installed")),
    ("scheduler address malformed", lambda f: ["run", TOY, "--backend", "dask", "--scheduler", "localhost"],
     ["bad scheduler address 'localhost'", "accepted: tcp://HOST:PORT or tls://HOST:PORT"]),
    ("scheduler port out of range", lambda f: ["run", TOY, "--backend", "dask", "--scheduler", "tcp://h:70000"],
     ["bad scheduler address 'tcp://h:70000'", "PORT in 1..65535"]),
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _case_id(case) -> str:
    return case.values[0][0] if hasattr(case, "values") else case[0]


def test_there_are_at_least_30_bad_inputs():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(case, results, files, capsys):
    _, argv_of, words = case
    argv = argv_of(files)
    if argv[0] == "run" and "--db" not in argv:
        argv += ["--db", str(results)]
    argv += ["--no-progress"] if argv[0] == "run" else []
    before = {p: _digest(p) for p in (results, files["garbage_db"], files["foreign_db"])}
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, err)
    assert err.count("\n") == 1 and err.endswith("\n"), err  # one line ...
    assert "Traceback" not in err and out == "", err        # ... and no traceback
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    assert {p: _digest(p) for p in before} == before  # existing results byte-identical
    assert len(store.load(results, "toy")) == 8
    assert not files["pwned"].exists()  # the hostile pickle never ran
    assert not (files["download_to"] / "mnist" / "train-images-idx3-ubyte.gz").exists()  # no unverified file kept


def test_debug_shows_the_traceback_of_bad_input_too(results, capsys):
    code = main(["--debug", "run", TOY, "--set", "reps=0", "--db", str(results)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1] == "symbench: error: reps must be at least 1, got 0"


def test_a_bug_is_not_bad_input_it_shows_its_traceback_and_exits_1(monkeypatch, capsys, tmp_path):
    from studies import runner

    def buggy(*args, **kwargs):
        return {}["a key that a bug forgot"]

    monkeypatch.setattr(runner, "run_study", buggy)
    code = main(["run", TOY, "--db", str(tmp_path / "x.db")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback (most recent call last)" in err and "KeyError" in err
    assert "internal error" in err


def test_a_run_with_a_failed_trial_exits_1_after_its_summary(tmp_path, capsys):
    db = tmp_path / "f.db"
    code = main(["run", TOY, "--db", str(db), "--jobs", "1", "--no-progress", "--set", "fail_rep=2"])
    out, err = capsys.readouterr()
    assert code == 1 and "toy: 24 trials, 0 already stored, 2 failed, 22 ok" in out
    assert "2 trials failed" in err and "--retry-failed" in err
    # a rerun still says so (the failures are stored) and exits 1; --retry-failed runs them again
    assert main(["run", TOY, "--db", str(db), "--jobs", "1", "--no-progress", "--set", "fail_rep=2"]) == 1
    assert "2 stored earlier as failed" in capsys.readouterr().out
    code = main(["run", TOY, "--db", str(db), "--jobs", "1", "--no-progress", "--set", "fail_rep=2",
                 "--retry-failed"])
    assert code == 1 and "2 failed" in capsys.readouterr().out  # they fail again: still stored once each
    assert len(store.load(db, "toy")) == 24
