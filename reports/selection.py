"""Which stored trials a report shows.

A results database may hold several configurations of one study (a run with
another seed, solver tolerance, ...). A report shows the configuration stored
last and says, in one sentence, what it left out.
"""

from __future__ import annotations

import pandas as pd


def latest_config(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(rows of the configuration stored last, a note on what was left out or "")."""
    if df.empty:
        return df, ""
    last = df.groupby("config_hash")["created_at"].max().sort_values()
    rows = df[df.config_hash == last.index[-1]].reset_index(drop=True)
    others, left_out = len(last) - 1, len(df) - len(rows)
    note = (f"{left_out} stored trial(s) of {others} other configuration(s) of this study are not shown "
            "(the report uses the configuration stored last)." if others else "")
    return rows, note
