"""Report of the ``optimizers`` study: equal tuning budgets, lr sensitivity, time to target, curves.

Written to ``out_dir``:

* ``<experiment>_curves.png/.pdf`` -- train/test loss and accuracy against the
  epoch, one line per optimizer and tuning (dashed: the rotated basis), a 95 %
  band across seeds; the deep experiment has one row of panels per depth;
* ``final_epoch.{md,csv,tex}`` -- per (experiment, dataset, depth, basis,
  optimizer, tuning): trials, how many diverged or failed, and mean [95 % CI]
  of each metric of the trial's result (default: last epoch; tuned: the
  selected epoch) over the trials that finished; ``final_epoch_values.csv``
  holds the same numbers unformatted;
* ``tuning.{csv,md,tex}`` -- per tuned optimizer: ``grid_size`` (candidate
  trainings, equal within an experiment), ``chosen`` (the value chosen most
  often; ties: the smaller), ``choices`` (every seed's choice, in rep order),
  ``at_edge_share`` (share of seeds whose choice lies on the grid's edge);
* ``lr_sensitivity.csv`` and ``lr_sensitivity.png/.pdf`` -- last-epoch test
  accuracy of every grid candidate (``lr``: the learning rate; for AGD and its
  variants the gain; for adam-layerwise the rate of the non-input layers, one
  row per input-layer rate), mean [95 % CI] over the seeds that finished;
* ``time_to_target.{csv,md,tex}`` (the csv unformatted) and ``time_to_target.png/.pdf`` -- steps
  and wall-clock seconds to first reach the experiment's target test accuracy
  (AlgoPerf's time to result; measured at the end of each epoch), mean [95 %
  CI] over the seeds that reach it, and the share that never does;
* ``rankings.{csv,md,tex}`` (the csv unformatted) -- paired differences in test accuracy (same seed,
  same initialisation and minibatches) between optimizers, at the defaults and
  after equal tuning, and whether each ordering survives tuning;
* ``cost_of_symmetry.{md,csv,tex}`` and ``cost_of_symmetry.png/.pdf`` -- per
  optimizer and tuning, the paired gap (rotated − original) in test and train
  accuracy;
* ``summary.md`` -- all of the above in one page, with the statements computed
  from the measured numbers, the data's provenance notes and the run's time.

Intervals: Student-t over seeds, cut to the metric's range (accuracy in
[0, 1], losses and times >= 0, accuracy differences in [-1, 1]); why, and the
measured coverage against the bootstrap, in docs/statistics.md.

When the database holds several configurations of the study, the report uses
the one stored last and says how many trials of others it left out. The curves
average the epochs each seed reached: a seed that diverged stops contributing
at its last finite epoch (the tables count it as diverged).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from reports.figures import plt, save, themed
from reports.selection import latest_config
from reports.stats import mean_ci, metric_range
from reports.tables import format_ci, to_markdown, write_table

EXPERIMENT_TITLES = {
    "two_layer": "Two-layer MLP (the seed's first experiment)",
    "square_loss": "Square loss (the seed's CIFAR-10 experiment)",
    "deep": "Deep bias-free MLP (AGD's headline)",
    "rotation": "Original vs Haar-rotated pixels (cost of symmetry)",
}
METRICS = {"train_loss": "train loss", "test_loss": "test loss", "train_acc": "train accuracy",
           "test_acc": "test accuracy"}
GROUP = ["experiment", "dataset", "depth", "basis", "optimizer", "tuning"]
SETTING = ["experiment", "dataset", "depth", "basis"]
KNOWN_OPTIMIZERS = ["sgd", "momentum", "adam", "adam-layerwise", "agd", "agd-momentum", "agd-layerwise"]
TUNINGS = ["default", "tuned"]
LEVEL = 0.95
ACCURACY = metric_range("accuracy")
NONNEGATIVE = metric_range("square")  # losses, steps and seconds
DIFFERENCE = (-1.0, 1.0)  # of two accuracies


def bounds_of(metric: str) -> tuple[float, float]:
    """The range of a stored metric: accuracies in [0, 1], losses >= 0."""
    return ACCURACY if metric.endswith("acc") else NONNEGATIVE


@themed("whitegrid")
def write(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Write the report of the stored ``optimizers`` trials in ``df`` (from ``studies.store.load``)."""

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if df.empty:
        raise ValueError("no stored trials of study 'optimizers' to report")
    run, left_out_note = latest_config(df)
    if "tuning" not in run.columns:
        raise ValueError("the stored optimizers trials predate equal tuning (no 'tuning' coordinate); "
                         "run the study again")
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
    paths += write_table(final, out_dir, "final_epoch", "Trial results: mean [95 % CI] over seeds")
    values_path = out_dir / "final_epoch_values.csv"
    final_values(run).to_csv(values_path, index=False)
    paths.append(values_path)

    tuning = tuning_table(run)
    paths += write_table(tuning, out_dir, "tuning", "Equal tuning budgets: the values chosen on the hold-out")
    sensitivity = lr_sensitivity(run)
    sensitivity_path = out_dir / "lr_sensitivity.csv"
    sensitivity.to_csv(sensitivity_path, index=False)
    paths.append(sensitivity_path)
    if not sensitivity.empty:
        paths += save(sensitivity_figure(sensitivity), out_dir, "lr_sensitivity")
        figures["lr_sensitivity"] = "lr_sensitivity.png"
    targets = time_to_target_table(run)
    paths += write_table(_format_targets(targets), out_dir, "time_to_target", "Time to the target test accuracy")
    targets.to_csv(out_dir / "time_to_target.csv", index=False)  # the csv holds the numbers unformatted
    if targets["reached"].sum() > 0:
        paths += save(time_to_target_figure(targets), out_dir, "time_to_target")
        figures["time_to_target"] = "time_to_target.png"
    rankings = ranking_table(run)
    paths += write_table(_format_rankings(rankings), out_dir, "rankings",
                         "Paired differences in test accuracy, at the defaults and after equal tuning")
    rankings.to_csv(out_dir / "rankings.csv", index=False)  # the csv holds the numbers unformatted

    gaps = symmetry_gaps(run)
    gap_table = None
    if not gaps.empty:
        gap_table = gap_summary(gaps)
        paths += write_table(gap_table, out_dir, "cost_of_symmetry",
                             "Cost of symmetry: rotated − original, paired by seed")
        paths += save(gap_figure(gaps), out_dir, "cost_of_symmetry")
        figures["cost_of_symmetry"] = "cost_of_symmetry.png"
    summary = out_dir / "summary.md"
    summary.write_text(summary_markdown(run, left_out_note, final, tuning, targets, rankings, gap_table, figures))
    paths.append(summary)
    return paths


