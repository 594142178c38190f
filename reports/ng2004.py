"""Report of the ``ng2004`` study: Ng (2004) Figure 1 and the sample complexity m*(n).

Outputs (in ``out_dir``):

* ``curves.csv`` — ``setting,m,n,penalty,metric,mean,ci_low,ci_high,trials``
  for every stored (setting, m, n, penalty) point (95 % Student-t intervals
  across trials); ``curves.md`` the Figure 1 points as a Markdown table;
* ``figure1.png/.pdf`` — the 3×3 grid laid out as Ng's Figure 1 (columns:
  settings; rows: 0/1 error at m = 100, log loss at m = 100, 0/1 error at
  m = 200; log-scale n), L1 and L2 with 95 % bands, the Bayes error dashed;
* ``mstar.csv/.md`` and ``mstar.png/.pdf`` — m*(n) with bootstrap intervals
  (:mod:`reports.mstar`), and ``growth.csv/.md`` — the growth law of each
  learner's m*(n) (:mod:`reports.growth`: logarithmic, polynomial/linear with the
  exponent's interval, or undetermined), drawn on the m* figure;
* ``edges.csv`` — ``setting,penalty,metric,n,m,edge_share,plateau_share,artefact_share``: the
  share of trials whose λ chosen by ``metric`` sits at an edge of the grid (the study's
  ``edge_<metric>`` flags), split into plateaus (``plateau_<metric>``: a wider grid cannot move
  the result) and grid artefacts (the rest); ``edges.md`` the largest shares per metric, the
  sides of the grid they sit at, and every cell whose artefact share is above 1 %, with 95 %
  intervals (results without plateau flags: edge shares only);
* ``status.md`` — trials per status (diverged or failed trials are counted,
  never silently dropped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reports import growth, mstar
from reports.figures import mstar_panel, save, themed
from reports.selection import latest_config
from reports.stats import metric_range, summarise
from reports.tables import format_ci, to_markdown, write_table

SETTINGS = ("one", "three", "decay")
SETTING_TITLES = {"one": "one relevant feature", "three": "three relevant features",
                  "decay": "exponentially decaying relevance"}
METRICS = ("zero_one", "log_loss")
#: the rows of Ng's Figure 1: (metric, m)
FIGURE_ROWS = (("zero_one", 100), ("log_loss", 100), ("zero_one", 200))
METRIC_LABELS = {"zero_one": "0/1 error", "log_loss": "log loss"}


#: an edge share above this is listed cell by cell in edges.md
EDGE_LIMIT = 0.01
EDGE_KEYS = ["setting", "penalty", "metric", "n", "m"]
#: the per-trial flags whose shares edges.csv holds: every edge, the plateaus among them, the rest
EDGE_FLAGS = ("edge", "plateau", "artefact")


def _flag(ok: pd.DataFrame, flag: str, metric: str) -> pd.Series | None:
    """A trial's ``flag`` for ``metric`` as 0/1 floats, or None when not stored. ``artefact`` is
    an edge that is not a plateau (:data:`studies.ng2004.PLATEAU_TOL`)."""
    if flag == "artefact":
        edge, plateau = _flag(ok, "edge", metric), _flag(ok, "plateau", metric)
        return None if edge is None or plateau is None else edge * (1.0 - plateau)
    column = f"{flag}_{metric}"
    return ok[column].astype(float) if column in ok else None


def edges(df: pd.DataFrame, flag: str = "edge") -> pd.DataFrame:
    """Share of ok trials with ``flag`` (``edge``, ``top_tie``, ``plateau`` or ``artefact``) per
    (setting, penalty, metric, n, m): its mean with the 95 % interval in [0, 1]
    (``reports.stats.summarise``). Empty when the flag is not stored."""
    ok = df[df.status == "ok"]
    parts = [ok[["setting", "penalty", "n", "m"]].assign(metric=metric, value=value)
             for metric in METRICS if (value := _flag(ok, flag, metric)) is not None]
    if not parts:
        return pd.DataFrame(columns=[*EDGE_KEYS, "edge_share", "ci_low", "ci_high", "trials"])
    table = summarise(pd.concat(parts, ignore_index=True), EDGE_KEYS, "value", bounds=(0.0, 1.0))
    return table.rename(columns={"mean": "edge_share"})


def edge_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell the edge share with its interval (``edge_share, ci_low, ci_high, trials``) and, where
    the trials store plateau flags, the plateau and artefact shares (``<flag>_share``, ``<flag>_low``,
    ``<flag>_high``)."""
    shares = edges(df)
    for flag in ("plateau", "artefact"):
        part = edges(df, flag)
        if shares.empty or part.empty:
            continue
        shares = shares.merge(part[[*EDGE_KEYS, "edge_share", "ci_low", "ci_high"]].rename(
            columns={"edge_share": f"{flag}_share", "ci_low": f"{flag}_low", "ci_high": f"{flag}_high"}),
            on=EDGE_KEYS, how="left")
    return shares


