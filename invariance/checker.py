"""The equivariance checker: which symmetries does a training algorithm have?

For each group G, three tests (science.md §1), each in its own module:

* :mod:`invariance.coupled` — the update rule: runs on S and on g(S) from
  transported initialisations, against a floating-point floor, for a few
  random elements g;
* :mod:`invariance.initialisation` — the initialisation: is the law of the
  parameters g acts on invariant under g? (many draws, nothing trained);
* :mod:`invariance.distributional` — the predictions of K independently
  seeded runs on S against K on g(S) (initialisation included).

:mod:`invariance.verdicts` holds the rule that turns their numbers into
verdicts (``coupled_verdict``, ``init_verdict``, ``distributional_verdict``,
and ``verdict`` for the algorithm in law), the family-wise error control over
the groups of a check and the confirmation of rejections on fresh seeds; the
retests are run here, whenever a raw p-value is below α and the rejection
would be the only evidence of a break. :mod:`invariance.formatting` prints a
report. What is trained, and on which task: :mod:`invariance.algorithms`.

Seeds: everything derives from ``seed`` (:func:`symbench.seeding.derive_seed`), so
a check is reproducible bit for bit and its runs are paired across groups and
algorithms. The study ``equivariance`` reuses exactly these functions and seeds.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from invariance import groups as groups_mod
from invariance.algorithms import Algorithm, Task, as_algorithm, default_task
from invariance.coupled import control_element, coupled_element, coupled_test, element, sample_element  # noqa: F401
from invariance.distributional import base_seeds, distributional_test, sample_base  # noqa: F401
from invariance.initialisation import initialisation_test
from symbench.seeding import derive_seed as derive  # noqa: F401  (the project's one seeding scheme)
from symbench.threads import one_thread  # noqa: F401  (re-exported: the study uses it)
from invariance.verdicts import (DEFAULT_GROUPS, SUMMARY_KEYS, VERDICTS, EquivarianceReport,  # noqa: F401
                                 GroupResult, TwoSampleNumbers, VerdictRule, coupled_numbers, summarise,
                                 summarise_check)


def rule_for(alg: Algorithm, rule: VerdictRule | None = None) -> VerdictRule:
    """The given rule, or the default one for the precision of ``alg``'s runs."""
    if rule is not None:
        return rule
    dtype = getattr(alg, "dtype", None)
    return VerdictRule.for_dtype(str(dtype).removeprefix("torch.") if dtype is not None else "float64")


def _coupled_verdict(group: str, elements: Sequence[dict], rule: VerdictRule) -> str | None:
    if not elements:
        return None
    result = GroupResult(group=group, verdict="inconclusive")
    coupled_numbers(result, elements, rule)
    return result.coupled_verdict


def _maybe_retest(test, run_retest, rule: VerdictRule, needed: bool):
    """The retest's result when the raw p-value is below α and a rejection would need confirming."""
    if needed and test.p_value < rule.alpha:
        return run_retest()
    return None


def group_numbers(alg: Algorithm, group: str, task: Task, *, n_elements: int = 3, seeds: int = 32,
                  coupled: bool = True, distributional: bool = True, initialisation: bool = True,
                  init_draws: int = 256, rule: VerdictRule = VerdictRule(), seed: int = 0,
                  n_permutations: int = 999, cache: dict | None = None) -> dict:
    """One group's raw numbers: its coupled elements and its two tests (with retests where
    the rule needs them). ``cache`` shares the untransformed runs and draws between groups."""
    _check_group_name(group)
    cache = {} if cache is None else cache
    base_fits = cache.setdefault("fits", {})
    elements = [coupled_element(alg, task, group, i, seed=seed, base_fits=base_fits)
                for i in range(n_elements)] if coupled else []
    coupled_verdict = _coupled_verdict(group, elements, rule)
    init = None
    if initialisation and alg.has_initialisation:
        options = dict(draws=init_draws, seed=seed, n_permutations=n_permutations)
        test = initialisation_test(alg, task, group, base_blocks=cache.setdefault("blocks", {}), **options)
        retest = _maybe_retest(test, lambda: initialisation_test(alg, task, group, retest=True, **options), rule,
                               True)
        init = TwoSampleNumbers.from_result(test, init_draws, retest)
    dist = None
    if distributional and seeds >= 2 and not alg.deterministic:
        K = seeds
        if coupled_verdict in (None, "inconclusive"):
            # the coupled test cannot decide: the distributional test must, with enough seeds to mean something
            K = max(seeds, rule.min_seeds)
        samples = cache.setdefault("base_samples", {})
        if K not in samples:
            samples[K] = sample_base(alg, task, K, seed)
        options = dict(seeds=K, seed=seed, n_permutations=n_permutations)
        test = distributional_test(alg, task, group, base_sample=samples[K], **options)
        only_evidence = not (coupled_verdict == "not_equivariant" and alg.exact_coupling)
        retest = _maybe_retest(test, lambda: distributional_test(alg, task, group, retest=True, **options), rule,
                               only_evidence and not rule.is_deterministic(test.spread, test.scale))
        dist = TwoSampleNumbers.from_result(test, K, retest)
    return {"elements": elements, "init": init, "distributional": dist}