# ---------------------------------------------------------------- selection
def _ordered(values, known: list[str]) -> list:
    """``values`` in the order of ``known`` (by name before any '('), then the rest sorted."""
    def key(value):
        base = str(value).split("(")[0].strip()
        return (known.index(base) if base in known else len(known), str(value))

    return sorted(set(values), key=key)


def _finite(value) -> float:
    return float(value) if value is not None and math.isfinite(float(value)) else np.nan


def label(optimizer: str, tuning: str) -> str:
    """The name a figure or a ranking shows: ``adam`` (the default) or ``adam (tuned)``."""
    return optimizer if tuning == "default" else f"{optimizer} (tuned)"


def _ci(values, bounds, digits: int = 3) -> str:
    values = np.asarray(values, dtype=np.float64)
    return format_ci(*mean_ci(values, LEVEL, bounds), digits=digits) if np.isfinite(values).any() else "n/a"


# ---------------------------------------------------------------- curves
def curves_frame(run: pd.DataFrame) -> pd.DataFrame:
    """Long form: one row per (trial, epoch, metric) with the value (non-finite values as NaN)."""
    rows = []
    for coords, metrics in zip(run["coords"], run["metrics"]):
        history = (metrics or {}).get("history") or {}
        name = label(coords["optimizer"], coords["tuning"])
        for metric in METRICS:
            for epoch, value in zip(history.get("epoch", []), history.get(metric, [])):
                rows.append({**{k: coords[k] for k in GROUP}, "label": name, "rep": coords["rep"], "epoch": epoch,
                             "metric": metric, "value": _finite(value)})
    return pd.DataFrame(rows, columns=[*GROUP, "label", "rep", "epoch", "metric", "value"])


def _band_for(metric: str):
    def band(values) -> tuple[float, float]:
        _, low, high = mean_ci(values, LEVEL, bounds_of(metric))
        return low, high

    return band


def curves_figure(part: pd.DataFrame, experiment: str):
    import seaborn as sns

    depths = sorted(part["depth"].unique()) if experiment == "deep" else [None]
    hue_order = _ordered(part["label"].unique(), KNOWN_OPTIMIZERS)
    rotation = part["basis"].nunique() > 1
    fig, axes = plt.subplots(len(depths), len(METRICS), figsize=(4.2 * len(METRICS), 3.4 * len(depths)),
                             squeeze=False)
    for r, depth in enumerate(depths):
        rows = part if depth is None else part[part["depth"] == depth]
        for c, (metric, name) in enumerate(METRICS.items()):
            ax = axes[r][c]
            data = rows[rows["metric"] == metric].dropna(subset=["value"])
            sns.lineplot(data=data, x="epoch", y="value", hue="label", hue_order=hue_order,
                         style="basis" if rotation else None, style_order=["original", "rotated"] if rotation else None,
                         errorbar=_band_for(metric), ax=ax, legend=(r == 0 and c == len(METRICS) - 1))
            ax.set_ylabel(name)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if metric.endswith("loss") and (data["value"] > 0).all() and not data.empty:
                ax.set_yscale("log")
            ax.set_title(name if depth is None else f"depth {depth}: {name}")
    legend_ax = axes[0][-1]
    if legend_ax.get_legend() is not None:
        sns.move_legend(legend_ax, "upper left", bbox_to_anchor=(1.02, 1))
    datasets = ", ".join(sorted(part["dataset"].unique()))
    seeds = part.groupby([*GROUP])["rep"].nunique().max()
    fig.suptitle(f"{EXPERIMENT_TITLES.get(experiment, experiment)} on {datasets}: mean and 95 % CI over "
                 f"{seeds} seeds (tuned: the chosen candidate's whole run)", y=1.02)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- trial results
def _final(run: pd.DataFrame, metric: str) -> pd.Series:
    return run["metrics"].map(lambda m: _finite((m or {}).get(f"final_{metric}")))


