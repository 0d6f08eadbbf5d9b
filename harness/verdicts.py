"""From pytest's reports to one stackcheck verdict and result record per test.

    passed -> "pass"        failed -> "fail"           xfailed (known deviation) -> "deviation"
    strict xpass -> "unexpected-pass"   skipped -> "skip"   setup/teardown error -> "error"
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from harness.deviations import Deviation
from harness.rfc import requirement_of

VERDICTS = ("pass", "fail", "deviation", "unexpected-pass", "skip", "error")
MESSAGE_LIMIT = 2000


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _exception(call: pytest.CallInfo[None], report: pytest.TestReport) -> str:
    if call.excinfo is not None:
        return call.excinfo.exconly()
    return report.longreprtext


def update(current: dict[str, Any], report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    """Fold one phase's report (setup, call, teardown) into the test's verdict so far."""
    current["duration_s"] += report.duration
    when, outcome = report.when, report.outcome
    if outcome == "skipped" and hasattr(report, "wasxfail"):
        current.update(verdict="deviation", message=_clip(_exception(call, report)))
    elif outcome == "skipped":
        current.update(verdict="skip", message=_clip(_skip_reason(report)))
    elif outcome == "failed" and when == "call":
        text = str(report.longrepr) if isinstance(report.longrepr, str) else ""
        if text.startswith("[XPASS(strict)]"):
            current.update(verdict="unexpected-pass", message=(
                "passed, but the expectation file lists it as a known deviation; "
                "the DUT now conforms, so remove the entry"))
        else:
            current.update(verdict="fail", message=_clip(_exception(call, report)))
    elif outcome == "failed":
        # An error in set-up or tear-down is the bench's problem, not the DUT's verdict,
        # unless the test itself already failed.
        if current["verdict"] not in ("fail", "unexpected-pass"):
            current.update(verdict="error", message=_clip(f"error in {when}: {_exception(call, report)}"))
    elif when == "call" and current["verdict"] is None:
        current.update(verdict="pass", message="")


def requirement(item: pytest.Item) -> dict[str, Any]:
    """The @rfc citation of ``item`` as record fields (None values when it cites none)."""
    req = requirement_of(item)
    if req is None:
        return {"rfc": None, "section": None, "level": None, "requirement": None, "req": None, "quote": None,
                "described": False}
    return {"rfc": req.rfc, "section": req.section, "level": req.level.value, "requirement": req.text,
            "req": req.id, "quote": req.quote, "described": req.described}


# ---- the exchange shown with a failure (report helper) ------------------------------------
EXCHANGE_FRAMES = 8  # the last frames of the test: what was sent and what came back
DISSECTION_LIMIT = 4000


def exchange(records: Any) -> list[dict[str, Any]]:
    """The test's last frames (capture Records) dissected with Scapy, for the report's
    "expected vs received" view: [{"direction", "summary", "dissection"}]."""
    from scapy.layers.l2 import Ether

    shown = []
    for rec in list(records)[-EXCHANGE_FRAMES:]:
        try:
            pkt = Ether(rec.frame)
            summary, dissection = pkt.summary(), str(pkt.show(dump=True))
        except Exception as e:  # a frame Scapy cannot dissect is still worth listing
            summary, dissection = f"{len(rec.frame)} octets (Scapy: {e})", rec.frame.hex()
        shown.append({"direction": rec.direction, "summary": summary,
                      "dissection": _clip_to(dissection, DISSECTION_LIMIT)})
    return shown


def _clip_to(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record(item: pytest.Item, current: dict[str, Any], deviation: Deviation | None,
           pcap: str | None, frames: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "nodeid": item.nodeid,
        "test": item.name,
        **requirement(item),
        "verdict": current["verdict"] or "error",
        "message": current["message"],
        "pcap": pcap,
        "duration_s": round(current["duration_s"], 6),
        "deviation": {"reason": deviation.observed, "rfc": deviation.rfc} if deviation else None,
        "exchange": frames or [],
    }


def summary_lines(records: list[dict[str, Any]]) -> list[str]:
    """One line per RFC: counts of each verdict that occurred."""
    per_rfc: dict[Any, Counter[str]] = {}
    for r in records:
        per_rfc.setdefault(r.get("rfc"), Counter())[r["verdict"]] += 1
    lines = []
    for rfc in sorted(per_rfc, key=lambda n: (n is None, n or 0)):
        counts = per_rfc[rfc]
        label = f"RFC {rfc}" if rfc is not None else "no RFC"
        shown = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
        lines.append(f"{label:>9}: {shown}")
    return lines
