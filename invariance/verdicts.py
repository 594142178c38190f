"""The checker's verdict rule and result types (numpy only: ``reports`` imports
this module without torch).

A check of algorithm A against groups G₁ … G_m runs three tests per group
(:mod:`invariance.checker` runs them; this module decides):

* **coupled** (the update rule): the relative score error e of runs on S and
  on g(S) from transported initialisations, over the floating-point floor f of
  a control (h then h⁻¹, the identity in exact arithmetic): gap r = e / max(f,
  ``floor_min``);
* **initialisation** (the law of the parameters g acts on): a two-sample test
  of θ₀ against g·θ₀ over many initialisations, nothing trained;
* **distributional** (the predictions, initialisation included): a
  two-sample test of K runs on S against K runs on g(S).

**The rule** (per group; the numbers live in :class:`VerdictRule`):

1. *Coupled.* The floor must be small for the coupled test to mean anything:
   if the control's runs changed any predicted label, or f > ``max_floor``,
   training amplified rounding into O(1) differences (it is chaotic at these
   settings) and the coupled verdict is ``inconclusive``. Otherwise
   ``equivariant`` if r ≤ ``equivariant_gap`` (100), ``not_equivariant`` if
   r ≥ ``broken_gap`` (10⁴), ``inconclusive`` in between.

   ``max_floor`` = √ε (1.5e-8 in float64): a control error above it means the
   dynamics multiplied the last-bit rounding of the inputs (≈ ε) by more than
   1/√ε ≈ 7·10⁷, i.e. lost half of the working digits. Below it, an equivariant
   verdict bounds the transported run's relative error by
   ``equivariant_gap``·√ε ≈ 1.5e-6, far below the smallest real break we
   have measured (Adam's first step under a rotation: relative errors ≥ 1e-4);
   the floors we measure on the checker's default task are 5e-16 to 9e-14.
2. *Deterministic.* Runs whose spread over seeds (mean within-sample distance)
   is at most ``equivariant_gap`` · ``floor_min`` · (mean norm of the scores)
   do not depend on the seed beyond rounding: there is nothing to compare
   distributionally and the coupled test decides. This is judged against
   rounding, never against the measured floor (a chaotic floor can be as
   large as the spread itself).
3. *Family-wise error.* The p-values of each of the two two-sample tests are
   Holm-adjusted over the groups of the check, so that a check of an
   equivariant algorithm rejects at least one group with probability ≤
   ``alpha`` per test. A test rejects when its adjusted p-value is below
   ``alpha`` (and, for the distributional test, its effect size reaches
   ``min_effect``). The permutation tests use at least 2m/α − 1 permutations
   (:meth:`VerdictRule.permutations`), so that the smallest attainable p-value,
   1/(P + 1), lies below α/m, the level of Holm's first step and of a retest.
4. *Confirmation.* A rejection that is the only evidence of a break (the
   coupled test did not say ``not_equivariant``) is retested on fresh seeds,
   at the Bonferroni level ``alpha`` / m; only a confirmed rejection counts.
   A false verdict then needs two independent chance rejections: probability
   ≤ alpha · alpha/m per test and group, instead of alpha. (The retests are
   run by the checker whenever a raw p-value is below ``alpha``, a superset of
   the Holm rejections, so that stored results can be re-decided here.)
5. *Overall* (the algorithm, in law): ``not_equivariant`` if a confirmed
   initialisation or distributional rejection says so, or if the coupled test
   does and the coupling is exact (it carries all of the algorithm's
   randomness across g: our networks, deterministic estimators); else
   ``equivariant`` if the coupled test says so, the initialisation's invariance
   is not rejected and the distributional test does not object; else
   ``inconclusive``. Where the coupled test is inconclusive, the verdict rests
   on the distributional test, run with at least ``min_seeds`` seeds per side,
   and a test that does not reject is no proof: the verdict stays
   ``inconclusive``.

Measured error rates of this rule: docs/CHECKER.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

DEFAULT_GROUPS = ("orthogonal", "permutation", "sign_flip", "signed_permutation")
VERDICTS = ("equivariant", "not_equivariant", "inconclusive")
#: the columns of the JSON output, in order
SUMMARY_KEYS = ("verdict", "coupled_verdict", "init_verdict", "distributional_verdict", "coupled_gap", "floor",
                "floor_disagreement", "disagreement", "init_p_value", "init_retest_p_value", "p_value",
                "retest_p_value", "seeds", "coupled_error", "coupled_rms", "param_distance", "effect_size", "note")
EPS64 = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class VerdictRule:
    equivariant_gap: float = 100.0
    broken_gap: float = 1e4
    #: the unit roundoff of the runs' arithmetic (float64 by default; float32 runs: 2**-23)
    eps: float = EPS64
    alpha: float = 0.01
    min_effect: float = 0.0
    #: K per side when the distributional test must decide alone (the coupled test is inconclusive)
    min_seeds: int = 64

    def __post_init__(self):
        if not 0 < self.equivariant_gap < self.broken_gap:
            raise ValueError(f"need 0 < equivariant_gap < broken_gap, got {self.equivariant_gap} and {self.broken_gap}")
        if not 0 < self.eps < 1:
            raise ValueError(f"eps must lie strictly between 0 and 1, got {self.eps}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie strictly between 0 and 1, got {self.alpha}")
        if isinstance(self.min_seeds, bool) or not isinstance(self.min_seeds, (int, np.integer)) or self.min_seeds < 2:
            raise ValueError(f"min_seeds must be an integer ≥ 2, got {self.min_seeds!r}")

    @classmethod
    def for_dtype(cls, dtype_name: str, **options) -> "VerdictRule":
        """The rule for runs in ``dtype_name`` ("float64", "float32", ...)."""
        return cls(eps=float(np.finfo(np.dtype(dtype_name)).eps), **options)

    @property
    def floor_min(self) -> float:
        """16 ε: an exact control (piecewise-constant scores) cannot turn a few ulps into a large gap."""
        return 16 * self.eps

    @property
    def max_floor(self) -> float:
        """√ε: the largest floor that still leaves half of the working digits (module docstring, rule 1)."""
        return math.sqrt(self.eps)

    def permutations(self, requested: int, tests: int) -> int:
        """Permutations for a check of ``tests`` groups: at least 2·tests/α − 1 (rule 3)."""
        return max(int(requested), math.ceil(2 * max(tests, 1) / self.alpha) - 1)

    def describe(self) -> dict[str, float]:
        return {**asdict(self), "floor_min": self.floor_min, "max_floor": self.max_floor}

    def gap(self, error: float, floor: float) -> float:
        return error / max(floor, self.floor_min)

    def floor_is_small(self, floor: float, floor_disagreement: float = 0.0) -> bool:
        return floor <= self.max_floor and not floor_disagreement > 0

    def coupled(self, gap: float, floor: float = 0.0, floor_disagreement: float = 0.0) -> str:
        if not self.floor_is_small(floor, floor_disagreement):
            return "inconclusive"
        if gap <= self.equivariant_gap:
            return "equivariant"
        if gap >= self.broken_gap:
            return "not_equivariant"
        return "inconclusive"

    def is_deterministic(self, spread: float, scale: float = 1.0) -> bool:
        """The seed moves the runs no more than rounding does (rule 2)."""
        return spread <= self.equivariant_gap * self.floor_min * max(scale, 1.0)

    def rejects(self, adjusted_p: float | None, effect: float | None = None) -> bool:
        if adjusted_p is None:
            return False
        return adjusted_p < self.alpha and (effect is None or effect >= self.min_effect)

    def confirmed(self, retest_p: float | None, tests: int) -> bool:
        """A retest on fresh seeds confirms a rejection at the Bonferroni level alpha / tests (rule 4)."""
        return retest_p is not None and retest_p < self.alpha / max(tests, 1)

    def overall(self, coupled: str | None, init: str | None, distributional: str | None,
                exact_coupling: bool = True) -> str:
        if init == "not_equivariant" or distributional == "not_equivariant":
            return "not_equivariant"
        if coupled == "not_equivariant":
            # a broken coupling proves a broken update rule only if the coupling
            # carries all of the algorithm's randomness (init, order) across
            return "not_equivariant" if exact_coupling else "inconclusive"
        if coupled == "equivariant" and init in ("equivariant", None) and \
                distributional in ("no_evidence", "deterministic", None):
            return "equivariant"
        return "inconclusive"


def holm(p_values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Holm's step-down adjusted p-values (family-wise error over the keys); None stays None."""
    tested = sorted(((p, k) for k, p in p_values.items() if p is not None), key=lambda t: t[0])
    m = len(tested)
    adjusted: dict[str, float | None] = {k: None for k in p_values}
    running = 0.0
    for rank, (p, key) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[key] = running
    return adjusted


