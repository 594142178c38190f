"""Saving figures (PNG and PDF side by side) and styling them without global side effects.

Importing a report module changes nothing global: the matplotlib backend is chosen by
the CLI (``studies.cli`` selects Agg), and figure functions take their seaborn style
inside :func:`themed`, which restores the previous settings on return, so a notebook
that imports the reports keeps its inline plots and its own style.
"""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib.pyplot as plt


def themed(style: str = "whitegrid", context: str = "paper"):
    """Decorator: run a figure function inside seaborn's ``axes_style(style)`` and
    ``plotting_context(context)`` — the settings ``sns.set_theme`` would make global, here
    undone when the function returns."""

    def decorate(function):
        @functools.wraps(function)
        def styled(*args, **kwargs):
            import seaborn as sns

            with sns.axes_style(style), sns.plotting_context(context):
                return function(*args, **kwargs)

        return styled

    return decorate


def save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def plain_log_ticks(ax, axes: str = "xy") -> None:
    """Log axes labelled with plain numbers at 1, 2, 5 × 10^k (not 2×10¹, 3×10¹, ... crowding)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for name in axes:
        axis = ax.xaxis if name == "x" else ax.yaxis
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())


def mstar_panel(ax, points, growth_row, dimension: str, color, label: str) -> None:
    """m*(n) of one learner on log–log axes: points with their intervals, and its fitted laws.

    ``points``: rows of an m* table (mstar, ci_low, ci_high, censored); ``growth_row``: its row of
    :func:`reports.growth.growth_table` (or None). The law of the call is drawn solid; when the
    call is ``undetermined`` both laws are drawn dotted. Censored points are hollow; nothing is
    drawn when no m* lies within its grid of m.
    """
    import numpy as np

    from reports.growth import fitted

    points = points.sort_values(dimension)
    shown = points[np.isfinite(points.mstar)]
    if shown.empty:   # no m* within the grid of m: nothing to draw (and no positive value to log-scale)
        return
    low = np.where(np.isfinite(shown.ci_low), shown.mstar - shown.ci_low, 0)
    high = np.where(np.isfinite(shown.ci_high), shown.ci_high - shown.mstar, 0)
    solid = (shown.censored == "none").to_numpy()
    call = growth_row["growth"] if growth_row is not None else "undetermined"
    ax.errorbar(shown[dimension][solid], shown.mstar[solid], yerr=np.vstack([low[solid], high[solid]]),
                fmt="o", ms=4, capsize=3, color=color, label=f"{label}: {call}")
    if (~solid).any():
        ax.plot(shown[dimension][~solid], shown.mstar[~solid], "o", ms=4, mfc="none", color=color)
    if growth_row is not None and np.isfinite(growth_row["exponent"]):
        grid = np.geomspace(points[dimension].min(), points[dimension].max(), 100)
        laws = fitted(growth_row, grid)
        if call in ("polynomial", "linear"):
            ax.plot(grid, laws["power"], "-", lw=1, color=color)
        elif call == "logarithmic":
            ax.plot(grid, np.where(laws["logarithmic"] > 0, laws["logarithmic"], np.nan), "-", lw=1, color=color)
        else:
            ax.plot(grid, laws["power"], ":", lw=1, color=color)
            ax.plot(grid, np.where(laws["logarithmic"] > 0, laws["logarithmic"], np.nan), ":", lw=1, color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax)
