"""The ``equivariance`` study and its report: the checker's numbers, stored per
(algorithm, group, element), independent of batching, and a report built from them."""

from __future__ import annotations

import pytest

from invariance.checker import check_equivariance
from learners import catalog
from studies import config as config_mod
from studies import store
from studies.config import ConfigError
from studies.equivariance import STUDY, VARIANTS
from studies.runner import run_study

SMALL = {"algorithms": ["sgd", "adam", "l2-logistic", "decision-tree", "sgd(lr=1e6)"],
         "groups": ["orthogonal", "sign_flip"], "elements": 2, "steps": 30, "seeds": 8, "permutations": 199}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    db = tmp_path_factory.mktemp("equivariance") / "r.db"
    summary = run_study("equivariance", db=db, jobs=1, progress=False, overrides=SMALL)
    return db, summary


def test_trials_and_statuses(small_run):
    db, summary = small_run
    assert summary.total == 5 * 2 * 2
    assert summary.counts == {"ok": 16, "diverged": 4}
    df = store.load(db, "equivariance")
    diverged = df[df.status == "diverged"]
    assert set(diverged.algorithm) == {"sgd(lr=1e6)"} and diverged.error.str.contains("diverged").all()
    ok = df[df.status == "ok"]
    assert {"coupled_error", "coupled_rms", "floor", "coupled_gap", "disagreement", "exact_coupling"} <= set(ok.columns)
    # the distributional test runs once per (algorithm, group), on element 0, unless the learner is deterministic
    tested = ok[ok.p_value.notna()]
    assert sorted(set(zip(tested.algorithm, tested.element))) == [("adam", 0), ("decision-tree", 0), ("sgd", 0)]


def test_numbers_are_the_checkers(small_run):
    from reports.equivariance import verdict_table

    db, _ = small_run
    table = verdict_table(store.load(db, "equivariance")).set_index(["algorithm", "group"])
    df = store.load(db, "equivariance").set_index(["algorithm", "group", "element"])
    report = check_equivariance("adam", ["orthogonal", "sign_flip"], steps=30, n_elements=2, seeds=8,
                                n_permutations=199)
    for group, result in report.results.items():
        for i, element in enumerate(result.elements):
            row = df.loc[("adam", group, i)]
            assert row.coupled_error == element["coupled"]["max_rel_error"]
            assert row.floor == element["control"]["max_rel_error"]
            assert row.element_seed == element["element"]["seed"]
        assert df.loc[("adam", group, 0)].init_p_value is not None
        # the report adjusts the stored raw p-values over the groups exactly as the checker does
        assert table.loc[("adam", group), "p_value"] == result.p_value
        assert table.loc[("adam", group), "init_p_value"] == result.init_p_value
        assert table.loc[("adam", group), "verdict"] == result.verdict
    tree = check_equivariance(catalog.make("decision-tree"), ["orthogonal"], n_elements=2, seeds=8,
                              n_permutations=199)
    assert df.loc[("decision-tree", "orthogonal", 1)].coupled_error == tree.results["orthogonal"].coupled_error


def test_results_do_not_depend_on_batching(small_run, tmp_path):
    db, _ = small_run
    overrides = {**SMALL, "algorithms": ["sgd", "l2-logistic"]}
    run_study("equivariance", db=tmp_path / "one.db", jobs=1, progress=False, overrides=overrides, max_batch=1)
    one = store.load(tmp_path / "one.db", "equivariance").set_index("trial_key").sort_index()
    together = store.load(db, "equivariance").set_index("trial_key").loc[one.index]
    for column in ("coupled_error", "floor", "disagreement", "p_value"):
        assert one[column].equals(together[column]), column


def test_report(small_run, tmp_path):
    from reports import equivariance

    db, _ = small_run
    paths = equivariance.write(store.load(db, "equivariance"), tmp_path)
    names = {p.name for p in paths}
    assert {"heatmap.png", "heatmap.pdf", "verdicts.md", "table.csv", "table.md", "summary.md"} <= names
    table = equivariance.verdict_table(store.load(db, "equivariance")).set_index(["algorithm", "group"])
    assert table.loc[("adam", "orthogonal"), "verdict"] == "not_equivariant"
    assert table.loc[("sgd", "orthogonal"), "verdict"] == "equivariant"
    assert table.loc[("l2-logistic", "orthogonal"), "distributional"] == "deterministic"
    assert table.loc[("decision-tree", "orthogonal"), "verdict"] == "not_equivariant"
    assert table.loc[("adam", "sign_flip"), "elements"] == 2
    summary = (tmp_path / "summary.md").read_text()
    assert "| adam | ✗ not equivariant | ✓ equivariant |" in summary
    assert "sgd(lr=1e6)" in summary and "diverged" in summary  # counted, never dropped
    assert list(table.index.get_level_values(0).unique())[:2] == ["sgd", "adam"]  # the study's order


def test_quick_trials_are_a_subset_of_the_default_ones():
    quick = {s.key for s in STUDY.trial_specs(config_mod.resolve(STUDY, quick=True))}
    full = {s.key for s in STUDY.trial_specs(config_mod.resolve(STUDY))}
    assert quick < full
    defaults = STUDY.defaults
    import optimizers
    from invariance import groups

    assert set(optimizers.names()) <= set(defaults["algorithms"]) and set(VARIANTS) <= set(defaults["algorithms"])
    assert {"layers: [sgd, adam]", "layers: [adam, sgd]", "l1-logistic", "l2-logistic", "svm-rbf",
            "decision-tree"} <= set(defaults["algorithms"])
    assert defaults["groups"] == list(groups.GROUPS)


def test_variants_probe_the_initialisation():
    alg, task, seeds = STUDY.algorithm(config_mod.resolve(STUDY), "untrained linear (torch-default init)")
    assert alg.steps == 0 and alg.model_options["depth"] == 1 and alg.model_options["init"] == "torch-default"
    assert task.name.endswith("-axes") and seeds == 256 and alg.name == "untrained linear (torch-default init)"


@pytest.mark.parametrize("key, value, message", [
    ("algorithms", ["adamm"], "unknown optimizer 'adamm'"),
    ("algorithms", ["sgd", "sgd"], "without repeats"),
    ("groups", ["rotation"], "unknown group 'rotation'"),
    ("seeds", 1, "seeds must be 0"),
    ("elements", 0, "elements must be at least 1"),
    ("init", "uniform", "unknown init 'uniform'"),
])
def test_bad_config(key, value, message):
    with pytest.raises(ConfigError, match=message):
        config_mod.resolve(STUDY, overrides={key: value})