@dataclass(frozen=True)
class TwoSampleNumbers:
    """What the rule needs of one two-sample test of one group."""

    p_value: float
    effect_size: float = 0.0
    spread: float = math.inf   # mean within-sample distance (distributional test; inf: not judged)
    scale: float = 1.0         # mean norm of the draws
    seeds: int = 0             # draws per side
    retest_p_value: float | None = None   # the same test on fresh seeds (run when p_value < alpha)

    @classmethod
    def from_result(cls, result, seeds: int, retest=None) -> "TwoSampleNumbers":
        """From a :class:`invariance.two_sample.TwoSampleResult` (and its retest's)."""
        return cls(result.p_value, result.effect_size, result.spread, result.scale, seeds,
                   None if retest is None else retest.p_value)


@dataclass
class GroupResult:
    group: str
    verdict: str
    coupled_verdict: str | None = None
    coupled_gap: float | None = None       # max relative error / max(floor, floor_min)
    coupled_error: float | None = None     # max relative score error over elements
    coupled_rms: float | None = None       # RMS relative score error (worst element)
    floor: float | None = None             # max relative error of the controls (h then h⁻¹)
    floor_disagreement: float | None = None  # largest share of labels the controls changed
    disagreement: float | None = None      # largest share of test points whose predicted label changed
    param_distance: float | None = None    # |θ − map_back(θ')| / |θ|, when the algorithm has parameters
    init_verdict: str | None = None        # the initialisation's law under g (None: no initialisation)
    init_p_value: float | None = None      # Holm-adjusted over the check's groups
    init_retest_p_value: float | None = None
    distributional_verdict: str | None = None
    p_value: float | None = None           # distributional, Holm-adjusted over the check's groups
    retest_p_value: float | None = None
    seeds: int | None = None               # K per side of the distributional test
    effect_size: float | None = None
    elements: list[dict] = field(default_factory=list)
    note: str = ""


