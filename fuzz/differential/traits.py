"""What a stimulus may do to a DUT beyond answering it at once: answers that come later (within
a bound the RFC sets) and state it may leave behind (which the lane must then shed).

Later answers:
- a Multicast Listener Query: reports within its Maximum Response Delay (RFC 3810 5.1.3, RFC 2710
  3.4); an IGMP query within its Max Resp Time (RFC 2236 2.2, RFC 3376 4.1.1), or 10 s for an
  IGMPv1 query (RFC 2236 2.2: "a Max Response Time of 0 ... IGMPv1 ... 10 seconds");
- fragments: a Time Exceeded when the reassembly timer fires (RFC 792, RFC 8200 4.5).
State left behind (``reasons``), from the cheapest to undo to the dearest:
- ``neighbor``: ARP and Neighbor Discovery messages, and any answer that started an address
  resolution (RFC 826, RFC 4861 7.2) -- neighbour caches;
- ``route``: Redirects, Packet Too Big and Fragmentation Needed (RFC 4861 8.3, RFC 8201, RFC
  1191) -- route exceptions and path MTUs;
- ``router``: Router Advertisements (default routers, prefixes, hop limit, timers: RFC 4861 6.3.4);
- ``multicast``: queries (compatibility modes, querier state: RFC 3810 8.2, RFC 3376 7.2).

This runs once for every stimulus the fuzzer sends, so it reads the few fields it needs with
struct instead of a Scapy dissection, which costs a millisecond a frame, more than the rest of
a stimulus's bookkeeping together.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from fuzz.differential.stimulus import Stimulus

IGMPV1_RESPONSE_S: Final = 10.0  # RFC 1112 appendix I / RFC 2236 2.2
_EXTENSION_HEADERS: Final = frozenset({0, 43, 60, 51})  # RFC 8200 4.1 (AH: RFC 4302, length in 4-octet units)
_ICMPV6_REASONS: Final = {2: "route", 137: "route", 134: "router", 133: "neighbor", 135: "neighbor",
                          136: "neighbor", 130: "multicast"}


@dataclass
class Traits:
    fragments: bool = False  # some frame is a fragment: the DUT may hold it until its timer fires
    report_bound_s: float | None = None  # a query's reports may come until then
    reasons: set[str] = field(default_factory=set)


def traits_of(stimulus: Stimulus) -> Traits:
    traits = Traits()
    for frame in stimulus.frames:
        if len(frame) < 14:
            continue
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        if ethertype == 0x0806:
            traits.reasons.add("neighbor")
        elif ethertype == 0x0800:
            _ipv4(frame[14:], traits)
        elif ethertype == 0x86DD:
            _ipv6(frame[14:], traits)
    return traits


def _ipv4(l3: bytes, traits: Traits) -> None:
    if len(l3) < 20:
        return
    ihl = (l3[0] & 0x0F) * 4
    if struct.unpack_from("!H", l3, 6)[0] & 0x3FFF:  # MF or a fragment offset
        traits.fragments = True
        return
    body = l3[ihl:]
    if l3[9] == 1 and len(body) >= 2 and (body[0] == 5 or body[:2] == b"\x03\x04"):
        traits.reasons.add("route")  # Redirect, Fragmentation Needed
    elif l3[9] == 2 and len(body) >= 8 and body[0] == 0x11:
        traits.reasons.add("multicast")
        traits.report_bound_s = max(traits.report_bound_s or 0.0, _igmp_bound(body))


def _ipv6(l3: bytes, traits: Traits) -> None:
    if len(l3) < 40:
        return
    nh, at = l3[6], 40
    while at + 8 <= len(l3):
        if nh == 44:
            if struct.unpack_from("!H", l3, at + 2)[0] & 0xFFF9:  # offset or M (RFC 8200 4.5)
                traits.fragments = True
                return
            nh, at = l3[at], at + 8
        elif nh in _EXTENSION_HEADERS:
            nh, at = l3[at], at + (l3[at + 1] + 2) * 4 if nh == 51 else at + (l3[at + 1] + 1) * 8
        else:
            break
    upper = l3[at:]
    if nh != 58 or len(upper) < 4:
        return
    reason = _ICMPV6_REASONS.get(upper[0])
    if reason is not None:
        traits.reasons.add(reason)
    if upper[0] == 137:
        traits.reasons.add("neighbor")  # a Redirect's target is entered in the neighbour cache
    if upper[0] == 130 and len(upper) >= 6:
        traits.report_bound_s = max(traits.report_bound_s or 0.0, _mld_bound(upper))


def _mld_bound(msg: bytes) -> float:
    """Maximum Response Delay in seconds: RFC 2710 3.4 (ms); RFC 3810 5.1.3 (a 15-bit float)."""
    code: int = struct.unpack_from("!H", msg, 4)[0]
    if len(msg) >= 28 and code >= 32768:
        code = ((code & 0x0FFF) | 0x1000) << (((code >> 12) & 0x7) + 3)
    return code / 1000


def _igmp_bound(msg: bytes) -> float:
    """RFC 2236 2.2 (tenths of a second; 0 is an IGMPv1 query) and RFC 3376 4.1.1 (8-bit float)."""
    code = msg[1]
    if code == 0:
        return IGMPV1_RESPONSE_S
    if len(msg) >= 12 and code >= 128:
        code = ((code & 0x0F) | 0x10) << (((code >> 4) & 0x7) + 3)
    return code / 10


def answer_reasons(frames: list[bytes]) -> set[str]:
    """State an answer shows the DUT took on: an ARP request or Neighbor Solicitation means it
    started resolving an address (an INCOMPLETE entry, probes still to come: RFC 4861 7.2.2)."""
    for frame in frames:
        if frame[12:14] == b"\x08\x06":
            return {"neighbor"}
        if frame[12:14] == b"\x86\xdd" and len(frame) > 54 and frame[20] == 58 and frame[54] == 135:
            return {"neighbor"}  # a DUT sends its own solicitations without extension headers
    return set()
