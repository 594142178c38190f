"""``symbench check``: output formats, options and one-line errors (exit 2)."""

from __future__ import annotations

import json

import pytest

from invariance import groups
from invariance.verdicts import VerdictRule
from studies.cli import main

FAST = ["--elements", "1", "--steps", "30"]


def _run(capsys, *argv):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_schema_and_group_names(capsys):
    code, out, err = _run(capsys, "sgd", "--groups", "orthogonal,sign_flip", "--seeds", "4", *FAST, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["algorithm"] == "sgd"
    assert list(data["groups"]) == ["orthogonal", "sign_flip"]
    assert set(data["groups"]) <= set(groups.describe())  # names as `symbench list groups` prints them
    for entry in data["groups"].values():
        assert entry["verdict"] == "equivariant"
        assert {"coupled_gap", "floor", "disagreement", "p_value"} <= set(entry)
        assert 0 <= entry["p_value"] <= 1 and entry["floor"] <= VerdictRule().max_floor
    assert data["settings"]["algorithm"]["steps"] == 30 and data["settings"]["seeds"] == 4


def test_default_groups_table_and_markdown(capsys):
    code, out, _ = _run(capsys, "adam", "--seeds", "0", *FAST)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "adam:" and len(lines) == 6
    assert [line.split()[0] for line in lines[2:]] == ["orthogonal", "permutation", "sign_flip", "signed_permutation"]
    assert lines[2].split()[1] == "not_equivariant" and "–" in lines[2]  # no p-value without seeds
    code, out, _ = _run(capsys, "adam", "--groups", "permutation", "--seeds", "0", *FAST, "--format", "markdown")
    assert code == 0 and "| permutation | equivariant |" in out


def test_steps_zero_checks_the_initialisation(capsys):
    code, out, err = _run(capsys, "sgd", "--groups", "orthogonal", "--steps", "0", "--depth", "1", "--seeds", "4",
                          "--elements", "1", "--init", "torch-default", "--probe", "axes", "--format", "json")
    assert code == 0, err
    settings = json.loads(out)["settings"]
    assert settings["algorithm"]["steps"] == 0 and settings["algorithm"]["init"] == "torch-default"
    assert settings["task"]["name"].endswith("-axes")


def test_learners_and_estimator_import_paths(capsys):
    code, out, err = _run(capsys, "l2-logistic", "--groups", "orthogonal", "--elements", "1", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["algorithm"] == "l2-logistic" and data["groups"]["orthogonal"]["verdict"] == "equivariant"
    assert data["groups"]["orthogonal"]["p_value"] is None  # deterministic: no distributional test
    code, out, err = _run(capsys, "sklearn.svm:SVC(gamma=0.0625)", "--groups", "sign_flip", "--elements", "1",
                          "--seeds", "4", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["groups"]["sign_flip"]["verdict"] == "equivariant"


@pytest.mark.parametrize("argv, message", [
    (["nosuch.module:Opt"], "cannot import 'nosuch.module:Opt' (No module named 'nosuch')"),
    (["torch.nn:Linear"], "'torch.nn:Linear' is not a torch.optim.Optimizer subclass"),
    (["sklearn.svm:NoSuchModel"], "cannot import 'sklearn.svm:NoSuchModel'"),
    (["sklearn.svm:SVC(gama=1)"], "cannot build sklearn.svm:SVC"),
    (["adamm"], "unknown optimizer 'adamm'"),
    (["adam", "--groups", "rotations"], "unknown group 'rotations'"),
    (["svm-rbf", "--steps", "10"], "--steps apply to optimizers"),
    (["adam", "--steps", "-1"], "steps must be a non-negative integer"),
    (["adam", "--elements", "0"], "--elements must be at least 1"),
    (["adam", "--format", "yaml"], "invalid choice: 'yaml'"),
    (["adam", "--expect", "orthogonal"], "is not GROUP=VERDICT"),
    (["adam", "--expect", "rotation=equivariant"], "does not test; checked: orthogonal, permutation"),
    (["adam", "--expect", "orthogonal=broken"], "accepted: equivariant, not_equivariant, inconclusive"),
    (["adam", "--expect", "orthogonal=equivariant,orthogonal=inconclusive"], "names group 'orthogonal' twice"),
    (["adam", "--expect", ","], "--expect is empty"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_expect_sets_the_exit_code(capsys):
    args = ["--groups", "orthogonal,sign_flip", "--seeds", "0", *FAST]
    code, out, err = _run(capsys, "adam", *args, "--expect", "orthogonal=not_equivariant,sign_flip=equivariant")
    assert code == 0 and err == "" and "orthogonal" in out
    code, out, err = _run(capsys, "adam", *args, "--expect", "orthogonal=equivariant, sign_flip=not_equivariant")
    assert code == 1 and "orthogonal" in out  # the table still prints
    assert err.splitlines() == ["symbench check: adam under orthogonal: expected equivariant, got not_equivariant",
                                "symbench check: adam under sign_flip: expected not_equivariant, got equivariant"]
    code, _, _ = _run(capsys, "adam", *args)  # without --expect the verdicts never set the exit code
    assert code == 0


def test_table_shows_the_three_tests_and_a_one_line_explanation(capsys):
    code, out, err = _run(capsys, "sgd", "--groups", "orthogonal", "--seeds", "0", *FAST, "--init", "torch-default")
    assert code == 0, err
    header = out.splitlines()[1]
    for column in ("verdict", "update rule", "init", "predictions", "init p"):
        assert column in header
    assert out.splitlines()[2].split()[:4] == ["orthogonal", "not_equivariant", "equivariant", "not_equivariant"]
    assert "the update rule is equivariant, but the initialisation's law is not invariant" in out
    code, out, err = _run(capsys, "sgd", "--groups", "orthogonal", "--seeds", "0", *FAST, "--init", "torch-default",
                          "--format", "json")
    entry = json.loads(out)["groups"]["orthogonal"]
    assert (entry["coupled_verdict"], entry["init_verdict"], entry["verdict"]) == (
        "equivariant", "not_equivariant", "not_equivariant")
