"""From pytest's reports to one stackcheck verdict and result record per test.

    passed -> "pass"        failed -> "fail"           xfailed (known deviation) -> "deviation"
    strict xpass -> "unexpected-pass"   skipped -> "skip"   setup/teardown error -> "error"
    skipped because the DUT does not declare the optional feature tested -> "not-implemented"

The verdicts and the record's shape (``ResultRecord``) belong to ``reports.model``, which reads
the results back; this module only fills them in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from harness.deviations import Deviation
from harness.rfc import requirement_of
from reports.model import VERDICTS, DeviationRecord, FrameRecord, ResultRecord, Verdict

if TYPE_CHECKING:
    from harness.capture import Record

MESSAGE_LIMIT = 2000


@dataclass
class Progress:
    """A test's verdict so far, folded over its set-up, call and tear-down reports."""

    verdict: Verdict | None = None
    message: str = ""
    duration_s: float = 0.0


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


def update(current: Progress, report: pytest.TestReport, call: pytest.CallInfo[None], *,
           not_implemented: bool = False) -> None:
    """Fold one phase's report (setup, call, teardown) into the test's verdict so far.

    ``not_implemented``: the test raised ``FeatureAbsent`` (it checks an optional feature the
    DUT does not declare), so its skip is the verdict "not-implemented"."""
    current.duration_s += report.duration
    when, outcome = report.when, report.outcome
    if outcome == "skipped" and hasattr(report, "wasxfail"):
        current.verdict, current.message = "deviation", _clip(_exception(call, report))
    elif outcome == "skipped" and not_implemented:
        current.verdict, current.message = "not-implemented", _clip(_skip_reason(report))
    elif outcome == "skipped":
        current.verdict, current.message = "skip", _clip(_skip_reason(report))
    elif outcome == "failed" and when == "call":
        text = str(report.longrepr) if isinstance(report.longrepr, str) else ""
        if text.startswith("[XPASS(strict)]"):
            current.verdict, current.message = "unexpected-pass", (
                "passed, but the expectation file lists it as a known deviation; "
                "the DUT now conforms, so remove the entry")
        else:
            current.verdict, current.message = "fail", _clip(_exception(call, report))
    elif outcome == "failed":
        # An error in set-up or tear-down is the bench's problem, not the DUT's verdict,
        # unless the test itself already failed.
        if current.verdict not in ("fail", "unexpected-pass"):
            current.verdict, current.message = "error", _clip(f"error in {when}: {_exception(call, report)}")
    elif when == "call" and current.verdict is None:
        current.verdict, current.message = "pass", ""


# ---- the exchange shown with a failure ----------------------------------------------------
STATE_LIMIT = 8000  # of the DUT's state at a failure (a few dozen routes and neighbors)
EXCHANGE_FRAMES = 8  # the last frames of the test: what was sent and what came back
DISSECTION_LIMIT = 4000


def exchange(records: Iterable[Record]) -> list[FrameRecord]:
    """The test's last frames (capture records) dissected with Scapy, for the report's
    "expected vs received" view."""
    from scapy.layers.l2 import Ether

    shown = []
    for rec in list(records)[-EXCHANGE_FRAMES:]:
        try:
            pkt = Ether(rec.frame)
            summary, dissection = pkt.summary(), str(pkt.show(dump=True))
        except Exception as e:  # a frame Scapy cannot dissect is still worth listing
            summary, dissection = f"{len(rec.frame)} octets (Scapy: {e})", rec.frame.hex()
        shown.append(FrameRecord(direction=rec.direction, summary=summary,
                                 dissection=_clip_to(dissection, DISSECTION_LIMIT)))
    return shown


def _clip_to(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record(item: pytest.Item, current: Progress, deviation: Deviation | None,
           pcap: str | None, frames: list[FrameRecord] | None = None, *,
           worker: str = "main", after: str | None = None, dut_state: str = "") -> ResultRecord:
    """The test's result record, with its @rfc citation (None fields when it cites none).

    ``worker`` ran it just after the test ``after``; ``dut_state`` is what the DUT held when
    it failed (``FrameDUT.describe_state``)."""
    req = requirement_of(item)
    return ResultRecord(
        nodeid=item.nodeid,
        test=item.name,
        rfc=None if req is None else req.rfc,
        section=None if req is None else req.section,
        level=None if req is None else req.level.value,
        requirement=None if req is None else req.text,
        req=None if req is None else req.id,
        quote=None if req is None else req.quote,
        described=False if req is None else req.described,
        also=[] if req is None else list(req.also),
        verdict=current.verdict or "error",
        message=current.message,
        pcap=pcap,
        duration_s=round(current.duration_s, 6),
        deviation=DeviationRecord(reason=deviation.observed, rfc=deviation.rfc) if deviation else None,
        exchange=frames or [],
        expectations=[],
        worker=worker,
        after=after,
        dut_state=_clip_to(dut_state.strip(), STATE_LIMIT),
    )


def summary_lines(records: list[ResultRecord]) -> list[str]:
    """One line per RFC: counts of each verdict that occurred."""
    per_rfc: dict[int | None, Counter[Verdict]] = {}
    for r in records:
        per_rfc.setdefault(r["rfc"], Counter())[r["verdict"]] += 1
    lines = []
    for rfc in sorted(per_rfc, key=lambda n: (n is None, n or 0)):
        counts = per_rfc[rfc]
        label = f"RFC {rfc}" if rfc is not None else "no RFC"
        shown = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
        lines.append(f"{label:>9}: {shown}")
    return lines
