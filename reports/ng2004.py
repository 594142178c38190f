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
* ``edges.csv`` — ``setting,penalty,metric,n,m,edge_share``: the share of trials whose λ
  chosen by ``metric`` sits at an edge of the grid (the study's ``edge_<metric>`` flags), and
  ``edges.md`` the largest share per metric and every cell above 1 % with 95 % intervals;
* ``status.md`` — trials per status (diverged or failed trials are counted,
  never silently dropped).
"""

from __future__ import annotations

from pathlib import Path

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


def edges(df: pd.DataFrame, flag: str = "edge") -> pd.DataFrame:
    """Share of ok trials whose chosen λ sits at an edge, per (setting, penalty, metric, n, m):
    the mean of the ``<flag>_<metric>`` columns with its 95 % interval in [0, 1]
    (``reports.stats.summarise``). Empty when no such column is stored."""
    ok = df[df.status == "ok"]
    parts = [ok[["setting", "penalty", "n", "m"]].assign(metric=metric, value=ok[f"{flag}_{metric}"].astype(float))
             for metric in METRICS if f"{flag}_{metric}" in ok]
    if not parts:
        return pd.DataFrame(columns=[*EDGE_KEYS, "edge_share", "ci_low", "ci_high", "trials"])
    table = summarise(pd.concat(parts, ignore_index=True), EDGE_KEYS, "value", bounds=(0.0, 1.0))
    return table.rename(columns={"mean": "edge_share"})


def edges_markdown(shares: pd.DataFrame, ties: pd.DataFrame, grid: str) -> str:
    """The edges section: the largest share per metric and every cell above :data:`EDGE_LIMIT`."""
    summary = []
    for metric in METRICS:
        part = shares[shares.metric == metric]
        if part.empty:
            continue
        worst = part.loc[part.edge_share.idxmax()]
        tie = ties[ties.metric == metric]
        summary.append({"metric": metric, "cells": len(part),
                        "max edge share": format_ci(worst.edge_share, worst.ci_low, worst.ci_high),
                        "at": f"{worst.setting}/{worst.penalty}/n={worst.n}/m={worst.m}",
                        f"cells above {EDGE_LIMIT:.0%}": int((part.edge_share > EDGE_LIMIT).sum()),
                        "max top-edge tie share": float(tie.edge_share.max()) if not tie.empty else float("nan")})
    above = shares[shares.edge_share > EDGE_LIMIT].sort_values(["metric", "edge_share"], ascending=[True, False])
    above = above.assign(edge_share=[format_ci(a, b, c) for a, b, c in zip(above.edge_share, above.ci_low,
                                                                         above.ci_high)])
    text = ("## Selected λ at an edge of the grid\n\n"
            f"{grid}A trial's λ chosen by a metric is at an edge when it is the grid's smallest, or its largest "
            "with a hold-out value strictly below the next λ's (a larger λ might be better still). A largest λ "
            "chosen by a tie with the next one is a plateau resolved by the tie rule (larger λ on ties; e.g. "
            "L1's all-zero model, or L2's 0/1 error once the signs stop changing) and is not counted: its "
            "share is the last column. Shares: mean [95 % CI] over trials.\n\n" + to_markdown(pd.DataFrame(summary)))
    text += f"\n### Cells with an edge share above {EDGE_LIMIT:.0%}\n\n"
    text += (to_markdown(above[[*EDGE_KEYS, "edge_share", "trials"]]) if not above.empty else "None.\n")
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

    shares = edges(df)
    if not shares.empty:
        edges_path = out_dir / "edges.csv"
        shares[[*EDGE_KEYS, "edge_share"]].to_csv(edges_path, index=False)
        edges_md = out_dir / "edges.md"
        edges_md.write_text(edges_markdown(shares, edges(df, "top_tie"), _grid_text(df)))
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
