"""Symmetry next to sample complexity: the summary tables of the ``sample_complexity`` report.

Computed from stored trials only (:mod:`reports.sample_complexity` calls :func:`write`):

* ``rotation_check.csv/.md`` — the equivariance checker's verdicts per neural learner for the
  orthogonal group, as the study's ``rotation-check`` trials store them
  (``studies.sample_complexity.SampleComplexity.check_rotation``). A learner without such a
  trial (every classic learner) has an empty verdict: none is invented;
* ``summary.csv/.md`` — learner × family (every family with a growth call): the checker's
  rotation verdict, growth law, exponent [interval], m* at the largest n [95 % bootstrap interval];
* ``tuning.csv/.md`` — neural learner × family: the step-size grid (its size, from the stored
  ``mlp.grid`` or ``learner_options``), the step budget, the share of trials whose selected step
  size is the grid's smallest (``bottom_share``) or largest (``top_share``) value — the grid is the
  factors × the spec's own step size (:mod:`optimizers.step_size`), compared with the stored
  ``selected_lr`` — the stored ``selected_lr_at_edge`` share, the mean ``diverged_share`` and the
  share stopped early;
* ``hadamard_summary.csv/.md`` — per learner on the Hadamard families: cells below the bound by
  more than 3 SE, the smallest margin, and the cell with the lowest risk − bound with its 95 %
  Student-t interval;
* the rotation contrast gains ``mean_difference`` [``mean_difference_low``, ``mean_difference_high``]:
  the mean of (rotated − plain) over the K common (n, m) points, se = √(Σ se_rot² + se_plain²)/K
  (the cells hold independent trials; treating a plain and a rotated cell as independent is
  conservative, since the twin sees the same draws rotated), a normal 95 % interval, and the
  checker's verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from reports.tables import write_table

#: the pseudo-family of the checker's trials (= studies.sample_complexity.CHECK_FAMILY)
CHECK_FAMILY = "rotation-check"
#: the neural learners' prefix (= learners.sample.mlp.PREFIX; not imported here: it loads torch)
NEURAL_PREFIX = "mlp:"
EQUIVARIANT = "equivariant"
NOT_EQUIVARIANT = "not_equivariant"
#: verdict columns a check trial stores
CHECK_COLUMNS = ["rotation_verdict", "coupled_verdict", "init_verdict", "distributional_verdict"]
CHECK_NUMBERS = ["check.coupled_error", "check.disagreement", "check.p_value", "check.init_p_value"]
LEVEL = 0.95
#: a share of trials at one edge of the step-size grid above this is flagged (the grid should be widened)
EDGE_FLAG = 0.10
#: findings name at most this many flagged cells (tuning.md lists all)
FLAGS_SHOWN = 8
#: Hadamard: below the bound = more than this many SE under it (= reports.sample_complexity.BOUND_MARGIN_SE)
BOUND_MARGIN_SE = 3.0
#: relative tolerance of "selected_lr equals a grid value" (step sizes are stored rounded to 12 digits)
LR_RTOL = 1e-6
SUMMARY_COLUMNS = ["family", "learner", "rotation_verdict", "growth", "exponent", "exponent_low", "exponent_high",
                   "max_n", "mstar_at_max_n", "mstar_low", "mstar_high"]
TUNING_COLUMNS = ["family", "learner", "trials", "grid_size", "steps", "budget", "lr_min", "lr_max", "bottom_share",
                  "top_share", "edge_share", "diverged_share", "stopped_early_share", "mean_steps"]
DIFFERENCE_COLUMNS = ["mean_difference", "mean_difference_low", "mean_difference_high", "rotation_verdict"]
HADAMARD_COLUMNS = ["family", "learner", "rotation_verdict", "cells", "below", "min_margin_se", "at_n", "at_m",
                    "risk_minus_bound", "risk_minus_bound_low", "risk_minus_bound_high"]


def is_neural(learner: str) -> bool:
    return isinstance(learner, str) and learner.startswith(NEURAL_PREFIX)


def without_checks(df: pd.DataFrame) -> pd.DataFrame:
    """The trials of real families (the checker's pseudo-family left out)."""
    return df[df.family != CHECK_FAMILY] if "family" in df.columns else df


# ---------------------------------------------------------------------------------------- verdicts
def rotation_checks(df: pd.DataFrame) -> pd.DataFrame:
    """One row per learner with an ``ok`` checker trial: its stored verdicts and key numbers."""
    columns = ["learner", *CHECK_COLUMNS, *CHECK_NUMBERS]
    checks = df[(df.family == CHECK_FAMILY) & (df.status == "ok")] if "family" in df.columns else df.iloc[:0]
    if checks.empty or "rotation_verdict" not in checks.columns:
        return pd.DataFrame(columns=columns)
    checks = checks.sort_values("created_at") if "created_at" in checks.columns else checks
    checks = checks.drop_duplicates("learner", keep="last")   # a rerun check replaces the earlier one
    present = [c for c in columns if c in checks.columns]
    return checks[present].reindex(columns=columns).sort_values("learner").reset_index(drop=True)


def verdicts(checks: pd.DataFrame) -> dict[str, str]:
    """learner → the checker's rotation verdict (learners without a check trial are absent)."""
    return {r.learner: str(r.rotation_verdict) for r in checks.itertuples(index=False)
            if isinstance(r.rotation_verdict, str) and r.rotation_verdict}


def _verdict_order(verdict: str) -> int:
    return {EQUIVARIANT: 0, NOT_EQUIVARIANT: 1}.get(verdict, 2 if verdict else 3)


# ---------------------------------------------------------------------------------------- summary
def summary(calls: pd.DataFrame, mstar_table: pd.DataFrame, verdict: Mapping[str, str]) -> pd.DataFrame:
    """Learner × family: verdict, growth law, exponent interval, m* at the largest n with its interval."""
    if calls.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    table = calls[["family", "learner", "growth", "exponent", "exponent_low", "exponent_high", "max_n",
                   "mstar_at_max_n"]].copy()
    at_max = mstar_table[["family", "learner", "n", "ci_low", "ci_high"]].rename(
        columns={"n": "max_n", "ci_low": "mstar_low", "ci_high": "mstar_high"})
    table = table.merge(at_max, on=["family", "learner", "max_n"], how="left")
    table["rotation_verdict"] = table.learner.map(lambda lr: verdict.get(lr, ""))
    table["_order"] = table.rotation_verdict.map(_verdict_order)
    table = table.sort_values(["family", "_order", "learner"])
    return table[SUMMARY_COLUMNS].reset_index(drop=True)


def _interval(value: float, low: float, high: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.3g} [{low:.3g}, {high:.3g}]"


def summary_display(table: pd.DataFrame) -> pd.DataFrame:
    """The summary for reading: exponent [interval] and m* [interval] in one column each."""
    return pd.DataFrame({
        "family": table.family, "learner": table.learner, "rotation verdict": table.rotation_verdict,
        "growth": table.growth,
        "exponent [interval]": [_interval(*v) for v in zip(table.exponent, table.exponent_low, table.exponent_high)],
        "largest n": table.max_n,
        "m* at largest n [95 % CI]": [_interval(*v) if np.isfinite(v[0]) else "beyond its grid of m"
                                      for v in zip(table.mstar_at_max_n, table.mstar_low, table.mstar_high)],
    })


# ---------------------------------------------------------------------------------------- tuning
def learner_options(config: Mapping, learner: str) -> dict:
    """The options a neural learner ran with: config ``mlp``, then ``learner_options.LEARNER`` on top."""
    return {**dict(config.get("mlp", {}) or {}), **dict((config.get("learner_options", {}) or {}).get(learner, {}))}


def grid_step_sizes(learner: str, factors: Sequence[float]) -> list[float]:
    """The step sizes of the grid: each factor × the spec's own step size (as ``learners.sample.mlp``
    computes and stores them)."""
    from optimizers.step_size import scale_step_size, step_size

    spec = learner[len(NEURAL_PREFIX):].strip()
    return [step_size(scale_step_size(spec, float(g))) for g in factors]


def _share(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.astype(float).mean()) if len(values) else np.nan


def tuning(df: pd.DataFrame, config: Mapping, step_sizes=grid_step_sizes) -> pd.DataFrame:
    """Neural learner × family: grid, budget, shares at the grid's edges, divergence, early stops.

    ``df``: stored trials (status ok or diverged; the checker's trials are left out here).
    ``step_sizes(learner, factors)`` gives the grid's step sizes (replaceable in tests).
    """
    part = without_checks(df)
    part = part[part.learner.map(is_neural) & part.status.isin(["ok", "diverged"])]
    if part.empty or "selected_lr" not in part.columns:
        return pd.DataFrame(columns=TUNING_COLUMNS)
    rows = []
    for (family, learner), cell in part.groupby(["family", "learner"], sort=True):
        options = learner_options(config, learner)
        factors = options.get("grid")
        steps = options.get("steps")
        try:
            values = step_sizes(learner, factors) if factors else []
        except (ValueError, ImportError, KeyError):
            values = []   # a spec this installation cannot resolve: edges from the stored flag only
        lr = pd.to_numeric(cell.selected_lr, errors="coerce").to_numpy(dtype=float)
        chosen = np.isfinite(lr)
        lo, hi = (min(values), max(values)) if values else (np.nan, np.nan)
        bottom = np.isclose(lr[chosen], lo, rtol=LR_RTOL, atol=0).mean() if values and chosen.any() else np.nan
        top = np.isclose(lr[chosen], hi, rtol=LR_RTOL, atol=0).mean() if values and chosen.any() else np.nan
        size = len(factors) if factors else np.nan
        rows.append({
            "family": family, "learner": learner, "trials": int(chosen.sum()), "grid_size": size,
            "steps": steps if steps is not None else np.nan,
            "budget": size * steps if factors and steps is not None else np.nan,
            "lr_min": lo, "lr_max": hi, "bottom_share": float(bottom), "top_share": float(top),
            "edge_share": _share(cell.get("selected_lr_at_edge", pd.Series(dtype=float))),
            "diverged_share": _share(cell.get("diverged_share", pd.Series(dtype=float))),
            "stopped_early_share": _share(cell.get("stopped_early", pd.Series(dtype=float))),
            "mean_steps": _share(cell.get("steps", pd.Series(dtype=float))),
        })
    return pd.DataFrame(rows, columns=TUNING_COLUMNS)


def budget_text(table: pd.DataFrame, config: Mapping) -> str:
    """The tuning budget in words: grid size × steps per trial, and whether every learner has the same."""
    if table.empty:
        return "no neural learner in this run"
    budgets = table.drop_duplicates("learner")[["learner", "grid_size", "steps"]]
    pairs = {(g, s) for g, s in zip(budgets.grid_size, budgets.steps)}
    if len(pairs) == 1:
        g, s = pairs.pop()
        options = dict(config.get("mlp", {}) or {})
        stop = (f", early stopping on the hold-out every {options['eval_every']} steps with patience "
                f"{options['patience']}") if {"eval_every", "patience"} <= set(options) else ""
        return (f"{_num(g)} step sizes × at most {_num(s)} full-batch steps = {_num(g * s)} steps per trial for "
                f"every neural learner{stop}")
    return "unequal across learners: " + "; ".join(
        f"{r.learner} {_num(r.grid_size)} × {_num(r.steps)}" for r in budgets.itertuples(index=False))


def _num(value) -> str:
    return "n/a" if not np.isfinite(value) else f"{int(value)}" if float(value).is_integer() else f"{value:.3g}"


# ---------------------------------------------------------------------------------------- rotation
def mean_difference(plain_mean, plain_se, rotated_mean, rotated_se, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of (rotated − plain) over K independent cells, with a normal interval of se √(Σ se²)/K."""
    d = np.asarray(rotated_mean, float) - np.asarray(plain_mean, float)
    var = np.asarray(plain_se, float) ** 2 + np.asarray(rotated_se, float) ** 2
    keep = np.isfinite(d) & np.isfinite(var)
    if not keep.any():
        return (np.nan, np.nan, np.nan)
    k = keep.sum()
    mean, se = float(d[keep].mean()), float(np.sqrt(var[keep].sum()) / k)
    half = float(scipy_stats.norm.isf((1 - level) / 2)) * se
    return (mean, mean - half, mean + half)


def with_intervals(contrast: pd.DataFrame, cells: pd.DataFrame, verdict: Mapping[str, str],
                   rotated: str = "rotated-") -> pd.DataFrame:
    """The rotation contrast with the mean difference over the common points, its interval, the verdict."""
    out = contrast.copy()
    values = []
    for row in out.itertuples(index=False):
        plain = cells[(cells.family == row.family) & (cells.learner == row.learner)]
        twin = cells[(cells.family == rotated + row.family) & (cells.learner == row.learner)]
        both = plain.merge(twin, on=["n", "m"], suffixes=("_plain", "_rotated"))
        values.append(mean_difference(both.mean_plain, both.se_plain, both.mean_rotated, both.se_rotated))
    columns = list(zip(*values)) if values else [[], [], []]
    for name, column in zip(DIFFERENCE_COLUMNS[:3], columns):
        out[name] = list(column)
    out["rotation_verdict"] = [verdict.get(lr, "") for lr in out.learner]
    return out


# ---------------------------------------------------------------------------------------- hadamard
def hadamard_summary(bound: pd.DataFrame, cells: pd.DataFrame, verdict: Mapping[str, str],
                     level: float = LEVEL) -> pd.DataFrame:
    """Per (family, learner) of the bound table: cells below, smallest margin, lowest risk − bound [CI]."""
    if bound.empty:
        return pd.DataFrame(columns=HADAMARD_COLUMNS)
    table = bound.merge(cells[["family", "learner", "n", "m", "trials"]], on=["family", "learner", "n", "m"],
                        how="left")
    rows = []
    for (family, learner), part in table.groupby(["family", "learner"], sort=True):
        gap = part["mean"] - part.bound
        at = part.loc[gap.idxmin()]
        t = scipy_stats.t.isf((1 - level) / 2, max(int(at.trials) - 1, 1)) if np.isfinite(at.trials) else np.nan
        half = t * at.se if np.isfinite(at.se) else np.nan
        rows.append({"family": family, "learner": learner, "rotation_verdict": verdict.get(learner, ""),
                     "cells": len(part), "below": int(part.below.sum()), "min_margin_se": float(part.margin_se.min()),
                     "at_n": at.n, "at_m": at.m, "risk_minus_bound": float(gap.min()),
                     "risk_minus_bound_low": float(gap.min() - half), "risk_minus_bound_high": float(gap.min() + half)})
    table = pd.DataFrame(rows, columns=HADAMARD_COLUMNS)
    return table.assign(_o=table.rotation_verdict.map(_verdict_order)).sort_values(
        ["family", "_o", "learner"]).drop(columns="_o").reset_index(drop=True)


# ---------------------------------------------------------------------------------------- findings
def _pct(share: float) -> str:
    return "n/a" if not np.isfinite(share) else f"{100 * share:.0f} %"


def _ci(value: float, low: float, high: float) -> str:
    return f"{value:+.3g} [{low:+.3g}, {high:+.3g}]"


def _by_verdict(learners: Sequence[str], verdict: Mapping[str, str]) -> tuple[list[str], list[str]]:
    learners = sorted(set(learners))
    return ([lr for lr in learners if verdict.get(lr) == EQUIVARIANT],
            [lr for lr in learners if verdict.get(lr) and verdict.get(lr) != EQUIVARIANT])


def summary_findings(table: pd.DataFrame, verdict: Mapping[str, str]) -> list[str]:
    """Per family: the best m* at the largest n among checker-equivariant learners and among the others."""
    if not verdict:
        return ["No checker verdicts in this run (the study checks the neural learners only)."]
    lines = []
    for family, part in table.groupby("family", sort=True):
        part = part[part.rotation_verdict != ""]
        if part.empty:
            continue
        n = part.max_n.max()
        part = part[part.max_n == n]
        laws = "; ".join(f"{law}: " + ", ".join(
            r.learner + (f" (p = {r.exponent:.3g} [{r.exponent_low:.3g}, {r.exponent_high:.3g}])"
                         if np.isfinite(r.exponent) else "") for r in group.itertuples(index=False))
            for law, group in part.groupby("growth", sort=True))
        best = []
        for label, group in (("rotation-equivariant", part[part.rotation_verdict == EQUIVARIANT]),
                             ("non-equivariant", part[part.rotation_verdict != EQUIVARIANT])):
            if group.empty:
                continue
            found = group[np.isfinite(group.mstar_at_max_n.astype(float))]
            if found.empty:
                best.append(f"no {label} learner reaches ε on its grid of m")
                continue
            r = found.loc[found.mstar_at_max_n.astype(float).idxmin()]
            mstar = _interval(r.mstar_at_max_n, r.mstar_low, r.mstar_high)
            best.append(f"the best {label} learner is {r.learner}, m* = {mstar}"
                        f" ({len(found)} of {len(group)} within ε)")
        lines.append(f"* {family}, n = {_num(n)}: " + "; ".join(best) + f". Growth laws: {laws}.")
    return lines or ["No neural learner has an m* curve in this run."]


def tuning_findings(table: pd.DataFrame, budget: str) -> list[str]:
    if table.empty:
        return ["No neural learner in this run."]
    lines = [f"* Budget: {budget}."]
    for learner, part in table.groupby("learner", sort=True):
        w = part.trials.to_numpy(float)

        def avg(column: str) -> float:
            x = part[column].to_numpy(float)
            keep = np.isfinite(x) & (w > 0)
            return float(np.average(x[keep], weights=w[keep])) if keep.any() else np.nan

        lines.append(f"* {learner}: selected step size at the grid's bottom in {_pct(avg('bottom_share'))} and at "
                     f"its top in {_pct(avg('top_share'))} of {int(w.sum())} trials; mean diverged share of the grid "
                     f"{_pct(avg('diverged_share'))}; stopped early {_pct(avg('stopped_early_share'))}.")
    flagged = [(max(r.bottom_share, r.top_share), r) for r in table.itertuples(index=False)
               if max(r.bottom_share, r.top_share) > EDGE_FLAG]
    if flagged:
        flagged.sort(key=lambda x: -x[0])
        shown = flagged[:FLAGS_SHOWN]
        lines.append(f"* {len(flagged)} of {len(table)} learner × family cells select an edge of the grid in more "
                     f"than {_pct(EDGE_FLAG)} of their trials (the grid should be widened there); "
                     + ("the largest shares: " if len(flagged) > len(shown) else "")
                     + "; ".join(f"{r.learner} on {r.family} ({'top' if r.top_share >= r.bottom_share else 'bottom'} "
                                 f"{_pct(share)})" for share, r in shown) + ".")
    else:
        lines.append(f"* No learner × family selects an edge of the grid in more than {_pct(EDGE_FLAG)} of its "
                     "trials.")
    return lines


def contrast_interval_findings(contrast: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """The checker's verdict against the measured rotation contrast (mean difference and max-|z| test)."""
    if contrast.empty or not (contrast.rotation_verdict != "").any():
        return ["No rotation contrast of a learner with a checker verdict in this run."]
    noise = ((contrast.mean_difference_low <= 0) & (contrast.mean_difference_high >= 0)
             & (contrast.adjusted_p >= alpha))
    rule = ("no difference beyond noise: the 95 % interval of the mean difference contains 0 and the "
            f"Šidák-adjusted max-|z| test does not reject at {100 * alpha:g} %")
    lines = []
    equi = contrast[contrast.rotation_verdict == EQUIVARIANT]
    if not equi.empty:
        bad = equi[~noise[equi.index]]
        if bad.empty:
            names = ", ".join(sorted(set(equi.learner)))
            pairs = ", ".join(sorted(set(equi.family)))
            lines.append(f"* Every learner the checker calls rotation-equivariant ({names}) shows {rule}, on every "
                         f"pair ({pairs} and their twins).")
        else:
            lines.append("* Checker-equivariant learners with a difference beyond noise (against the verdict): "
                         + "; ".join(_difference(r) for r in bad.itertuples(index=False)) + ".")
            good = equi[noise[equi.index]]
            if not good.empty:
                lines.append("* The other checker-equivariant pairs show " + rule + ": "
                             + ", ".join(f"{r.family} / {r.learner}" for r in good.itertuples(index=False)) + ".")
    others = contrast[(contrast.rotation_verdict != "") & (contrast.rotation_verdict != EQUIVARIANT)]
    for idx, r in others.iterrows():
        tag = "no difference beyond noise" if noise[idx] else "**a difference beyond noise**"
        lines.append(f"* ({r.rotation_verdict}) {_difference(r)}; {tag}.")
    return lines


def _difference(r) -> str:
    sign = ("rotated worse" if r.mean_difference_low > 0 else "rotated better" if r.mean_difference_high < 0
            else "sign undetermined")
    difference = _ci(r.mean_difference, r.mean_difference_low, r.mean_difference_high)
    return (f"{r.family} / {r.learner}: mean rotated − plain = {difference} over {int(r.points)} points ({sign}; "
            f"largest {r.max_abs_z:.3g} SE, adjusted p = {r.adjusted_p:.3g})")


def hadamard_neural_findings(table: pd.DataFrame) -> list[str]:
    """Equivariant learners: at or above the bound at every cell? Others: cells beating it, by how much."""
    table = table[table.rotation_verdict != ""]
    if table.empty:
        return ["No Hadamard cells of a learner with a checker verdict in this run."]
    lines = []
    for r in table.itertuples(index=False):
        where = f"d = {_num(r.at_n)}, k = {_num(r.at_m)}"
        gap = _ci(r.risk_minus_bound, r.risk_minus_bound_low, r.risk_minus_bound_high)
        if r.rotation_verdict == EQUIVARIANT:
            held = (f"**stays at or above** 1 − k/(d−1) within {BOUND_MARGIN_SE:g} SE at all {r.cells} (d, k)"
                    if r.below == 0 else f"**falls below** 1 − k/(d−1) by more than {BOUND_MARGIN_SE:g} SE at "
                                         f"{r.below} of {r.cells} (d, k), against its verdict")
            lines.append(f"* {r.family} / {r.learner} (equivariant): {held} (smallest margin {r.min_margin_se:+.3g} "
                         f"SE; lowest risk − bound {gap} at {where}).")
        elif r.below:
            lines.append(f"* {r.family} / {r.learner} ({r.rotation_verdict}): **beats** the bound by more than "
                         f"{BOUND_MARGIN_SE:g} SE at {r.below} of {r.cells} (d, k); at most by risk − bound = {gap} "
                         f"(95 % CI) at {where}.")
        else:
            lines.append(f"* {r.family} / {r.learner} ({r.rotation_verdict}): does not beat the bound at any of "
                         f"{r.cells} (d, k) (lowest risk − bound {gap} at {where}).")
    return lines


def findings_sections(summary_table, tuning_table, budget, contrast, hadamard_table, verdict) -> list[str]:
    return [
        "## Symmetry and sample complexity (summary.md; verdicts: the equivariance checker, orthogonal group)",
        "", *summary_findings(summary_table, verdict), "",
        "## Tuning of the neural learners (tuning.md)",
        "", *tuning_findings(tuning_table, budget), "",
        "## Rotation contrast against the checker's verdict (mean rotated − plain over common points, 95 % CI)",
        "", *contrast_interval_findings(contrast), "",
        "## Hadamard and the checker's verdict (hadamard_summary.md; risk − bound with 95 % CI)",
        "", *hadamard_neural_findings(hadamard_table), "",
    ]


# ---------------------------------------------------------------------------------------- write
def write(df: pd.DataFrame, config: Mapping, calls: pd.DataFrame, mstar_table: pd.DataFrame, cells: pd.DataFrame,
          contrast: pd.DataFrame, bound: pd.DataFrame, out_dir: Path) -> tuple[list[Path], pd.DataFrame, list[str]]:
    """Write rotation_check, summary, tuning and hadamard_summary; return (paths, the contrast with
    intervals and verdicts, the findings sections)."""
    checks = rotation_checks(df)
    verdict = verdicts(checks)
    paths = write_table(checks, out_dir, "rotation_check",
                        "The equivariance checker's verdicts for the orthogonal group (rotation-check trials)")
    table = summary(calls, mstar_table, verdict)
    paths += write_table(summary_display(table), out_dir, "summary",
                         "Symmetry and sample complexity: the checker's rotation verdict, growth law of m*(n), "
                         "exponent [interval], m* at the largest n")
    table.to_csv(out_dir / "summary.csv", index=False)   # the CSV keeps the numbers in their own columns
    tune = tuning(df, config)
    budget = budget_text(tune, config)
    paths += write_table(tune, out_dir, "tuning", f"Tuning of the neural learners — budget: {budget}")
    extended = with_intervals(contrast, cells, verdict)
    had = hadamard_summary(bound, cells, verdict)
    paths += write_table(had, out_dir, "hadamard_summary",
                         f"Hadamard per learner: cells more than {BOUND_MARGIN_SE:g} SE below 1 − k/(d−1), and the "
                         "lowest risk − bound with its 95 % interval")
    return paths, extended, findings_sections(table, tune, budget, extended, had, verdict)
