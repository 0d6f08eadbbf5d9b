"""Applying expectation entries to tests: known deviations become xfail(strict), per DUT build.

An entry without a condition applies at collection. One conditioned on identity fields (kernel
release, build) is decided at collection too; one conditioned on a sysctl is decided in the
``dut`` fixture, once the DUT runs and its namespace can be read. Every decision is noted on the
test (``EXPECTATION``) and ends up in its result record, so the run can say which entries
applied and why the others did not (``summary``), instead of ignoring a stale one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from harness.deviations import Deviation

DEVIATION = pytest.StashKey[Deviation]()  # the entry that applies to the test
CONDITIONAL = pytest.StashKey[list[Deviation]]()  # entries left for the dut fixture to decide
EXPECTATION = pytest.StashKey[list[dict[str, Any]]]()  # [{"test", "when", "applied", "why"}]


def _describe(dev: Deviation) -> str:
    return dev.when.describe() if dev.when is not None else ""


def _note(item: pytest.Item, dev: Deviation, applied: bool, why: str) -> None:
    item.stash.setdefault(EXPECTATION, []).append(
        {"test": dev.test, "when": _describe(dev), "applied": applied, "why": why})


def _apply(item: pytest.Item, dev: Deviation) -> None:
    item.stash[DEVIATION] = dev
    # Added as late as the dut fixture works too: pytest evaluates xfail marks again at call.
    kind = "known intermittent deviation" if dev.intermittent else "known deviation"
    item.add_marker(pytest.mark.xfail(strict=not dev.intermittent, reason=f"{kind}: {dev.observed}"))


def mark(item: pytest.Item, matching: list[Deviation], identity: Mapping[str, str]) -> None:
    """At collection: apply the first matching entry that holds, or leave sysctl ones pending."""
    pending: list[Deviation] = []
    for dev in matching:
        if dev.when is None:
            _note(item, dev, True, "")
            _apply(item, dev)
            return
        if dev.when.needs_dut:
            pending.append(dev)
            continue
        holds, why = dev.when.check(identity)
        _note(item, dev, holds, why)
        if holds:
            _apply(item, dev)
            return
    if pending:
        item.stash[CONDITIONAL] = pending


def mark_with_dut(item: pytest.Item, dut: object, identity: Mapping[str, str]) -> None:
    """In the dut fixture: decide the entries whose condition reads the running DUT."""
    pending = item.stash.get(CONDITIONAL, None)
    if not pending or DEVIATION in item.stash:
        return
    reader = getattr(dut, "read_sysctl", None)
    for dev in pending:
        assert dev.when is not None
        holds, why = dev.when.check(identity, reader)
        _note(item, dev, holds, why)
        if holds:
            _apply(item, dev)
            return


def summary(entries: list[Deviation], records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per entry of the expectation file: the cases it matched in this run, how many it applied
    to, why it did not apply to the others, and their verdicts."""
    out = []
    for dev in entries:
        when = _describe(dev)
        applied = not_applied = 0
        why_not: set[str] = set()
        verdicts: Counter[str] = Counter()
        for record in records:
            notes = [n for n in record.get("expectations", []) if n["test"] == dev.test and n["when"] == when]
            if not notes:
                continue
            verdicts[record["verdict"]] += 1
            if notes[-1]["applied"]:
                applied += 1
            else:
                not_applied += 1
                why_not.add(notes[-1]["why"])
        status = ("not run" if not verdicts else "applied" if not not_applied
                  else "not applied" if not applied else "applied to some cases")
        out.append({"test": dev.test, "when": when, "observed": dev.observed, "status": status,
                    "applied": applied, "not_applied": not_applied, "why_not": sorted(why_not),
                    "verdicts": dict(verdicts)})
    return out


def summary_lines(entries: list[dict[str, Any]]) -> list[str]:
    """Terminal lines: a count, then every conditional entry and every entry that did not apply."""
    if not entries:
        return []
    counts = Counter(e["status"] for e in entries)
    lines = ["expectations: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))]
    for e in entries:
        if e["when"] or e["status"] not in ("applied", "not run"):
            verdicts = ", ".join(f"{n} {v}" for v, n in e["verdicts"].items()) or "no case ran"
            why = f": {'; '.join(e['why_not'])}" if e["why_not"] else ""
            when = f" (when {e['when']})" if e["when"] else ""
            lines.append(f"  {e['status']}{why} — {e['test']}{when} [{verdicts}]")
    return lines
