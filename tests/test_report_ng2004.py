"""``symbench report`` on a database holding ng2004 trials: Figure 1, m*(n) and the growth calls."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports import build
from studies import store

BAYES = 0.0546
CONFIG = {"seed": 0, "mstar_trials": 12}


def _rows(trials: int = 12, seed: int = 0) -> list[dict]:
    """Synthetic stored ng2004 trials: m* = 10·log n for L1 and 2n for L2 on the one-feature setting."""
    rng = np.random.default_rng(seed)
    laws = {"l1": lambda n: 10 * np.log(n), "l2": lambda n: 2.0 * n}
    rows = []
    for penalty, law in laws.items():
        for n in (10, 32, 100, 316, 1000):
            grid = law(n) * np.sqrt(2.0) ** (np.arange(-2, 3) + 0.3)
            for m in [*np.round(grid).astype(int), 100, 200]:
                for rep in range(trials):
                    zero_one = min(BAYES + 0.05 * law(n) / m, 0.5) + 0.004 * rng.standard_normal()
                    coords = {"setting": "one", "n": int(n), "m": int(m), "penalty": penalty, "rep": rep}
                    rows.append({"trial_key": f"{penalty}-{n}-{m}-{rep}", "study": "ng2004", "config_hash": "c",
                                 "config": CONFIG, "coords": coords, "seed": rep, "status": "ok",
                                 "metrics": {"zero_one": zero_one, "log_loss": 0.3 + zero_one, "bayes_error": BAYES},
                                 "duration_s": 0.0, "versions": {}})
    return rows


def test_report_of_stored_ng2004_trials(tmp_path):
    db = tmp_path / "ng.db"
    with store.connect(db) as con:
        store.insert(con, _rows())
    paths = build(db=db, out=tmp_path / "out")
    folder = tmp_path / "out" / "ng2004"
    for name in ("curves.csv", "curves.md", "figure1.png", "figure1.pdf", "mstar.csv", "mstar.png", "growth.csv",
                 "growth.md", "status.md"):
        assert folder / name in paths and (folder / name).stat().st_size > 0
    curves = pd.read_csv(folder / "curves.csv")
    assert (curves.ci_low >= 0).all() and (curves[curves.metric == "zero_one"].ci_high <= 1).all()
    growth = pd.read_csv(folder / "growth.csv").set_index("penalty")
    assert growth.loc["l1", "growth"] == "logarithmic" and growth.loc["l2", "growth"] == "linear"
    assert growth.loc["l2", "exponent_low"] < 1 < growth.loc["l2", "exponent_high"]
