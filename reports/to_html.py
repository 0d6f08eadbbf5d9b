"""Render a report as ONE self-contained HTML file: inline CSS, no scripts, no fetched resources.

Layout, top to bottom: the DUTs and their totals; a summary per RFC with one stacked bar per
DUT (requirements that pass / fail / are a known deviation / were skipped / are untested);
then per RFC and section one row per requirement with each DUT's verdict side by side, and
under a failing or deviating verdict the message, the dissected frames and the pcap link.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path

from reports.catalog import Catalog, Citation, Entry
from reports.model import FAILING, Outcome, Report, Requirement, Row, worst

# Bar segments, in order; a requirement counts once per DUT, with its most telling verdict.
SEGMENTS = (("pass", "pass"), ("fail", "fail"), ("deviation", "known deviation"),
            ("skip", "skipped"), ("notrun", "not run on this DUT"), ("untested", "untested"))
_BAR_OF = {"pass": "pass", "fail": "fail", "error": "fail", "unexpected-pass": "fail",
           "deviation": "deviation", "skip": "skip", "—": "notrun"}
_SHOWN = FAILING | {"deviation"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px 32px;color:#1d2327;
 background:#fff;max-width:1500px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #e3e7ea;
 padding-bottom:4px}h3{font-size:16px;margin:22px 0 6px}
.muted{color:#5f6b73}.duts{margin:6px 0 14px;padding:0;list-style:none}.duts li{margin:2px 0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:5px 8px;
 border-bottom:1px solid #e8ebed}th{background:#f4f6f7;font-weight:600;font-size:13px}
.sum{table-layout:fixed}.sum td{vertical-align:middle}.sum .rfc{font-weight:600;width:260px}
.sum tr.all td{background:#f8fafb;border-bottom:2px solid #cfd8dc;font-size:15px}.sum .title{color:#5f6b73;font-weight:400;font-size:12px;display:block}
.bar{display:flex;height:18px;border-radius:3px;overflow:hidden;background:#eef1f3}
.bar span{display:block;height:100%}.nums{font-size:12px;color:#3d474d;margin-top:2px}
.nums b{color:#1d2327}
.v-pass{background:#2e7d32}.v-fail{background:#c62828}.v-deviation{background:#ef8f00}
.v-skip{background:#9aa5ab}.v-notrun{background:#fff;box-shadow:inset 0 0 0 1px #b0bec5}.v-untested{background:repeating-linear-gradient(45deg,#d5dde2 0 4px,#eef1f3 4px 8px)}
.legend span{display:inline-flex;align-items:center;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;
 white-space:nowrap}.b-pass{background:#2e7d32}.b-fail,.b-error{background:#c62828}
.b-unexpected-pass{background:#ad1457}.b-deviation{background:#ef8f00}.b-skip{background:#9aa5ab}
.b-notrun{background:#fff;color:#78909c;border:1px solid #cfd8dc}.label{font-size:12px;color:#5f6b73;margin-top:4px}
.b-untested{background:#eef1f3;color:#5f6b73;border:1px solid #cfd8dc}
.lvl{font-size:11px;font-weight:700;color:#37474f;white-space:nowrap}.id{font:11px monospace;color:#5f6b73}
.tests{font:11px monospace;color:#5f6b73;word-break:break-all}
td.detail{background:#fbfbfc;padding:4px 8px 10px 24px}
.detail .who{font-weight:600}pre{background:#f4f6f7;border:1px solid #e3e7ea;padding:6px 8px;margin:4px 0;
 white-space:pre-wrap;word-break:break-word;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;max-height:240px;
 overflow:auto}details{margin:3px 0}summary{cursor:pointer;font-size:13px}
.frames{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:8px}
.dir{font-size:12px;font-weight:600}.to_dut{color:#1565c0}.from_dut{color:#6a1b9a}
a{color:#1565c0}
"""


@dataclass
class _Line:
    """One requirement line of the detail table: tested (a Row) or only catalogued (an Entry)."""

    requirement: Requirement
    row: Row | None
    entry: Entry | None


def _citation(o: Outcome) -> Citation:
    name = o.nodeid.removeprefix("conformance/").split("[", 1)[0]
    r = o.requirement
    return Citation(name, r.rfc, r.section, r.level, r.text, r.id or None)


