"""Importing the report modules and drawing a figure leaves matplotlib's global state alone."""

import subprocess
import sys
import textwrap

import pytest

REPORT_MODULES = ["reports", "reports.figures", "reports.atlas", "reports.equivariance", "reports.ng2004",
                  "reports.optimizers", "reports.sample_complexity"]


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_the_reports_neither_selects_a_backend_nor_restyles():
    out = _run(f"""
        import matplotlib
        matplotlib.use("svg")   # what a notebook would have chosen (inline) stands in for any backend
        before = dict(matplotlib.rcParams)
        import importlib
        for name in {REPORT_MODULES!r}:
            importlib.import_module(name)
        changed = [k for k, v in matplotlib.rcParams.items() if before[k] != v]
        print(matplotlib.get_backend(), changed)
    """)
    assert out == "svg []"


@pytest.mark.parametrize("style", ["whitegrid", "white"])
def test_a_themed_figure_function_restores_the_settings(style):
    out = _run(f"""
        import matplotlib
        matplotlib.use("svg")
        before = dict(matplotlib.rcParams)
        from reports.figures import themed
        import matplotlib.pyplot as plt

        @themed({style!r})
        def draw():
            fig, ax = plt.subplots()
            inside = matplotlib.rcParams["axes.grid"]
            plt.close(fig)
            return inside

        inside = draw()
        changed = [k for k, v in matplotlib.rcParams.items() if before[k] != v]
        print(inside, changed)
    """)
    assert out == f"{style == 'whitegrid'} []"


def test_the_cli_selects_agg():
    out = _run("""
        import matplotlib
        matplotlib.use("svg")
        from studies import cli
        cli._headless_figures()
        print(matplotlib.get_backend())
    """)
    assert out.lower() == "agg"
