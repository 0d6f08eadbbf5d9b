"""Which RFC area a mutant belongs to, and the RFC citation nearest its line.

The area comes from the file's name (patterns on the path, not exact paths, so files may move
between folders; a pattern names whole path components, so ``endpoint.py`` is no NDP file), and for files shared by every area (``params.py``, ``wire/numbers.py``,
...) or not named here from the RFC the nearest comment cites. A file that matches nothing
and cites nothing is "stack core".
"""

from __future__ import annotations

import re
from typing import Final

CORE: Final = "Stack core and shared formats"

# (area, the RFCs that belong to it, pattern on the path below stack_under_test/)
AREAS: Final[tuple[tuple[str, frozenset[int], str], ...]] = (
    ("ARP (RFC 826)", frozenset({826, 894, 5227}), r"(^|/)arp\.py$"),
    ("IGMP (RFC 1112, 2236, 3376)", frozenset({1112, 2236, 3376}), r"igmp"),
    ("MLD (RFC 2710, 3810)", frozenset({2710, 3810, 9777}), r"mld"),
    ("Multicast listener state (RFC 3376, 3810)", frozenset(), r"(^|/)multicast\.py$"),
    ("IPv4 forwarding (RFC 1812, 1191)", frozenset({1812, 1191}), r"ipv4/forwarding"),
    ("IPv6 forwarding and flow labels (RFC 8200, 6437)", frozenset({6437}), r"ipv6/forwarding|flowlabel"),
    # An IPv4 Redirect is ICMP (RFC 792, RFC 1122 3.2.2.2), not Neighbor Discovery.
    ("ICMPv4 (RFC 792, 1122 3.2.2)", frozenset({792}), r"ipv4/(icmp|redirect_rx)|icmpv4"),
    ("ICMPv6 and PMTU (RFC 4443, 8201)", frozenset({4443, 8201, 1981}), r"ipv6/icmp|icmpv6|pmtu|ratelimit"),
    ("IPv4 fragments and reassembly (RFC 791, 815, 6864)", frozenset({815, 6864}),
     r"ipv4/reassembly|ipv4/ident|(^|/)fragmentation\.py$"),
    ("IPv6 fragments (RFC 8200 4.5, 5722, 7112, 6946)", frozenset({5722, 7112, 6946, 7739, 6980}),
     r"ipv6/reassembly"),
    ("NDP (RFC 4861, 4191)", frozenset({4861, 4191, 5942}),
     r"(^|/)(ndp|neighbor|router_discovery|anycast)\.py$|ipv6/redirect"),
    ("Address configuration (RFC 4862, 7217, 7527, 8981)", frozenset({4862, 7217, 7527, 8981, 8021}),
     r"addrconf/|(^|/)addresses\.py$"),
    ("Source address selection (RFC 6724)", frozenset({6724}), r"source_selection"),
    ("UDP (RFC 768)", frozenset({768}), r"udp"),
    ("TCP (RFC 9293)", frozenset({9293, 5961, 6298, 5681, 6582, 3042, 7323, 2018, 6691}), r"tcp"),
    ("IPv6 header and extension headers (RFC 8200, 2675, 2711)", frozenset({8200, 2460, 2675, 2711, 4291, 5095}),
     r"ipv6|validation"),
    ("IPv4 header and options (RFC 791, 1122)", frozenset({791, 1122, 1108}), r"ipv4"),
)
# Files every area shares: the area comes from the citation next to the mutated line.
SHARED: Final = re.compile(r"(^|/)(params|numbers|drops|stats|__init__)\.py$")
_RFC: Final = re.compile(r"RFC ?(\d{3,4})")
_SCAN_LINES: Final = 12


def area_of(relpath: str, citation: str | None) -> str:
    """``relpath`` is below stack_under_test/ (e.g. ``network/ipv6/ndp.py``)."""
    if not SHARED.search(relpath):
        for name, _, pattern in AREAS:
            if re.search(pattern, relpath):
                return name
    number = _first_rfc(citation)
    if number is not None:
        for name, rfcs, _ in AREAS:
            if number in rfcs:
                return name
    return CORE


def _first_rfc(text: str | None) -> int | None:
    match = _RFC.search(text or "")
    return int(match.group(1)) if match else None


def citation(lines: list[str], line: int, end_line: int) -> str | None:
    """The comment citing an RFC nearest above (or on) lines ``line..end_line`` (1-based).

    Looks back at most _SCAN_LINES lines and not past the start of the enclosing def or class;
    returns that comment and the comment lines right below it (the rest of the quote)."""
    index = min(end_line, len(lines)) - 1
    stop = max(0, line - 1 - _SCAN_LINES)
    while index >= stop:
        text = lines[index]
        if _RFC.search(text):
            return _quote(lines, index)
        if index < line - 1 and re.match(r"\s*(async\s+def|def|class)\s", text):
            return None
        index -= 1
    return None


def _quote(lines: list[str], index: int) -> str:
    first = lines[index]
    hash_at = first.find("#")
    parts = [first[hash_at + 1:].strip() if hash_at >= 0 else first.strip().strip('"')]
    for follow in lines[index + 1: index + 3]:
        stripped = follow.strip()
        if not stripped.startswith("#"):
            break
        parts.append(stripped.lstrip("#").strip())
    return " ".join(parts)