def final_values(run: pd.DataFrame) -> pd.DataFrame:
    """Unformatted: keys, metric, mean, ci_low, ci_high, trials (over trials that finished)."""
    rows = []
    ok = run[run["status"] == "ok"]
    for keys, part in ok.groupby(GROUP, sort=False):
        for metric in METRICS:
            mean, low, high = mean_ci(_final(part, metric).to_numpy(), LEVEL, bounds_of(metric))
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
    by = ["_e", "dataset", "depth", "_o"] + [c for c in ("tuning", "basis", "rep") if c in frame.columns]
    return order.sort_values(by, kind="stable").drop(columns=["_e", "_o"]).reset_index(drop=True)


def final_table(run: pd.DataFrame) -> pd.DataFrame:
    """Formatted table of the trials' results: counts and mean [95 % CI] per metric over finished trials."""
    rows = []
    for keys, part in run.groupby(GROUP, sort=False):
        ok = part[part["status"] == "ok"]
        diverged = part[part["status"] == "diverged"]
        steps = sorted(int(m["diverged_at_step"]) for m in diverged["metrics"] if m.get("diverged_at_step") is not None)
        row = {**dict(zip(GROUP, keys)), "trials": len(part), "diverged": len(diverged),
               "failed": int((part["status"] == "failed").sum()),
               "diverged at step": ", ".join(map(str, steps)) or "-"}
        for metric, name in METRICS.items():
            row[name] = _ci(_final(ok, metric).to_numpy(), bounds_of(metric)) if len(ok) else "n/a"
        rows.append(row)
    return _sort(pd.DataFrame(rows))


# ---------------------------------------------------------------- tuning
def _value_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(f"{v:g}" for v in value) + ")"
    return f"{value:g}"


def tuning_table(run: pd.DataFrame) -> pd.DataFrame:
    """One row per tuned (experiment, dataset, depth, basis, optimizer): grid size, choices, edge share."""
    columns = ["experiment", "optimizer", "grid_size", "chosen", "at_edge_share", "dataset", "depth", "basis",
               "parameter", "trials", "no_choice", "choices", "grid"]
    tuned = run[run["tuning"] == "tuned"]
    rows = []
    for keys, part in tuned.groupby(["experiment", "dataset", "depth", "basis", "optimizer"], sort=False):
        part = part.sort_values("rep")
        records = [(m or {}).get("tuning") or {} for m in part["metrics"]]
        grid = records[0].get("grid", [])
        choices = [r.get("chosen") for r in records]
        made = [c for c in choices if c is not None]
        counts = Counter(_value_text(c) for c in made)
        top = max(counts.values()) if counts else 0
        most = min((c for c in made if counts[_value_text(c)] == top), key=lambda c: tuple(np.atleast_1d(c)),
                   default=None)
        edges = [bool(r.get("at_edge")) for r in records if r.get("chosen") is not None]
        experiment, dataset, depth, basis, optimizer = keys
        rows.append({"experiment": experiment, "optimizer": optimizer, "grid_size": len(grid),
                     "chosen": "n/a" if most is None else _value_text(most),
                     "at_edge_share": float(np.mean(edges)) if edges else np.nan,
                     "dataset": dataset, "depth": depth, "basis": basis,
                     "parameter": records[0].get("parameter", ""), "trials": len(part),
                     "no_choice": len(choices) - len(made),
                     "choices": ", ".join("none" if c is None else _value_text(c) for c in choices),
                     "grid": ", ".join(_value_text(v) for v in grid)})
    return _sort(pd.DataFrame(rows, columns=columns)) if rows else pd.DataFrame(columns=columns)


def lr_sensitivity(run: pd.DataFrame) -> pd.DataFrame:
    """Last-epoch test accuracy of every candidate, mean [95 % CI] over the seeds that finished.

    ``lr`` is the tuned value (AGD: the gain); for adam-layerwise, the rate of the non-input
    layers, with one ``optimizer`` row family per input-layer rate. ``relative``: ``lr`` over
    the grid's centre (the default)."""
    columns = ["experiment", "optimizer", "lr", "mean", "ci_low", "ci_high", "seeds", "dataset", "depth",
               "basis", "parameter", "relative", "diverged"]
    samples: dict[tuple, list[float]] = {}
    diverged: Counter = Counter()
    for coords, metrics in zip(run["coords"], run["metrics"]):
        if coords["tuning"] != "tuned" or not (metrics or {}).get("tuning", {}).get("candidates"):
            continue
        tuning = metrics["tuning"]
        for candidate in tuning["candidates"]:
            value = candidate["value"]
            name, lr = coords["optimizer"], value
            if isinstance(value, list):
                name, lr = f"{coords['optimizer']} (input lr={value[0]:g})", value[1]
            key = (coords["experiment"], name, float(lr), coords["dataset"], coords["depth"], coords["basis"],
                   tuning["parameter"], float(lr) / tuning["centre"])
            samples.setdefault(key, []).append(_finite(candidate["final_test_acc"]))
            diverged[key] += candidate["status"] == "diverged"
    rows = []
    for key, values in samples.items():
        experiment, name, lr, dataset, depth, basis, parameter, relative = key
        mean, low, high = mean_ci(values, LEVEL, ACCURACY)
        rows.append({"experiment": experiment, "optimizer": name, "lr": lr, "mean": mean, "ci_low": low,
                     "ci_high": high, "seeds": int(np.isfinite(values).sum()), "dataset": dataset, "depth": depth,
                     "basis": basis, "parameter": parameter, "relative": relative, "diverged": diverged[key]})
    frame = pd.DataFrame(rows, columns=columns)
    return _sort(frame).sort_values(["experiment", "depth", "basis", "optimizer", "lr"], kind="stable",
                                    key=lambda col: col.map(list(EXPERIMENT_TITLES).index)
                                    if col.name == "experiment" else col).reset_index(drop=True) \
        if not frame.empty else frame


