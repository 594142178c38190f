"""Report of the ``equivariance`` study: a verdict per (algorithm, group), a heatmap and tables.

Each (algorithm, group) verdict is rebuilt from its stored elements with the
checker's own rule (:func:`invariance.checker.summarise`), so it is the
verdict ``symbench check`` gives with the same settings and seed.

Outputs (in ``out_dir``):

* ``heatmap.png/.pdf`` — algorithms × groups; colour: log10 of the coupled gap
  (largest relative score error over the elements / floating-point floor),
  on a diverging scale centred at 10³, between the thresholds 10² and 10⁴;
  annotation: ✓ equivariant, ✗ not equivariant, ? inconclusive, and * where
  the distributional test rejects (p < α);
* ``verdicts.md`` — the same matrix in words;
* ``table.csv/.md/.tex`` — one row per (algorithm, group): the verdicts of both
  tests and overall, the largest gap, the mean log10 gap and the mean share of
  changed labels with 95 % Student-t intervals across elements
  (:func:`reports.stats.mean_ci`), the largest error and floor, the p-value
  and effect size of the distributional test;
* ``summary.md`` — settings, the rule, the matrix, per-group lists and the
  trials per status (diverged or failed trials are counted, never dropped).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from reports.figures import save, themed
from reports.selection import latest_config
from reports.stats import mean_ci
from reports.tables import format_ci, to_markdown, write_table

SYMBOLS = {"equivariant": "✓", "not_equivariant": "✗", "inconclusive": "?"}
#: gaps below this (exact zeros included) count as this in log10 means
GAP_CLIP = 1e-3
#: colour range of the heatmap in log10 gap, and its centre (between the thresholds 10² and 10⁴)
LOG_GAP_RANGE = (-2.0, 12.0)
LOG_GAP_CENTRE = 3.0


def _order(values, preferred) -> list:
    present = list(dict.fromkeys(values))
    known = [v for v in preferred if v in present]
    return known + sorted(v for v in present if v not in known)


def algorithm_order(names) -> list[str]:
    """The study's default order (optimizers, hybrids, learners, probes), then any others."""
    from studies.equivariance import _default_algorithms

    return _order(names, _default_algorithms())


def group_order(names) -> list[str]:
    from invariance.groups import GROUPS

    return _order(names, list(GROUPS))


def _element(row) -> dict:
    coupled = {"max_rel_error": row["coupled_error"], "rms_rel_error": row["coupled_rms"],
               "disagreement": row["disagreement"], "param_distance": _number(row.get("param_distance"))}
    control = {"max_rel_error": row["floor"], "disagreement": _number(row.get("floor_disagreement")) or 0.0}
    return {"coupled": coupled, "control": control}