def _lines(report: Report, catalog: Catalog | None) -> list[_Line]:
    first: dict[Requirement, Outcome] = {}
    for _, run in report.runs:
        for o in run.outcomes:
            first.setdefault(o.requirement, o)
    lines = [_Line(row.requirement, row, catalog.covering(_citation(first[row.requirement])) if catalog else None)
             for row in report.rows()]
    if catalog is not None:
        covered = {e.id for _, run in report.runs for o in run.outcomes
                   if (e := catalog.covering(_citation(o))) is not None}
        for e in catalog.entries:
            if e.id not in covered:
                requirement = Requirement(e.rfc, e.section, e.level, e.text, e.id)
                lines.append(_Line(requirement, _listed_row(report, e, requirement), e))
    return sorted(lines, key=lambda line: (line.requirement.rfc, _section_key(line.requirement.section),
                                           line.requirement.text))


def _listed_row(report: Report, entry: Entry, requirement: Requirement) -> Row | None:
    """The verdicts of the tests an entry names in ``tests`` whose citations map to another
    entry (a test checks that one too); None when none of them ran: the entry is untested."""
    verdicts: dict[str, list[str]] = {}
    names: list[str] = []
    for label, run in report.runs:
        for o in run.outcomes:
            if _citation(o).test in entry.tests:
                verdicts.setdefault(label, []).append(o.verdict)
                if o.test not in names:
                    names.append(o.test)
    if not names:
        return None
    return Row(requirement, {label: worst(verdicts.get(label, [])) for label in report.labels}, names)


def _section_key(section: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in section.split("."))


def _bucket(line: _Line, label: str) -> str:
    return "untested" if line.row is None else _BAR_OF.get(line.row.verdicts.get(label, "—"), "skip")


def _bar(counts: Counter[str]) -> str:
    total = sum(counts.values()) or 1
    spans = "".join(f'<span class="v-{key}" style="width:{100 * counts[key] / total:.2f}%" '
                    f'title="{counts[key]} {name}"></span>' for key, name in SEGMENTS if counts[key])
    nums = " · ".join(f"{counts[key]} {name}" for key, name in SEGMENTS if counts[key] and key != "pass")
    head = f"<b>{counts['pass']}/{sum(counts.values())} pass</b>"
    return f'<div class="bar">{spans}</div><div class="nums">{head}{" · " if nums else ""}{escape(nums)}</div>'


def _summary(report: Report, lines: list[_Line], titles: dict[int, str]) -> list[str]:
    out = ['<h2 id="summary">Summary per RFC</h2>', '<p class="legend">' + "".join(
        f'<span><i class="v-{key}"></i>{name}</span>' for key, name in SEGMENTS) +
        '<span class="muted">(requirements, not tests)</span></p>',
        '<table class="sum"><tr><th>RFC</th>' + "".join(f"<th>{escape(lb)}</th>" for lb in report.labels)
        + "</tr>"]
    by_rfc: dict[int, list[_Line]] = {}
    for line in lines:
        by_rfc.setdefault(line.requirement.rfc, []).append(line)
    grand = {label: Counter(_bucket(line, label) for line in lines) for label in report.labels}
    # The overall line comes first: the answer at a glance, then the RFCs.
    out.append('<tr class="all"><td class="rfc">all RFCs</td>'
               + "".join(f"<td>{_bar(grand[lb])}</td>" for lb in report.labels) + "</tr>")
    for number, group in by_rfc.items():
        cells = []
        for label in report.labels:
            counts = Counter(_bucket(line, label) for line in group)
            cells.append(f"<td>{_bar(counts)}</td>")
        name = f"RFC {number}" if number else "no RFC"
        title = f'<span class="title">{escape(titles.get(number, ""))}</span>' if titles.get(number) else ""
        out.append(f'<tr><td class="rfc"><a href="#rfc{number}">{name}</a>{title}</td>{"".join(cells)}</tr>')
    out.append("</table>")
    return out


def _link(path: Path | None, out_dir: Path) -> str:
    if path is None:
        return ""
    rel = Path(os.path.relpath(path, out_dir.resolve())).as_posix()
    return f'<a href="{escape(rel)}">pcap</a>'


def _exchange(o: Outcome) -> str:
    if not o.exchange:
        return ""
    frames = "".join(
        f'<div><div class="dir {escape(f["direction"])}">'
        f'{"sent to the DUT" if f["direction"] == "to_dut" else "received from the DUT"}: '
        f'{escape(f["summary"])}</div><pre>{escape(f["dissection"])}</pre></div>' for f in o.exchange)
    return (f"<details><summary>the last {len(o.exchange)} frames of the exchange, dissected</summary>"
            f'<div class="frames">{frames}</div></details>')