def edge_sides(df: pd.DataFrame) -> pd.DataFrame:
    """Trials per (metric, kind, side): edge choices that are plateaus or artefacts, at the
    grid's bottom (its smallest λ) or top; needs the stored λ's and the grid's config."""
    ok = df[df.status == "ok"]
    config = ok["config"].iloc[0] if "config" in ok and len(ok) else {}
    rows = []
    if not isinstance(config, dict) or "lambda_min" not in config:
        return pd.DataFrame(rows, columns=["metric", "kind", "bottom", "top"])
    for metric in METRICS:
        for kind in ("plateau", "artefact"):
            value = _flag(ok, kind, metric)
            if value is None or f"lambda_{metric}" not in ok:
                continue
            bottom = np.isclose(ok[f"lambda_{metric}"].astype(float), config["lambda_min"], rtol=1e-9)
            rows.append({"metric": metric, "kind": kind, "bottom": int(((value > 0) & bottom).sum()),
                         "top": int(((value > 0) & ~bottom).sum())})
    return pd.DataFrame(rows, columns=["metric", "kind", "bottom", "top"])


def edges_markdown(table: pd.DataFrame, ties: pd.DataFrame, grid: str, sides: pd.DataFrame | None = None) -> str:
    """The edges section: per metric the largest edge and artefact shares and the cells above
    :data:`EDGE_LIMIT`, then every cell whose artefact share (edge share, without plateau flags)
    is above it."""
    split = "artefact_share" in table
    summary = []
    for metric in METRICS:
        part = table[table.metric == metric]
        if part.empty:
            continue
        worst = part.loc[part.edge_share.idxmax()]
        row = {"metric": metric, "cells": len(part),
               "max edge share": format_ci(worst.edge_share, worst.ci_low, worst.ci_high),
               "at": f"{worst.setting}/{worst.penalty}/n={worst.n}/m={worst.m}",
               f"edges above {EDGE_LIMIT:.0%}": int((part.edge_share > EDGE_LIMIT).sum())}
        if split:
            bad = part.loc[part.artefact_share.idxmax()]
            row.update({"max artefact share": format_ci(bad.artefact_share, bad.artefact_low, bad.artefact_high),
                        "artefact at": f"{bad.setting}/{bad.penalty}/n={bad.n}/m={bad.m}",
                        f"artefacts above {EDGE_LIMIT:.0%}": int((part.artefact_share > EDGE_LIMIT).sum())})
            if sides is not None and not sides.empty:
                for kind in ("plateau", "artefact"):
                    hit = sides[(sides.metric == metric) & (sides.kind == kind)]
                    if not hit.empty:
                        row[f"{kind}s bottom/top"] = f"{int(hit.bottom.iloc[0])}/{int(hit.top.iloc[0])}"
        tie = ties[ties.metric == metric]
        row["max top-edge tie share"] = float(tie.edge_share.max()) if not tie.empty else float("nan")
        summary.append(row)
    text = ("## Selected λ at an edge of the grid\n\n"
            f"{grid}A trial's λ chosen by a metric is at an edge when it is the grid's smallest, or its largest "
            "with a hold-out value strictly below the next λ's (a larger λ might be better still). A largest λ "
            "chosen by a tie with the next one is a plateau resolved by the tie rule (larger λ on ties; e.g. "
            "L1's all-zero model, or L2's 0/1 error once the signs stop changing) and is not counted: its "
            "share is the last column. Shares: mean [95 % CI] over trials.\n\n")
    if split:
        text += ("An edge is a **plateau** when a wider grid could not move the chosen model's exact expected "
                 "metric by more than 0.001 (the path's last step at the edge, extrapolated as a geometric "
                 "tail; the study's `edge_gap_<metric>`): at the bottom the path has converged to the "
                 "unpenalised fit (a training sample that is not separable), at the top L2 has shrunk to "
                 "the constant predictor. Every other edge is a grid **artefact**: almost all are the "
                 "smallest λ on a separable training sample, where the norm grows without bound as λ → 0, "
                 "the hold-out log loss keeps falling when the hold-out is classified without error, and "
                 "the test log loss keeps rising; no finite grid removes these (see docs/ng2004.md). "
                 "Bottom/top: trials over all cells.\n\n")
    text += to_markdown(pd.DataFrame(summary))
    share, label = ("artefact_share", "an artefact") if split else ("edge_share", "an edge")
    above = table[table[share] > EDGE_LIMIT].sort_values(["metric", share], ascending=[True, False])
    cols = [*EDGE_KEYS, "edge_share", *(["plateau_share", "artefact_share"] if split else []), "trials"]
    low, high = ("artefact_low", "artefact_high") if split else ("ci_low", "ci_high")
    shown = above.assign(**{share: [format_ci(a, b, c) for a, b, c in zip(above[share], above[low], above[high])]})
    for col in ("edge_share", "plateau_share"):
        if col in shown and col != share:
            shown[col] = shown[col].map(lambda v: f"{v:.2f}")
    text += f"\n### Cells with {label} share above {EDGE_LIMIT:.0%}\n\n"
    text += (to_markdown(shown[cols]) if not shown.empty else "None.\n")
    return text


