"""Render a report as JSON: the same tables as the Markdown report, for machines.

With the catalog, ``coverage`` has the shape of ``stackcheck catalog coverage --json``
(``{"rfcs": {"4861": {"statements", "in_scope", "tested", "by_level"}}, "total": ...}``, host
role, tested = cited by a test of these runs) and ``untested`` lists the statements in scope
that no test of the runs cites, with the catalog's reason and what a test would need."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reports.catalog import Catalog
from reports.coverage import report_view
from reports.model import Report


def _coverage(report: Report, catalog: Catalog) -> dict[str, Any]:
    views, total = report_view(report, catalog)
    return {
        "coverage": {"rfcs": {str(v.number): v.counts.as_dict() for v in views if v.number},
                     "total": total.as_dict()},
        "untested": [
            {"id": r.statement.id, "rfc": r.statement.rfc, "section": r.statement.section,
             "level": r.statement.level, "role": r.role, "statement": r.statement.text,
             "reason": r.status.reason, "needs": r.status.needs}
            for v in views for r in v.untested
        ],
    }


def as_dict(report: Report, out_dir: Path, catalog: Catalog | None = None) -> dict[str, Any]:
    def pcap(path: Path | None) -> str | None:
        return Path(os.path.relpath(path, out_dir.resolve())).as_posix() if path else None

    m = report.mutation
    return {
        "mutation": None if m is None else {
            "suite": m.suite, "date": m.date, "commit": m.commit, "mutants": m.mutants, "killed": m.killed,
            "survived": m.survived, "equivalent": m.equivalent, "score": m.score, "partial": m.partial,
            "source": str(m.source)},
        "duts": [
            {"label": label, "dut": run.dut, "identity": run.identity, "randomly_seed": run.seed,
             "started": run.started, "finished": run.finished,
             "source": str(run.source), "totals": dict(run.totals()), "expectations": list(run.expectations)}
            for label, run in report.runs
        ],
        "summary": {
            label: {str(rfc): dict(counts) for rfc, counts in run.counts_by_rfc().items()}
            for label, run in report.runs
        },
        "requirements": [
            {"rfc": row.requirement.rfc or None, "id": row.requirement.id or None,
             "also": list(row.requirement.also), "described": row.requirement.described,
             "section": row.requirement.section,
             "level": row.requirement.level, "requirement": row.requirement.text,
             "verdicts": row.verdicts, "tests": row.tests}
            for row in report.rows()
        ],
        "failures": [
            {"dut": label, "nodeid": o.nodeid, "rfc": o.requirement.rfc or None, "verdict": o.verdict,
             "message": o.message, "pcap": pcap(o.pcap), "after": o.after, "dut_state": o.dut_state}
            for label, run in report.runs for o in run.failing()
        ],
        "deviations": [
            {"dut": label, "nodeid": o.nodeid, "rfc": o.requirement.rfc or None, "reason": o.deviation,
             "pcap": pcap(o.pcap)}
            for label, run in report.runs for o in run.deviations()
        ],
        "ok": report.ok(),
        **(_coverage(report, catalog) if catalog is not None else {}),
    }


def render(report: Report, out_dir: Path, catalog: Catalog | None = None) -> str:
    return json.dumps(as_dict(report, out_dir, catalog), indent=2) + "\n"
