"""Study ``equivariance``: which symmetries each optimizer and learner has.

Every shipped optimizer, the per-layer hybrids (SGD on layer 1 and Adam
elsewhere, and the reverse), L1- and L2-regularised logistic regression, RBF
SVMs (a fixed gamma, and scikit-learn's data-dependent ``gamma='scale'``), a
decision tree and three initialisation probes, each against every group of
:mod:`invariance.groups` (identity as a calibration column, the input groups,
and the label permutations), by the checker's two tests
(:mod:`invariance.checker`).

A trial is (algorithm, group, element): the coupled test of one random
element of the group and of its control, and for element 0 also the
distributional test (K seeds per side) and the initialisation test, each
with its retest on fresh seeds when its p-value is below α (the rule
confirms such rejections). Unlike ``symbench check``, the study does not
raise K where the coupled test is inconclusive (its default settings are not
chaotic: floors of 1e-16 to 1e-13). The numbers are exactly those of
``symbench check`` with the same seed: the trials call the checker's
functions with the study ``seed``, so element i of a group, the training
seeds of element i and the distributional seeds are shared by every
algorithm (paired comparisons) and do not depend on batching. All trials of
one algorithm form a batch, which trains the untransformed runs once.

The report (:mod:`reports.equivariance`) rebuilds each (algorithm, group)
verdict from its elements with the checker's rule
(:func:`invariance.checker.summarise`).

Initialisation probes (``VARIANTS``): SGD in the default network from torch's
default (uniform) initialisation, and an untrained linear model (depth 1,
0 steps) from the uniform or the Gaussian initialisation, probed on the
coordinate axes with K = 256 seeds per side: where the distributional test can
and cannot see an initialisation's asymmetry (see
tests/test_equivariance_theory.py).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from studies.spec import Outcome, Study, TrialSpec

#: study-level algorithms with network options (name -> options; "optimizer" is the spec)
VARIANTS: dict[str, dict[str, Any]] = {
    "sgd (torch-default init)": {"optimizer": "sgd", "init": "torch-default"},
    "untrained linear (torch-default init)": {"optimizer": "sgd", "init": "torch-default", "depth": 1, "steps": 0,
                                              "probe": "axes", "seeds": 256},
    "untrained linear (gaussian init)": {"optimizer": "sgd", "init": "gaussian", "depth": 1, "steps": 0,
                                         "probe": "axes", "seeds": 256},
}
HYBRIDS = ["layers: [sgd, adam]", "layers: [adam, sgd]"]
LEARNERS = ["l1-logistic", "l2-logistic", "svm-rbf", "svm-rbf-scale", "decision-tree"]


def _default_algorithms() -> list[str]:
    import optimizers

    return [*optimizers.names(), *HYBRIDS, *LEARNERS, *VARIANTS]


def _all_groups() -> list[str]:
    from invariance import groups

    return list(groups.GROUPS)


def check_settings(config: Mapping[str, Any], names_key: str, minimums: Mapping[str, int]) -> None:
    """The checker settings a study of checks shares (this one and ``atlas``): one-line errors."""
    from invariance import groups
    from learners.neural.initialisation import INITS

    for key in (names_key, "groups"):
        if not config[key] or len(set(config[key])) != len(config[key]):
            raise ValueError(f"{key} must be a non-empty list without repeats, got {config[key]}")
    for group in config["groups"]:
        if group not in groups.GROUPS:
            raise ValueError(f"unknown group {group!r} in groups; accepted: {', '.join(groups.GROUPS)}")
    for key, least in minimums.items():
        if config[key] < least:
            raise ValueError(f"{key} must be at least {least}, got {config[key]}")
    if config["seeds"] == 1:
        raise ValueError("seeds must be 0 (no distributional test) or at least 2, got 1")
    if config["init"] not in INITS:
        raise ValueError(f"unknown init {config['init']!r}; accepted: {', '.join(INITS)}")


class EquivarianceStudy(Study):
    name = "equivariance"
    description = "which symmetries each optimizer and learner has (coupled + distributional tests)"
    defaults = {
        "seed": 0,
        "algorithms": _default_algorithms(),
        "groups": _all_groups(),
        "elements": 3,
        # what each trial computes: the checker's settings
        "seeds": 32,          # K runs per side of the distributional test (0: none)
        "steps": 200,         # training steps of the checker network
        "width": 32,
        "depth": 2,
        "init": "gaussian",
        "permutations": 999,
        "init_draws": 256,    # initialisations per side of the initialisation test
    }
    quick = {
        "algorithms": ["sgd", "adam", *HYBRIDS, "l1-logistic", "l2-logistic", "svm-rbf-scale", "decision-tree",
                       "untrained linear (torch-default init)"],
        "groups": ["orthogonal", "permutation", "sign_flip", "signed_permutation"],
        "elements": 1,
    }
    design_keys = frozenset({"algorithms", "groups", "elements"})
    max_batch = 64
    version = 2  # the initialisation test and the retests joined each trial's metrics

    # ------------------------------------------------------------------ config
    def validate(self, config: Mapping[str, Any]) -> None:
        check_settings(config, "algorithms", {"elements": 1, "seeds": 0, "steps": 0, "width": 1, "depth": 1,
                                              "permutations": 1, "init_draws": 2})
        for name in config["algorithms"]:
            self.algorithm(config, name)  # a bad name fails here, before anything runs

    # ------------------------------------------------------------------ the grid
    def trials(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"algorithm": a, "group": g, "element": i}
                for a in config["algorithms"] for g in config["groups"] for i in range(config["elements"])]

    def batch_key(self, coords: Mapping[str, Any]) -> str:
        return coords["algorithm"]

    def algorithm(self, config: Mapping[str, Any], name: str):
        """(Algorithm, Task, K) for an algorithm name of the config."""
        from invariance.algorithms import as_algorithm, default_task, resolve_spec

        options = dict(VARIANTS.get(name, {}))
        spec = options.pop("optimizer", name)
        probe = options.pop("probe", "test")
        seeds = options.pop("seeds", config["seeds"])
        target, label = resolve_spec(spec)
        if isinstance(target, str):
            network = {k: config[k] for k in ("steps", "width", "depth", "init")}
            alg = as_algorithm(target, **{**network, **options})
            alg.name = name
        else:
            alg = as_algorithm(target, name=name)
        return alg, default_task(probe=probe), seeds

    # ------------------------------------------------------------------ running
    def run_batch(self, config: Mapping[str, Any], batch: Sequence[TrialSpec]) -> list[Outcome]:
        from invariance.algorithms import TrainingDiverged
        from invariance.checker import one_thread

        name = batch[0].coords["algorithm"]
        if any(t.coords["algorithm"] != name for t in batch):
            raise ValueError("run_batch needs trials of one algorithm")
        alg, task, seeds = self.algorithm(config, name)
        shared: dict[str, Any] = {"fits": {}, "base_sample": None}
        outcomes = []
        with one_thread():
            for trial in batch:
                try:
                    outcomes.append(Outcome("ok", self._measure(config, alg, task, seeds, trial.coords, shared)))
                except TrainingDiverged as exc:
                    outcomes.append(Outcome("diverged", {}, error=str(exc)))
        return outcomes

    @staticmethod
    def _measure(config, alg, task, seeds: int, coords, shared) -> dict[str, Any]:
        from invariance import checker
        from invariance.initialisation import initialisation_test

        seed, group, index = config["seed"], coords["group"], coords["element"]
        # as the checker does: enough permutations for the rule's smallest levels (α / number of groups)
        permutations = checker.VerdictRule().permutations(config["permutations"], len(config["groups"]))
        pair = checker.coupled_element(alg, task, group, index, seed=seed, base_fits=shared["fits"])
        coupled, control = pair["coupled"], pair["control"]
        metrics: dict[str, Any] = {
            # "error" is a column of the results store (a failed trial's message): prefixed names here
            "coupled_error": coupled["max_rel_error"], "coupled_rms": coupled["rms_rel_error"],
            "disagreement": coupled["disagreement"], "param_distance": coupled["param_distance"],
            "floor": control["max_rel_error"], "floor_rms": control["rms_rel_error"],
            "floor_disagreement": control["disagreement"],
            "coupled_gap": checker.VerdictRule().gap(coupled["max_rel_error"], control["max_rel_error"]),
            "element_seed": pair["element"].get("seed"), "exact_coupling": alg.exact_coupling,
            "deterministic": alg.deterministic, "seeds": seeds if index == 0 else 0,
        }
        if index == 0 and alg.has_initialisation:
            options = dict(draws=config["init_draws"], seed=seed, n_permutations=permutations)
            test = initialisation_test(alg, task, group, base_blocks=shared.setdefault("blocks", {}), **options)
            metrics.update(init_p_value=test.p_value, init_draws=config["init_draws"], init_retest_p_value=None)
            if test.p_value < checker.VerdictRule().alpha:  # the rule confirms rejections on fresh draws
                metrics["init_retest_p_value"] = initialisation_test(alg, task, group, retest=True,
                                                                     **options).p_value
        if index == 0 and seeds >= 2 and not alg.deterministic:
            if shared["base_sample"] is None:
                shared["base_sample"] = checker.sample_base(alg, task, seeds, seed)
            options = dict(seeds=seeds, seed=seed, n_permutations=permutations)
            test = checker.distributional_test(alg, task, group, base_sample=shared["base_sample"], **options)
            metrics.update(p_value=test.p_value, effect_size=test.effect_size, spread=test.spread,
                           scale=test.scale, two_sample_norm=test.metric, retest_p_value=None,
                           **{f"p_{norm}": p for norm, p in test.p_values.items()})
            if test.p_value < checker.VerdictRule().alpha:
                metrics["retest_p_value"] = checker.distributional_test(alg, task, group, retest=True,
                                                                        **options).p_value
        return metrics


STUDY = EquivarianceStudy()
