"""A check's report as text: the terminal table, Markdown, and the lines of
``--expect`` mismatches (JSON is :meth:`EquivarianceReport.to_dict`)."""

from __future__ import annotations

from typing import Mapping

from invariance.verdicts import VERDICTS, EquivarianceReport, GroupResult

#: (column, header) of the table and the Markdown, in order
COLUMNS = (("verdict", "verdict"), ("coupled_verdict", "update rule"), ("init_verdict", "init"),
           ("distributional_verdict", "predictions"), ("coupled_gap", "coupled gap"),
           ("coupled_error", "max rel. error"), ("floor", "floor"), ("disagreement", "changed labels"),
           ("init_p_value", "init p"), ("p_value", "p-value"), ("effect_size", "effect"))


def fmt(v) -> str:
    return "–" if v is None else f"{v:.3g}"


def pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _cell(result: GroupResult, column: str) -> str:
    value = getattr(result, column)
    if column.endswith("verdict"):
        return "–" if value is None else value
    if column == "disagreement":
        return pct(value)
    return fmt(value)


def report_rows(report: EquivarianceReport) -> list[list[str]]:
    return [[group, *(_cell(r, c) for c, _ in COLUMNS)] for group, r in report.results.items()]


def report_table(report: EquivarianceReport) -> str:
    headers = ["group", *(h for _, h in COLUMNS)]
    rows = report_rows(report)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def report_markdown(report: EquivarianceReport) -> str:
    headers = ["group", *(h for _, h in COLUMNS)]
    lines = [f"### Equivariance of `{report.algorithm}`", "", "| " + " | ".join(headers) + " |",
             "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in report_rows(report)]
    notes = [f"* {line}" for line in report.notes()]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def parse_expectations(text: str, groups) -> dict[str, str]:
    """``orthogonal=equivariant,sign_flip=not_equivariant`` -> {group: verdict}, for groups of the check."""
    expected: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        group, sep, verdict = (s.strip() for s in item.partition("="))
        if not sep or not group or not verdict:
            raise ValueError(f"--expect item {item!r} is not GROUP=VERDICT (e.g. orthogonal=equivariant)")
        if group not in groups:
            raise ValueError(f"--expect names group {group!r}, which this check does not test; "
                             f"checked: {', '.join(groups)}")
        if verdict not in VERDICTS:
            raise ValueError(f"--expect verdict {verdict!r} for {group}; accepted: {', '.join(VERDICTS)}")
        if group in expected:
            raise ValueError(f"--expect names group {group!r} twice")
        expected[group] = verdict
    if not expected:
        raise ValueError("--expect is empty; give GROUP=VERDICT items separated by commas")
    return expected


def mismatches(report: EquivarianceReport, expected: Mapping[str, str]) -> list[str]:
    """One line per group whose verdict differs from the expectation."""
    return [f"{report.algorithm} under {group}: expected {verdict}, got {report.verdict(group)}"
            for group, verdict in expected.items() if report.verdict(group) != verdict]
