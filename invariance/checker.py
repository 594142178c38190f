"""The equivariance checker: which symmetries does a training algorithm have?

For each group G and a few random elements g ∈ G, two tests (science.md §1):

**Coupled (pathwise) test: tests the update rule.** Train once on S from θ0,
and once on g(S) from the transported initialisation (first layer W1 -> W1 g⁻¹;
for a label permutation the last layer's rows are permuted), with the same
minibatch order and seed. If the rule is G-equivariant, f(x) = f'(g x) up to
rounding. Measured on the held-out test points: the max and RMS relative error
of the scores (:func:`invariance.metrics.compare_outputs`), the share of
changed predicted labels, and the parameter distance after mapping the
transported network back.

The rounding error grows with training (training is chaotic), so it is judged
against a *floating-point floor*: the same comparison for a control transform
that is the identity in exact arithmetic, h then h⁻¹, applied to the data,
the initialisation and the test points. For a dense element (a rotation,
GL(d), a scaling) h = g. Permutations and sign flips are exact in floating
point, so g g⁻¹ would be the identity there too; their control, and that of
the label permutations, uses a Haar rotation h instead: the smallest
perturbation a dense transform makes.

**Distributional test: tests the whole algorithm, initialisation included.**
K seeds on S and K other seeds on g(S), each run with the algorithm's own
initialisation (nothing transported); scores at fixed probe points x_j and
g x_j; an energy-distance permutation test (both the Euclidean and the ℓ1
norm, combined by min-p: :mod:`invariance.two_sample`) gives a p-value and an
effect size. It uses the first element of each group.

**Verdict rule** (per group; :class:`VerdictRule` holds the thresholds):

* coupled gap r = e / max(f, ``floor_min``), where e is the largest max
  relative error over the elements, f the largest over their controls, and
  ``floor_min`` = 16 ε(float64) ≈ 3.6e-15 stops a control that happens to be
  exact (piecewise-constant scores) from turning a few ulps into a large gap.
  Coupled verdict: ``equivariant`` if r ≤ ``equivariant_gap`` (100),
  ``not_equivariant`` if r ≥ ``broken_gap`` (10⁴), else ``inconclusive``;
* distributional verdict: ``not_equivariant`` if p < ``alpha`` (0.01) and the
  effect size ≥ ``min_effect`` (0 by default: the permutation test is exact,
  so any significant difference is a real asymmetry; raise it to ignore tiny
  ones); ``deterministic`` when the runs do not vary with the seed beyond
  rounding — mean within-sample distance ≤ ``equivariant_gap`` ·
  max(f, ``floor_min``) · mean norm of the scores — since then the samples
  differ only by g's rounding, which the coupled test judges; else
  ``no_evidence``;
* overall: ``not_equivariant`` if the distributional test says so, or if the
  coupled test does and the coupling is exact (it carries all of the
  algorithm's randomness across g: true for our networks, whose initialisation
  is transported and whose minibatch order is shared, and for deterministic
  estimators; false for an estimator with internal randomness such as a
  tree's random feature order, whose pathwise failure proves nothing about
  its law); ``equivariant`` if the coupled test says so and the
  distributional test does not object; otherwise ``inconclusive``.

Seeds: element i of group G comes from (seed, G, i) (redrawn if it is the
identity: :func:`element`); the coupled runs of element i train from
(seed, "train", i), the same for every group and every algorithm, so results
are paired across them; the distributional runs on S use (seed, "S", k),
those on g(S) (seed, G, "gS", k). The study ``equivariance`` reuses exactly
these functions and seeds. What is trained, and on which task:
:mod:`invariance.algorithms`.
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
from invariance.two_sample import TwoSampleResult, energy_test

DEFAULT_GROUPS = ("orthogonal", "permutation", "sign_flip", "signed_permutation")
VERDICTS = ("equivariant", "not_equivariant", "inconclusive")
#: the columns of the JSON/table output, in order
SUMMARY_KEYS = ("verdict", "coupled_gap", "floor", "disagreement", "p_value", "coupled_error", "coupled_rms",
                "param_distance", "effect_size", "coupled_verdict", "distributional_verdict", "note")


@dataclass(frozen=True)
class VerdictRule:
    equivariant_gap: float = 100.0
    broken_gap: float = 1e4
    floor_min: float = 16 * float(np.finfo(np.float64).eps)
    alpha: float = 0.01
    min_effect: float = 0.0

    def __post_init__(self):
        if not 0 < self.equivariant_gap < self.broken_gap:
            raise ValueError(f"need 0 < equivariant_gap < broken_gap, got {self.equivariant_gap} and {self.broken_gap}")
        if not self.floor_min > 0:
            raise ValueError(f"floor_min must be positive, got {self.floor_min}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie strictly between 0 and 1, got {self.alpha}")

    def gap(self, error: float, floor: float) -> float:
        return error / max(floor, self.floor_min)

    def coupled(self, gap: float) -> str:
        if gap <= self.equivariant_gap:
            return "equivariant"
        if gap >= self.broken_gap:
            return "not_equivariant"
        return "inconclusive"

    def distributional(self, p_value: float, effect: float, spread: float, scale: float = 1.0,
                       floor: float = 0.0) -> str:
        # the seed moves the runs no more than rounding does: nothing to compare
        if spread <= self.equivariant_gap * max(floor, self.floor_min) * scale:
            return "deterministic"
        if p_value < self.alpha and effect >= self.min_effect:
            return "not_equivariant"
        return "no_evidence"

    def overall(self, coupled: str | None, distributional: str | None, exact_coupling: bool = True) -> str:
        if distributional == "not_equivariant":
            return "not_equivariant"
        if coupled == "not_equivariant":
            # a broken coupling proves a broken update rule only if the coupling
            # carries all of the algorithm's randomness (init, order) across
            return "not_equivariant" if exact_coupling else "inconclusive"
        if coupled == "equivariant" and distributional in ("no_evidence", "deterministic", None):
            return "equivariant"
        return "inconclusive"


@dataclass
class GroupResult:
    group: str
    verdict: str
    coupled_verdict: str | None = None
    coupled_gap: float | None = None       # max relative error / max(floor, floor_min)
    coupled_error: float | None = None     # max relative score error over elements
    coupled_rms: float | None = None       # RMS relative score error (worst element)
    floor: float | None = None             # max relative error of the controls (h then h⁻¹)
    disagreement: float | None = None      # largest share of test points whose predicted label changed
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
        return {"algorithm": self.algorithm, "settings": self.settings,
                "groups": {g: {k: _jsonable(getattr(r, k)) for k in SUMMARY_KEYS} for g, r in self.results.items()}}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_markdown(self) -> str:
        lines = [f"### Equivariance of `{self.algorithm}`", "",
                 "| group | verdict | coupled gap | max rel. error | floor | changed labels | p-value | effect |",
                 "|---|---|---|---|---|---|---|---|"]
        for g, r in self.results.items():
            lines.append(f"| {g} | {r.verdict} | {_fmt(r.coupled_gap)} | {_fmt(r.coupled_error)} | {_fmt(r.floor)} | "
                         f"{_pct(r.disagreement)} | {_fmt(r.p_value)} | {_fmt(r.effect_size)} |")
        notes = [f"* {line}" for line in self.notes()]
        return "\n".join(lines + ([""] + notes if notes else [])) + "\n"

    def to_table(self) -> str:
        df = self.to_frame()[["group", "verdict", "coupled_gap", "coupled_error", "floor", "disagreement",
                              "p_value", "effect_size"]]
        numbers = df.columns[2:]
        df[numbers] = df[numbers].astype(float)  # None (a test not run) -> NaN, printed as "–"
        return df.to_string(index=False, float_format=lambda v: f"{v:.3g}", na_rep="–")

    def notes(self) -> list[str]:
        """One line per distinct note, naming the groups it applies to."""
        by_note: dict[str, list[str]] = {}
        for group, result in self.results.items():
            if result.note:
                by_note.setdefault(result.note, []).append(group)
        return [f"{', '.join(groups)}: {note}" for note, groups in by_note.items()]


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


# --------------------------------------------------------------------------- elements and controls


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
        # (h⁻¹ h)⁻¹ = h⁻¹ h: mapping back is one more round trip
        return _RoundTrip(self.inner)


def element(group: str, task: Task, index: int, seed: int = 0) -> groups_mod.GroupElement:
    """Element ``index`` of ``group`` for ``task``: it depends on (seed, group, index)
    only, and it is never the identity (which tests nothing; a random permutation
    of C = 3 labels is the identity once in six draws), unless the group is."""
    for attempt in range(1000):
        path = (group, "element", index) if attempt == 0 else (group, "element", index, attempt)
        g = sample_element(group, task, derive(seed, *path))
        if group == "identity" or not np.array_equal(g.matrix(), np.eye(g.d)):
            return g
    raise ValueError(f"group {group!r} on this task has no element other than the identity")


def sample_element(group: str, task: Task, seed: int) -> groups_mod.GroupElement:
    spec = groups_mod.GROUPS[group]
    d = task.n_classes if spec.acts_on == "outputs" else task.d
    options = {"image_shape": task.image_shape} if group.startswith("image_") else {}
    if options and task.image_shape is None:
        raise ValueError(f"group {group!r} needs a task with an image_shape; this task ({task.name}) has none")
    return groups_mod.sample(group, d, seed=seed, **options)


def control_element(g: groups_mod.GroupElement, task: Task, seed: int) -> groups_mod.GroupElement:
    """The control of ``g`` (see the module docstring); it always acts on the inputs."""
    if g.acts_on == "outputs" or g.exact:
        return _RoundTrip(groups_mod.sample("orthogonal", task.d, seed=seed))
    return _RoundTrip(g)


# --------------------------------------------------------------------------- the two tests


def coupled_test(alg: Algorithm, task: Task, g: groups_mod.GroupElement, seed: int,
                 base_fits: dict | None = None) -> dict[str, float]:
    """One element's coupled comparison: the metrics of ``compare_outputs`` and
    ``param_distance``. ``base_fits`` caches the untransformed run per seed
    (shared by elements, controls and groups)."""
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


def coupled_element(alg: Algorithm, task: Task, group: str, index: int, *, seed: int = 0,
                    base_fits: dict | None = None) -> dict[str, Any]:
    """Element ``index`` of ``group``: its coupled metrics and its control's."""
    g = element(group, task, index, seed)
    train_seed = derive(seed, "train", index)
    control = control_element(g, task, derive(seed, group, "control", index))
    return {"element": g.to_dict(),
            "coupled": coupled_test(alg, task, g, train_seed, base_fits),
            "control": coupled_test(alg, task, control, train_seed, base_fits)}


