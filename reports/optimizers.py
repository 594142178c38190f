"""Report of the ``optimizers`` study: training curves, the final-epoch table and the cost of symmetry.

Written to ``out_dir``:

* ``<experiment>_curves.png/.pdf`` -- one panel per metric (train/test loss,
  train/test accuracy) against the epoch, one line per optimizer (dashed: the
  rotated basis), a 95 % Student-t band across seeds (seaborn); the deep
  experiment has one row of panels per depth;
* ``final_epoch.{md,csv,tex}`` -- per (experiment, dataset, depth, basis,
  optimizer): trials, how many diverged or failed, and mean [95 % CI] of each
  final-epoch metric over the trials that finished; ``final_epoch_values.csv``
  holds the same numbers unformatted;
* ``cost_of_symmetry.{md,csv,tex}`` and ``cost_of_symmetry.png/.pdf`` -- per
  optimizer, the paired gap (rotated − original) in final test and train
  accuracy, mean [95 % CI] over seeds;
* ``adam_layerwise_choices.{md,csv,tex}`` -- the per-layer learning rates each
  ``adam-layerwise`` trial chose on its hold-out split;
* ``summary.md`` -- all of the above in one page, with the data's provenance
  notes (e.g. MNIST split from its test set, or a substitute dataset) and the
  run's time.

When the database holds several configurations of the study, the report uses
the one stored last and says how many trials of others it left out. The curves
average the epochs each seed reached: a seed that diverged stops contributing
at its last finite epoch (the tables count it as diverged).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from reports.figures import plt, save, themed
from reports.selection import latest_config
from reports.stats import mean_ci
from reports.tables import format_ci, to_markdown, write_table

EXPERIMENT_TITLES = {
    "two_layer": "Two-layer MLP (the seed's first experiment)",
    "square_loss": "Square loss (the seed's CIFAR-10 experiment)",
    "deep": "Deep bias-free MLP (AGD's headline)",
    "rotation": "Original vs Haar-rotated pixels (cost of symmetry)",
}
METRICS = {"train_loss": "train loss", "test_loss": "test loss", "train_acc": "train accuracy",
           "test_acc": "test accuracy"}
GROUP = ["experiment", "dataset", "depth", "basis", "optimizer"]
KNOWN_OPTIMIZERS = ["sgd", "momentum", "adam", "adam-layerwise", "agd", "agd-momentum", "agd-layerwise"]
LEVEL = 0.95


@themed("whitegrid")
def write(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Write the report of the stored ``optimizers`` trials in ``df`` (from ``studies.store.load``)."""

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if df.empty:
        raise ValueError("no stored trials of study 'optimizers' to report")
    run, left_out_note = latest_config(df)
    paths: list[Path] = []
    curves = curves_frame(run)
    figures = {}
    for experiment in _ordered(run["experiment"].unique(), list(EXPERIMENT_TITLES)):
        part = curves[curves["experiment"] == experiment]
        if not part.empty:
            stem = f"{experiment}_curves"
            paths += save(curves_figure(part, experiment), out_dir, stem)
            figures[experiment] = f"{stem}.png"
    final = final_table(run)
    paths += write_table(final, out_dir, "final_epoch", "Final epoch: mean [95 % CI] over seeds")
    values_path = out_dir / "final_epoch_values.csv"
    final_values(run).to_csv(values_path, index=False)
    paths.append(values_path)
    gaps = symmetry_gaps(run)
    gap_table = None
    if not gaps.empty:
        gap_table = gap_summary(gaps)
        paths += write_table(gap_table, out_dir, "cost_of_symmetry",
                             "Cost of symmetry: rotated − original, paired by seed")
        paths += save(gap_figure(gaps), out_dir, "cost_of_symmetry")
        figures["cost_of_symmetry"] = "cost_of_symmetry.png"
    choices = layerwise_choices(run)
    if not choices.empty:
        paths += write_table(choices, out_dir, "adam_layerwise_choices", "adam-layerwise: per-layer lrs chosen")
    summary = out_dir / "summary.md"
    summary.write_text(summary_markdown(run, left_out_note, final, gap_table, choices, figures))
    paths.append(summary)
    return paths


# ---------------------------------------------------------------- selection
def _ordered(values, known: list[str]) -> list:
    """``values`` in the order of ``known`` (by name before any '('), then the rest sorted."""
    def key(value):
        base = str(value).split("(")[0]
        return (known.index(base) if base in known else len(known), str(value))

    return sorted(set(values), key=key)


def _finite(value) -> float:
    return float(value) if value is not None and math.isfinite(float(value)) else np.nan


