"""Render a report as ONE self-contained HTML file: inline CSS, no scripts, no fetched resources.

Layout, top to bottom: the DUTs and their totals; a summary per RFC: how many normative
statements the RFC holds, how many are in scope for a host and how many a test checks (per
level group: MUST, SHOULD, MAY), and one stacked bar per DUT over the statements in scope
(pass / fail / known deviation / not implemented (optional) / skipped / untested). Then per RFC: the tested statements with
each DUT's verdict side by side, and under a failing or deviating verdict the message, the
dissected frames and the pcap link; the behaviours cited without a keyword; every untested
statement in scope with the reason and what a test would need; the statements out of scope,
folded, with their reasons.
"""

from __future__ import annotations

import os
from collections import Counter
from html import escape
from pathlib import Path

from reports.catalog import Catalog
from reports.coverage import LEVEL_GROUPS, Counts, RFCView, StatementRow, report_view
from reports.model import FAILING, NOT_RUN, VERDICT_LABELS, Outcome, Report, Row

# Bar segments, in order; a requirement counts once per DUT, with its most telling verdict.
SEGMENTS = (("pass", "pass"), ("fail", "fail"), ("deviation", "known deviation"),
            ("notimpl", VERDICT_LABELS["not-implemented"]), ("skip", "skipped"),
            ("notrun", "not run on this DUT"), ("untested", "untested"))
