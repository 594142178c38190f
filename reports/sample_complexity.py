"""Report of the ``sample_complexity`` study: risk curves, m*(n), growth laws, the Hadamard
bound and rotation contrasts. It reads stored trials and never trains.

Trials used: status ``ok`` or ``diverged`` with a finite ``risk`` (a diverged fit that still
has a measured risk counts with it; ``failed`` trials and missing risks are counted in
``status.md`` and left out). The configuration stored last is shown
(:func:`reports.selection.latest_config`).

Outputs (in ``out_dir``):

* ``curves.csv/.md`` — ``family,learner,n,m,metric,mean,ci_low,ci_high,trials``: mean test risk
  over trials with a 95 % Student-t interval cut to the metric's range
  (:func:`reports.stats.summarise`: [0, 1] for 0/1 error, [0, ∞) for square loss);
* ``mstar.csv/.md`` — ``family,learner,n,epsilon,mstar,ci_low,ci_high,censored``: the smallest m
  with mean excess risk (risk − Bayes risk) ≤ ε, 95 % bootstrap interval (:mod:`reports.mstar`);
* ``growth.csv/.md`` — ``family,learner,growth,exponent,exponent_low,exponent_high,mstar_at_max_n``
  (:mod:`reports.growth`), and ``growth_details.csv/.md`` with the fits behind each call;
* ``rotation_contrast.csv/.md`` — for every family run with its ``rotated-`` twin, per learner:
  the largest |difference| between the two risk curves at a common (n, m) in units of its
  standard error, z = (r̄_rot − r̄)/√(se_rot² + se²), where it occurs, and its Šidák-adjusted
  p-value 1 − (1 − 2Φ(−max|z|))^K over the K common points (the cells are independent trials);
* ``hadamard_bound.csv/.md`` — per learner on ``hadamard`` (and its rotated twin), every (d, k)
  with k < d: mean risk, its standard error, the bound 1 − k/(d − 1) (Warmuth, Kotłowski & Amid
  2021) and the margin (risk − bound)/se; a cell is *below* when the margin is < −3;
* ``summary``, ``tuning``, ``rotation_check`` and ``hadamard_summary`` (``.csv/.md``), and the
  rotation contrast's mean difference [95 % CI] with the checker's verdict: :mod:`reports.sample_summary`;
* figures (PNG + PDF): ``risk_<family>`` (risk against m, one panel per n, one line per learner),
  ``mstar`` (m*(n) on log–log axes with the fitted laws), ``hadamard`` (risk against k per d
  with the line 1 − k/(d − 1)), ``rotation_<family>`` (plain vs rotated curves) and
  ``rotation_contrast`` (max |z| per learner);
* ``findings.md`` — sentences computed from these tables, nothing else; ``status.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from reports import growth, mstar, sample_summary
from reports.figures import mstar_panel, plain_log_ticks, save, themed
from reports.selection import latest_config
from reports.stats import standard_error, summarise
from reports.tables import to_markdown, write_table

FAMILY_KEYS = ["family", "learner"]
CURVE_KEYS = ["family", "learner", "n", "m"]
ROTATED = "rotated-"
HADAMARD = "hadamard"
#: Hadamard: a learner "stays at or above" the bound when no cell is more than this many SE below
BOUND_MARGIN_SE = 3.0
#: rotation contrasts: the level of the Šidák-adjusted test of "no difference beyond noise"
CONTRAST_ALPHA = 0.05
CURVE_COLUMNS = ["family", "learner", "n", "m", "metric", "mean", "ci_low", "ci_high", "trials"]
MSTAR_COLUMNS = ["family", "learner", "n", "epsilon", "mstar", "ci_low", "ci_high", "censored"]
GROWTH_COLUMNS = ["family", "learner", "growth", "exponent", "exponent_low", "exponent_high", "mstar_at_max_n"]
CONTRAST_COLUMNS = ["family", "learner", "points", "max_abs_z", "at_n", "at_m", "plain_mean", "rotated_mean",
                    "difference", "adjusted_p"]
BOUND_COLUMNS = ["family", "learner", "n", "m", "mean", "se", "bound", "margin_se", "below"]


# ---------------------------------------------------------------------------------------- tables
def usable_trials(df: pd.DataFrame) -> pd.DataFrame:
    """Trials with a measured risk: status ok or diverged, finite risk; never the checker's
    ``rotation-check`` trials (a verdict, not a point of a curve)."""
    if "risk" not in df.columns:
        raise ValueError("sample_complexity trials lack the column 'risk' (see the study's stored-trial schema)")
    df = sample_summary.without_checks(df)
    risk = pd.to_numeric(df["risk"], errors="coerce")
    return df[df.status.isin(["ok", "diverged"]) & np.isfinite(risk)].assign(risk=risk.astype(float))


def epsilon_of(config: Mapping, family: str) -> float:
    """The excess-risk level of m* for a family: config ``epsilon`` (a number, or a table by family)."""
    value = config.get("epsilon", mstar.DEFAULT_EPSILON)
    if isinstance(value, Mapping):
        value = value.get(family, value.get("default", mstar.DEFAULT_EPSILON))
    return float(value)


def curves(trials: pd.DataFrame) -> pd.DataFrame:
    """Mean risk per (family, learner, n, m) with 95 % intervals inside the metric's range."""
    table = summarise(trials, [*CURVE_KEYS, "metric"], "risk", bounds="metric")
    return table[CURVE_COLUMNS].sort_values(CURVE_KEYS).reset_index(drop=True)