# ---------------------------------------------------------------- curves
def curves_frame(run: pd.DataFrame) -> pd.DataFrame:
    """Long form: one row per (trial, epoch, metric) with the value (non-finite values as NaN)."""
    rows = []
    for coords, metrics in zip(run["coords"], run["metrics"]):
        history = (metrics or {}).get("history") or {}
        for metric in METRICS:
            for epoch, value in zip(history.get("epoch", []), history.get(metric, [])):
                rows.append({**{k: coords[k] for k in GROUP}, "rep": coords["rep"], "epoch": epoch,
                             "metric": metric, "value": _finite(value)})
    return pd.DataFrame(rows, columns=[*GROUP, "rep", "epoch", "metric", "value"])


def _band(values) -> tuple[float, float]:
    _, low, high = mean_ci(values, LEVEL)
    return low, high


def curves_figure(part: pd.DataFrame, experiment: str):
    import seaborn as sns

    depths = sorted(part["depth"].unique()) if experiment == "deep" else [None]
    hue_order = _ordered(part["optimizer"].unique(), KNOWN_OPTIMIZERS)
    rotation = part["basis"].nunique() > 1
    fig, axes = plt.subplots(len(depths), len(METRICS), figsize=(4.2 * len(METRICS), 3.4 * len(depths)),
                             squeeze=False)
    for r, depth in enumerate(depths):
        rows = part if depth is None else part[part["depth"] == depth]
        for c, (metric, label) in enumerate(METRICS.items()):
            ax = axes[r][c]
            data = rows[rows["metric"] == metric].dropna(subset=["value"])
            sns.lineplot(data=data, x="epoch", y="value", hue="optimizer", hue_order=hue_order,
                         style="basis" if rotation else None, style_order=["original", "rotated"] if rotation else None,
                         errorbar=_band, ax=ax, legend=(r == 0 and c == len(METRICS) - 1))
            ax.set_ylabel(label)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if metric.endswith("loss") and (data["value"] > 0).all() and not data.empty:
                ax.set_yscale("log")
            title = label if depth is None else f"depth {depth}: {label}"
            ax.set_title(title)
    legend_ax = axes[0][-1]
    if legend_ax.get_legend() is not None:
        sns.move_legend(legend_ax, "upper left", bbox_to_anchor=(1.02, 1))
    datasets = ", ".join(sorted(part["dataset"].unique()))
    seeds = part.groupby([*GROUP])["rep"].nunique().max()
    fig.suptitle(f"{EXPERIMENT_TITLES.get(experiment, experiment)} on {datasets}: mean and 95 % CI over "
                 f"{seeds} seeds", y=1.02)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- final epoch
def _final(run: pd.DataFrame, metric: str) -> pd.Series:
    return run["metrics"].map(lambda m: _finite((m or {}).get(f"final_{metric}")))


def final_values(run: pd.DataFrame) -> pd.DataFrame:
    """Unformatted: keys, metric, mean, ci_low, ci_high, trials (over trials that finished)."""
    rows = []
    ok = run[run["status"] == "ok"]
    for keys, part in ok.groupby(GROUP, sort=False):
        for metric in METRICS:
            mean, low, high = mean_ci(_final(part, metric).to_numpy(), LEVEL)
            rows.append({**dict(zip(GROUP, keys)), "metric": metric, "mean": mean, "ci_low": low, "ci_high": high,
                         "trials": int(len(part))})
    frame = pd.DataFrame(rows, columns=[*GROUP, "metric", "mean", "ci_low", "ci_high", "trials"])
    return _sort(frame)


