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