_BAR_OF = {"pass": "pass", "fail": "fail", "error": "fail", "unexpected-pass": "fail",
           "deviation": "deviation", "not-implemented": "notimpl", "skip": "skip", NOT_RUN: "notrun"}
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
.v-skip{background:#9aa5ab}.v-notimpl{background:#7e8ce0}.v-notrun{background:#fff;box-shadow:inset 0 0 0 1px #b0bec5}.v-untested{background:repeating-linear-gradient(45deg,#d5dde2 0 4px,#eef1f3 4px 8px)}
.legend span{display:inline-flex;align-items:center;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;
 white-space:nowrap}.b-pass{background:#2e7d32}.b-fail,.b-error{background:#c62828}
.b-unexpected-pass{background:#ad1457}.b-deviation{background:#ef8f00}.b-skip{background:#9aa5ab}
.b-not-implemented{background:#7e8ce0}
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
a{color:#1565c0}.cov{font-size:12px;color:#3d474d}.why{font-size:12px;color:#5f6b73}
.need{font-size:12px;color:#37474f}
"""


def _bucket(row: StatementRow, label: str) -> str:
    return "untested" if row.status.kind != "tested" else _BAR_OF.get(row.verdicts.get(label, NOT_RUN), "skip")


def _bar(counts: Counter[str]) -> str:
    total = sum(counts.values()) or 1
    spans = "".join(f'<span class="v-{key}" style="width:{100 * counts[key] / total:.2f}%" '
                    f'title="{counts[key]} {name}"></span>' for key, name in SEGMENTS if counts[key])
    nums = " · ".join(f"{counts[key]} {name}" for key, name in SEGMENTS if counts[key] and key != "pass")
    head = f"<b>{counts['pass']}/{sum(counts.values())} pass</b>"
    return f'<div class="bar">{spans}</div><div class="nums">{head}{" · " if nums else ""}{escape(nums)}</div>'


def _coverage(c: Counts) -> str:
    groups = " · ".join(f"{g} {c.by_level[g][1]}/{c.by_level[g][0]}" for g in LEVEL_GROUPS)
    return (f'<div class="cov">{c.statements} statements · {c.in_scope} in scope · <b>{c.tested} tested</b>'
            f"<br>{groups}</div>")


def _summary(report: Report, views: list[RFCView], total: Counts) -> list[str]:
    out = ['<h2 id="summary">Summary per RFC</h2>', '<p class="legend">' + "".join(
        f'<span><i class="v-{key}"></i>{name}</span>' for key, name in SEGMENTS) +
        '<span class="muted">(the RFC\'s normative statements in scope for a host; tested = cited by a test '
        "of these runs; MUST counts MUST, MUST NOT, REQUIRED, SHALL, SHALL NOT, SHOULD counts SHOULD, "
        "SHOULD NOT, RECOMMENDED, NOT RECOMMENDED, MAY counts MAY and OPTIONAL)</span></p>",
        '<table class="sum"><tr><th>RFC</th><th>statements</th>'
        + "".join(f"<th>{escape(lb)}</th>" for lb in report.labels) + "</tr>"]
    every = [row for v in views for row in (*v.tested, *v.untested)]
    out.append(f'<tr class="all"><td class="rfc">all RFCs</td><td>{_coverage(total)}</td>'
               + "".join(f"<td>{_bar(Counter(_bucket(r, lb) for r in every))}</td>" for lb in report.labels)
               + "</tr>")
    for v in views:
        rows = [*v.tested, *v.untested]
        title = f'<span class="title">{escape(v.title)}</span>' if v.title else ""
        name = f"RFC {v.number}" if v.number else "no RFC"
        out.append(f'<tr><td class="rfc"><a href="#rfc{v.number}">{name}</a>{title}</td><td>{_coverage(v.counts)}</td>'
                   + "".join(f"<td>{_bar(Counter(_bucket(r, lb) for r in rows))}</td>" for lb in report.labels)
                   + "</tr>")
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


def _details(outcomes: list[tuple[str, Outcome]], out_dir: Path) -> str:
    parts = []
    for label, o in outcomes:
        if o.verdict not in _SHOWN:
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
            + _exchange(o) + _order_and_state(o) + "</div>")
    return "".join(parts)


def _order_and_state(o: Outcome) -> str:
    """What helps with a failure that depends on the test before it: that test's name and what
    the DUT held (routes, neighbors) when this one failed."""
    if o.verdict not in FAILING:
        return ""
    after = f'<div class="label">ran after <code>{escape(o.after)}</code> (the test before it in the same worker)</div>' if o.after else ""
    state = (f"<details><summary>the DUT's state when it failed</summary><pre>{escape(o.dut_state)}</pre>"
             "</details>" if o.dut_state else "")
    return after + state


def _badge(verdict: str) -> str:
    if verdict == NOT_RUN:
        return '<td><span class="badge b-notrun" title="this DUT did not run a test of it">not run</span></td>'
    if verdict == "not-implemented":
        return ('<td><span class="badge b-not-implemented" title="a test of an optional feature (or protocol '
                'version) this DUT does not declare">not implemented</span></td>')
    return f'<td><span class="badge b-{escape(verdict)}">{escape(verdict)}</span></td>'


def _tests(outcomes: list[tuple[str, Outcome]]) -> str:
    names: list[str] = []
    for _, o in outcomes:
        shown = o.test + (f' — "{o.quote}"' if o.quote else "")
        if shown not in names:
            names.append(shown)
    return escape(", ".join(names))


def _verdict_rows(report: Report, rows: list[StatementRow], out_dir: Path) -> list[str]:
    ncols = 3 + len(report.labels)
    out = ["<table><tr><th>Section</th><th>Level</th><th>Statement</th>"
           + "".join(f"<th>{escape(lb)}</th>" for lb in report.labels) + "</tr>"]
    for row in rows:
        s = row.statement
        cells = "".join(_badge(row.verdicts.get(lb, NOT_RUN)) for lb in report.labels)
        out.append(f'<tr><td>{escape(s.section)}</td><td class="lvl">{escape(s.level)}</td><td>{escape(s.text)} '
                   f'<span class="id">{escape(s.id)}</span><div class="tests">{_tests(row.outcomes)}</div></td>'
                   f"{cells}</tr>")
        if any(o.verdict in _SHOWN for _, o in row.outcomes):
            out.append(f'<tr><td class="detail" colspan="{ncols}">{_details(row.outcomes, out_dir)}</td></tr>')
    return [*out, "</table>"]


def _other_rows(report: Report, rows: list[Row], out_dir: Path) -> list[str]:
    ncols = 3 + len(report.labels)
    out = ["<table><tr><th>Section</th><th>Level</th><th>Behaviour</th>"
           + "".join(f"<th>{escape(lb)}</th>" for lb in report.labels) + "</tr>"]
    for row in rows:
        req = row.requirement
        outcomes = [(lb, o) for lb, run in report.runs for o in run.outcomes if o.requirement == req]
        cells = "".join(_badge(row.verdicts[lb]) for lb in report.labels)
        out.append(f'<tr><td>{escape(req.section)}</td><td class="lvl">{escape(req.level)}</td>'
                   f'<td>{escape(req.text)}<div class="tests">{_tests(outcomes)}</div></td>{cells}</tr>')
        if any(o.verdict in _SHOWN for _, o in outcomes):
            out.append(f'<tr><td class="detail" colspan="{ncols}">{_details(outcomes, out_dir)}</td></tr>')
    return [*out, "</table>"]


def _reasons(rows: list[StatementRow], needs: bool) -> list[str]:
    out = ["<table><tr><th>Statement</th><th>Level</th><th>Text</th><th>Why</th></tr>"]
    for row in rows:
        s, st = row.statement, row.status
        need = f'<div class="need">a test needs: {escape(st.needs)}</div>' if needs and st.needs else ""
        out.append(f'<tr><td class="id">{escape(s.id)}</td><td class="lvl">{escape(s.level)}</td>'
                   f'<td>{escape(s.text)}</td><td class="why">{escape(st.reason)}{need}</td></tr>')
    return [*out, "</table>"]


def _rfc_section(report: Report, v: RFCView, out_dir: Path) -> list[str]:
    title = f" — {escape(v.title)}" if v.title else ""
    out = [f'<h3 id="rfc{v.number}">RFC {v.number}{title}</h3>', _coverage(v.counts)]
    if v.tested:
        out += ["<h4>Tested statements</h4>", *_verdict_rows(report, v.tested, out_dir)]
    if v.other:
        out += ["<h4>Behaviours cited without a keyword statement (outside the count)</h4>",
                *_other_rows(report, v.other, out_dir)]
    if v.untested:
        out += [f"<h4>Untested statements in scope ({len(v.untested)})</h4>", *_reasons(v.untested, True)]
    outside_tested = [r for r in v.out_of_scope if r.outcomes]
    if outside_tested:
        out += ["<h4>Tested, but out of scope for a host (router statements)</h4>",
                *_verdict_rows(report, outside_tested, out_dir)]
    if v.out_of_scope:
        out += [f"<details><summary>Out of scope ({len(v.out_of_scope)})</summary>",
                *_reasons(v.out_of_scope, False), "</details>"]
    return out


def _views(report: Report, catalog: Catalog | None) -> tuple[list[RFCView], Counts]:
    if catalog is not None:
        return report_view(report, catalog)
    per: dict[int, RFCView] = {}
    for row in report.rows():
        n = row.requirement.rfc
        per.setdefault(n, RFCView(n, "", Counts(), [], [], [], [])).other.append(row)
    return [per[n] for n in sorted(per)], Counts()


def _mutation(report: Report, out_dir: Path) -> list[str]:
    m = report.mutation
    if m is None:
        return []
    rel = Path(os.path.relpath(m.source.resolve().with_suffix(".html"), out_dir.resolve())).as_posix()
    return [f'<p class="mutation"><b>{escape(m.sentence())}</b>. Survivors with their diffs: '
            f'<a href="{escape(rel)}">{escape(rel)}</a>.</p>']


def render(report: Report, out_dir: Path, catalog: Catalog | None = None) -> str:
    """``out_dir`` is where the HTML file goes; pcap links are relative to it."""
    views, total = _views(report, catalog)
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
        *_mutation(report, out_dir),
        *_summary(report, views, total),
        '<h2 id="requirements">Statements per RFC</h2>',
        *[line for v in views for line in _rfc_section(report, v, out_dir)],
    ]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>stackcheck conformance report</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
