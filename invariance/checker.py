"""The equivariance checker: which symmetries does a training algorithm have?

For each group G and a few random elements g ∈ G, two tests (science.md §1):

**Coupled (pathwise) test: tests the update rule.** Train once on S from θ0,
and once on g(S) from the transported initialisation (first layer W1 -> W1 g⁻¹;
for a label permutation the last layer's rows are permuted), with the same
minibatch order and seed. If the rule is G-equivariant, f(x) = f'(g x) up to
rounding. Measured on held-out points: the max and RMS relative error of the
outputs, the share of changed predicted labels, and the parameter distance
after mapping the transported network back.

The rounding error grows with training (training is chaotic), so it is judged
against a *floating-point floor*: the same comparison for a control transform
that is the identity in exact arithmetic, g then g⁻¹, applied to the data,
the initialisation and the test points. For exact elements (permutations, sign
flips) g g⁻¹ is the identity in floating point too, so their control is a Haar
rotation h then h⁻¹: the smallest perturbation a dense transform makes.

**Distributional test: tests the whole algorithm, initialisation included.**
K seeds on S and K other seeds on g(S), each run with the algorithm's own
initialisation; predictions (class probabilities) at fixed points x_j and
g x_j; an energy-distance permutation test gives a p-value and an effect size.

**Verdict rule** (per group, ``VerdictRule`` holds the thresholds):

* coupled verdict, from the gap r = e / max(floor, floor_min), where e is the
  largest max-relative-error over the elements and floor the largest over the
  controls: ``equivariant`` if r ≤ ``equivariant_gap`` (100), ``not_equivariant``
  if r ≥ ``broken_gap`` (10⁴), else ``inconclusive``;
* distributional verdict: ``not_equivariant`` if p < ``alpha`` (0.01) and the
  effect size ≥ ``min_effect`` (0.02); ``deterministic`` when neither side
  varies across seeds (the coupled test then decides); else ``equivariant``;
* overall: ``not_equivariant`` if the distributional test says so, or if the
  coupled test does and the coupling is exact (it transports all of the
  algorithm's randomness: true for our networks, whose initialisation is
  transported and whose minibatch order is shared, and for deterministic
  estimators; false for an estimator with internal randomness such as a
  tree's random feature order, whose pathwise failure proves nothing about
  its distribution); ``equivariant`` if the coupled test says so and the
  distributional test does not object; otherwise ``inconclusive``.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from invariance import groups as groups_mod
from invariance.algorithms import Algorithm, Task, as_algorithm, default_task
from invariance.metrics import compare_outputs
from invariance.two_sample import energy_test

DEFAULT_GROUPS = ("orthogonal", "permutation", "sign_flip", "signed_permutation")
VERDICTS = ("equivariant", "not_equivariant", "inconclusive")


@dataclass(frozen=True)
class VerdictRule:
    equivariant_gap: float = 100.0
    broken_gap: float = 1e4
    floor_min: float = 1e-12
    alpha: float = 0.01
    min_effect: float = 0.02

    def coupled(self, gap: float) -> str:
        if gap <= self.equivariant_gap:
            return "equivariant"
        if gap >= self.broken_gap:
            return "not_equivariant"
        return "inconclusive"

    def distributional(self, p_value: float, effect: float, spread: float) -> str:
        if spread == 0.0:
            return "deterministic"
        if p_value < self.alpha and effect >= self.min_effect:
            return "not_equivariant"
        return "equivariant"

    def overall(self, coupled: str | None, distributional: str | None, exact_coupling: bool = True) -> str:
        if distributional == "not_equivariant":
            return "not_equivariant"
        if coupled == "not_equivariant":
            # a broken coupling proves a broken update rule only if the coupling
            # carries all of the algorithm's randomness (init, order) across
            return "not_equivariant" if exact_coupling else "inconclusive"
        if coupled == "equivariant" and distributional in ("equivariant", "deterministic", None):
            return "equivariant"
        return "inconclusive"


@dataclass
class GroupResult:
    group: str
    verdict: str
    coupled_verdict: str | None = None
    coupled_gap: float | None = None       # max relative error / floor
    coupled_error: float | None = None     # max relative output error over elements
    coupled_rms: float | None = None       # RMS relative output error (worst element)
    floor: float | None = None             # max relative error of the control (g then g⁻¹)
    disagreement: float | None = None      # share of test points whose predicted label changed
    param_distance: float | None = None    # |θ − map_back(θ')| / |θ|, when the algorithm has parameters
    distributional_verdict: str | None = None
    p_value: float | None = None
    effect_size: float | None = None
    elements: list[dict] = field(default_factory=list)
    note: str = ""


@dataclass
class EquivarianceReport:
    algorithm: str
    results: dict[str, GroupResult]
    settings: dict[str, Any] = field(default_factory=dict)

    def verdict(self, group: str) -> str:
        return self.results[group].verdict

    def to_frame(self) -> pd.DataFrame:
        rows = [{"algorithm": self.algorithm, **{k: v for k, v in asdict(r).items() if k != "elements"}}
                for r in self.results.values()]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        keys = ("verdict", "coupled_gap", "floor", "disagreement", "p_value", "coupled_error",
                "coupled_rms", "param_distance", "effect_size", "coupled_verdict", "distributional_verdict", "note")
        return {"algorithm": self.algorithm, "settings": self.settings,
                "groups": {g: {k: _jsonable(getattr(r, k)) for k in keys} for g, r in self.results.items()}}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_markdown(self) -> str:
        lines = [f"### Equivariance of `{self.algorithm}`", "",
                 "| group | verdict | coupled gap | max rel. error | floor | changed labels | p-value | effect |",
                 "|---|---|---|---|---|---|---|---|"]
        for g, r in self.results.items():
            lines.append(f"| {g} | {r.verdict} | {_fmt(r.coupled_gap)} | {_fmt(r.coupled_error)} | {_fmt(r.floor)} | "
                         f"{_pct(r.disagreement)} | {_fmt(r.p_value)} | {_fmt(r.effect_size)} |")
        return "\n".join(lines) + "\n"

    def to_table(self) -> str:
        df = self.to_frame()[["group", "verdict", "coupled_gap", "coupled_error", "floor", "disagreement",
                              "p_value", "effect_size"]]
        return df.to_string(index=False, float_format=lambda v: f"{v:.3g}")


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None if np.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3g}"


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


class _RoundTrip(groups_mod.GroupElement):
    """The control transform: ``inner`` then ``inner⁻¹``, each applied in
    floating point, so it is the identity in exact arithmetic only."""

    def __init__(self, inner: groups_mod.GroupElement):
        super().__init__(inner.d, name=f"roundtrip({inner.name})", acts_on=inner.acts_on)
        self.inner, self.inner_inv = inner, inner.inverse()

    @property
    def exact(self) -> bool:
        return False

    def _apply(self, X):
        return self.inner_inv.apply(self.inner.apply(X))

    def _transport(self, W):
        return self.inner_inv.transport_first_layer(self.inner.transport_first_layer(W))

    def _make_inverse(self):
        # (g⁻¹ g)⁻¹ = g⁻¹ g: mapping back is one more round trip
        return _RoundTrip(self.inner)


def _sample_element(group: str, task: Task, seed: int) -> groups_mod.GroupElement:
    spec = groups_mod.GROUPS[group]
    d = task.n_classes if spec.acts_on == "outputs" else task.X_train.shape[1]
    options = {"image_shape": task.image_shape} if group.startswith("image_") else {}
    return groups_mod.sample(group, d, seed=seed, **options)


def _control_for(g: groups_mod.GroupElement, task: Task, seed: int) -> groups_mod.GroupElement:
    if g.acts_on == "outputs":
        return g  # a permutation of output rows is exact: its control is g itself, floor 0
    if g.exact:
        return _RoundTrip(groups_mod.sample("orthogonal", g.d, seed=seed))
    return _RoundTrip(g)


def coupled_test(alg: Algorithm, task: Task, g: groups_mod.GroupElement, seed: int,
                 base_fits: dict | None = None) -> dict[str, float]:
    """One element's coupled comparison; returns the metrics of ``compare_outputs``.
    ``base_fits`` caches the untransformed run per seed (shared by elements,
    controls and groups)."""
    C = task.n_classes
    base_fits = {} if base_fits is None else base_fits
    if seed not in base_fits:
        base_fits[seed] = alg.fit(task.X_train, task.y_train, seed=seed, n_classes=C)
    base = base_fits[seed]
    if g.acts_on == "outputs":
        moved = alg.fit(task.X_train, g.apply_labels(task.y_train), seed=seed, n_classes=C, transform=g)
        expected, got = g.apply(base.predict_scores(task.X_test)), moved.predict_scores(task.X_test)
    else:
        moved = alg.fit(g.apply(task.X_train), task.y_train, seed=seed, n_classes=C, transform=g)
        expected, got = base.predict_scores(task.X_test), moved.predict_scores(g.apply(task.X_test))
    metrics = compare_outputs(expected, got)
    metrics["param_distance"] = base.param_distance(moved, g)
    return metrics


def check_group(alg: Algorithm, group: str, task: Task, *, n_elements: int = 3, seeds: int = 32,
                coupled: bool = True, distributional: bool = True, rule: VerdictRule = VerdictRule(),
                seed: int = 0, base_sample: np.ndarray | None = None, base_fits: dict | None = None) -> GroupResult:
    if group not in groups_mod.GROUPS:
        raise ValueError(f"unknown group {group!r}; accepted: {', '.join(groups_mod.GROUPS)}")
    result = GroupResult(group=group, verdict="inconclusive")
    rng = np.random.SeedSequence([seed, _stable_int(group)])
    element_seeds = [int(s.generate_state(1)[0]) for s in rng.spawn(n_elements)]
    elements = [_sample_element(group, task, s) for s in element_seeds]
    if coupled:
        worst, floor = None, 0.0
        for i, g in enumerate(elements):
            base_fits = {} if base_fits is None else base_fits
            m = coupled_test(alg, task, g, seed=seed + i, base_fits=base_fits)
            c = coupled_test(alg, task, _control_for(g, task, element_seeds[i] + 1), seed=seed + i, base_fits=base_fits)
            result.elements.append({"element": g.to_dict(), "coupled": m, "control": c})
            floor = max(floor, c["max_rel_error"])
            if worst is None or m["max_rel_error"] > worst["max_rel_error"]:
                worst = m
        result.coupled_error = worst["max_rel_error"]
        result.coupled_rms = worst["rms_rel_error"]
        result.disagreement = max(e["coupled"]["disagreement"] for e in result.elements)
        distances = [e["coupled"]["param_distance"] for e in result.elements if e["coupled"]["param_distance"] is not None]
        result.param_distance = max(distances) if distances else None
        result.floor = floor
        result.coupled_gap = result.coupled_error / max(floor, rule.floor_min)
        result.coupled_verdict = rule.coupled(result.coupled_gap)
    if distributional and seeds >= 2:
        g = elements[0]
        probe = task.X_test[: task.n_probe]
        seeds_a = [_derive(seed, "S", k) for k in range(seeds)]
        seeds_b = [_derive(seed, group, "gS", k) for k in range(seeds)]
        C = task.n_classes
        a = base_sample if base_sample is not None else alg.sample(task.X_train, task.y_train, probe, seeds_a, C)
        if g.acts_on == "outputs":
            a = g.apply(a)
            b = alg.sample(task.X_train, g.apply_labels(task.y_train), probe, seeds_b, C)
        else:
            b = alg.sample(g.apply(task.X_train), task.y_train, g.apply(probe), seeds_b, C)
        test = energy_test(a.reshape(len(a), -1), b.reshape(len(b), -1), seed=seed)
        result.p_value, result.effect_size = test.p_value, test.effect_size
        result.distributional_verdict = rule.distributional(test.p_value, test.effect_size, test.spread)
        if result.distributional_verdict == "deterministic":
            result.p_value = result.effect_size = None
            result.note = "deterministic: the runs do not vary with the seed, so the coupled test decides"
    exact = alg.exact_coupling or result.distributional_verdict == "deterministic"
    result.verdict = rule.overall(result.coupled_verdict, result.distributional_verdict, exact)
    if result.coupled_verdict == "not_equivariant" and not exact and result.verdict == "inconclusive":
        result.note = ("pathwise coupling broken, but the algorithm's own randomness is not transported; "
                       "the distributional test did not reject")
    return result


def check_equivariance(algorithm, groups: Sequence[str] = DEFAULT_GROUPS, *, task: Task | None = None,
                       n_elements: int = 3, seeds: int = 32, coupled: bool = True, distributional: bool = True,
                       rule: VerdictRule = VerdictRule(), seed: int = 0, **algorithm_options) -> EquivarianceReport:
    """Check an algorithm (optimizer name/spec/import path/class, or a scikit-learn
    estimator) against each group; see the module docstring for the tests and the rule."""
    with _one_thread():
        return _check_equivariance(algorithm, groups, task, n_elements, seeds, coupled, distributional, rule,
                                   seed, algorithm_options)


@contextmanager
def _one_thread():
    """The checker's networks are tiny: one thread is fastest (no sync overhead)
    and keeps a run independent of the machine's core count."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_equivariance(algorithm, groups, task, n_elements, seeds, coupled, distributional, rule, seed,
                        algorithm_options) -> EquivarianceReport:
    alg = as_algorithm(algorithm, **algorithm_options)
    groups = [groups] if isinstance(groups, str) else list(groups)
    for group in groups:
        if group not in groups_mod.GROUPS:
            raise ValueError(f"unknown group {group!r}; accepted: {', '.join(groups_mod.GROUPS)}")
    task = task or default_task()
    # the K runs on S are the same for every group: train them once
    base_sample = None
    if distributional and seeds >= 2:
        base_sample = alg.sample(task.X_train, task.y_train, task.X_test[: task.n_probe],
                                 [_derive(seed, "S", k) for k in range(seeds)], task.n_classes)
    results, base_fits = {}, {}
    for group in groups:
        results[group] = check_group(alg, group, task, n_elements=n_elements, seeds=seeds, coupled=coupled,
                                     distributional=distributional, rule=rule, seed=seed, base_sample=base_sample,
                                     base_fits=base_fits)
    settings = {"task": task.describe(), "n_elements": n_elements, "seeds": seeds, "rule": asdict(rule), "seed": seed}
    return EquivarianceReport(alg.name, results, settings)


def assert_equivariant(algorithm, group: str, **options) -> GroupResult:
    """Raise AssertionError, with the numbers, unless ``algorithm`` is judged
    equivariant under ``group``. For a user's own tests."""
    report = check_equivariance(algorithm, [group], **options)
    result = report.results[group]
    if result.verdict != "equivariant":
        raise AssertionError(
            f"{report.algorithm} is {result.verdict} under {group}: coupled gap {_fmt(result.coupled_gap)} "
            f"(max rel. error {_fmt(result.coupled_error)}, floor {_fmt(result.floor)}), "
            f"changed labels {_pct(result.disagreement)}, p-value {_fmt(result.p_value)}"
        )
    return result


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _derive(seed: int, *path) -> int:
    ss = np.random.SeedSequence([seed, *[_stable_int(str(p)) for p in path]])
    return int(ss.generate_state(1)[0])
