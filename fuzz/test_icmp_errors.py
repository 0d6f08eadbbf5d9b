"""Property 5, ICMP error discipline: the stack never sends an ICMP error about an ICMP error, nor
(outside the RFCs' exceptions) about a packet sent to a multicast or broadcast address or from
an address that is not one host; and it never sends more errors than its rate limit allows.

RFC 1122 3.2.2: "An ICMP error message MUST NOT be sent as the result of receiving: an ICMP
error message, or a datagram destined to an IP broadcast or IP multicast address, or a datagram
sent as a link-layer broadcast, or a non-initial fragment, or a datagram whose source address
does not define a single host". RFC 4443 2.4(e) for ICMPv6, with the exceptions of Packet Too
Big and Parameter Problem code 2 (e.3, e.4).
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

from hypothesis import event, given
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import IPv6, _ICMPv6Error
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from fuzz.profiles import budget
from fuzz.strategies.frames import any_frames
from fuzz.strategies.mutate import mutated
from fuzz.strategies.wire import inet_checksum, ipv4_frames, pseudo_header, put_checksum
from fuzz.strategies.wire6 import ipv6_frames
from fuzz.target import DUT4, DUT6, DUT_MAC, TESTER4, TESTER6, TESTER_MAC, FuzzStack

V4_ERRORS = (3, 4, 5, 11, 12)


def outer_layers(pkt: Packet) -> list[Packet]:
    """The packet's layers up to (not into) a quoted packet."""
    out, layer = [], pkt
    while layer.name != "NoPayload" and type(layer).__name__ not in ("IPerror", "IPerror6"):
        out.append(layer)
        layer = layer.payload
    return out


def v4_error(pkt: Packet) -> bool:
    return ICMP in pkt and pkt[ICMP].type in V4_ERRORS


def v6_error(layers: list[Packet]) -> Packet | None:
    return next((layer for layer in layers if isinstance(layer, _ICMPv6Error)), None)


def v4_may_get_error(frame: Packet) -> str | None:
    """Why RFC 1122 3.2.2 forbids an ICMP error about this frame, or None."""
    ip = frame[IP]
    dst, src = IPv4Address(ip.dst), IPv4Address(ip.src)
    if v4_error(frame):
        return "it is an ICMP error"
    if dst.is_multicast or ip.dst in ("255.255.255.255", "198.51.100.255"):
        return "its destination is broadcast or multicast"
    if frame.dst.lower() == "ff:ff:ff:ff:ff:ff" or int(frame.dst[:2], 16) & 1:
        return "it was sent as a link-layer broadcast or multicast"
    if ip.frag != 0:
        return "it is a non-initial fragment"
    if src.is_unspecified or src.is_loopback or src.is_multicast or src.is_reserved or ip.src in (
        "255.255.255.255", "198.51.100.255"):
        return "its source does not define a single host"
    return None


def v6_may_get_error(frame: Packet, sent: Packet) -> str | None:
    """Why RFC 4443 2.4(e) forbids this ICMPv6 error (``sent``) about ``frame``, or None."""
    layers = outer_layers(frame)
    ip = frame[IPv6]
    if v6_error(layers) is not None:
        return "it is an ICMPv6 error"
    if any(getattr(layer, "type", None) == 137 and "ICMPv6" in type(layer).__name__ for layer in layers):
        return "it is a Redirect"
    exception = sent.type == 2 or (sent.type == 4 and sent.code == 2)  # e.3 / e.4
    if IPv6Address(ip.dst).is_multicast and not exception:
        return "its destination is multicast"
    if int(frame.dst[:2], 16) & 1 and not exception:
        return "it was sent as a link-layer multicast"
    src = IPv6Address(ip.src)
    if src.is_unspecified or src.is_multicast:
        return "its source does not identify a single node"
    return None


# Frames that tend to earn an error (closed UDP ports, unknown protocols, bad options), then anything.
PROVOKING = st.one_of(ipv4_frames(proto=17), ipv6_frames(upper="udp"), ipv6_frames(upper="raw"),
                      mutated(ipv4_frames(proto=17)), ipv4_frames(proto=1), any_frames())


@budget(300)
@given(frame=PROVOKING)
def test_no_icmp_error_where_the_rfcs_forbid_one(frame: bytes) -> None:
    fs = FuzzStack.fresh()
    _, out = fs.inject(frame)
    for raw in out:
        sent = Ether(raw)
        sent_layers = outer_layers(sent)
        if IP in sent and v4_error(sent):
            event("an ICMPv4 error was sent")
            why = v4_may_get_error(Ether(frame))
            assert why is None, f"ICMP error {sent[ICMP].type}/{sent[ICMP].code} sent although {why}"
        error6 = v6_error(sent_layers)
        if IPv6 in sent and error6 is not None:
            event("an ICMPv6 error was sent")
            why = v6_may_get_error(Ether(frame), error6)
            assert why is None, f"ICMPv6 error {error6.type}/{error6.code} sent although {why}"


def closed_port_frame(family: int, n: int) -> bytes:
    """A valid UDP datagram to a closed port: each one earns a Port Unreachable, if allowed."""
    src, dst = (TESTER4, DUT4) if family == 4 else (TESTER6, DUT6)
    udp = struct.pack("!HHHH", 40000 + n % 1000, 9, 12, 0) + b"abcd"
    udp = put_checksum(udp, 6, inet_checksum(udp, pseudo_header(src, dst, 17, len(udp))) or 0xFFFF)
    if family == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0, src, dst)
        return DUT_MAC + TESTER_MAC + b"\x08\x00" + put_checksum(header, 10, inet_checksum(header)) + udp
    return DUT_MAC + TESTER_MAC + b"\x86\xdd" + struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + src + dst + udp


@budget(60)
@given(family=st.sampled_from([4, 6]), per_second=st.sampled_from([1, 10, 100, 1000]),
       burst=st.sampled_from([1, 5, 50]), gaps=st.lists(st.sampled_from([0, 1, 7, 100, 1000]), min_size=1, max_size=120))
def test_never_more_icmp_errors_than_the_rate_limit_allows(family: int, per_second: int, burst: int,
                                                           gaps: list[int]) -> None:
    """A token bucket of ``burst`` tokens refilled at ``per_second``: over T seconds at most
    burst + per_second * T errors, however the datagrams that provoke them are spaced."""
    fs = FuzzStack.fresh()
    fs.stack.set_icmp_rate_limit(family, per_second, burst)
    start = fs.clock.now_ms
    errors = 0
    for n, gap in enumerate(gaps):
        fs.advance(gap)
        _, out = fs.inject(closed_port_frame(family, n))
        errors += len(out)
        allowed = burst + per_second * (fs.clock.now_ms - start) / 1000
        assert errors <= allowed, f"{errors} errors in {fs.clock.now_ms - start} ms, limit {per_second}/s burst {burst}"
    if all(g == 0 for g in gaps):
        assert errors == min(burst, len(gaps)), "the bucket should start full"