def estimate_mstar(trials: pd.DataFrame, config: Mapping, n_boot: int = 1000) -> mstar.MStar:
    """m* with bootstrap replicates for every (family, learner, n), each family at its own ε."""
    parts = [mstar.estimate(part, epsilon=epsilon_of(config, family), metric="risk", baseline="bayes_risk",
                            keys=["family", "learner", "n"], n_boot=n_boot, seed=int(config.get("seed", 0)))
             for family, part in trials.groupby("family", sort=True)]
    parts = [p for p in parts if not p.table.empty]
    if not parts:
        return mstar.MStar(pd.DataFrame(columns=[*FAMILY_KEYS, "n", *MSTAR_COLUMNS[3:]]), np.empty((0, n_boot)),
                           ("family", "learner", "n"))
    return mstar.MStar(pd.concat([p.table for p in parts], ignore_index=True),
                       np.vstack([p.replicates for p in parts]), parts[0].keys)


def cell_statistics(trials: pd.DataFrame) -> pd.DataFrame:
    """Mean risk, its standard error and the trial count per (family, learner, n, m)."""
    grouped = trials.groupby(CURVE_KEYS, sort=True)["risk"]
    return pd.DataFrame({"mean": grouped.mean(), "se": grouped.agg(standard_error),
                         "trials": grouped.size()}).reset_index()


def rotation_contrast(cells: pd.DataFrame) -> pd.DataFrame:
    """Per family with a ``rotated-`` twin and per learner: the largest |z| between the two curves."""
    rows = []
    families = set(cells.family)
    for family in sorted(f for f in families if not f.startswith(ROTATED) and ROTATED + f in families):
        plain = cells[cells.family == family]
        rotated = cells[cells.family == ROTATED + family]
        both = plain.merge(rotated, on=["learner", "n", "m"], suffixes=("_plain", "_rotated"))
        for learner, part in both.groupby("learner", sort=True):
            se = np.sqrt(part.se_plain**2 + part.se_rotated**2).to_numpy()
            difference = (part.mean_rotated - part.mean_plain).to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where(se > 0, difference / se, np.where(difference == 0, 0.0, np.sign(difference) * np.inf))
            if not np.isfinite(z).any() and not np.isinf(z).any():
                continue
            at = int(np.nanargmax(np.abs(z)))
            largest = float(abs(z[at]))
            points = int(np.isfinite(se).sum())
            single = min(2 * scipy_stats.norm.sf(largest), 1.0)
            adjusted = 1.0 if single >= 1 else -np.expm1(points * np.log1p(-single))   # 1 − (1 − p)^K
            rows.append({"family": family, "learner": learner, "points": points, "max_abs_z": largest,
                         "at_n": part.n.iloc[at], "at_m": part.m.iloc[at], "plain_mean": part.mean_plain.iloc[at],
                         "rotated_mean": part.mean_rotated.iloc[at], "difference": difference[at],
                         "adjusted_p": float(adjusted)})
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def is_hadamard(family: str) -> bool:
    return family.removeprefix(ROTATED) == HADAMARD