def _panels(frame: pd.DataFrame) -> list[tuple]:
    keys = frame[["experiment", "dataset", "depth"]].drop_duplicates()
    order = list(EXPERIMENT_TITLES)
    return sorted(map(tuple, keys.to_numpy()), key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[2]))


def sensitivity_figure(frame: pd.DataFrame):
    panels = _panels(frame)
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7.2 * columns, 3.8 * rows), squeeze=False)
    names = _ordered(frame["optimizer"].unique(), KNOWN_OPTIMIZERS)
    colours = {name: f"C{i % 10}" for i, name in enumerate(names)}
    for ax, (experiment, dataset, depth) in zip(axes.flat, panels):
        part = frame[(frame["experiment"] == experiment) & (frame["dataset"] == dataset) & (frame["depth"] == depth)]
        for (name, basis), curve in part.groupby(["optimizer", "basis"], sort=False):
            curve = curve.sort_values("relative")
            style = "--" if basis == "rotated" else "-"
            shown = f"{name}{' (rotated)' if basis == 'rotated' else ''}"
            ax.plot(curve["relative"], curve["mean"], style, marker="o", ms=3, color=colours[name], label=shown)
            ax.fill_between(curve["relative"], curve["ci_low"], curve["ci_high"], color=colours[name], alpha=0.15)
        ax.axvline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.set_xlabel("lr / default lr (AGD: gain)")
        ax.set_ylabel("last-epoch test accuracy")
        ax.set_title(f"{experiment} on {dataset}, depth {depth}")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("Learning-rate sensitivity: mean and 95 % CI over seeds (dotted line: the default)", y=1.01)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- time to target
def time_to_target(history: dict, target: float, member_seconds: float, run_steps: int) -> tuple:
    """(steps, seconds) at the end of the first epoch whose test accuracy reaches ``target``;
    (None, None) if none does. Seconds: the member's share of its batched run, ``member_seconds``
    over ``run_steps`` steps, charged per step."""
    for step, accuracy in zip(history.get("step", []), history.get("test_acc", [])):
        if accuracy is not None and math.isfinite(accuracy) and accuracy >= target:
            return int(step), float(member_seconds) * step / run_steps
    return None, None


def member_seconds(run: pd.DataFrame) -> pd.DataFrame:
    """Each trial's share of its batched run: ``member_seconds`` (T/K) and ``run_steps`` (S).

    A batch of the runner (its rows share one ``created_at`` and one batch key) trained K
    members -- the whole grid for each rep with a tuned trial, the centre for a rep with only
    its default trial -- in T seconds (the sum of its rows' ``duration_s``: the batch's
    training, evaluations and data loading). S: the most steps any of its trials took."""
    key = run["coords"].map(lambda c: tuple((k, v) for k, v in sorted(c.items()) if k not in ("rep", "tuning")))
    out = pd.DataFrame(index=run.index, columns=["member_seconds", "run_steps"], dtype=float)
    for _, batch in run.groupby([run["created_at"], key], sort=False):
        experiment = batch["coords"].iloc[0]["experiment"]
        points = int(batch["config"].iloc[0].get(f"{experiment}_grid_points", 1))
        tuned_reps = {c["rep"] for c in batch["coords"] if c["tuning"] == "tuned"}
        reps = {c["rep"] for c in batch["coords"]}
        members = len(tuned_reps) * points + len(reps - tuned_reps)
        steps = max(int((m or {}).get("steps") or 0) for m in batch["metrics"])
        out.loc[batch.index, "member_seconds"] = float(batch["duration_s"].sum()) / max(members, 1)
        out.loc[batch.index, "run_steps"] = max(steps, 1)
    return out


