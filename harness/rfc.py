"""RFC citations for conformance tests, and the oracle's own protocol numbers.

Every conformance test carries one ``@rfc(number, section, level, requirement)``; the plugin
reads it back with ``requirement_of(item)`` and the report is built from it. The numbers
below are the tests' own copy of what the RFCs say: the stack under test keeps its copy in
``stack_under_test/params.py`` and ``wire/numbers.py``, and the two are never shared, so one
wrong constant cannot make both sides agree (DESIGN.md, rule 5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Final

import pytest


class Level(StrEnum):
    """RFC 2119 requirement levels; the value is the keyword as the RFCs spell it."""

    MUST = "MUST"
    MUST_NOT = "MUST NOT"
    SHOULD = "SHOULD"
    SHOULD_NOT = "SHOULD NOT"
    MAY = "MAY"


MUST: Final = Level.MUST
MUST_NOT: Final = Level.MUST_NOT
SHOULD: Final = Level.SHOULD
SHOULD_NOT: Final = Level.SHOULD_NOT
MAY: Final = Level.MAY


@dataclass(frozen=True)
class Requirement:
    """One RFC requirement a test checks: ``RFC <rfc> §<section> <level>: <text>``."""

    rfc: int
    section: str
    level: Level
    text: str
    id: str | None = None  # the catalog id (conformance/requirements/), when the test cites one

    def __str__(self) -> str:
        return f"RFC {self.rfc} §{self.section} {self.level}: {self.text}"


# Catalog ids: "RFC<number>-<section>-<letter(s)>", e.g. "RFC1122-3.2.1.3-a".
REQ_ID: Final = re.compile(r"^RFC(\d+)-[A-Za-z0-9.]+-[a-z]+$")


def rfc(number: int, section: str, level: Level | str, requirement: str, *,
        req: str | None = None) -> pytest.MarkDecorator:
    """Cite the requirement a test checks: ``@rfc(792, "Echo ...", MUST, "the data ... returned")``.

    Returns ``pytest.mark.rfc(number=, section=, level=, requirement=)``, so it also works in
    ``pytest.param(..., marks=rfc(...))``. Bad citations fail at import time, not in the report.
    ``req="RFC1122-3.2.1.3-a"`` names the entry of the requirement catalog
    (conformance/requirements/) the test checks; without it the test maps to its
    (rfc, section, requirement text).
    """
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise TypeError(f"@rfc: number must be a positive int, got {number!r}")
    if not isinstance(section, str) or not section:
        raise TypeError(f"@rfc({number}): section must be a non-empty str, got {section!r}")
    try:
        lvl = Level(level)
    except ValueError:
        raise ValueError(
            f"@rfc({number}): level must be one of {', '.join(m.value for m in Level)}, got {level!r}"
        ) from None
    if not isinstance(requirement, str) or not requirement.strip():
        raise TypeError(f"@rfc({number}): requirement must be a non-empty str")
    if req is None:
        return pytest.mark.rfc(number=number, section=section, level=lvl, requirement=requirement)
    m = REQ_ID.match(req) if isinstance(req, str) else None
    if m is None or int(m.group(1)) != number:
        raise ValueError(f"@rfc({number}): req must be a catalog id like 'RFC{number}-3.2.1.3-a', got {req!r}")
    return pytest.mark.rfc(number=number, section=section, level=lvl, requirement=requirement, req=req)


def requirement_of(item: Any) -> Requirement | None:
    """The Requirement cited by a pytest item's closest ``rfc`` marker, or None if it has none."""
    marker = item.get_closest_marker("rfc")
    if marker is None:
        return None
    kw = dict(marker.kwargs)
    # Also accept the positional form pytest.mark.rfc(792, "3.2", "MUST", "...").
    for name, value in zip(("number", "section", "level", "requirement"), marker.args, strict=False):
        kw.setdefault(name, value)
    try:
        req_id = kw.get("req")
        return Requirement(int(kw["number"]), str(kw["section"]), Level(kw["level"]), str(kw["requirement"]),
                           str(req_id) if req_id else None)
    except (KeyError, ValueError, TypeError):
        return None


# ---- the oracle's protocol numbers -------------------------------------------------------


