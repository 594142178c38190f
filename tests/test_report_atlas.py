"""The atlas report on a tiny synthetic results database, and the curated notes file."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from reports import atlas
from studies import store

REPO = Path(__file__).resolve().parent.parent
GROUPS = ("orthogonal", "permutation", "sign_flip", "signed_permutation")


def _group(verdict: str, gap: float, changed: float, **parts) -> dict:
    return {"verdict": verdict, "coupled_gap": gap, "floor": 1e-15, "disagreement": changed, "p_value": 0.5,
            "coupled_error": gap * 1e-15, "coupled_rms": None, "param_distance": None, "effect_size": 0.0,
            "coupled_verdict": verdict, "distributional_verdict": "no_evidence", "note": "", **parts}


def _runnable(verdicts: dict[str, str], lr_source: str = "default", **parts) -> dict:
    groups = {g: _group(v, 0.1 if v == "equivariant" else 1e13, 0.0 if v == "equivariant" else 0.05, **parts)
              for g, v in verdicts.items()}
    return {"runnable": True, "reason": "", "lr": "0.001", "default_lr": "0.001", "lr_source": lr_source,
            "trains": True, "lr_why": "loss 1.4 → 0.5 (≤ 1.4/2)", "groups": groups,
            "lr_tried": [{"lr": None, "trains": lr_source == "default", "stage": "probe", "why": "at the default"}],
            "settings": {"task": {"n_test": 256}}}


COORDINATE_WISE = {"orthogonal": "not_equivariant", "permutation": "equivariant", "sign_flip": "equivariant",
                   "signed_permutation": "equivariant"}
EVERYWHERE = dict.fromkeys(GROUPS, "equivariant")
TRIALS = [
    # (spec, source, status, metrics, error)
    ("torch.optim:Adam", "torch.optim", "ok", _runnable(COORDINATE_WISE), None),      # as its form says
    ("pto:centred", "pytorch-optimizer", "ok",                                          # anomaly with a note
     _runnable({**COORDINATE_WISE, "sign_flip": "not_equivariant"}), None),
    ("pto:surprise", "pytorch-optimizer", "ok", _runnable(EVERYWHERE, lr_source="ladder"), None),  # no note
    ("pto:wobbly", "pytorch-optimizer", "ok",                                           # undetermined, new fields
     _runnable({**EVERYWHERE, "orthogonal": "inconclusive"}, init_verdict="equivariant"), None),
    ("torch.optim:LBFGS", "torch.optim", "ok",
     {"runnable": False, "reason": "needs a closure: TypeError: step() missing 'closure'", "reason_kind": "needs a closure",
      "detail": "", "where": "x.py:1: f()"}, None),
    ("sgd", "symbench", "failed", {"traceback": "Traceback (most recent call last):\nZeroDivisionError: a bug"},
     "ZeroDivisionError: a bug"),
]
NOTES = '''
[forms]
"torch.optim:Adam" = "elementwise"
"pto:centred" = "elementwise"
"pto:surprise" = "elementwise"
"pto:wobbly" = "linear"

[notes."pto:centred"]
groups = ["sign_flip"]
quote = "grad.sub_(grad.mean(dim=1, keepdim=True))"
where = "pytorch_optimizer/optimizer/centred.py:12"
why = "centring the gradient over its inputs does not commute with sign flips"
'''


@pytest.fixture()
def synthetic(tmp_path):
    db = tmp_path / "atlas.db"
    con = store.connect(db)
    config = {"seed": 0, "steps": 200, "seeds": 16, "elements": 3, "lr_ladder": [0.1, 0.01], "loss_factor": 2.0}
    store.insert(con, [
        {"trial_key": f"k{i}", "study": "atlas", "config_hash": "h", "config": config,
         "coords": {"optimizer": spec, "source": source}, "seed": i, "status": status, "metrics": metrics,
         "error": error, "duration_s": 1.0, "versions": {}}
        for i, (spec, source, status, metrics, error) in enumerate(TRIALS)])
    con.close()
    notes = tmp_path / "notes.toml"
    notes.write_text(NOTES)
    return db, notes, tmp_path / "out"


def test_report_files_and_columns(synthetic):
    db, notes, out = synthetic
    paths = atlas.write(store.load(db, "atlas"), out, notes_file=notes)
    assert {p.name for p in paths} >= {"table.csv", "table.md", "heatmap.png", "heatmap.pdf", "not_runnable.md",
                                       "anomalies.md", "summary.md"}
    table = pd.read_csv(out / "table.csv")
    assert list(table.optimizer) == ["torch.optim:Adam", "pto:centred", "pto:surprise", "pto:wobbly"]
    for group in GROUPS:
        assert {group, f"{group}_gap", f"{group}_changed_pct", f"{group}_changed_low", f"{group}_changed_high",
                f"{group}_coupled", f"{group}_init", f"{group}_distributional"} <= set(table.columns)
    assert {"source", "form", "lr", "lr_source", "trains"} <= set(table.columns)
    adam = table.set_index("optimizer").loc["torch.optim:Adam"]
    assert adam.orthogonal == "not_equivariant" and adam.orthogonal_changed_pct == pytest.approx(5.0)
    assert 0 <= adam.orthogonal_changed_low < 5.0 < adam.orthogonal_changed_high <= 100
    markdown = (out / "table.md").read_text()
    assert "| torch.optim:Adam | torch.optim | elementwise | 0.001 (default) | ✗ 1e+13 · 5.0 % [" in markdown


def test_report_lists_what_cannot_run_anomalies_and_failures(synthetic):
    db, notes, out = synthetic
    atlas.write(store.load(db, "atlas"), out, notes_file=notes)
    blocked = (out / "not_runnable.md").read_text()
    assert "torch.optim:LBFGS" in blocked and "needs a closure: TypeError" in blocked
    anomalies = (out / "anomalies.md").read_text()
    explained, rest = anomalies.split("### Not explained yet")
    assert "**pto:centred**" in explained and "`grad.sub_(grad.mean(dim=1, keepdim=True))`" in explained
    assert "pytorch_optimizer/optimizer/centred.py:12" in explained and "torch.optim:Adam" not in anomalies
    unexplained, undetermined = rest.split("### Undetermined")
    assert "**pto:surprise** — orthogonal: equivariant (form elementwise says not equivariant); no note yet" \
        in unexplained
    assert "**pto:wobbly** — inconclusive under orthogonal" in undetermined
    summary = (out / "summary.md").read_text()
    assert "ZeroDivisionError: a bug" in summary and "Traceback (most recent call last)" in summary
    assert "| pytorch-optimizer | 3 | 3 | 0 |" in summary and "| needs a closure | 1 |" in summary
    assert "| orthogonal | 1 (25 %) | 2 (50 %) | 1 (25 %) |" in summary
    assert "### Learning rates from the ladder" in summary and "pto:surprise" in summary


def test_report_needs_no_torch(synthetic, tmp_path):
    db, notes, out = synthetic
    code = (f"import sys; from reports import atlas; from studies import store; from pathlib import Path; "
            f"atlas.write(store.load({str(db)!r}, 'atlas'), Path({str(out)!r}), notes_file=Path({str(notes)!r})); "
            "assert 'torch' not in sys.modules, 'the report imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_bad_notes_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[forms]\n"x" = "diagonal"\n')
    with pytest.raises(ValueError, match="unknown form"):
        atlas.load_notes(path)
    path.write_text('[notes."x"]\ngroups = ["orthogonal"]\n')
    with pytest.raises(ValueError, match="lacks quote, where, why"):
        atlas.load_notes(path)


def _installed_file(where: str) -> Path | None:
    """The file a note's ``where`` names: in this repository or an installed package."""
    relative = where.rsplit(":", 1)[0]
    if (REPO / relative).exists():
        return REPO / relative
    spec = importlib.util.find_spec(relative.split("/", 1)[0])
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent.parent / relative


def test_each_note_quotes_its_source_at_the_line_it_names():
    """A note's quote must stand at its file:line in the version it was read from (skipped for others)."""
    from importlib.metadata import version

    data = atlas.tomllib.loads(atlas.NOTES_FILE.read_text())
    _, notes = atlas.load_notes()
    read_from = {"pytorch_optimizer": data["pytorch_optimizer_version"], "torch": data["torch_version"]}
    checked = 0
    for name, note in notes.items():
        package = note["where"].split("/", 1)[0]
        if package in read_from and version(package.replace("_", "-")).split("+")[0] != read_from[package]:
            continue
        path = _installed_file(note["where"])
        assert path is not None and path.exists(), f"{name}: {note['where']} not found"
        line = int(note["where"].rsplit(":", 1)[1])
        assert note["quote"] in path.read_text().splitlines()[line - 1], f"{name}: quote not at {note['where']}"
        assert set(note["groups"]) <= set(GROUPS), name
        checked += 1
    assert checked == len(notes) or not notes