def time_to_target_table(run: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, optimizer, tuning): target, seeds, reached, never share, steps and seconds [CI]."""
    columns = [*GROUP, "target", "seeds", "reached", "never_share", "steps_mean", "steps_ci_low", "steps_ci_high",
               "seconds_mean", "seconds_ci_low", "seconds_ci_high"]
    costs = member_seconds(run)
    rows = []
    for keys, part in run.groupby(GROUP, sort=False):
        experiment = keys[0]
        target = float(part["config"].iloc[0][f"{experiment}_target"])
        steps, seconds = [], []
        for index, metrics in zip(part.index, part["metrics"]):
            history = (metrics or {}).get("history") or {}
            result = time_to_target(history, target, costs.at[index, "member_seconds"], costs.at[index, "run_steps"])
            if result[0] is not None:
                steps.append(result[0])
                seconds.append(result[1])
        reached = len(steps)
        step_stats = mean_ci(steps, LEVEL, NONNEGATIVE)
        second_stats = mean_ci(seconds, LEVEL, NONNEGATIVE)
        rows.append({**dict(zip(GROUP, keys)), "target": target, "seeds": len(part), "reached": reached,
                     "never_share": 1 - reached / len(part), "steps_mean": step_stats[0],
                     "steps_ci_low": step_stats[1], "steps_ci_high": step_stats[2], "seconds_mean": second_stats[0],
                     "seconds_ci_low": second_stats[1], "seconds_ci_high": second_stats[2]})
    return _sort(pd.DataFrame(rows, columns=columns))


def _format_targets(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame[[*GROUP, "target", "seeds", "reached"]].copy()
    shown["never reached"] = [f"{v:.0%}" for v in frame["never_share"]]
    shown["steps"] = [format_ci(m, lo, hi, digits=0) if r else "-" for m, lo, hi, r in
                      zip(frame["steps_mean"], frame["steps_ci_low"], frame["steps_ci_high"], frame["reached"])]
    shown["seconds"] = [format_ci(m, lo, hi, digits=2) if r else "-" for m, lo, hi, r in
                        zip(frame["seconds_mean"], frame["seconds_ci_low"], frame["seconds_ci_high"], frame["reached"])]
    return shown


def time_to_target_figure(frame: pd.DataFrame):
    panels = [p for p in _panels(frame) if True]
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.6 * columns, 3.6 * rows), squeeze=False)
    for ax, (experiment, dataset, depth) in zip(axes.flat, panels):
        part = frame[(frame["experiment"] == experiment) & (frame["dataset"] == dataset) & (frame["depth"] == depth)]
        names = [f"{label(o, t)}{' / rotated' if b == 'rotated' else ''}"
                 for o, t, b in zip(part["optimizer"], part["tuning"], part["basis"])]
        y = np.arange(len(part))
        reached = part["reached"].to_numpy() > 0
        ax.errorbar(part["steps_mean"][reached], y[reached],
                    xerr=np.vstack([(part["steps_mean"] - part["steps_ci_low"])[reached],
                                    (part["steps_ci_high"] - part["steps_mean"])[reached]]),
                    fmt="o", ms=4, capsize=3, color="C0")
        for yi, share in zip(y, part["never_share"]):
            if share > 0:
                ax.annotate(f"never: {share:.0%}", (1.0, yi), xycoords=("axes fraction", "data"), ha="right",
                            va="center", fontsize=6, color="C3")
        ax.set_yticks(y, names, fontsize=6)
        ax.set_xlabel("steps to target (mean, 95 % CI over seeds that reach it)")
        ax.set_title(f"{experiment} on {dataset}, depth {depth}: test acc ≥ {part['target'].iloc[0]:g}")
        ax.invert_yaxis()
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- rankings
def _accuracies(run: pd.DataFrame) -> pd.DataFrame:
    """Wide: one row per (setting, tuning, rep), one column per optimizer, the trial's test accuracy
    (NaN for a trial that did not finish)."""
    frame = pd.DataFrame({**{k: run[k] for k in [*SETTING, "tuning", "optimizer", "rep"]},
                          "test_acc": _final(run, "test_acc").where(run["status"] == "ok")})
    return frame.pivot_table(index=[*SETTING, "tuning", "rep"], columns="optimizer", values="test_acc",
                             aggfunc="first", dropna=False)


def _verdict(low: float, high: float) -> int:
    if not (np.isfinite(low) and np.isfinite(high)):
        return 0
    return 1 if low > 0 else -1 if high < 0 else 0


def ranking_table(run: pd.DataFrame) -> pd.DataFrame:
    """Every pair of optimizers of a setting: paired difference (first − second) in test accuracy at
    the defaults and after equal tuning, mean [95 % CI] over seeds where both finished, and what
    tuning does to the ordering (``survives``, ``reversed``, ``lost``, ``appears``, ``tie`` or
    ``tuned only`` for a pair without defaults, e.g. adam-layerwise)."""
    columns = [*SETTING, "first", "second", "default_mean", "default_ci_low", "default_ci_high", "default_pairs",
               "tuned_mean", "tuned_ci_low", "tuned_ci_high", "tuned_pairs", "effect_of_tuning"]
    wide = _accuracies(run)
    rows = []
    for setting, part in wide.groupby(level=list(range(len(SETTING))), sort=False):
        present = [o for o in part.columns if part[o].notna().any()]
        optimizers = _ordered(present, KNOWN_OPTIMIZERS)
        for i, first in enumerate(optimizers):
            for second in optimizers[i + 1:]:
                row = dict(zip(SETTING, setting), first=first, second=second)
                verdicts = {}
                for tuning in TUNINGS:
                    try:
                        sub = part.xs(tuning, level="tuning")
                    except KeyError:
                        sub = part.iloc[0:0]
                    diff = (sub[first] - sub[second]).dropna().to_numpy(dtype=np.float64)
                    mean, low, high = mean_ci(diff, LEVEL, DIFFERENCE)
                    row.update({f"{tuning}_mean": mean, f"{tuning}_ci_low": low, f"{tuning}_ci_high": high,
                                f"{tuning}_pairs": len(diff)})
                    verdicts[tuning] = _verdict(low, high) if len(diff) > 1 else None
                row["effect_of_tuning"] = _effect(verdicts["default"], verdicts["tuned"])
                rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _effect(default, tuned) -> str:
    if tuned is None:
        return "no tuned pairs"
    if default is None:
        return "tuned only"
    if default == 0 and tuned == 0:
        return "tie"
    if default == tuned:
        return "survives"
    if default == 0:
        return "appears"
    return "lost" if tuned == 0 else "reversed"


def _format_rankings(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame[[*SETTING, "first", "second"]].copy()
    for tuning in TUNINGS:
        shown[f"{tuning}: first − second"] = [
            format_ci(m, lo, hi, digits=4) if n else "-" for m, lo, hi, n in
            zip(frame[f"{tuning}_mean"], frame[f"{tuning}_ci_low"], frame[f"{tuning}_ci_high"], frame[f"{tuning}_pairs"])]
        shown[f"{tuning} pairs"] = frame[f"{tuning}_pairs"]
    shown["effect of tuning"] = frame["effect_of_tuning"]
    return shown


def _order_text(part: pd.DataFrame, tuning: str) -> str:
    """``a 0.97 > b 0.95 ≈ c 0.95``: by mean test accuracy; '>' where the paired interval of the
    neighbours excludes 0, '≈' where it does not."""
    rows = part[part["tuning"] == tuning]
    entries = []
    for optimizer, trials in rows.groupby("optimizer"):
        ok = trials[trials["status"] == "ok"]
        mean = _final(ok, "test_acc").mean() if len(ok) else np.nan
        entries.append((mean, optimizer, int((trials["status"] != "ok").sum()), len(trials)))
    entries.sort(key=lambda e: -e[0] if np.isfinite(e[0]) else np.inf)
    if not entries:
        return ""
    wide = _accuracies(rows)
    text = ""
    for i, (mean, optimizer, bad, n) in enumerate(entries):
        if i:
            previous = entries[i - 1][1]
            diff = (wide[previous] - wide[optimizer]).dropna().to_numpy(dtype=np.float64) \
                if previous in wide and optimizer in wide else np.array([])
            _, low, high = mean_ci(diff, LEVEL, DIFFERENCE)
            text += " > " if len(diff) > 1 and _verdict(low, high) == 1 else " ≈ "
        shown = f"{optimizer} {mean:.3f}" if np.isfinite(mean) else f"{optimizer} n/a"
        text += shown + (f" ({bad}/{n} not finished)" if bad else "")
    return text


def _rankings(part: pd.DataFrame) -> list[str]:
    """Per (dataset, depth, basis): the default and the tuned orderings by mean test accuracy."""
    lines = []
    for (dataset, depth, basis), rows in part.groupby(["dataset", "depth", "basis"], sort=True):
        for tuning in TUNINGS:
            text = _order_text(rows, tuning)
            if text:
                lines.append(f"* {dataset}, depth {depth}, {basis} pixels, {tuning}: {text}")
    return lines + [""]


def surviving_statements(rankings: pd.DataFrame) -> list[str]:
    """One line per setting: the orderings that survive equal tuning, those tuning reverses,
    removes or creates (pairs whose paired 95 % interval excludes 0)."""
    lines = []
    order = list(EXPERIMENT_TITLES)
    groups = sorted(rankings.groupby(SETTING, sort=False), key=lambda item: (
        order.index(item[0][0]) if item[0][0] in order else len(order), *map(str, item[0][1:])))
    for setting, part in groups:
        experiment, dataset, depth, basis = setting

        def pairs(effect, tuning):
            chosen = part[part["effect_of_tuning"] == effect]
            out = []
            for _, r in chosen.iterrows():
                better, worse = (r["first"], r["second"]) if r[f"{tuning}_mean"] > 0 else (r["second"], r["first"])
                out.append(f"{better} > {worse} ({abs(r[f'{tuning}_mean']):.3f})")
            return out

        parts = []
        for effect, tuning, words in (("survives", "tuned", "survive"), ("reversed", "tuned", "reversed by tuning"),
                                      ("lost", "default", "not resolved after tuning"),
                                      ("appears", "tuned", "resolved only after tuning")):
            found = pairs(effect, tuning)
            if found:
                parts.append(f"{words}: " + ", ".join(found))
        ties = int((part["effect_of_tuning"] == "tie").sum())
        if ties:
            parts.append(f"{ties} pair(s) not resolved either way")
        where = f"{experiment} ({dataset}, depth {depth}{', rotated' if basis == 'rotated' else ''})"
        lines.append(f"* {where} — " + ("; ".join(parts) if parts else "no pairs"))
    return lines


def layerwise_statement(rankings: pd.DataFrame, experiment: str = "square_loss") -> list[str]:
    """The seed's layer-wise AGD claim, from the measured paired differences agd-layerwise − agd."""
    lines = []
    part = rankings[(rankings["experiment"] == experiment)]
    for _, r in part.iterrows():
        if {r["first"], r["second"]} != {"agd", "agd-layerwise"}:
            continue
        sign = 1 if r["first"] == "agd-layerwise" else -1
        for tuning in TUNINGS:
            if not r[f"{tuning}_pairs"]:
                continue
            mean, low, high = (sign * r[f"{tuning}_mean"], *sorted((sign * r[f"{tuning}_ci_low"],
                                                                    sign * r[f"{tuning}_ci_high"])))
            verdict = _verdict(low, high)
            reading = ("layer-wise AGD is better" if verdict > 0 else "layer-wise AGD is worse" if verdict < 0
                       else "no difference beyond noise")
            lines.append(f"* {r['dataset']}, depth {r['depth']}, {tuning}: test accuracy agd-layerwise − agd = "
                         f"{format_ci(mean, low, high, digits=4)} over {r[f'{tuning}_pairs']} paired seeds: "
                         f"{reading}.")
    return lines