def base_seeds(seed: int, seeds: int) -> list[int]:
    """Seeds of the K distributional runs on S (shared by every group)."""
    return [derive(seed, "S", k) for k in range(seeds)]


def sample_base(alg: Algorithm, task: Task, seeds: int, seed: int = 0) -> np.ndarray:
    """Scores at the probe points of the K runs on S: (K, n_probe, C)."""
    return alg.sample(task.X_train, task.y_train, task.probe, base_seeds(seed, seeds), task.n_classes)


def distributional_test(alg: Algorithm, task: Task, group: str, *, seeds: int = 32, seed: int = 0,
                        base_sample: np.ndarray | None = None, n_permutations: int = 999) -> TwoSampleResult:
    """K runs on S against K runs on g(S), g = element 0 of ``group``: scores at
    the probe points x_j and g x_j (for a label permutation: g applied to the
    scores of the runs on S against runs on the permuted labels)."""
    g = element(group, task, 0, seed)
    a = sample_base(alg, task, seeds, seed) if base_sample is None else base_sample
    seeds_b = [derive(seed, group, "gS", k) for k in range(seeds)]
    C = task.n_classes
    if g.acts_on == "outputs":
        a = g.apply(a)
        b = alg.sample(task.X_train, g.apply_labels(task.y_train), task.probe, seeds_b, C)
    else:
        b = alg.sample(g.apply(task.X_train), task.y_train, g.apply(task.probe), seeds_b, C)
    return energy_test(a.reshape(len(a), -1), b.reshape(len(b), -1), n_permutations=n_permutations,
                       seed=derive(seed, group, "permutations"))