def check_equivariance(algorithm, groups: Sequence[str] = DEFAULT_GROUPS, *, task: Task | None = None,
                       n_elements: int = 3, seeds: int = 32, coupled: bool = True, distributional: bool = True,
                       initialisation: bool = True, init_draws: int = 256, rule: VerdictRule | None = None,
                       seed: int = 0, n_permutations: int = 999, name: str | None = None,
                       **algorithm_options) -> EquivarianceReport:
    """Check an algorithm against each group; see the module docstring for the tests and
    :mod:`invariance.verdicts` for the rule.

    ``algorithm``: an optimizer (registry name, spec string, ``module:Class`` import path,
    per-layer rule, ``torch.optim.Optimizer`` subclass) trained in the checker's MLP, or a
    scikit-learn estimator. ``algorithm_options`` go to
    :class:`~invariance.algorithms.NeuralAlgorithm` (``width``, ``depth``, ``init``,
    ``steps``, ...); ``name`` labels an estimator. ``seeds`` is K (0 or 1 skips the
    distributional test; raised to the rule's ``min_seeds`` where the coupled test cannot
    decide), ``n_elements`` the number of random elements per group in the coupled test,
    ``init_draws`` the initialisations per side of the initialisation test. ``rule``
    defaults to :class:`VerdictRule` for the precision of the runs.
    """
    for label, value, low in (("n_elements", n_elements, 1), ("init_draws", init_draws, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{label} must be an integer ≥ {low}, got {value!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 0:
        raise ValueError(f"seeds must be a non-negative integer (0: no distributional test), got {seeds!r}")
    if not (coupled or distributional or initialisation):
        raise ValueError("nothing to do: the coupled, distributional and initialisation tests are all off")
    alg = as_algorithm(algorithm, name=name, **algorithm_options)
    groups = [groups] if isinstance(groups, str) else list(groups)
    if not groups:
        raise ValueError(f"no groups given; accepted: {', '.join(groups_mod.GROUPS)}")
    for group in groups:
        _check_group_name(group)
    if len(set(groups)) != len(groups):
        raise ValueError(f"groups must not repeat, got {', '.join(groups)}")
    task = task or default_task()
    rule = rule_for(alg, rule)
    n_permutations = rule.permutations(n_permutations, len(groups))
    with one_thread():
        cache: dict = {}
        per_group = {group: group_numbers(alg, group, task, n_elements=n_elements, seeds=seeds, coupled=coupled,
                                          distributional=distributional, initialisation=initialisation,
                                          init_draws=init_draws, rule=rule, seed=seed,
                                          n_permutations=n_permutations, cache=cache)
                     for group in groups}
    results = summarise_check(per_group, deterministic=alg.deterministic and distributional,
                              exact_coupling=alg.exact_coupling, rule=rule)
    tested = distributional and seeds >= 2 and not alg.deterministic
    settings = {"algorithm": alg.describe(), "task": task.describe(), "n_elements": n_elements if coupled else 0,
                "seeds": seeds if tested else 0,
                "init_draws": init_draws if initialisation and alg.has_initialisation else 0,
                "permutations": n_permutations, "rule": rule.describe(), "seed": seed}
    return EquivarianceReport(alg.name, results, settings)


def assert_equivariant(algorithm, group: str, **options) -> GroupResult:
    """Raise AssertionError, with the numbers, unless ``algorithm`` is judged
    equivariant under ``group``. For a user's own tests; ``options`` as for
    :func:`check_equivariance`."""
    __tracebackhide__ = True  # pytest shows the caller's line, not the checker's frames
    report = check_equivariance(algorithm, [group], **options)
    result = report.results[group]
    if result.verdict != "equivariant":
        from invariance.formatting import fmt, pct

        raise AssertionError(
            f"{report.algorithm} is {result.verdict} under {group}: update rule {result.coupled_verdict}, "
            f"initialisation {result.init_verdict}, predictions {result.distributional_verdict}; "
            f"coupled gap {fmt(result.coupled_gap)} (max rel. error {fmt(result.coupled_error)}, "
            f"floor {fmt(result.floor)}), changed labels {pct(result.disagreement)}, "
            f"init p-value {fmt(result.init_p_value)}, p-value {fmt(result.p_value)}"
            + (f" ({result.note})" if result.note else "")
        )
    return result


def _check_group_name(group: str) -> None:
    if group not in groups_mod.GROUPS:
        raise ValueError(f"unknown group {group!r}; accepted: {', '.join(groups_mod.GROUPS)}")