class ICMPv6Unreach(IntEnum):
    """RFC 4443 §3.1 Destination Unreachable codes."""

    NO_ROUTE = 0
    ADMIN_PROHIBITED = 1
    BEYOND_SCOPE = 2
    ADDRESS = 3
    PORT = 4


class ICMPv6TimeExceeded(IntEnum):
    """RFC 4443 §3.3 Time Exceeded codes."""

    HOP_LIMIT = 0
    REASSEMBLY = 1


class ICMPv6ParamProblem(IntEnum):
    """RFC 4443 §3.4 codes; 3 from RFC 7112 §7."""

    ERRONEOUS_HEADER = 0
    UNRECOGNIZED_NEXT_HEADER = 1
    UNRECOGNIZED_OPTION = 2
    INCOMPLETE_HEADER_CHAIN = 3


# RFC 4443 §2.4 (c): an ICMPv6 error carries "as much of invoking packet as possible without
# the ICMPv6 packet exceeding the minimum IPv6 MTU".
IPV6_MIN_MTU: Final = 1280
# RFC 4861 §6.1.1/§7.1.1: NDP messages are valid only with "IP Hop Limit field has a value of 255".
NDP_HOP_LIMIT: Final = 255

# ---- TCP (RFC 9293 and the RFCs it names) ----------------------------------------------------
# RFC 9293 3.7.1: "TCP implementations MUST assume a default send MSS of 536 (576 - 40) for IPv4
# or 1220 (1280 - 60) for IPv6 (MUST-15)."
TCP_DEFAULT_MSS: Final[dict[int, int]] = {4: 536, 6: 1220}
# Fixed IP + TCP header octets an MSS option leaves out (RFC 6691 2; RFC 9293 3.7.1).
TCP_IP_HEADERS: Final[dict[int, int]] = {4: 40, 6: 60}
# RFC 6298 2.1: "the sender SHOULD set RTO <- 1 second"; 2.4: "if it is less than 1 second, then
# the RTO SHOULD be rounded up to 1 second"; 5.5: "RTO <- RTO * 2 ("back off the timer")";
# 5.7: "the RTO MUST be re-initialized to 3 seconds when data transmission begins".
TCP_INITIAL_RTO: Final = 1.0
TCP_MIN_RTO: Final = 1.0
TCP_SYN_FALLBACK_RTO: Final = 3.0
# RFC 9293 3.4.2 / RFC 1122 4.2.2.13: MSL "2 minutes"; TIME-WAIT lasts 2 x MSL.
TCP_MSL: Final = 120.0
# RFC 1122 4.2.3.2 / RFC 5681 4.2: an ACK "MUST be generated within 500 ms".
TCP_MAX_ACK_DELAY: Final = 0.5
# RFC 5681 3.2: fast retransmit on "the arrival of 3 duplicate ACKs".
TCP_DUPACK_THRESHOLD: Final = 3
# RFC 1122 4.2.3.6: the keep-alive interval "MUST default to no less than two hours".
TCP_KEEPALIVE_DEFAULT_MIN: Final = 7200.0
# A timer measured on a real clock: the RFCs time a timer from its start; the tester measures it
# between frames stamped by the kernel, which is exact to a few milliseconds (jiffies). So a
# timer may fire no earlier than EARLY before its time; and it counts as on time up to LATE_FACTOR
# times its value plus LATE later, the coarseness of a real timer wheel (Linux's rounds long
# timeouts up by up to 12.5%) and of the DUT's clock granularity (RFC 6298 4 speaks of "clock
# granularities" up to 500 ms, and recommends <= 100 ms).
TIMER_EARLY: Final = 0.01
TIMER_LATE_FACTOR: Final = 1.25
TIMER_LATE: Final = 0.1


def timer_fired_on_time(measured: float, expected: float) -> bool:
    """Whether a timer of ``expected`` seconds that fired after ``measured`` seconds was on time."""
    return expected - TIMER_EARLY <= measured <= expected * TIMER_LATE_FACTOR + TIMER_LATE


def timer_doubled(before: float, after: float) -> bool:
    """Whether a timer measured as ``after`` is double the one measured as ``before`` (RFC 6298 5.5),
    allowing each measurement the lateness ``timer_fired_on_time`` allows."""
    low = 2 * (before - TIMER_LATE) / TIMER_LATE_FACTOR - TIMER_EARLY
    return low <= after <= 2 * before * TIMER_LATE_FACTOR + TIMER_LATE