# --------------------------------------------------------------------------- verdicts


def summarise(group: str, elements: Sequence[dict], *, p_value: float | None = None,
              effect_size: float | None = None, spread: float | None = None, scale: float = 1.0,
              deterministic: bool = False, exact_coupling: bool = True,
              rule: VerdictRule = VerdictRule()) -> GroupResult:
    """A group's numbers and verdict from its elements' coupled results
    (``{"coupled": metrics, "control": metrics}`` each, possibly none) and the
    distributional test's p-value, effect size, spread and scale (the
    ``TwoSampleResult`` fields), or ``deterministic`` when it was skipped
    because the algorithm has no randomness."""
    result = GroupResult(group=group, verdict="inconclusive", elements=list(elements))
    if elements:
        worst = max(elements, key=lambda e: e["coupled"]["max_rel_error"])["coupled"]
        result.coupled_error = worst["max_rel_error"]
        result.coupled_rms = worst["rms_rel_error"]
        result.disagreement = max(e["coupled"]["disagreement"] for e in elements)
        distances = [e["coupled"]["param_distance"] for e in elements if e["coupled"].get("param_distance") is not None]
        result.param_distance = max(distances) if distances else None
        result.floor = max(e["control"]["max_rel_error"] for e in elements)
        result.coupled_gap = rule.gap(result.coupled_error, result.floor)
        result.coupled_verdict = rule.coupled(result.coupled_gap)
    notes = []
    if p_value is not None and not deterministic:
        result.p_value, result.effect_size = p_value, effect_size
        result.distributional_verdict = rule.distributional(p_value, effect_size, spread, scale,
                                                            result.floor or 0.0)
    if deterministic or result.distributional_verdict == "deterministic":
        result.distributional_verdict = "deterministic"
        result.p_value = result.effect_size = None
        notes.append("deterministic: the runs do not vary with the seed, so the coupled test decides")
    exact = exact_coupling or result.distributional_verdict == "deterministic"
    result.verdict = rule.overall(result.coupled_verdict, result.distributional_verdict, exact)
    if result.coupled_verdict == "not_equivariant" and not exact and result.verdict == "inconclusive":
        notes.append("pathwise coupling broken, but the algorithm's own randomness is not transported across g; "
                     "the distributional test did not reject")
    result.note = "; ".join(notes)
    return result