def coupled_numbers(result: GroupResult, elements: Sequence[dict], rule: VerdictRule) -> None:
    """Fill the coupled fields of ``result`` from its elements
    (``{"coupled": metrics, "control": metrics}`` each)."""
    worst = max(elements, key=lambda e: e["coupled"]["max_rel_error"])["coupled"]
    result.coupled_error = worst["max_rel_error"]
    result.coupled_rms = worst["rms_rel_error"]
    result.disagreement = max(e["coupled"]["disagreement"] for e in elements)
    distances = [e["coupled"]["param_distance"] for e in elements if e["coupled"].get("param_distance") is not None]
    result.param_distance = max(distances) if distances else None
    result.floor = max(e["control"]["max_rel_error"] for e in elements)
    result.floor_disagreement = max(e["control"].get("disagreement", 0.0) for e in elements)
    result.coupled_gap = rule.gap(result.coupled_error, result.floor)
    result.coupled_verdict = rule.coupled(result.coupled_gap, result.floor, result.floor_disagreement)


def summarise(group: str, elements: Sequence[dict], *, init: TwoSampleNumbers | None = None,
              distributional: TwoSampleNumbers | None = None, deterministic: bool = False,
              exact_coupling: bool = True, rule: VerdictRule = VerdictRule(),
              adjusted: Mapping[str, float | None] | None = None, tests: int = 1) -> GroupResult:
    """One group's numbers and verdict. ``adjusted`` holds the Holm-adjusted
    p-values (keys ``"init"``, ``"distributional"``; the raw ones when absent,
    i.e. a check of one group) and ``tests`` the number of groups they were
    adjusted over (the retest's Bonferroni factor). Prefer :func:`summarise_check`,
    which adjusts over the groups itself."""
    adjusted = dict(adjusted or {})
    result = GroupResult(group=group, verdict="inconclusive", elements=list(elements))
    notes = []
    if elements:
        coupled_numbers(result, elements, rule)
        if not rule.floor_is_small(result.floor, result.floor_disagreement):
            notes.append(f"training is chaotic at these settings: the control (identity in exact arithmetic) moved "
                         f"the scores by {result.floor:.3g} (relative) and changed {100 * result.floor_disagreement:.1f} % "
                         f"of the labels, above the floor bound {rule.max_floor:.2g}, so the coupled test cannot "
                         "decide")
    if init is not None:
        p = adjusted.get("init", init.p_value)
        result.init_p_value, result.init_retest_p_value = p, init.retest_p_value
        result.init_verdict = "equivariant"
        if rule.rejects(p):
            if rule.confirmed(init.retest_p_value, tests):
                result.init_verdict = "not_equivariant"
            else:
                notes.append(f"the initialisation test rejected (adjusted p = {p:.3g}) but fresh draws did not "
                             f"confirm it (p = {_fmt(init.retest_p_value)})")
    if deterministic or (distributional is not None and rule.is_deterministic(distributional.spread,
                                                                              distributional.scale)):
        result.distributional_verdict = "deterministic"
        notes.append("deterministic: the runs do not vary with the seed beyond rounding, so the coupled test decides")
    elif distributional is not None:
        p = adjusted.get("distributional", distributional.p_value)
        result.p_value, result.effect_size = p, distributional.effect_size
        result.retest_p_value, result.seeds = distributional.retest_p_value, distributional.seeds
        result.distributional_verdict = "no_evidence"
        if rule.rejects(p, distributional.effect_size):
            if result.coupled_verdict == "not_equivariant" and exact_coupling:
                result.distributional_verdict = "not_equivariant"  # agrees with the coupled test
            elif rule.confirmed(distributional.retest_p_value, tests):
                result.distributional_verdict = "not_equivariant"
                if result.coupled_verdict == "equivariant":
                    notes.append(f"the predictions differ in law (adjusted p = {p:.3g}, confirmed on fresh seeds: "
                                 f"p = {distributional.retest_p_value:.3g}) although the coupled runs agree")
            else:
                notes.append(f"a distributional rejection (adjusted p = {p:.3g}) was not confirmed on fresh seeds "
                             f"(p = {_fmt(distributional.retest_p_value)}): counted as chance")
    result.verdict = rule.overall(result.coupled_verdict, result.init_verdict, result.distributional_verdict,
                                  exact_coupling or result.distributional_verdict == "deterministic")
    if result.coupled_verdict == "equivariant" and result.init_verdict == "not_equivariant":
        notes.append("the update rule is equivariant, but the initialisation's law is not invariant under this "
                     "group, so the algorithm is not equivariant in law")
    if result.coupled_verdict == "not_equivariant" and not exact_coupling and result.verdict == "inconclusive":
        notes.append("pathwise coupling broken, but the algorithm's own randomness is not transported across g; "
                     "the distributional test did not reject")
    if result.coupled_verdict == "inconclusive" and result.verdict == "inconclusive" and \
            result.distributional_verdict == "no_evidence":
        notes.append(f"the distributional test (K = {result.seeds} per side) found no difference, "
                     "but absence of evidence is not a proof of equivariance")
    result.note = "; ".join(notes)
    return result