def _number(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _test(row, prefix: str, seeds) -> "TwoSampleNumbers | None":
    from invariance.verdicts import TwoSampleNumbers

    p = _number(row.get(f"{prefix}p_value"))
    if p is None:
        return None
    if prefix:
        return TwoSampleNumbers(p, seeds=int(seeds), retest_p_value=_number(row.get(f"{prefix}retest_p_value")))
    spread = _number(row.get("spread"))
    return TwoSampleNumbers(p, _number(row.get("effect_size")) or 0.0, math.inf if spread is None else spread,
                       _number(row.get("scale")) or 1.0, int(seeds), _number(row.get("retest_p_value")))


def verdict_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (algorithm, group) of the successful trials; each algorithm's groups
    are decided together (the rule adjusts the p-values over them)."""
    from invariance.verdicts import VerdictRule, summarise_check

    rule = VerdictRule()
    ok = df[df.status == "ok"]
    rows = []
    for algorithm, trials in ok.groupby("algorithm", sort=False):
        parts = {group: part.sort_values("element") for group, part in trials.groupby("group", sort=False)}
        per_group = {}
        for group, part in parts.items():
            first = part.iloc[0]
            at_zero = first["element"] == 0
            per_group[group] = {
                "elements": [_element(r) for _, r in part.iterrows()],
                "init": _test(first, "init_", first.get("init_draws", 0)) if at_zero else None,
                "distributional": _test(first, "", first["seeds"]) if at_zero else None,
            }
        first = trials.iloc[0]
        results = summarise_check(per_group, deterministic=bool(first["deterministic"]),
                                  exact_coupling=bool(first["exact_coupling"]), rule=rule)
        for group, part in parts.items():
            rows.append(_row(algorithm, group, part, results[group]))
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["algorithm"] = pd.Categorical(table.algorithm, algorithm_order(table.algorithm))
    table["group"] = pd.Categorical(table.group, group_order(table.group))
    return table.sort_values(["algorithm", "group"]).reset_index(drop=True)


def _row(algorithm, group, part: pd.DataFrame, result) -> dict:
    has_test = result.p_value is not None
    log_gap = np.log10(np.maximum(part["coupled_gap"].to_numpy(dtype=float), GAP_CLIP))
    changed = 100 * part["disagreement"].to_numpy(dtype=float)
    return {
        "algorithm": algorithm, "group": group, "verdict": result.verdict,
        "coupled": result.coupled_verdict, "init": result.init_verdict or "not run",
        "distributional": result.distributional_verdict or "not run",
        "gap": result.coupled_gap, "log10_gap": format_ci(*mean_ci(log_gap), digits=1),
        "max_rel_error": result.coupled_error, "floor": result.floor, "param_distance": result.param_distance,
        "changed_labels_pct": format_ci(*mean_ci(changed), digits=1),
        "init_p_value": result.init_p_value, "p_value": result.p_value, "effect_size": result.effect_size,
        "elements": len(part), "K": int(result.seeds or 0) if has_test else 0, "note": result.note,
    }


@themed("white")
def heatmap(table: pd.DataFrame, alpha: float):
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.colors import TwoSlopeNorm

    gaps = table.pivot(index="algorithm", columns="group", values="gap").astype(float)
    log_gaps = np.log10(np.maximum(gaps, GAP_CLIP)).clip(*LOG_GAP_RANGE)
    labels = table.assign(label=[
        SYMBOLS.get(v, "") + ("*" if d == "not_equivariant" else "")
        for v, d in zip(table.verdict, table.distributional)
    ]).pivot(index="algorithm", columns="group", values="label").reindex_like(gaps).fillna("")
    n_rows, n_cols = gaps.shape
    fig, ax = plt.subplots(figsize=(1.6 + 0.75 * n_cols, 1.8 + 0.32 * n_rows))
    norm = TwoSlopeNorm(vmin=LOG_GAP_RANGE[0], vcenter=LOG_GAP_CENTRE, vmax=LOG_GAP_RANGE[1])
    sns.heatmap(log_gaps, ax=ax, cmap="RdBu_r", norm=norm, annot=labels.to_numpy(), fmt="", linewidths=0.5,
                linecolor="white", cbar_kws={"label": "log10 coupled gap (error / floating-point floor)"},
                annot_kws={"fontsize": 9})
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_xticklabels(ax.get_xticklabels(), rotation=40, ha="right")
    ax.set_title("Which symmetries each algorithm has\n"
                 f"✓ equivariant   ✗ not equivariant   ? inconclusive   * distributional test rejects "
                 f"(p < {alpha:g})", fontsize=10)
    fig.tight_layout()
    return fig


def verdict_matrix(table: pd.DataFrame) -> pd.DataFrame:
    words = table.assign(cell=[SYMBOLS.get(v, "") + " " + v.replace("_", " ") for v in table.verdict])
    matrix = words.pivot(index="algorithm", columns="group", values="cell").fillna("–")
    return matrix.reset_index()


def _lists(table: pd.DataFrame) -> list[str]:
    lines = []
    for group, part in table.groupby("group", observed=True, sort=True):
        kept = [str(a) for a in part[part.verdict == "equivariant"].algorithm]
        broken = [str(a) for a in part[part.verdict == "not_equivariant"].algorithm]
        unsure = [str(a) for a in part[part.verdict == "inconclusive"].algorithm]
        unsure_text = f"; inconclusive: {', '.join(unsure)}" if unsure else ""
        lines.append(f"* **{group}** — equivariant: {', '.join(kept) or 'none'}; not equivariant: "
                     f"{', '.join(broken) or 'none'}{unsure_text}.")
    return lines


#: why some cells come out as they do (shown when the cell is in the table)
EXPLANATIONS = {
    ("svm-rbf", "label_permutation"):
        "libsvm trains one binary problem per pair of classes, oriented by the class order, and stops at its "
        "tolerance (tol = 1e-3): relabelling flips some of these problems and the stopping point is not symmetric "
        "under the flip. The error shrinks with the tolerance (try `symbench check "
        "'sklearn.svm:SVC(gamma=0.0625, tol=1e-10)' --groups label_permutation`): a solver asymmetry, not one of "
        "the SVM problem.",
    ("svm-rbf-scale", "sign_flip"):
        "gamma='scale' is 1/(d·Var X) over all entries of X; their mean, hence the variance, moves when "
        "coordinates change sign or are rotated, so the kernel changes, whatever the solver's tolerance.",
    ("decision-tree", "permutation"):
        "The tree draws its feature order from its seed and breaks ties between equally good splits by that "
        "order; the seed cannot be carried across a permutation, so the coupled runs differ without proving "
        "anything (exact_coupling = False) and the verdict rests on the distributional test.",
    ("decision-tree", "diagonal_scaling"):
        "Axis-aligned thresholds follow positive per-feature scalings (a midpoint scales with its feature).",
    ("sgd (torch-default init)", "orthogonal"):
        "torch's uniform initialisation is not rotation invariant. Through a hidden layer and 200 SGD steps its "
        "effect on the predictions stays below what the distributional test detects, and the coupled test (which "
        "transports the initialisation) shows that SGD's rule is equivariant; the initialisation test, on the "
        "first layer's draws themselves, rejects at the smallest attainable p-value.",
    ("untrained linear (gaussian init)", "general_linear"):
        "A Gaussian initialisation is invariant under orthogonal maps only: any other linear map, a scaling "
        "included, changes its law, and the distributional test sees it.",
}


def _explanations(table: pd.DataFrame) -> list[str]:
    cells = set(zip(table.algorithm.astype(str), table.group.astype(str)))
    return [f"* **{algorithm} × {group}** — {text}" for (algorithm, group), text in EXPLANATIONS.items()
            if (algorithm, group) in cells]


def _false_positive_line(table: pd.DataFrame, alpha: float) -> str:
    passed = table[(table.coupled == "equivariant") & table.p_value.notna()]
    rejected = passed[passed.distributional == "not_equivariant"]
    cells = ", ".join(f"{a} × {g}" for a, g in zip(rejected.algorithm, rejected.group))
    return (f"Of the {len(passed)} distributional tests in cells that pass the coupled test, {len(rejected)} "
            f"rejected after the rule's adjustment and retest{': ' + cells if len(rejected) <= 12 and cells else ''}. "
            f"If all of these algorithms were equivariant in law, the family-wise control (α = {alpha:g} per "
            f"algorithm) and the retests would keep the expected number of chance rejections below "
            f"{alpha * passed.algorithm.nunique():.2f}.")


def _init_draws(df: pd.DataFrame) -> str:
    config = df.config.iloc[-1] if "config" in df and len(df) else {}
    return str(config.get("init_draws", "–"))


def _settings(df: pd.DataFrame) -> str:
    config = df.config.iloc[-1] if "config" in df and len(df) else {}
    keys = ("seed", "steps", "width", "depth", "init", "seeds", "init_draws", "permutations")
    return ", ".join(f"{k} = {config[k]}" for k in keys if k in config)


def write(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    from invariance.checker import VerdictRule

    df, note = latest_config(df)
    out_dir.mkdir(parents=True, exist_ok=True)
    rule = VerdictRule()
    table = verdict_table(df)
    paths: list[Path] = []
    if table.empty:
        raise ValueError("no successful trials of the equivariance study to report")
    paths += save(heatmap(table, rule.alpha), out_dir, "heatmap")

    matrix = verdict_matrix(table)
    verdicts_path = out_dir / "verdicts.md"
    verdicts_path.write_text("## Verdict per algorithm and group\n\n" + to_markdown(matrix))
    paths.append(verdicts_path)

    paths += write_table(table, out_dir, "table", "Coupled and distributional tests per algorithm and group "
                         "(intervals: 95 % Student-t across elements)")

    status = df.groupby(["algorithm", "status"]).size().unstack(fill_value=0)
    status = status.reindex(algorithm_order(status.index)).reset_index()
    errors = df[df.status != "ok"][["algorithm", "group", "element", "status", "error"]]
    summary = out_dir / "summary.md"
    text = [
        "# Equivariance of optimizers and learners", "",
        f"Settings: {_settings(df)}; {int(table.elements.max())} element(s) per group. "
        f"{len(df)} trials; their run times add up to {df.duration_s.sum():.0f} s.", "",
        "Coupled gap: the largest relative score error over the elements divided by the floating-point floor "
        f"(a control transform that is the identity in exact arithmetic; at least {rule.floor_min:.2g}). "
        f"Coupled verdict: equivariant if gap ≤ {rule.equivariant_gap:g}, not equivariant if ≥ "
        f"{rule.broken_gap:g}, inconclusive when the floor exceeds {rule.max_floor:.2g} or the control changed "
        "labels (chaotic training). Initialisation test: the law of the parameters the group acts on, over "
        f"{_init_draws(df)} draws per side. Distributional test: energy-distance permutation test (Euclidean and "
        "ℓ1 norms, min-p combined). Both tests' p-values are Holm-adjusted over the groups of an algorithm "
        f"(family-wise α = {rule.alpha:g}) and a rejection that is the only evidence of a break counts only if a "
        "retest on fresh seeds confirms it. Overall rule: `invariance.verdicts`.", "",
        "![heatmap](heatmap.png)", "",
        "## Verdicts", "", to_markdown(matrix), "## By group", "", *_lists(table), "",
        _false_positive_line(table, rule.alpha), "",
        *(["## Notes", "", *_explanations(table), ""] if _explanations(table) else []),
        "## Trials per status", "", to_markdown(status),
    ]
    if not errors.empty:
        text += ["", "Trials that did not finish:", "", to_markdown(errors)]
    if note:
        text += ["", note]
    summary.write_text("\n".join(text) + "\n")
    paths.append(summary)
    return paths
