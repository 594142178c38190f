"""Report of the ``atlas`` study: the symmetries of every optimizer we can reach.

Outputs (in ``out_dir``):

* ``table.csv/.md/.tex`` — one row per optimizer: its source (torch.optim,
  pytorch-optimizer, symbench), the form of its update (from
  ``reports/atlas_notes.toml``), the lr it was checked at and why, and per
  group the verdict, the coupled / initialisation / distributional verdicts
  where the checker reports them, the coupled gap, the share of changed test
  labels with its 95 % Wilson interval over the test points (worst element),
  and the distributional p-value. The Markdown table puts one group in one cell;
  the CSV has every number in its own column;
* ``heatmap.png/.pdf`` — optimizers × groups coloured by verdict;
* ``not_runnable.md`` — the optimizers that cannot run on the checker's task,
  each with its one-line reason (never dropped);
* ``anomalies.md`` — every (optimizer, group) whose measured verdict differs
  from what the form of its update suggests, with the curated note (a line
  quoted from the optimizer's source, at file:line, and why) where there is
  one, and the anomalies without a note, so that nothing is hidden;
* ``summary.md`` — settings, the lr rule, counts, verdict tallies per group,
  the heatmap, anomalies, non-runnable optimizers and failed trials (with
  their tracebacks).

**Forms** (what the update's form suggests under the four groups):

* ``linear`` — a linear combination of past gradients (and weights) with
  scalar coefficients (SGD, momentum): equivariant under every orthogonal map;
* ``norm`` — gradients scaled by norms or inner products of whole tensors or
  rows (LARS, AGD, Fromage): rotation-invariant scalars, equivariant too;
* ``matrix`` — matrix functions of the gradient that commute with rotations
  (Muon's polar factor, Shampoo's two-sided preconditioners): equivariant;
* ``elementwise`` — a coordinate-wise function of the gradient history
  (Adam, RMSprop, sign): equivariant under signed permutations only;
* ``factored`` — row and column statistics of squared gradients
  (Adafactor, SM3): equivariant under signed permutations only.

Only these four groups have expectations; input actions reach the first
layer only, so a per-layer rule has the form of its first layer's rule.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from reports.figures import save, themed
from reports.selection import latest_config
from reports.tables import to_markdown, write_table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

NOTES_FILE = Path(__file__).with_name("atlas_notes.toml")
SOURCE_ORDER = ("torch.optim", "pytorch-optimizer", "symbench", "import path")
GROUP_ORDER = ("orthogonal", "permutation", "sign_flip", "signed_permutation")
SYMBOLS = {"equivariant": "✓", "not_equivariant": "✗", "inconclusive": "?"}
#: the part verdicts' symbols: the distributional test says "no_evidence" or "deterministic" where it does not reject
PART_SYMBOLS = {**SYMBOLS, "no_evidence": "○", "deterministic": "="}
#: the checker's per-group verdicts besides the overall one, in the order the table shows them
PART_VERDICTS = (("coupled_verdict", "coupled"), ("init_verdict", "init"),
                 ("distributional_verdict", "distributional"))
_ROTATION_EQUIVARIANT = {g: "equivariant" for g in GROUP_ORDER}
_COORDINATE_WISE = {**_ROTATION_EQUIVARIANT, "orthogonal": "not_equivariant"}
FORMS = {
    "linear": _ROTATION_EQUIVARIANT,
    "norm": _ROTATION_EQUIVARIANT,
    "matrix": _ROTATION_EQUIVARIANT,
    "elementwise": _COORDINATE_WISE,
    "factored": _COORDINATE_WISE,
}
#: colours of the heatmap, by verdict
COLOURS = {"equivariant": "#2b6cb0", "not_equivariant": "#c53030", "inconclusive": "#d69e2e", "": "#e2e8f0"}
HEATMAP_ROWS_PER_PANEL = 50
CONFIDENCE = 0.95


# --------------------------------------------------------------------------- the curated notes


def load_notes(path: Path = NOTES_FILE) -> tuple[dict[str, str], dict[str, dict]]:
    """(forms: optimizer -> form, notes: optimizer -> {groups, quote, where, why}) from the TOML file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such notes file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    forms = dict(data.get("forms", {}))
    unknown = sorted({form for form in forms.values() if form not in FORMS})
    if unknown:
        raise ValueError(f"{path}: unknown form(s) {', '.join(unknown)}; accepted: {', '.join(FORMS)}")
    notes = dict(data.get("notes", {}))
    for name, note in notes.items():
        missing = [key for key in ("groups", "quote", "where", "why") if key not in note]
        if missing:
            raise ValueError(f"{path}: note {name!r} lacks {', '.join(missing)}")
    return forms, notes