def check_group(alg: Algorithm, group: str, task: Task, *, n_elements: int = 3, seeds: int = 32,
                coupled: bool = True, distributional: bool = True, rule: VerdictRule = VerdictRule(),
                seed: int = 0, base_sample: np.ndarray | None = None, base_fits: dict | None = None,
                n_permutations: int = 999) -> GroupResult:
    """Both tests for one group (see the module docstring)."""
    _check_group_name(group)
    base_fits = {} if base_fits is None else base_fits
    elements = [coupled_element(alg, task, group, i, seed=seed, base_fits=base_fits)
                for i in range(n_elements)] if coupled else []
    test = None
    if distributional and seeds >= 2 and not alg.deterministic:
        test = distributional_test(alg, task, group, seeds=seeds, seed=seed, base_sample=base_sample,
                                   n_permutations=n_permutations)
    return summarise(group, elements, p_value=None if test is None else test.p_value,
                     effect_size=None if test is None else test.effect_size,
                     spread=None if test is None else test.spread, scale=1.0 if test is None else test.scale,
                     deterministic=alg.deterministic and distributional, exact_coupling=alg.exact_coupling,
                     rule=rule)


def check_equivariance(algorithm, groups: Sequence[str] = DEFAULT_GROUPS, *, task: Task | None = None,
                       n_elements: int = 3, seeds: int = 32, coupled: bool = True, distributional: bool = True,
                       rule: VerdictRule = VerdictRule(), seed: int = 0, n_permutations: int = 999,
                       name: str | None = None, **algorithm_options) -> EquivarianceReport:
    """Check an algorithm against each group; see the module docstring for the tests and the rule.

    ``algorithm``: an optimizer (registry name, spec string, ``module:Class``
    import path, per-layer rule, ``torch.optim.Optimizer`` subclass) trained in
    the checker's MLP, or a scikit-learn estimator. ``algorithm_options`` go to
    :class:`~invariance.algorithms.NeuralAlgorithm` (``width``, ``depth``,
    ``init``, ``steps``, ...); ``name`` labels an estimator. ``seeds`` is K
    (0 or 1 skips the distributional test), ``n_elements`` the number of random
    elements per group in the coupled test.
    """
    if isinstance(n_elements, bool) or not isinstance(n_elements, (int, np.integer)) or n_elements < 1:
        raise ValueError(f"n_elements must be a positive integer, got {n_elements!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 0:
        raise ValueError(f"seeds must be a non-negative integer (0: no distributional test), got {seeds!r}")
    if not (coupled or distributional):
        raise ValueError("nothing to do: coupled and distributional are both off")
    alg = as_algorithm(algorithm, name=name, **algorithm_options)
    groups = [groups] if isinstance(groups, str) else list(groups)
    if not groups:
        raise ValueError(f"no groups given; accepted: {', '.join(groups_mod.GROUPS)}")
    for group in groups:
        _check_group_name(group)
    task = task or default_task()
    with one_thread():
        # the K runs on S are the same for every group: train them once
        base_sample = None
        if distributional and seeds >= 2 and not alg.deterministic:
            base_sample = sample_base(alg, task, seeds, seed)
        results, base_fits = {}, {}
        for group in groups:
            results[group] = check_group(alg, group, task, n_elements=n_elements, seeds=seeds, coupled=coupled,
                                         distributional=distributional, rule=rule, seed=seed,
                                         base_sample=base_sample, base_fits=base_fits,
                                         n_permutations=n_permutations)
    tested = distributional and seeds >= 2 and not alg.deterministic
    settings = {"algorithm": alg.describe(), "task": task.describe(), "n_elements": n_elements if coupled else 0,
                "seeds": seeds if tested else 0, "rule": asdict(rule), "seed": seed}
    return EquivarianceReport(alg.name, results, settings)


def assert_equivariant(algorithm, group: str, **options) -> GroupResult:
    """Raise AssertionError, with the numbers, unless ``algorithm`` is judged
    equivariant under ``group``. For a user's own tests; ``options`` as for
    :func:`check_equivariance`."""
    report = check_equivariance(algorithm, [group], **options)
    result = report.results[group]
    if result.verdict != "equivariant":
        raise AssertionError(
            f"{report.algorithm} is {result.verdict} under {group}: coupled gap {_fmt(result.coupled_gap)} "
            f"(max rel. error {_fmt(result.coupled_error)}, floor {_fmt(result.floor)}), "
            f"changed labels {_pct(result.disagreement)}, p-value {_fmt(result.p_value)}"
            + (f" ({result.note})" if result.note else "")
        )
    return result


@contextmanager
def one_thread():
    """The checker's networks are tiny: one thread is fastest (no sync overhead)
    and keeps a run independent of the machine's core count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_group_name(group: str) -> None:
    if group not in groups_mod.GROUPS:
        raise ValueError(f"unknown group {group!r}; accepted: {', '.join(groups_mod.GROUPS)}")


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def derive(seed: int, *path) -> int:
    """A 32-bit seed from a parent seed and a path of names (stable across processes)."""
    ss = np.random.SeedSequence([int(seed), *[_stable_int(str(p)) for p in path]])
    return int(ss.generate_state(1)[0])