# ---------------------------------------------------------------- cost of symmetry
def symmetry_gaps(run: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, depth, optimizer, tuning, rep) with both bases finished: accuracies and gaps."""
    rotation = run[(run["experiment"] == "rotation") & (run["status"] == "ok")]
    keys = ["dataset", "depth", "optimizer", "tuning", "rep"]
    columns = [*keys, "original_test_acc", "rotated_test_acc", "gap_test_acc", "gap_train_acc"]
    if rotation.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({**{k: rotation["coords"].map(lambda c, k=k: c[k]) for k in [*keys, "basis"]},
                          "test_acc": _final(rotation, "test_acc").to_numpy(),
                          "train_acc": _final(rotation, "train_acc").to_numpy()})
    wide = frame.pivot_table(index=keys, columns="basis", values=["test_acc", "train_acc"], aggfunc="first")
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
    groups = sorted(gaps.groupby(["dataset", "depth", "optimizer", "tuning"]),
                    key=lambda item: (item[0][0], item[0][1], TUNINGS.index(item[0][3]), optimizers.index(item[0][2])))
    for (dataset, depth, optimizer, tuning), part in groups:
        test_gap = part["gap_test_acc"].to_numpy(dtype=np.float64)
        mean, low, high = mean_ci(test_gap, LEVEL, DIFFERENCE)
        rows.append({
            "dataset": dataset, "depth": depth, "optimizer": optimizer, "tuning": tuning, "pairs": len(part),
            "original test acc": _ci(part["original_test_acc"], ACCURACY),
            "rotated test acc": _ci(part["rotated_test_acc"], ACCURACY),
            "gap test acc": format_ci(mean, low, high, digits=4),
            "max abs gap test acc": f"{np.max(np.abs(test_gap)):.4f}",
            "gap train acc": _ci(part["gap_train_acc"], DIFFERENCE, digits=4),
            "reading": _reading(low, high, test_gap),
        })
    return pd.DataFrame(rows)


def gap_figure(gaps: pd.DataFrame):
    import seaborn as sns

    order = _ordered(gaps["optimizer"].unique(), KNOWN_OPTIMIZERS)
    fig, ax = plt.subplots(figsize=(1.3 * len(order) + 2.5, 3.6))
    ax.axhline(0.0, color="0.4", lw=1, ls="--")

    def band(values):
        return mean_ci(values, LEVEL, DIFFERENCE)[1:]

    sns.stripplot(data=gaps, x="optimizer", y="gap_test_acc", order=order, hue="tuning", hue_order=TUNINGS,
                  dodge=True, palette=["0.6", "0.3"], size=3, jitter=0.12, ax=ax, legend=False)
    sns.pointplot(data=gaps, x="optimizer", y="gap_test_acc", order=order, hue="tuning", hue_order=TUNINGS,
                  dodge=0.4, errorbar=band, linestyle="none", capsize=0.15, palette=["C3", "C0"], markers="D", ax=ax)
    ax.set_ylabel("test accuracy: rotated − original")
    ax.set_xlabel("")
    ax.set_title("Cost of symmetry: paired gap per seed and mean with 95 % CI (tuned: each basis tuned alone)")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return fig


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


def _coupling_note(run: pd.DataFrame) -> str:
    rotations = [m["rotation"] for m in run["metrics"] if (m or {}).get("rotation")]
    per_seed = any(r.get("per_seed") for r in rotations)
    seeds = len({r["seed"] for r in rotations})
    return ("Each pair is coupled: the rotated run starts from the original run's initialisation with its first "
            "layer transported (W1 -> W1 Mᵀ; the orthogonal initialisation is rotation invariant in law, so this "
            "is a fair draw) and sees the same minibatches and hold-out split. A rotation-equivariant optimizer "
            "then gives the same network up to rounding; any gap is what the optimizer's lack of rotation symmetry "
            "costs or buys. Default rows compare the same hyperparameters; tuned rows let each basis choose its own "
            f"(a gap there is the cost after tuning). Haar rotations used: {seeds} "
            f"({'one per seed' if per_seed else 'one shared by the seeds'}).")


def _tuning_note(run: pd.DataFrame, tuning: pd.DataFrame) -> list[str]:
    config = run["config"].iloc[0]
    experiments = _ordered(run["experiment"].unique(), list(EXPERIMENT_TITLES))
    edge = tuning["at_edge_share"].to_numpy(dtype=np.float64)
    lines = [
        "Every optimizer of an experiment gets the same budget (grid points, spacing in decades): "
        + ", ".join(f"{e} {config.get(f'{e}_grid_points')} × {config.get(f'{e}_grid_step')}" for e in experiments)
        + "; values around the spec's own lr (AGD: gain), adam-layerwise on a square grid of (input-layer lr, "
        f"other layers' lr) spaced by {config.get('layerwise_step')} decades around (c, c), c the lr its "
        "experiment's Adam chose (lower median over the seeds; same data, depth and basis). Each candidate trains over the full "
        f"horizon on the training rows outside a {config.get('holdout'):.0%} hold-out split (seeded per seed, the "
        "same for every candidate); each seed keeps the candidate and epoch with the best hold-out accuracy "
        "(early stopping) and reports its test metrics. Default rows are the grid's centre (the spec as written) "
        "at its last epoch, trained on the same rows.",
        "",
        f"Choices on the grid's edge: {np.nansum(edge * tuning['trials']) / max(tuning['trials'].sum(), 1):.1%} "
        f"of all tuned trials; per optimizer up to {np.nanmax(edge) if len(edge) else float('nan'):.0%} "
        "(column at_edge_share). `chosen` is the value chosen most often; `choices` lists every seed's.",
    ]
    return lines


def summary_markdown(run, left_out_note, final, tuning, targets, rankings, gap_table, figures) -> str:
    counts = run["status"].value_counts().to_dict()
    config = run["config"].iloc[0]
    lines = [
        "# Study `optimizers`: report",
        "",
        f"Configuration `{run['config_hash'].iloc[0]}`: {len(run)} trials "
        f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}); {_timing(run)}; "
        f"{run['rep'].nunique()} seeds.",
    ]
    if left_out_note:
        lines.append(left_out_note)
    devices = sorted({str(c.get("device")) for c in run["config"]})
    lines += ["", f"Device: {', '.join(devices)}. Tables: mean [95 % Student-t CI] over seeds, cut to the "
              "metric's range (accuracy in [0, 1], losses and times ≥ 0, differences of accuracies in [-1, 1]; "
              "docs/statistics.md measures its coverage); means over trials that finished (diverged ones are "
              "counted, not averaged). In orderings, '>' marks neighbours whose paired 95 % interval "
              "(same seeds) excludes 0, '≈' those whose does not.", "", "## Data", ""]
    lines += [f"* {note}" for note in _data_notes(run)] or ["* (no notes)"]
    failed = run[run["status"] == "failed"]
    if not failed.empty:
        lines += ["", "## Failed trials", ""]
        for error, part in failed.groupby("error"):
            lines.append(f"* {len(part)} × {error}")
    lines += ["", "## Findings (computed from the measured numbers)", "",
              "Orderings that survive equal tuning (paired difference in test accuracy, first − second, "
              "resolved at the defaults and after tuning; see rankings.md):", ""]
    lines += surviving_statements(rankings)
    layerwise = layerwise_statement(rankings)
    if layerwise:
        lines += ["", "The seed's layer-wise AGD (layer k's step divided by k) on the square-loss experiment "
                  f"({config.get('square_loss_epochs')} epochs, "
                  f"{_rows_note(run, 'square_loss')}):", ""] + layerwise
    lines += ["", "## Equal tuning budgets", ""] + _tuning_note(run, tuning) + ["", to_markdown(tuning.drop(
        columns=["grid"]))]
    if "lr_sensitivity" in figures:
        lines += ["", "## Learning-rate sensitivity", "",
                  "Last-epoch test accuracy of every candidate (lr_sensitivity.csv); x: the candidate's value "
                  "over the default's (AGD: the gain over 1).", "", f"![lr sensitivity]({figures['lr_sensitivity']})"]
    lines += ["", "## Time to target", "",
              "Steps and wall-clock seconds until the test accuracy (measured at the end of each epoch) first "
              "reaches the experiment's target: "
              + ", ".join(f"{e} {config.get(f'{e}_target')}" for e in
                          _ordered(run["experiment"].unique(), list(EXPERIMENT_TITLES)))
              + ". Mean [95 % CI] over the seeds that reach it; 'never reached' is the share that does not. "
              "Seconds: a member of a batched run of K members that took T seconds (the runner's batch: "
              "training, evaluations, data loading) is charged T/K, spread evenly over the run's steps; they "
              "depend on the machine's load and on the optimizer's cost per step, steps do not. The tuned rows exclude the search (grid points × that time).", ""]
    if "time_to_target" in figures:
        lines += [f"![time to target]({figures['time_to_target']})", ""]
    lines += [to_markdown(_format_targets(targets))]
    for experiment in _ordered(run["experiment"].unique(), list(EXPERIMENT_TITLES)):
        lines += ["", f"## {EXPERIMENT_TITLES.get(experiment, experiment)}", ""]
        if experiment in figures:
            lines += [f"![{experiment}]({figures[experiment]})", ""]
        part = final[final["experiment"] == experiment].drop(columns=["experiment"])
        lines += _rankings(run[run["experiment"] == experiment]) + [to_markdown(part)]
    if gap_table is not None:
        lines += ["", "## Cost of symmetry (rotated − original, paired by seed)", "", _coupling_note(run), "",
                  f"![cost of symmetry]({figures['cost_of_symmetry']})", "", to_markdown(gap_table)]
    return "\n".join(lines) + "\n"


def _rows_note(run: pd.DataFrame, experiment: str) -> str:
    part = run[run["experiment"] == experiment]
    for metrics in part["metrics"]:
        provenance = ((metrics or {}).get("data") or {}).get("provenance") or {}
        if provenance:
            holdout = (metrics or {}).get("data", {}).get("holdout", 0)
            return (f"{provenance.get('n_train')} training images ({1 - holdout:.0%} trained on, {holdout:.0%} "
                    f"held out), {provenance.get('n_test')} test images, width "
                    f"{(metrics.get('network') or {}).get('width')}, depth {(metrics.get('network') or {}).get('depth')}")
    return "no trials"