# --------------------------------------------------------------------------- one row per optimizer


def _wilson(share, n: int | None) -> tuple[float, float]:
    from scipy.stats import binomtest

    if share is None or n is None or not n > 0 or math.isnan(float(share)):
        return (math.nan, math.nan)
    n = int(n)
    k = int(round(float(share) * n))
    ci = binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return (100 * ci.low, 100 * ci.high)


def _number(value) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):  # the checker writes infinities as "inf"
        return float(value)
    return float(value)


def groups_of(rows: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(g for groups in rows["groups"] for g in (groups or {})))
    return [g for g in GROUP_ORDER if g in present] + [g for g in present if g not in GROUP_ORDER]


def atlas_rows(df: pd.DataFrame, forms: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per stored trial (optimizer) with its metrics, in source order."""
    forms = load_notes()[0] if forms is None else forms
    rows = []
    for _, trial in df.iterrows():
        metrics = trial["metrics"] if isinstance(trial["metrics"], dict) else {}
        spec = trial["optimizer"]
        rows.append({
            "optimizer": spec, "source": trial["source"], "status": trial["status"],
            "runnable": bool(metrics.get("runnable", False)) if trial["status"] == "ok" else False,
            "reason": metrics.get("reason", ""), "reason_kind": metrics.get("reason_kind", ""),
            "form": forms.get(spec, ""), "lr": metrics.get("lr", ""), "lr_source": metrics.get("lr_source", ""),
            "default_lr": metrics.get("default_lr", ""), "trains": metrics.get("trains"),
            "lr_why": metrics.get("lr_why", ""), "groups": metrics.get("groups") or {},
            "default_why": next((t.get("why", "") for t in metrics.get("lr_tried") or [] if t.get("lr") is None), ""),
            "n_test": ((metrics.get("settings") or {}).get("task") or {}).get("n_test"),
            "error": trial.get("error"), "traceback": metrics.get("traceback", ""),
            "duration_s": trial["duration_s"],
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    # by source, then by name (reports do not import torch, so not the study's own order)
    rank = {s: i for i, s in enumerate(SOURCE_ORDER)}
    table["_key"] = [(rank.get(s, len(rank)), o.startswith("layers"), o.lower())
                     for s, o in zip(table.source, table.optimizer)]
    return table.sort_values("_key").drop(columns="_key").reset_index(drop=True)


def verdict_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The CSV table: one row per runnable optimizer, every number in its own column."""
    runnable = rows[rows.runnable]
    groups = groups_of(runnable) if len(runnable) else []
    parts = [(key, label) for key, label in PART_VERDICTS
             if any(key in (r.get(g) or {}) and (r.get(g) or {}).get(key) is not None
                    for r in runnable["groups"] for g in groups)]
    records = []
    for _, row in runnable.iterrows():
        record = {"optimizer": row.optimizer, "source": row.source, "form": row.form or "–", "lr": row.lr,
                  "lr_source": row.lr_source, "default_lr": row.default_lr, "trains": bool(row.trains)}
        for group in groups:
            result = row.groups.get(group, {})
            record[group] = result.get("verdict", "")
            for key, label in parts:
                record[f"{group}_{label}"] = result.get(key) or ""
            record[f"{group}_gap"] = _number(result.get("coupled_gap"))
            share = result.get("disagreement")
            low, high = _wilson(share, row.n_test)
            record[f"{group}_changed_pct"] = 100 * _number(share)
            record[f"{group}_changed_low"], record[f"{group}_changed_high"] = low, high
            record[f"{group}_p"] = _number(result.get("p_value"))
        records.append(record)
    return pd.DataFrame(records)


def _cell(table_row, group: str, parts) -> str:
    verdict = table_row[group]
    gap = table_row[f"{group}_gap"]
    changed = table_row[f"{group}_changed_pct"]
    text = SYMBOLS.get(verdict, "–") + (f" {gap:.2g}" if np.isfinite(gap) else "")
    if np.isfinite(changed):
        text += f" · {changed:.1f} % [{table_row[f'{group}_changed_low']:.1f}, {table_row[f'{group}_changed_high']:.1f}]"
    marks = [label[0] + PART_SYMBOLS.get(table_row[f"{group}_{label}"], "·") for _, label in parts]
    return text + (" (" + " ".join(marks) + ")" if marks else "")


def _lr_cell(row) -> str:
    if row.lr_source == "default":
        return f"{row.lr} (default)"
    if row.lr_source == "no lr parameter":
        return "– (no lr parameter)"
    if row.lr_source == "ladder":
        return f"{row.lr} (ladder; default {row.default_lr})"
    return f"{row.lr} (best of the ladder, does not train; default {row.default_lr})"


def markdown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The Markdown table: one cell per group (verdict, gap, changed labels [95 % CI], part verdicts)."""
    groups = [g for g in table.columns if g in GROUP_ORDER or f"{g}_gap" in table.columns]
    parts = [(key, label) for key, label in PART_VERDICTS if any(f"{g}_{label}" in table.columns for g in groups)]
    out = pd.DataFrame({
        "optimizer": table.optimizer, "source": table.source, "form": table.form,
        "lr": [_lr_cell(row) for _, row in table.iterrows()],
    })
    for group in groups:
        out[group] = [_cell(row, group, parts) for _, row in table.iterrows()]
    return out


# --------------------------------------------------------------------------- heatmap


@themed("white")
def heatmap(table: pd.DataFrame, flagged: set[tuple[str, str]] = frozenset()):
    """Optimizers × groups coloured by verdict; ``flagged`` cells (verdicts that differ
    from the update's form) carry a "!"."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    groups = [g for g in table.columns if f"{g}_gap" in table.columns]
    codes = {v: i for i, v in enumerate(COLOURS)}
    values = table[groups].map(lambda v: codes.get(v, codes[""])).to_numpy()
    labels = np.array([[SYMBOLS.get(row[g], "") + ("!" if (row.optimizer, g) in flagged else "") for g in groups]
                       for _, row in table.iterrows()], dtype=object).reshape(len(table), len(groups))
    names = [f"{o}" for o in table.optimizer]
    n_panels = max(1, math.ceil(len(table) / HEATMAP_ROWS_PER_PANEL))
    per_panel = math.ceil(len(table) / n_panels)
    fig, axes = plt.subplots(1, n_panels, figsize=(3.6 * n_panels, 1.6 + 0.2 * per_panel), squeeze=False)
    cmap = ListedColormap(list(COLOURS.values()))
    for k, ax in enumerate(axes[0]):
        rows = slice(k * per_panel, min(len(table), (k + 1) * per_panel))
        sns.heatmap(pd.DataFrame(values[rows], index=names[rows], columns=groups), ax=ax, cmap=cmap,
                    vmin=-0.5, vmax=len(COLOURS) - 0.5, annot=labels[rows], fmt="", cbar=False, linewidths=0.4,
                    linecolor="white", annot_kws={"fontsize": 7, "color": "white"})
        ax.set_xticklabels([g.replace("_", " ") for g in groups], rotation=40, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=6)
        ax.set_ylabel("")
    legend = [Patch(color=COLOURS[v], label=f"{SYMBOLS[v]} {v.replace('_', ' ')}") for v in SYMBOLS]
    legend.append(Patch(color="white", label="! differs from the update's form (anomalies.md)"))
    fig.legend(handles=legend, loc="upper center", ncol=4, frameon=False, fontsize=8,
               bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("Symmetries of every optimizer (default hyperparameters, checker's task)", y=1.02, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


# --------------------------------------------------------------------------- anomalies


def anomalies(rows: pd.DataFrame) -> pd.DataFrame:
    """(optimizer, group, form, expected, measured) where a definite verdict contradicts the form."""
    records = []
    for _, row in rows[rows.runnable].iterrows():
        expected = FORMS.get(row.form)
        if not expected:
            continue
        for group, result in row.groups.items():
            measured = result.get("verdict")
            if group in expected and measured in ("equivariant", "not_equivariant") and measured != expected[group]:
                records.append({"optimizer": row.optimizer, "source": row.source, "group": group, "form": row.form,
                                "expected": expected[group], "measured": measured, "lr": row.lr})
    return pd.DataFrame(records, columns=["optimizer", "source", "group", "form", "expected", "measured", "lr"])


def anomaly_lines(found: pd.DataFrame, notes: dict[str, dict]) -> tuple[list[str], list[str]]:
    """(lines with a note, lines of anomalies without one)."""
    explained, unexplained = [], []
    for optimizer, part in found.groupby("optimizer", sort=False):
        note = notes.get(optimizer)
        covered = set(note["groups"]) if note else set()
        first = part.iloc[0]
        with_note = part[part.group.isin(covered)]
        without = part[~part.group.isin(covered)]
        if len(with_note):
            cells = ", ".join(f"{g} ({m.replace('_', ' ')}, form says {e.replace('_', ' ')})"
                              for g, m, e in zip(with_note.group, with_note.measured, with_note.expected))
            explained.append(f"* **{optimizer}** ({first.form}; {cells}): `{note['quote']}` "
                             f"({note['where']}) — {note['why']}")
        if len(without):
            cells = ", ".join(f"{g}: {m.replace('_', ' ')} (form {first.form} says {e.replace('_', ' ')})"
                              for g, m, e in zip(without.group, without.measured, without.expected))
            unexplained.append(f"* **{optimizer}** — {cells}; no note yet")
    return explained, unexplained


def undetermined(rows: pd.DataFrame) -> list[str]:
    lines = []
    for _, row in rows[rows.runnable].iterrows():
        cells = [g for g, r in row.groups.items() if r.get("verdict") == "inconclusive"]
        if cells:
            lines.append(f"* **{row.optimizer}** — inconclusive under {', '.join(cells)}")
    return lines


# --------------------------------------------------------------------------- writing


def tallies(table: pd.DataFrame) -> pd.DataFrame:
    groups = [g for g in table.columns if f"{g}_gap" in table.columns]
    records = []
    for group in groups:
        counts = table[group].value_counts()
        n = len(table)
        record = {"group": group}
        for verdict in SYMBOLS:
            k = int(counts.get(verdict, 0))
            record[verdict.replace("_", " ")] = f"{k} ({100 * k / n:.0f} %)" if n else "0"
        records.append(record)
    return pd.DataFrame(records)


def _not_runnable(rows: pd.DataFrame) -> pd.DataFrame:
    part = rows[(rows.status == "ok") & ~rows.runnable]
    return part[["optimizer", "source", "reason_kind", "reason"]].rename(columns={"reason_kind": "kind"})


def _versions(df: pd.DataFrame) -> str:
    """The libraries of the stored runs, and pytorch-optimizer's as installed now (not stored by the
    runner; read from its metadata, without importing it)."""
    from importlib.metadata import PackageNotFoundError, version

    stored = df.versions.iloc[-1] if "versions" in df and len(df) else {}
    text = ", ".join(f"{k} {stored[k]}" for k in ("torch", "numpy", "python") if k in (stored or {}))
    try:
        text += f"; pytorch-optimizer {version('pytorch-optimizer')} installed when this report was written"
    except PackageNotFoundError:
        pass
    return text


def _settings(df: pd.DataFrame) -> str:
    config = df.config.iloc[-1] if "config" in df and len(df) else {}
    keys = ("seed", "steps", "width", "depth", "init", "seeds", "elements", "permutations", "lr_ladder",
            "loss_factor")
    return ", ".join(f"{k} = {config[k]}" for k in keys if k in config)


def write(df: pd.DataFrame, out_dir: Path, notes_file: Path = NOTES_FILE) -> list[Path]:
    df, left_out = latest_config(df)
    if df.empty:
        raise ValueError("no stored trials of the atlas study to report")
    out_dir.mkdir(parents=True, exist_ok=True)
    forms, notes = load_notes(notes_file)
    rows = atlas_rows(df, forms)
    table = verdict_table(rows)
    paths: list[Path] = []
    found = anomalies(rows)
    if not table.empty:
        paths += save(heatmap(table, set(zip(found.optimizer, found.group))), out_dir, "heatmap")
        paths += write_table(table, out_dir, "table")
        (out_dir / "table.md").write_text(
            "## Verdict per optimizer and group\n\n" + _legend(table) + "\n\n" + to_markdown(markdown_table(table)))

    blocked = _not_runnable(rows)
    blocked_path = out_dir / "not_runnable.md"
    blocked_path.write_text("## Optimizers that cannot run on the checker's task\n\n"
                            + (to_markdown(blocked) if len(blocked) else "None.\n"))
    paths.append(blocked_path)

    explained, unexplained = anomaly_lines(found, notes)
    unsure = undetermined(rows)
    formless = [o for o in rows[rows.runnable].optimizer if not forms.get(o)]
    anomaly_text = [
        "## Verdicts that differ from the form of the update", "",
        f"{len(found)} (optimizer, group) cells of {found.optimizer.nunique() if len(found) else 0} optimizers "
        "contradict the form (see `reports/atlas.py` for the forms and `reports/atlas_notes.toml` for the notes).",
        "", "### Explained (a line of the optimizer's source)", "", *(explained or ["None."]), "",
        "### Not explained yet", "", *(unexplained or ["None."]), "",
        "### Undetermined (inconclusive verdicts: no contradiction, no confirmation)", "", *(unsure or ["None."]),
    ]
    if formless:
        anomaly_text += ["", "### Optimizers without a form (not compared)", "", ", ".join(formless)]
    anomaly_path = out_dir / "anomalies.md"
    anomaly_path.write_text("\n".join(anomaly_text) + "\n")
    paths.append(anomaly_path)

    failed = rows[rows.status != "ok"]
    counts = rows.groupby("source", sort=False).agg(
        optimizers=("optimizer", "size"), runnable=("runnable", "sum"),
        not_runnable=("runnable", lambda r: int((~r).sum()))).reset_index()
    kinds = blocked.groupby("kind").size().rename("optimizers").reset_index() if len(blocked) else blocked
    config = df.config.iloc[-1]
    text = [
        "# The symmetry atlas", "",
        f"Settings: {_settings(df)}. {len(rows)} optimizers; their trials took {rows.duration_s.sum():.0f} s "
        f"of compute in all. Versions: {_versions(df)}.", "",
        "Each optimizer runs with its default hyperparameters. Its learning rate *trains* the checker's task when "
        f"the full training loss after {config.get('steps')} steps is at most the initial loss / "
        f"{config.get('loss_factor')}; the default lr is tried first, then {config.get('lr_ladder')}, and the "
        "first that trains is used (`studies/atlas.py`). Verdicts are `symbench check`'s at that lr.", "",
        "## Counts", "", to_markdown(counts),
        *(["", "Not runnable, by reason:", "", to_markdown(kinds)] if len(kinds) else []),
        "", f"Learning rates: {int((table.lr_source == 'default').sum()) if len(table) else 0} default, "
        f"{int((table.lr_source == 'ladder').sum()) if len(table) else 0} from the ladder, "
        f"{int((table.lr_source == 'no lr parameter').sum()) if len(table) else 0} without an lr, "
        f"{int((~table.trains).sum()) if len(table) else 0} that train at no lr of the ladder.", "",
        *_ladder_lines(rows),
        "## Verdicts per group (runnable optimizers)", "",
        *([to_markdown(tallies(table))] if len(table) else ["None."]),
        "![heatmap](heatmap.png)", "",
        *anomaly_text, "",
        "## Not runnable", "", to_markdown(blocked) if len(blocked) else "None.",
    ]
    if len(failed):
        text += ["", "## Failed trials (bugs in our code: tracebacks)", ""]
        for _, row in failed.iterrows():
            text += [f"### {row.optimizer}", "", f"`{row.error}`", "", "```", (row.traceback or "").rstrip(), "```", ""]
    if left_out:
        text += ["", left_out]
    summary = out_dir / "summary.md"
    summary.write_text("\n".join(text) + "\n")
    paths.append(summary)
    return paths


def _ladder_lines(rows: pd.DataFrame) -> list[str]:
    moved = rows[rows.runnable & (rows.lr_source.isin(["ladder"]) | (rows.trains == False))]  # noqa: E712
    if moved.empty:
        return []
    part = pd.DataFrame({"optimizer": moved.optimizer, "default lr": moved.default_lr,
                         "at the default": moved.default_why, "lr used": moved.lr,
                         "trains": ["yes" if t else "no (best of the ladder)" for t in moved.trains],
                         "at the lr used": moved.lr_why})
    return ["### Learning rates from the ladder", "",
            "Optimizers whose default lr does not train the checker's task (or that train at no lr of the "
            "ladder, checked at the lr with the lowest final loss):", "", to_markdown(part), ""]


def _legend(table: pd.DataFrame) -> str:
    parts = [label for _, label in PART_VERDICTS if any(c.endswith(f"_{label}") for c in table.columns)]
    extra = (f" In brackets, the checker's {', '.join(parts)} verdicts (first letter; · not run)." if parts else "")
    extra += (" ✓ ✗ ? as for the verdict; ○ no evidence against equivariance, = deterministic (the runs do not "
              "vary with the seed)." if parts else "")
    return ("Each group's cell: the verdict (✓ equivariant, ✗ not equivariant, ? inconclusive), the coupled gap "
            "(error / floating-point floor), and the share of changed test labels of the worst element with its "
            f"95 % Wilson interval over the test points.{extra} lr: the learning rate checked and where it comes "
            "from (the default, the fallback ladder, or none).")