def summarise_check(per_group: Mapping[str, Mapping[str, Any]], *, deterministic: bool = False,
                    exact_coupling: bool = True, rule: VerdictRule = VerdictRule()) -> dict[str, GroupResult]:
    """Every group's verdict of one check, the p-values adjusted over its groups.

    ``per_group``: group -> {"elements": [...], "init": TwoSampleNumbers | None,
    "distributional": TwoSampleNumbers | None}.
    """
    init_p = holm({g: (v.get("init").p_value if v.get("init") is not None else None) for g, v in per_group.items()})
    dist_p = holm({g: (v.get("distributional").p_value if v.get("distributional") is not None else None)
                   for g, v in per_group.items()})
    tests = len(per_group)
    return {g: summarise(g, v.get("elements", []), init=v.get("init"), distributional=v.get("distributional"),
                         deterministic=deterministic, exact_coupling=exact_coupling, rule=rule, tests=tests,
                         adjusted={"init": init_p[g], "distributional": dist_p[g]})
            for g, v in per_group.items()}


@dataclass
class EquivarianceReport:
    algorithm: str
    results: dict[str, GroupResult]
    settings: dict[str, Any] = field(default_factory=dict)

    def verdict(self, group: str) -> str:
        return self.results[group].verdict

    def to_frame(self):
        import pandas as pd

        rows = [{"algorithm": self.algorithm, **{k: v for k, v in asdict(r).items() if k != "elements"}}
                for r in self.results.values()]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "settings": self.settings,
                "groups": {g: {k: jsonable(getattr(r, k)) for k in SUMMARY_KEYS} for g, r in self.results.items()}}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_markdown(self) -> str:
        from invariance.formatting import report_markdown

        return report_markdown(self)

    def to_table(self) -> str:
        from invariance.formatting import report_table

        return report_table(self)

    def notes(self) -> list[str]:
        """One line per distinct note, naming the groups it applies to."""
        by_note: dict[str, list[str]] = {}
        for group, result in self.results.items():
            for note in filter(None, result.note.split("; ")):
                by_note.setdefault(note, []).append(group)
        return [f"{', '.join(groups)}: {note}" for note, groups in by_note.items()]


def jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None if np.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3g}"