def _grid_text(df: pd.DataFrame) -> str:
    config = df["config"].iloc[0] if "config" in df and len(df) else {}
    keys = ("lambda_max", "lambda_min", "lambdas_per_decade")
    if not isinstance(config, dict) or not all(k in config for k in keys):
        return ""
    return (f"Grid: λ from {config['lambda_max']:g} down to {config['lambda_min']:g}, "
            f"{config['lambdas_per_decade']} per decade. ")


def curves(df: pd.DataFrame) -> pd.DataFrame:
    ok = df[df.status == "ok"]
    parts = []
    for metric in METRICS:
        table = summarise(ok, ["setting", "m", "n", "penalty"], metric, bounds=metric_range(metric))
        table.insert(4, "metric", metric)
        parts.append(table)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["setting", "m", "metric", "penalty", "n"]).reset_index(drop=True)


@themed("whitegrid")
def figure1(points: pd.DataFrame, bayes: float | None):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 3, figsize=(12, 10), sharex=True)
    palette = {"l1": "tab:blue", "l2": "tab:red"}
    for col, setting in enumerate(SETTINGS):
        for row, (metric, m) in enumerate(FIGURE_ROWS):
            ax = axes[row, col]
            part = points[(points.setting == setting) & (points.metric == metric) & (points.m == m)]
            for penalty, line in part.groupby("penalty"):
                line = line.sort_values("n")
                ax.plot(line.n, line["mean"], marker="o", ms=3, color=palette.get(penalty), label=penalty.upper())
                ax.fill_between(line.n, line.ci_low, line.ci_high, color=palette.get(penalty), alpha=0.2)
            if metric == "zero_one" and bayes is not None:
                ax.axhline(bayes, color="grey", ls="--", lw=1, label="Bayes error")
            ax.set_xscale("log")
            if row == 0:
                ax.set_title(SETTING_TITLES[setting])
            if col == 0:
                ax.set_ylabel(f"{METRIC_LABELS[metric]}, m = {m}")
            if row == 2:
                ax.set_xlabel("number of features n")
            if part.empty:
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, color="grey")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False)
    fig.suptitle("L1 vs L2 regularised logistic regression (Ng 2004, Figure 1); bands: 95 % CI over trials")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return fig