def _details(report: Report, req: Requirement, out_dir: Path) -> str:
    parts = []
    for label, run in report.runs:
        for o in run.outcomes:
            if o.requirement != req or o.verdict not in _SHOWN:
                continue
            text = o.deviation if o.verdict == "deviation" and o.deviation else o.message
            pcap = _link(o.pcap, out_dir)
            parts.append(
                f'<div><span class="who">{escape(label)}</span> <span class="badge b-{o.verdict}">'
                f'{escape(o.verdict)}</span> <code>{escape(o.test)}</code> {pcap}'
                + (f'<div class="label">{"observed (expectation file)" if o.verdict == "deviation" else "expected vs received"}'
                   f"</div><pre>{escape(text)}</pre>" if text else "")
                + (f"<details><summary>expectation</summary><pre>{escape(o.message)}</pre></details>"
                   if o.verdict == "deviation" and o.message else "")
                + _exchange(o) + "</div>")
    return "".join(parts)


def _badge(verdict: str) -> str:
    if verdict == "—":
        return '<td><span class="badge b-notrun" title="this DUT did not run a test of it">not run</span></td>'
    return f'<td><span class="badge b-{escape(verdict)}">{escape(verdict)}</span></td>'


def _requirements(report: Report, lines: list[_Line], titles: dict[int, str], out_dir: Path) -> list[str]:
    out = ['<h2 id="requirements">Requirements</h2>']
    ncols = 3 + len(report.labels)
    current: tuple[int, str] | None = None
    for line in lines:
        req = line.requirement
        if current is None or current[0] != req.rfc:
            if current is not None:
                out.append("</table>")
            title = f" — {escape(titles[req.rfc])}" if titles.get(req.rfc) else ""
            out.append(f'<h3 id="rfc{req.rfc}">RFC {req.rfc}{title}</h3><table><tr><th>Section</th><th>Level</th>'
                       "<th>Requirement</th>" + "".join(f"<th>{escape(lb)}</th>" for lb in report.labels) + "</tr>")
            current = (req.rfc, "")
        section = escape(req.section) if current[1] != req.section else ""
        current = (req.rfc, req.section)
        shown_id = req.id or (line.entry.id if line.entry else "")
        ident = f' <span class="id">{escape(shown_id)}</span>' if shown_id else ""
        if line.row is None:
            reason = escape(line.entry.untested or "no test yet") if line.entry else ""
            cells = "".join(f'<td><span class="badge b-untested" title="{reason}">untested</span></td>'
                            for _ in report.labels)
            text = f'{escape(req.text)}{ident}<div class="tests">untested: {reason}</div>'
        else:
            cells = "".join(_badge(line.row.verdicts[lb]) for lb in report.labels)
            text = f'{escape(req.text)}{ident}<div class="tests">{escape(", ".join(line.row.tests))}</div>'
        out.append(f'<tr><td>{section}</td><td class="lvl">{escape(req.level)}</td><td>{text}</td>{cells}</tr>')
        if line.row is not None and any(v in _SHOWN for v in line.row.verdicts.values()):
            out.append(f'<tr><td class="detail" colspan="{ncols}">{_details(report, req, out_dir)}</td></tr>')
    if current is not None:
        out.append("</table>")
    return out


def render(report: Report, out_dir: Path, catalog: Catalog | None = None) -> str:
    """``out_dir`` is where the HTML file goes; pcap links are relative to it."""
    titles = catalog.titles if catalog is not None else {}
    lines = _lines(report, catalog)
    duts = []
    for label, run in report.runs:
        totals = run.totals()
        shown = ", ".join(f"{n} {v}" for v, n in totals.most_common())
        seed = f"; test order --randomly-seed={run.seed}" if run.seed is not None else ""
        entries = "".join(
            f"<li>expectation {escape(str(e.get('status')))}: <code>{escape(str(e.get('test')))}</code>"
            + (f" when {escape(str(e['when']))}" if e.get("when") else "")
            + (f" — not applied: {escape('; '.join(map(str, e.get('why_not') or [])))}" if e.get("why_not") else "")
            + "</li>" for e in run.expectations_to_report())
        duts.append(f"<li><b>{escape(label)}</b>: {len(run.outcomes)} tests ({escape(shown)}) "
                    f'<span class="muted">{escape(run.started)} – {escape(run.finished)}</span>'
                    f'<br><span class="muted">DUT: {escape(run.identity_line())}{escape(seed)}</span>'
                    + (f"<ul>{entries}</ul>" if entries else "") + "</li>")
    verdict = "every test passed or is a known deviation" if report.ok() else "some tests FAILED"
    body = [
        "<h1>stackcheck conformance report</h1>",
        f'<p class="muted">{len(report.runs)} DUT(s) side by side; {escape(verdict)}.</p>',
        f'<ul class="duts">{"".join(duts)}</ul>',
        *_summary(report, lines, titles),
        *_requirements(report, lines, titles, out_dir),
    ]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>stackcheck conformance report</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
