"""Render a report as Markdown: coverage and verdicts per RFC, one row per requirement, the untested
statements in scope with their reasons, then the failures."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from reports.catalog import Catalog
from reports.coverage import LEVEL_GROUPS, Counts, report_view
from reports.model import VERDICTS, Outcome, Report, Verdict

_SHOWN = {"fail": "**FAIL**", "error": "**ERROR**", "unexpected-pass": "**UNEXPECTED PASS**",
          "not-implemented": "not implemented"}


def _cell(text: str) -> str:
    """Make text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _counts(counter: Mapping[Verdict, int]) -> str:
    return ", ".join(f"{counter[v]} {v}" for v in VERDICTS if counter.get(v)) or "—"


def _link(path: Path | None, out_dir: Path) -> str:
    if path is None:
        return ""
    rel = Path(os.path.relpath(path, out_dir.resolve())).as_posix()
    return f"[{rel}]({rel})"


def render(report: Report, out_dir: Path, catalog: Catalog | None = None) -> str:
    """``out_dir`` is where the Markdown file goes; pcap links are relative to it. With the
    catalog, the summary counts the RFCs' normative statements (in scope for a host, tested by
    these runs, per level group) and each RFC lists its untested statements with the reason."""
    lines = ["# stackcheck conformance report", ""]
    for label, run in report.runs:
        lines.append(f"- **{label}**: {_counts(run.totals())} ({run.started} – {run.finished}, {run.source})")
        seed = f"; test order --randomly-seed={run.seed}" if run.seed is not None else ""
        lines.append(f"  - DUT: {_cell(run.identity_line())}{seed}")
        for e in run.expectations_to_report():
            lines.append(f"  - expectation {e.get('status')}: `{e.get('test')}` " + _condition(e))
    if report.mutation is not None:
        lines += ["", f"{report.mutation.sentence()}. Survivors with their diffs: "
                      f"{_link(report.mutation.source.with_suffix('.md'), out_dir) or report.mutation.source}."]
    views, total = report_view(report, catalog) if catalog is not None else ([], Counts())
    if catalog is not None:
        lines += ["", "## Coverage per RFC (host role)", "",
                  "Statements: the RFC's sentences with a requirement keyword; in scope: those a host must "
                  "meet; tested: cited by a test of these runs. MUST counts MUST, MUST NOT, REQUIRED, SHALL, "
                  "SHALL NOT; SHOULD counts SHOULD, SHOULD NOT, RECOMMENDED, NOT RECOMMENDED; MAY counts MAY, "
                  "OPTIONAL.", "",
                  "| RFC | statements | in scope | tested | MUST | SHOULD | MAY |", "|---|---|---|---|---|---|---|"]
        for number, c in [*((v.number, v.counts) for v in views), (0, total)]:
            groups = [f"{c.by_level[g][1]}/{c.by_level[g][0]}" for g in LEVEL_GROUPS]
            name = _rfc(number) if number else "**all**"
            lines.append(f"| {name} | {c.statements} | {c.in_scope} | {c.tested} | " + " | ".join(groups) + " |")
    lines += ["", "## Verdicts per RFC", ""]
    lines += ["| RFC | " + " | ".join(report.labels) + " |", "|---|" + "---|" * len(report.labels)]
    for rfc in report.rfcs():
        cells = [_counts(run.counts_by_rfc().get(rfc, Counter())) for _, run in report.runs]
        lines.append(f"| {_rfc(rfc)} | " + " | ".join(cells) + " |")
    lines.append("| **all** | " + " | ".join(_counts(run.totals()) for _, run in report.runs) + " |")

    lines += ["", "## Requirements", ""]
    head = ["RFC", "Section", "Level", "Requirement", *report.labels, "Tests"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report.rows():
        req = row.requirement
        verdicts = [_SHOWN.get(row.verdicts[label], row.verdicts[label]) for label in report.labels]
        tests = _tests(row.tests)
        what = f"{req.id}: {req.text}" if req.id else f"(described, no keyword) {req.text}" if req.described else req.text
        cells = [_rfc(req.rfc), _cell(req.section), req.level, _cell(what), *verdicts, _cell(tests)]
        lines.append("| " + " | ".join(cells) + " |")

    untested = [v for v in views if v.untested]
    if untested:
        lines += ["", "## Untested statements in scope", ""]
        for v in untested:
            lines += [f"### {_rfc(v.number)} ({len(v.untested)})", ""]
            for r in v.untested:
                s = r.statement
                need = f" A test needs: {_cell(r.status.needs)}" if r.status.needs else ""
                lines.append(f"- `{s.id}` {s.level}: {_cell(s.text)} — *{_cell(r.status.reason)}.*{need}")
            lines.append("")

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
    lines += _not_implemented(report)
    return "\n".join(lines) + "\n"


def _not_implemented(report: Report) -> list[str]:
    """Per DUT, each optional feature it does not declare and how many tests it left out."""
    out: list[str] = []
    for label, run in report.runs:
        reasons = Counter(o.message for o in run.outcomes if o.verdict == "not-implemented")
        if not reasons:
            continue
        if not out:
            out += ["", "## Not implemented (optional features)", ""]
        for reason, n in sorted(reasons.items()):
            out.append(f"- **{label}**: {n} test{'s' if n > 1 else ''} — {_cell(reason)}")
    return out


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
    if o.after is not None:
        out += [f"ran after `{o.after}` (the test before it in the same worker)", ""]
    if o.dut_state:
        out += ["the DUT's state when it failed:", "", "```", o.dut_state.replace("```", "'''"), "```", ""]
    return out
