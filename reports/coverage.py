"""Coverage of the requirement catalog: per RFC and overall, statements, in scope and tested.

For the host role (the DUT is a host), per RFC::

    {"statements": N, "in_scope": N, "tested": N,
     "by_level": {"MUST": {"in_scope": N, "tested": N}, "SHOULD": {...}, "MAY": {...}}}

``statements`` counts every normative statement the RFC holds; ``in_scope`` those the suite
should test (not out of scope for the role, see ``reports.catalog.Catalog.status``); ``tested``
the in-scope ones a conformance test cites. A statement counts in the group of its strongest
keyword: MUST (MUST, MUST NOT, REQUIRED, SHALL, SHALL NOT), SHOULD (SHOULD, SHOULD NOT,
RECOMMENDED, NOT RECOMMENDED) or MAY (MAY, OPTIONAL), so "MUST ... MAY" counts as MUST.
Behaviours cited with ``@described`` are not statements and count nowhere here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from reports.catalog import Catalog, Status
from reports.model import Cell, Outcome, Report, Row, worst
from reports.rfcs.statements import GROUPS, Statement

LEVEL_GROUPS: Final = tuple(GROUPS)


@dataclass
class Counts:
    statements: int = 0
    in_scope: int = 0
    tested: int = 0
    by_level: dict[str, list[int]] = field(default_factory=lambda: {g: [0, 0] for g in LEVEL_GROUPS})

    def add(self, statement: Statement, status: Status) -> None:
        self.statements += 1
        if not status.in_scope:
            return
        self.in_scope += 1
        group = self.by_level[statement.group]
        group[0] += 1
        if status.kind == "tested":
            self.tested += 1
            group[1] += 1

    def merge(self, other: Counts) -> None:
        self.statements += other.statements
        self.in_scope += other.in_scope
        self.tested += other.tested
        for g in LEVEL_GROUPS:
            self.by_level[g][0] += other.by_level[g][0]
            self.by_level[g][1] += other.by_level[g][1]

    def as_dict(self) -> dict[str, Any]:
        return {"statements": self.statements, "in_scope": self.in_scope, "tested": self.tested,
                "by_level": {g: {"in_scope": n, "tested": t} for g, (n, t) in self.by_level.items()}}

    def percent(self, group: str) -> float | None:
        n, t = self.by_level[group]
        return 100.0 * t / n if n else None


@dataclass(frozen=True)
class Line:
    """One statement with its status, for the reports' lists."""

    statement: Statement
    status: Status
    role: str


def lines(catalog: Catalog, tested: Iterable[str], role: str = "host") -> list[Line]:
    cited = set(tested)
    out = []
    for s in catalog.statements():
        entry = catalog.entries.get(s.id)
        out.append(Line(s, catalog.status(s, s.id in cited, role), entry.role if entry else "both"))
    return out


def coverage(catalog: Catalog, tested: Iterable[str], role: str = "host") -> tuple[dict[int, Counts], Counts]:
    """(per RFC, total) for a DUT of ``role``."""
    per: dict[int, Counts] = {n: Counts() for n in sorted(catalog.titles)}
    for line in lines(catalog, tested, role):
        per[line.statement.rfc].add(line.statement, line.status)
    total = Counts()
    for counts in per.values():
        total.merge(counts)
    return per, total


def as_json(catalog: Catalog, tested: Iterable[str], role: str = "host") -> dict[str, Any]:
    """``{"rfcs": {"4861": {...}, ...}, "total": {...}}``, the shape scripts read."""
    per, total = coverage(catalog, tested, role)
    return {"rfcs": {str(n): c.as_dict() for n, c in per.items()}, "total": total.as_dict()}


# ---- the reports' view: statements with the verdicts of the tests that cite them ----------


@dataclass
class StatementRow:
    statement: Statement
    status: Status  # for the host role
    role: str
    verdicts: dict[str, Cell] = field(default_factory=dict)  # DUT column -> worst verdict
    outcomes: list[tuple[str, Outcome]] = field(default_factory=list)  # (column, outcome) citing it


@dataclass
class RFCView:
    number: int
    title: str
    counts: Counts
    tested: list[StatementRow]  # in scope and cited by a test of the runs
    untested: list[StatementRow]  # in scope, no test: with the catalog's reason
    out_of_scope: list[StatementRow]
    other: list[Row]  # citations that are no statement: described behaviours, text not converted


def report_view(report: Report, catalog: Catalog, role: str = "host") -> tuple[list[RFCView], Counts]:
    """Per RFC of the catalog (and of the runs), every statement with its status for ``role``
    and, when a test of the runs cites it, each DUT's verdict; "tested" counts what these runs
    cite (a run of a subset of the suite shows a subset)."""
    citing: dict[str, list[tuple[str, Outcome]]] = {}
    for label, run in report.runs:
        for o in run.outcomes:
            for sid in filter(None, (o.requirement.id, *o.requirement.also)):
                citing.setdefault(sid, []).append((label, o))
    statement_ids = {s.id for s in catalog.statements()}
    views: dict[int, RFCView] = {}
    for line in lines(catalog, citing.keys(), role):
        s = line.statement
        view = views.setdefault(s.rfc, RFCView(s.rfc, catalog.titles.get(s.rfc, ""), Counts(), [], [], [], []))
        view.counts.add(s, line.status)
        row = StatementRow(s, line.status, line.role, outcomes=citing.get(s.id, []))
        row.verdicts = {label: worst([o.verdict for lb, o in row.outcomes if lb == label]) for label in report.labels}
        if not line.status.in_scope:
            view.out_of_scope.append(row)
        elif line.status.kind == "tested":
            view.tested.append(row)
        else:
            view.untested.append(row)
    for r in report.rows():
        if r.requirement.id not in statement_ids:
            number = r.requirement.rfc
            views.setdefault(number, RFCView(number, catalog.titles.get(number, ""), Counts(), [], [], [], []))
            views[number].other.append(r)
    total = Counts()
    for v in views.values():
        total.merge(v.counts)
    return [views[n] for n in sorted(views)], total
