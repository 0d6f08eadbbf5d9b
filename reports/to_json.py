"""Render a report as JSON: the same tables as the Markdown report, for machines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reports.model import Report


def as_dict(report: Report, out_dir: Path) -> dict[str, Any]:
    def pcap(path: Path | None) -> str | None:
        return Path(os.path.relpath(path, out_dir.resolve())).as_posix() if path else None

    return {
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
             "section": row.requirement.section,
             "level": row.requirement.level, "requirement": row.requirement.text,
             "verdicts": row.verdicts, "tests": row.tests}
            for row in report.rows()
        ],
        "failures": [
            {"dut": label, "nodeid": o.nodeid, "rfc": o.requirement.rfc or None, "verdict": o.verdict,
             "message": o.message, "pcap": pcap(o.pcap)}
            for label, run in report.runs for o in run.failing()
        ],
        "deviations": [
            {"dut": label, "nodeid": o.nodeid, "rfc": o.requirement.rfc or None, "reason": o.deviation,
             "pcap": pcap(o.pcap)}
            for label, run in report.runs for o in run.deviations()
        ],
        "ok": report.ok(),
    }


def render(report: Report, out_dir: Path) -> str:
    return json.dumps(as_dict(report, out_dir), indent=2) + "\n"
