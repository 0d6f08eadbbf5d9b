"""Render a report as Markdown: summary per RFC, one row per requirement, then the failures."""

from __future__ import annotations

import os
from pathlib import Path

from reports.catalog import Catalog
from reports.model import VERDICTS, Outcome, Report

_SHOWN = {"fail": "**FAIL**", "error": "**ERROR**", "unexpected-pass": "**UNEXPECTED PASS**"}


def _cell(text: str) -> str:
    """Make text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{counter[v]} {v}" for v in VERDICTS if counter.get(v)) or "—"


def _link(path: Path | None, out_dir: Path) -> str:
    if path is None:
        return ""
    rel = Path(os.path.relpath(path, out_dir.resolve())).as_posix()
    return f"[{rel}]({rel})"


def render(report: Report, out_dir: Path, catalog: Catalog | None = None) -> str:
    """``out_dir`` is where the Markdown file goes; pcap links are relative to it."""
    lines = ["# stackcheck conformance report", ""]
    if catalog is not None:
        untested = [e for e in catalog.entries if e.untested is not None]
        lines += [f"Requirement catalog: {len(catalog.entries)} requirements of {len(catalog.titles)} RFCs, "
                  f"{len(untested)} not tested yet (with reasons); details, dissected frames and per-RFC "
                  "bars in report.html.", ""]
    for label, run in report.runs:
        lines.append(f"- **{label}**: {_counts(run.totals())} ({run.started} – {run.finished}, {run.source})")
        seed = f"; test order --randomly-seed={run.seed}" if run.seed is not None else ""
        lines.append(f"  - DUT: {_cell(run.identity_line())}{seed}")
        for e in run.expectations_to_report():
            lines.append(f"  - expectation {e.get('status')}: `{e.get('test')}` " + _condition(e))
    lines += ["", "## Summary per RFC", ""]
    lines += ["| RFC | " + " | ".join(report.labels) + " |", "|---|" + "---|" * len(report.labels)]
    for rfc in report.rfcs():
        cells = [_counts(run.counts_by_rfc().get(rfc, {})) for _, run in report.runs]
        lines.append(f"| {_rfc(rfc)} | " + " | ".join(cells) + " |")
    lines.append("| **all** | " + " | ".join(_counts(run.totals()) for _, run in report.runs) + " |")

    lines += ["", "## Requirements", ""]
    head = ["RFC", "Section", "Level", "Requirement", *report.labels, "Tests"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report.rows():
        req = row.requirement
        verdicts = [_SHOWN.get(row.verdicts[label], row.verdicts[label]) for label in report.labels]
        tests = _tests(row.tests)
        cells = [_rfc(req.rfc), _cell(req.section), req.level, _cell(req.text), *verdicts, _cell(tests)]
        lines.append("| " + " | ".join(cells) + " |")

    failing = [(label, o) for label, run in report.runs for o in run.failing()]
    lines += ["", "## Failures", ""]
    if not failing:
        lines.append("None.")
    for label, o in failing:
        lines += _failure(label, o, out_dir)

    deviating = [(label, o) for label, run in report.runs for o in run.deviations()]
    if deviating:
        lines += ["", "## Known deviations", ""]
        for label, o in deviating:
            pcap = _link(o.pcap, out_dir)
            lines.append(f"- **{label}** `{o.nodeid}` ({_rfc(o.requirement.rfc)} {o.requirement.section}, "
                         f"{o.requirement.level}): {o.deviation or ''}" + (f" — pcap {pcap}" if pcap else ""))
    return "\n".join(lines) + "\n"


def _condition(entry: dict[str, object]) -> str:
    when = f" when {entry['when']}" if entry.get("when") else ""
    why = entry.get("why_not") or []
    because = f" — not applied: {'; '.join(str(w) for w in why)}" if isinstance(why, list) and why else ""
    return _cell(when + because)


def _tests(names: list[str]) -> str:
    """``test_a[x]``, ``test_a[y]`` -> ```test_a` [x, y]``: parametrized cases share one name."""
    cases: dict[str, list[str]] = {}
    for name in names:
        base, _, param = name.partition("[")
        cases.setdefault(base, [])
        if param:
            cases[base].append(param.removesuffix("]"))
    return ", ".join(f"`{base}`" + (f" [{', '.join(ps)}]" if ps else "") for base, ps in cases.items())


def _rfc(number: int) -> str:
    return f"RFC {number}" if number else "—"


def _failure(label: str, o: Outcome, out_dir: Path) -> list[str]:
    req = o.requirement
    out = [f"### {label}: `{o.nodeid}` — {o.verdict}", "",
           f"{_rfc(req.rfc)} §{req.section} ({req.level}): {req.text}", ""]
    if o.message:
        out += ["```", o.message.replace("```", "'''"), "```", ""]
    if o.pcap is not None:
        out += [f"pcap: {_link(o.pcap, out_dir)}", ""]
    return out
