"""RFC citations for conformance tests, and the oracle's own protocol numbers.

Every conformance test cites what it checks, in one of two forms:

    @rfc("RFC4861-7.1.1-1")            a normative statement, by its id in the requirement catalog
                                       (conformance/requirements/); the id names the RFC and the
                                       section, the level and the text come from the RFC itself
    @rfc("RFC4861-7.1.1-1", quote="ICMP Code is 0.")
                                       ... and the part of it the test checks: a list item of the
                                       statement's list, or one clause of a long sentence, quoted
                                       from the same section
    @described(4191, "2.3", MUST, "The length of time in seconds ...")
                                       a behaviour the RFC describes without a requirement keyword:
                                       a quote of the section, and the level the test holds the DUT
                                       to; reported apart, outside the count of statements

The plugin reads a citation back with ``requirement_of(item)`` and the report is built from it;
``stackcheck catalog check`` verifies every id and every quote against the RFC text. The older
form ``@rfc(number, section, level, text)`` still runs, so a test written before the catalog
held every statement keeps working until ``stackcheck catalog convert`` rewrites it, but the
check reports it.

The numbers below are the tests' own copy of what the RFCs say: the stack under test keeps its
copy in ``stack_under_test/params.py`` and ``wire/numbers.py``, and the two are never shared, so
one wrong constant cannot make both sides agree (DESIGN.md, rule 5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from reports.rfcs.index import StatementIndex, StatementUnknown

if TYPE_CHECKING:
    import pytest


class Level(StrEnum):
    """BCP 14 requirement keywords; the value is the keyword as the RFCs spell it."""

    MUST = "MUST"
    MUST_NOT = "MUST NOT"
    REQUIRED = "REQUIRED"
    SHALL = "SHALL"
    SHALL_NOT = "SHALL NOT"
    SHOULD = "SHOULD"
    SHOULD_NOT = "SHOULD NOT"
    RECOMMENDED = "RECOMMENDED"
    NOT_RECOMMENDED = "NOT RECOMMENDED"
    MAY = "MAY"
    OPTIONAL = "OPTIONAL"


MUST: Final = Level.MUST
MUST_NOT: Final = Level.MUST_NOT
SHOULD: Final = Level.SHOULD
SHOULD_NOT: Final = Level.SHOULD_NOT
MAY: Final = Level.MAY


@dataclass(frozen=True)
class Requirement:
    """What a test checks: ``RFC <rfc> §<section> <level>: <text>``."""

    rfc: int
    section: str
    level: Level
    text: str
    id: str | None = None  # the statement's id, when the test cites one
    quote: str | None = None  # the part of the statement the test checks, when it says
    described: bool = False  # a behaviour without a keyword, cited with @described
    also: tuple[str, ...] = ()  # further statements the same check covers

    def __str__(self) -> str:
        return f"RFC {self.rfc} §{self.section} {self.level}: {self.text}"


class CitationError(ValueError):
    """A citation names no statement of the catalog; the message says what the section has."""


REQ_ID: Final = re.compile(r"^RFC(\d+)-[A-Za-z0-9.]+-\d+$")
SUITE: Final = Path(__file__).resolve().parents[1] / "conformance"


@cache
def statements() -> StatementIndex:
    """Every normative statement of the RFCs the suite carries (conformance/rfc/)."""
    return StatementIndex.of(SUITE)


def _level(number: int, level: Level | str) -> Level:
    try:
        return Level(level)
    except ValueError:
        raise ValueError(
            f"@rfc({number}): level must be one of {', '.join(m.value for m in Level)}, got {level!r}"
        ) from None


def _text(number: int, what: str, text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"@rfc({number}): {what} must be a non-empty str")
    return text


def _marks() -> pytest.MarkGenerator:
    # pytest is imported on first use: ``harness`` loads this module in every process that
    # imports any part of it, the tap backend's stack agent too, which runs no test.
    import pytest

    return pytest.mark


def rfc(citation: str | int, *more: Any, quote: str | None = None, req: str | None = None
        ) -> pytest.MarkDecorator:
    """Cite the statement a test checks: ``@rfc("RFC4861-7.1.1-1")``, optionally with the
    ``quote`` of the part it checks, and further ids the same check holds the DUT to: a sentence
    the RFC splits in two, or a general rule the test's case instances (``@rfc("RFC8201-4-2",
    "RFC8201-4-3")``: the first is the one reported, every one counts as tested).
    Returns ``pytest.mark.rfc(req=..., also=..., quote=...)``, so it also works in
    ``pytest.param(..., marks=rfc(...))``. A malformed id fails at import time; an id that names
    no statement fails the collection.

    ``rfc(number, section, level, text)``, the form before every statement had an id, still
    runs until ``stackcheck catalog convert`` rewrites it."""
    if isinstance(citation, str):
        for one in (citation, *more):
            if not isinstance(one, str) or REQ_ID.match(one) is None:
                raise ValueError(f"@rfc: {one!r} is not a statement id like 'RFC4861-7.1.1-3'")
        if req is not None:
            raise TypeError(f"@rfc({citation!r}): the id says it all; only more ids and quote= may follow")
        kwargs: dict[str, Any] = {"req": citation}
        if more:
            kwargs["also"] = tuple(more)
        if quote is not None:
            kwargs["quote"] = _text(0, "quote", quote)
        mark: pytest.MarkDecorator = _marks().rfc(**kwargs)
        return mark
    number = citation
    section, level, requirement = [*more, None, None, None][:3]
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise TypeError(f"@rfc: number must be a positive int, got {number!r}")
    if not isinstance(section, str) or not section:
        raise TypeError(f"@rfc({number}): section must be a non-empty str, got {section!r}")
    lvl = _level(number, level if level is not None else "")
    text = _text(number, "requirement", requirement)
    if req is None:
        return _marks().rfc(number=number, section=section, level=lvl, requirement=text)
    return _marks().rfc(number=number, section=section, level=lvl, requirement=text, req=req)


def described(number: int, section: str, level: Level | str, quote: str) -> pytest.MarkDecorator:
    """Cite a behaviour the RFC describes without a requirement keyword (the route lifetime of
    RFC 4191 §2.3 is a duration, not a "MUST expire"): the quote must occur in the section, and
    ``level`` is the level the test holds the DUT to. Reported apart from the statements and
    outside their count, so it never inflates the coverage."""
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise TypeError(f"@described: number must be a positive int, got {number!r}")
    if not isinstance(section, str) or not section:
        raise TypeError(f"@described({number}): section must be a non-empty str, got {section!r}")
    return _marks().rfc(number=number, section=section, level=_level(number, level),
                           requirement=_text(number, "quote", quote), described=True)


def requirement_of(item: Any) -> Requirement | None:
    """The Requirement cited by a pytest item's closest ``rfc`` marker, or None if it has none.
    CitationError if it cites an id that names no statement."""
    marker = item.get_closest_marker("rfc")
    if marker is None:
        return None
    kw = dict(marker.kwargs)
    # Also accept the positional forms pytest.mark.rfc("RFC...") and pytest.mark.rfc(792, "3.2", ...).
    if marker.args and isinstance(marker.args[0], str):
        kw.setdefault("req", marker.args[0])
    else:
        for name, value in zip(("number", "section", "level", "requirement"), marker.args, strict=False):
            kw.setdefault(name, value)
    req_id, quote = kw.get("req"), kw.get("quote")
    if req_id and "number" not in kw:
        also = tuple(str(a) for a in kw.get("also", ()))
        try:
            s = statements().get(str(req_id))
            for other in also:
                statements().get(other)
        except StatementUnknown as e:
            raise CitationError(str(e)) from None
        return Requirement(s.rfc, s.section, Level(s.level), s.text, s.id, str(quote) if quote else None,
                           also=also)
    try:
        return Requirement(int(kw["number"]), str(kw["section"]), Level(kw["level"]), str(kw["requirement"]),
                           str(req_id) if req_id else None, None, bool(kw.get("described", False)))
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