def hadamard_bound(trials: pd.DataFrame) -> pd.DataFrame:
    """Every (d, k) with k < d of the Hadamard families: mean risk, se, the bound, the margin in SE."""
    part = trials[trials.family.map(is_hadamard)]
    if part.empty:
        return pd.DataFrame(columns=BOUND_COLUMNS)
    part = part[part.m < part.n]
    cells = cell_statistics(part)
    cells["bound"] = 1 - cells.m / (cells.n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = (cells["mean"] - cells.bound) / cells.se
    cells["margin_se"] = np.where(cells.se > 0, margin, np.sign(cells["mean"] - cells.bound) * np.inf)
    cells["below"] = cells.margin_se < -BOUND_MARGIN_SE
    return cells[BOUND_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------------------------------- figures
def _palette(learners) -> dict:
    import seaborn as sns

    learners = sorted(set(learners))
    return dict(zip(learners, sns.color_palette("tab10", max(len(learners), 1))))


def _grid(count: int, width: int = 4):
    import matplotlib.pyplot as plt

    cols = min(count, width)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


@themed("whitegrid")
def risk_figure(family: str, points: pd.DataFrame, bayes: pd.Series, palette: dict):
    """Risk against m, one panel per n, one line per learner; the Bayes risk (and the Hadamard bound)."""

    ns = sorted(points.n.unique())
    fig, axes = _grid(len(ns))
    metric = points.metric.iloc[0]
    for ax, n in zip(axes, ns):
        for learner, line in points[points.n == n].groupby("learner"):
            line = line.sort_values("m")
            ax.plot(line.m, line["mean"], marker="o", ms=3, color=palette[learner], label=learner)
            ax.fill_between(line.m, line.ci_low, line.ci_high, color=palette[learner], alpha=0.2)
        if n in bayes.index and np.isfinite(bayes[n]):
            ax.axhline(bayes[n], color="grey", ls="--", lw=1, label="Bayes risk")
        if is_hadamard(family):
            m = np.linspace(points.m.min(), min(points.m.max(), n - 1), 50)
            ax.plot(m, 1 - m / (n - 1), color="black", lw=1, ls="-.", label="1 − k/(d−1)")
        ax.set_xscale("log")
        plain_log_ticks(ax, "x")
        ax.set_title(f"n = {n:g}")
        ax.set_xlabel("training examples m")
        ax.set_ylabel({"zero_one": "0/1 error", "square": "square loss"}.get(metric, metric))
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{family}: test risk (mean, 95 % CI over trials)")
    fig.tight_layout()
    return fig


@themed("whitegrid")
def mstar_figure(table: pd.DataFrame, calls: pd.DataFrame, palette: dict):

    families = sorted(table.family.unique())
    fig, axes = _grid(len(families), width=3)
    indexed = calls.set_index(FAMILY_KEYS)
    for ax, family in zip(axes, families):
        part = table[table.family == family]
        for learner, points in part.groupby("learner"):
            row = indexed.loc[(family, learner)] if (family, learner) in indexed.index else None
            mstar_panel(ax, points, row, "n", palette[learner], learner)
        if not np.isfinite(part.mstar.to_numpy(dtype=float)).any():
            ax.text(0.5, 0.5, "no learner within ε on its grid of m", ha="center", va="center",
                    transform=ax.transAxes, color="grey")
        ax.set_title(family)
        ax.set_xlabel("dimension n")
        ax.set_ylabel("m* (excess risk ≤ ε)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle("m*(n), 95 % bootstrap intervals (hollow: censored); lines: fitted law of the call "
                 "(dotted: both laws, undetermined)")
    fig.tight_layout()
    return fig


@themed("whitegrid")
def hadamard_figure(points: pd.DataFrame, palette: dict):
    """Risk against k for each d of the Hadamard families, with the line 1 − k/(d − 1)."""

    panels = sorted({(f, n) for f, n in zip(points.family, points.n)})
    fig, axes = _grid(len(panels))
    for ax, (family, d) in zip(axes, panels):
        part = points[(points.family == family) & (points.n == d)]
        for learner, line in part.groupby("learner"):
            line = line.sort_values("m")
            ax.errorbar(line.m, line["mean"], yerr=np.vstack([line["mean"] - line.ci_low, line.ci_high - line["mean"]]),
                        marker="o", ms=3, capsize=2, color=palette[learner], label=learner)
        k = np.linspace(0, d - 1, 50)
        ax.plot(k, 1 - k / (d - 1), color="black", lw=1, ls="-.", label="1 − k/(d−1)")
        ax.set_title(f"{family}, d = {d:g}")
        ax.set_xlabel("training examples k")
        ax.set_ylabel("square loss")
    axes[0].legend(fontsize=7)
    fig.suptitle("Hadamard: rotation-invariant learners stay at or above 1 − k/(d−1) (Warmuth et al. 2021)")
    fig.tight_layout()
    return fig


@themed("whitegrid")
def rotation_figure(family: str, points: pd.DataFrame, palette: dict):
    """Plain (solid) and rotated (dashed) risk curves per n."""

    ns = sorted(set(points[points.family == family].n) & set(points[points.family == ROTATED + family].n))
    fig, axes = _grid(len(ns))
    for ax, n in zip(axes, ns):
        for name, style in ((family, "-"), (ROTATED + family, "--")):
            for learner, line in points[(points.family == name) & (points.n == n)].groupby("learner"):
                line = line.sort_values("m")
                ax.plot(line.m, line["mean"], style, marker="o", ms=3, color=palette[learner],
                        label=f"{learner}{' (rotated)' if name != family else ''}")
        ax.set_xscale("log")
        plain_log_ticks(ax, "x")
        ax.set_title(f"n = {n:g}")
        ax.set_xlabel("training examples m")
        ax.set_ylabel("test risk")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{family} (solid) against {ROTATED}{family} (dashed)")
    fig.tight_layout()
    return fig


@themed("whitegrid")
def contrast_figure(contrast: pd.DataFrame, palette: dict):
    import matplotlib.pyplot as plt
    import seaborn as sns

    width = max(5.0, 0.8 * contrast.family.nunique() * max(contrast.learner.nunique(), 1))
    fig, ax = plt.subplots(figsize=(width, 4))
    sns.barplot(data=contrast, x="family", y="max_abs_z", hue="learner", palette=palette, ax=ax)
    points = int(contrast.points.max())
    threshold = _sidak_threshold(points)
    ax.axhline(threshold, color="black", ls="--", lw=1,
               label=f"Šidák {100 * CONTRAST_ALPHA:g} % threshold, {points} points")
    ax.set_yscale("symlog", linthresh=1.0)   # contrasts range from rounding (~0) to hundreds of SE
    ax.set_ylabel("max |rotated − plain| / SE")
    ax.legend(fontsize=7)
    ax.set_title("Rotation contrast: the largest difference between a family and its rotated twin")
    fig.tight_layout()
    return fig


def _sidak_threshold(points: int) -> float:
    """|z| beyond which the Šidák-adjusted p-value over ``points`` cells is below CONTRAST_ALPHA."""
    return float(scipy_stats.norm.isf((1 - (1 - CONTRAST_ALPHA) ** (1 / max(points, 1))) / 2))


# ---------------------------------------------------------------------------------------- findings
def _fmt(value: float, digits: int = 3) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{int(value)}" if float(value).is_integer() and abs(value) < 1e9 else f"{value:.{digits}g}"


def _fmt_p(value: float) -> str:
    return "< 1e-12" if value < 1e-12 else f"= {value:.3g}"


def hadamard_findings(bound: pd.DataFrame) -> list[str]:
    if bound.empty:
        return ["No Hadamard trials with k < d in this run."]
    lines = []
    for (family, learner), part in bound.groupby(FAMILY_KEYS, sort=True):
        worst = part.loc[part.margin_se.idxmin()]
        where = (f"d = {_fmt(worst.n)}, k = {_fmt(worst.m)}: risk {worst['mean']:.3g} vs bound {worst.bound:.3g}, "
                 f"risk − bound = {worst['mean'] - worst.bound:+.3g}")
        if part.below.any():
            lines.append(f"* {family} / {learner}: **falls below** 1 − k/(d−1) by more than {BOUND_MARGIN_SE:g} SE "
                         f"at {int(part.below.sum())} of {len(part)} (d, k) cells (furthest {-worst.margin_se:.3g} SE "
                         f"below, at {where}).")
        else:
            lines.append(f"* {family} / {learner}: **stays at or above** 1 − k/(d−1) within {BOUND_MARGIN_SE:g} SE "
                         f"at all {len(part)} (d, k) cells (smallest margin {worst.margin_se:+.3g} SE, at {where}).")
    return lines


def growth_findings(calls: pd.DataFrame) -> list[str]:
    if calls.empty:
        return ["No curve has m* on a grid of m (at least 4 values of m per n are needed)."]
    lines = []
    for row in calls.itertuples(index=False):
        fitted = (f"p = {_fmt(row.exponent)} [{_fmt(row.exponent_low)}, {_fmt(row.exponent_high)}], {row.points} "
                  f"points; " if np.isfinite(row.exponent) else "")
        lines.append(f"* {row.family} / {row.learner}: **{row.growth}** ({fitted}{row.reason}); m* at the largest "
                     f"n ({_fmt(row.max_n)}) = "
                     + (_fmt(row.mstar_at_max_n) if np.isfinite(row.mstar_at_max_n) else "beyond its grid of m") + ".")
    return lines


def contrast_findings(contrast: pd.DataFrame) -> list[str]:
    if contrast.empty:
        return ["No family was run together with its rotated- twin."]
    lines = []
    for row in contrast.itertuples(index=False):
        beyond = row.adjusted_p < CONTRAST_ALPHA
        direction = "higher" if row.difference > 0 else "lower" if row.difference < 0 else "equal"
        lines.append(
            f"* {row.family} / {row.learner}: largest difference {row.max_abs_z:.3g} SE over {row.points} (n, m) "
            f"points, at n = {_fmt(row.at_n)}, m = {_fmt(row.at_m)} (rotated risk {row.rotated_mean:.3g} vs "
            f"{row.plain_mean:.3g}, {direction}); Šidák-adjusted p {_fmt_p(row.adjusted_p)}: "
            + ("**a difference beyond noise**" if beyond else f"no difference beyond noise at the "
                                                             f"{100 * CONTRAST_ALPHA:g} % level") + ".")
    return lines


def findings(bound: pd.DataFrame, calls: pd.DataFrame, contrast: pd.DataFrame, counts: pd.Series,
             epsilons: Mapping[str, float], note: str, extra: list[str] = ()) -> str:
    eps = ", ".join(f"{f} {e:g}" for f, e in sorted(epsilons.items())) or "n/a"
    parts = [
        "# sample_complexity: findings",
        "",
        "Every sentence below is computed from the tables of this report.",
        "",
        f"Trials: {int(counts.sum())} stored ({', '.join(f'{int(v)} {k}' for k, v in counts.items())}). "
        f"ε of m* per family: {eps}." + (f" {note}" if note else ""),
        "",
        "## Hadamard: 1 − k/(d−1) (rotation-invariant learners cannot go below it)",
        "", *hadamard_findings(bound), "",
        f"## Growth of m*(n) (level {growth.DEFAULT_LEVEL:g}; rule in reports/growth.py)",
        "", *growth_findings(calls), "",
        f"## Rotation contrasts (rotated − plain, in standard errors; Šidák-adjusted, α = {CONTRAST_ALPHA:g})",
        "", *contrast_findings(contrast), "",
        *extra,
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------- write
def write(df: pd.DataFrame, out_dir: Path, n_boot: int = 1000, figures: bool = True) -> list[Path]:
    """Write the report's tables, figures (unless ``figures`` is false) and findings; return the paths."""
    df, note = latest_config(df)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    config = df.config.iloc[0] if "config" in df.columns and len(df) else {}

    by = [c for c in FAMILY_KEYS if c in df.columns]
    status = df.groupby([*by, "status"]).size().unstack(fill_value=0).reset_index()
    trials = usable_trials(df)
    status_path = out_dir / "status.md"
    status_path.write_text("## Trials per status\n\n" + to_markdown(status)
                           + f"\n{len(trials)} trial(s) with a measured risk are used.\n"
                           + (f"\n{note}\n" if note else ""))
    paths.append(status_path)

    points = curves(trials)
    paths += write_table(points, out_dir, "curves", "Mean test risk [95 % CI] over trials")
    estimate = estimate_mstar(trials, config, n_boot=n_boot)
    paths += write_table(estimate.table[MSTAR_COLUMNS], out_dir, "mstar",
                         "m*: smallest m with mean excess risk ≤ ε, 95 % bootstrap interval")
    calls = growth.growth_table(estimate) if not estimate.table.empty else pd.DataFrame(
        columns=[*FAMILY_KEYS, *growth.COLUMNS])
    paths += write_table(calls[GROWTH_COLUMNS], out_dir, "growth", growth.title())
    paths += write_table(calls, out_dir, "growth_details", "The fits behind each growth call (reports/growth.py)")
    cells = cell_statistics(trials)
    bound = hadamard_bound(trials)
    paths += write_table(bound, out_dir, "hadamard_bound",
                         f"Hadamard: risk against 1 − k/(d−1); below = more than {BOUND_MARGIN_SE:g} SE under it")
    # summary, tuning, checker verdicts; the contrast gains its mean difference [95 % CI] and verdict
    more, contrast, sections = sample_summary.write(df, config, calls, estimate.table, cells,
                                                    rotation_contrast(cells), bound, out_dir)
    paths += more
    paths += write_table(contrast, out_dir, "rotation_contrast",
                         "Rotation contrast: max |rotated − plain| in standard errors, Šidák-adjusted p; mean "
                         "rotated − plain over the common points [95 % CI]; the checker's verdict")

    if figures:
        paths += _figures(trials, points, estimate.table, calls, contrast, out_dir)

    epsilons = {f: epsilon_of(config, f) for f in sorted(trials.family.unique())}
    findings_path = out_dir / "findings.md"
    findings_path.write_text(findings(bound, calls, contrast, df.status.value_counts(), epsilons, note, sections))
    paths.append(findings_path)
    return paths


def _figures(trials, points, mstar_table, calls, contrast, out_dir: Path) -> list[Path]:
    paths: list[Path] = []
    palette = _palette(points.learner)
    bayes = trials.groupby(["family", "n"])["bayes_risk"].mean() if "bayes_risk" in trials else pd.Series(dtype=float)
    for family, part in points.groupby("family", sort=True):
        family_bayes = bayes.loc[family] if family in bayes.index.get_level_values(0) else pd.Series(dtype=float)
        paths += save(risk_figure(family, part, family_bayes, palette), out_dir, f"risk_{family}")
    if not mstar_table.empty:
        paths += save(mstar_figure(mstar_table, calls, palette), out_dir, "mstar")
    hadamard_points = points[points.family.map(is_hadamard)]
    if not hadamard_points.empty:
        paths += save(hadamard_figure(hadamard_points, palette), out_dir, "hadamard")
    for family in contrast.family.unique():
        paths += save(rotation_figure(family, points, palette), out_dir, f"rotation_{family}")
    if not contrast.empty:
        paths += save(contrast_figure(contrast, palette), out_dir, "rotation_contrast")
    return paths