def _sort(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    experiments = _ordered(frame["experiment"].unique(), list(EXPERIMENT_TITLES))
    optimizers = _ordered(frame["optimizer"].unique(), KNOWN_OPTIMIZERS)
    order = frame.assign(_e=frame["experiment"].map(experiments.index),
                         _o=frame["optimizer"].map(optimizers.index))
    by = ["_e", "dataset", "depth", "_o", "basis"] + [c for c in ("rep",) if c in frame.columns]
    return order.sort_values(by, kind="stable").drop(columns=["_e", "_o"]).reset_index(drop=True)


def final_table(run: pd.DataFrame) -> pd.DataFrame:
    """Formatted final-epoch table: counts and mean [95 % CI] per metric over finished trials."""
    rows = []
    for keys, part in run.groupby(GROUP, sort=False):
        ok = part[part["status"] == "ok"]
        diverged = part[part["status"] == "diverged"]
        steps = sorted(int(m["diverged_at_step"]) for m in diverged["metrics"] if m.get("diverged_at_step") is not None)
        row = {**dict(zip(GROUP, keys)), "trials": len(part), "diverged": len(diverged),
               "failed": int((part["status"] == "failed").sum()),
               "diverged at step": ", ".join(map(str, steps)) or "-"}
        for metric, label in METRICS.items():
            row[label] = format_ci(*mean_ci(_final(ok, metric).to_numpy(), LEVEL)) if len(ok) else "n/a"
        rows.append(row)
    return _sort(pd.DataFrame(rows))


# ---------------------------------------------------------------- cost of symmetry
def symmetry_gaps(run: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, depth, optimizer, rep) with both bases finished: accuracies and the gaps."""
    rotation = run[(run["experiment"] == "rotation") & (run["status"] == "ok")]
    columns = ["dataset", "depth", "optimizer", "rep", "original_test_acc", "rotated_test_acc",
               "gap_test_acc", "gap_train_acc"]
    if rotation.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({
        "dataset": rotation["coords"].map(lambda c: c["dataset"]),
        "depth": rotation["coords"].map(lambda c: c["depth"]),
        "optimizer": rotation["coords"].map(lambda c: c["optimizer"]),
        "rep": rotation["coords"].map(lambda c: c["rep"]),
        "basis": rotation["coords"].map(lambda c: c["basis"]),
        "test_acc": _final(rotation, "test_acc").to_numpy(),
        "train_acc": _final(rotation, "train_acc").to_numpy(),
    })
    wide = frame.pivot_table(index=["dataset", "depth", "optimizer", "rep"], columns="basis",
                             values=["test_acc", "train_acc"], aggfunc="first")
    if ("test_acc", "rotated") not in wide.columns or ("test_acc", "original") not in wide.columns:
        return pd.DataFrame(columns=columns)
    wide = wide.dropna()
    gaps = pd.DataFrame({
        "original_test_acc": wide[("test_acc", "original")],
        "rotated_test_acc": wide[("test_acc", "rotated")],
        "gap_test_acc": wide[("test_acc", "rotated")] - wide[("test_acc", "original")],
        "gap_train_acc": wide[("train_acc", "rotated")] - wide[("train_acc", "original")],
    }).reset_index()
    return gaps[columns]


def _reading(low: float, high: float, gaps: np.ndarray) -> str:
    if np.all(gaps == 0):
        return "equal test accuracy in every pair"
    if not (np.isfinite(low) and np.isfinite(high)):
        return "too few pairs"
    if low <= 0 <= high:
        return "no gap beyond noise"
    return "loses on rotated pixels" if high < 0 else "gains on rotated pixels"


def gap_summary(gaps: pd.DataFrame) -> pd.DataFrame:
    rows = []
    optimizers = _ordered(gaps["optimizer"].unique(), KNOWN_OPTIMIZERS)
    for (dataset, depth, optimizer), part in sorted(gaps.groupby(["dataset", "depth", "optimizer"]),
                                                    key=lambda item: (item[0][0], item[0][1],
                                                                      optimizers.index(item[0][2]))):
        test_gap = part["gap_test_acc"].to_numpy(dtype=np.float64)
        mean, low, high = mean_ci(test_gap, LEVEL)
        rows.append({
            "dataset": dataset, "depth": depth, "optimizer": optimizer, "pairs": len(part),
            "original test acc": format_ci(*mean_ci(part["original_test_acc"].to_numpy(), LEVEL)),
            "rotated test acc": format_ci(*mean_ci(part["rotated_test_acc"].to_numpy(), LEVEL)),
            "gap test acc": format_ci(mean, low, high, digits=4),
            "max abs gap test acc": f"{np.max(np.abs(test_gap)):.4f}",
            "gap train acc": format_ci(*mean_ci(part["gap_train_acc"].to_numpy(), LEVEL), digits=4),
            "reading": _reading(low, high, test_gap),
        })
    return pd.DataFrame(rows)


def gap_figure(gaps: pd.DataFrame):
    import seaborn as sns

    order = _ordered(gaps["optimizer"].unique(), KNOWN_OPTIMIZERS)
    fig, ax = plt.subplots(figsize=(1.3 * len(order) + 2.5, 3.6))
    ax.axhline(0.0, color="0.4", lw=1, ls="--")
    sns.stripplot(data=gaps, x="optimizer", y="gap_test_acc", order=order, color="0.55", size=4, jitter=0.12, ax=ax)
    sns.pointplot(data=gaps, x="optimizer", y="gap_test_acc", order=order, errorbar=_band, linestyle="none",
                  capsize=0.2, color="C3", markers="D", ax=ax)
    ax.set_ylabel("test accuracy: rotated − original")
    ax.set_xlabel("")
    ax.set_title("Cost of symmetry: paired gap per seed (grey) and mean with 95 % CI (red)")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- adam-layerwise
def layerwise_choices(run: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for coords, metrics in zip(run["coords"], run["metrics"]):
        search = (metrics or {}).get("layerwise_search")
        if not search:
            continue
        chosen = search["candidates"].index(search["chosen_lrs"])
        rows.append({**{k: coords[k] for k in GROUP}, "rep": coords["rep"],
                     "lr input layer": search["chosen_lrs"][0],
                     "lr other layers": search["chosen_lrs"][-1],
                     "hold-out loss": search["holdout_loss"][chosen],
                     "hold-out acc": search["holdout_acc"][chosen],
                     "candidates": len(search["candidates"])})
    return _sort(pd.DataFrame(rows)) if rows else pd.DataFrame()


# ---------------------------------------------------------------- summary page
def _timing(run: pd.DataFrame) -> str:
    compute = float(run["duration_s"].sum())
    # rows of one batch are stored in one transaction (one created_at); the batch began its duration earlier
    batches = run.groupby("created_at")["duration_s"].sum()
    wall = float(batches.index.max() - (batches.index - batches.to_numpy()).min())
    return (f"trial compute time (sum over trials) {compute:.0f} s; first batch start to last batch stored "
            f"≈ {wall:.0f} s wall")


def _data_notes(run: pd.DataFrame) -> list[str]:
    notes: dict[str, None] = {}
    for metrics in run["metrics"]:
        data = (metrics or {}).get("data") or {}
        for note in [data.get("substitute_note"), *(data.get("notes") or [])]:
            if note:
                notes[note] = None
    return list(notes)


def _rankings(part: pd.DataFrame) -> list[str]:
    """One line per (dataset, depth, basis): optimizers by mean final test accuracy, with diverged counts."""
    lines = []
    for (dataset, depth, basis), rows in part.groupby(["dataset", "depth", "basis"], sort=True):
        entries = []
        for optimizer, trials in rows.groupby("optimizer"):
            ok = trials[trials["status"] == "ok"]
            mean = _final(ok, "test_acc").mean() if len(ok) else np.nan
            diverged = int((trials["status"] == "diverged").sum())
            entries.append((mean, optimizer, diverged, len(trials)))
        entries.sort(key=lambda e: -e[0] if np.isfinite(e[0]) else np.inf)
        ranked = " > ".join(f"{o} {m:.3f}" + (f" ({d}/{n} diverged)" if d else "") if np.isfinite(m)
                            else f"{o} n/a ({d}/{n} diverged)" for m, o, d, n in entries)
        lines.append(f"* {dataset}, depth {depth}, {basis} pixels — mean final test accuracy: {ranked}")
    return lines + [""]


def _coupling_note(run: pd.DataFrame) -> str:
    rotations = [m["rotation"] for m in run["metrics"] if (m or {}).get("rotation")]
    per_seed = any(r.get("per_seed") for r in rotations)
    seeds = len({r["seed"] for r in rotations})
    return ("Each pair is coupled: the rotated run starts from the original run's initialisation with its first "
            "layer transported (W1 -> W1 Mᵀ; the orthogonal initialisation is rotation invariant in law, so this "
            "is a fair draw) and sees the same minibatches. A rotation-equivariant optimizer then gives the same "
            "network up to rounding; any gap is what the optimizer's lack of rotation symmetry costs or buys. "
            f"Haar rotations used: {seeds} ({'one per seed' if per_seed else 'one shared by the seeds'}).")


def summary_markdown(run, left_out_note, final, gap_table, choices, figures) -> str:
    counts = run["status"].value_counts().to_dict()
    lines = [
        "# Study `optimizers`: report",
        "",
        f"Configuration `{run['config_hash'].iloc[0]}`: {len(run)} trials "
        f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}); {_timing(run)}.",
    ]
    if left_out_note:
        lines.append(left_out_note)
    devices = sorted({str(c.get("device")) for c in run["config"]})
    lines += ["", f"Device: {', '.join(devices)}. Tables: mean [95 % Student-t CI] over seeds; "
              "means over trials that finished (diverged ones are counted, not averaged).", "", "## Data", ""]
    lines += [f"* {note}" for note in _data_notes(run)] or ["* (no notes)"]
    failed = run[run["status"] == "failed"]
    if not failed.empty:
        lines += ["", "## Failed trials", ""]
        for error, part in failed.groupby("error"):
            lines.append(f"* {len(part)} × {error}")
    for experiment in _ordered(run["experiment"].unique(), list(EXPERIMENT_TITLES)):
        lines += ["", f"## {EXPERIMENT_TITLES.get(experiment, experiment)}", ""]
        if experiment in figures:
            lines += [f"![{experiment}]({figures[experiment]})", ""]
        part = final[final["experiment"] == experiment].drop(columns=["experiment"])
        lines += _rankings(run[run["experiment"] == experiment]) + [to_markdown(part)]
    if gap_table is not None:
        lines += ["", "## Cost of symmetry (rotated − original, paired by seed)", "", _coupling_note(run), "",
                  f"![cost of symmetry]({figures['cost_of_symmetry']})", "", to_markdown(gap_table)]
    if not choices.empty:
        lines += ["", "## adam-layerwise: learning rates chosen on the hold-out split", "", to_markdown(choices)]
    return "\n".join(lines) + "\n"