@themed("whitegrid")
def mstar_figure(table: pd.DataFrame, growth_calls: pd.DataFrame):
    import matplotlib.pyplot as plt

    settings = sorted(table.setting.unique())
    fig, axes = plt.subplots(1, len(settings), figsize=(5 * len(settings), 4), squeeze=False)
    palette = {"l1": "tab:blue", "l2": "tab:red"}
    calls = growth_calls.set_index(["setting", "penalty"])
    for ax, setting in zip(axes[0], settings):
        for penalty, points in table[table.setting == setting].groupby("penalty"):
            row = calls.loc[(setting, penalty)] if (setting, penalty) in calls.index else None
            mstar_panel(ax, points, row, "n", palette.get(penalty), penalty.upper())
        ax.set_xlabel("number of features n")
        ax.set_ylabel("m*: examples to reach Bayes error + ε")
        ax.set_title(SETTING_TITLES.get(setting, setting))
        ax.legend()
    fig.suptitle("m*(n) with 95 % bootstrap intervals; lines: the fitted growth law (dotted: both, undetermined)")
    fig.tight_layout()
    return fig


def write(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    df, note = latest_config(df)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []

    status = df.groupby(["penalty", "status"]).size().unstack(fill_value=0).reset_index()
    status_path = out_dir / "status.md"
    status_path.write_text("## Trials per status\n\n" + to_markdown(status) + (f"\n{note}\n" if note else ""))
    paths.append(status_path)

    points = curves(df)
    points_path = out_dir / "curves.csv"
    points.to_csv(points_path, index=False)
    paths.append(points_path)
    fig_points = points[points.m.isin([m for _, m in FIGURE_ROWS])]
    readable = fig_points.assign(value=[format_ci(a, b, c) for a, b, c in
                                        zip(fig_points["mean"], fig_points.ci_low, fig_points.ci_high)])
    wide = readable.pivot_table(index=["setting", "m", "metric", "n"], columns="penalty", values="value",
                                aggfunc="first").reset_index()
    md = out_dir / "curves.md"
    md.write_text("## Figure 1 points: mean [95 % CI] over trials\n\n" + to_markdown(wide))
    paths.append(md)

    bayes = float(df["bayes_error"].dropna().iloc[0]) if "bayes_error" in df and df["bayes_error"].notna().any() else None
    paths += save(figure1(points, bayes), out_dir, "figure1")

    table = edge_table(df)
    if not table.empty:
        edges_path = out_dir / "edges.csv"
        table[[*EDGE_KEYS, *[f"{f}_share" for f in EDGE_FLAGS if f"{f}_share" in table]]].to_csv(edges_path,
                                                                                                 index=False)
        edges_md = out_dir / "edges.md"
        edges_md.write_text(edges_markdown(table, edges(df, "top_tie"), _grid_text(df), edge_sides(df)))
        paths += [edges_path, edges_md]

    ok = df[df.status == "ok"]
    estimate = mstar.estimate(ok)
    if not estimate.table.empty:
        paths += write_table(estimate.table, out_dir, "mstar",
                             "Sample complexity m*(n) with 95 % bootstrap intervals")
        calls = growth.growth_table(estimate)
        paths += write_table(calls, out_dir, "growth", growth.title())
        paths += save(mstar_figure(estimate.table, calls), out_dir, "mstar")
    return paths
