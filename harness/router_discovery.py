"""The tester as a router on the test link (RFC 4861 §6): its Router Advertisements, and the
probe that shows whether the DUT routes through it.

The tester's link-local address (a static neighbor of the DUT) plays the router, so "the DUT
uses the router" shows as an echo reply to an off-link source (``OFF_LINK``) leaving towards
the tester's MAC; a DUT without a default router sends nothing (the backends give it no route
by default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_RA,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness.frames import multicast_mac
from harness.rfc import NDP_HOP_LIMIT

if TYPE_CHECKING:
    from harness.dut import DUT

ALL_NODES: Final = "ff02::1"
OFF_LINK: Final = "2001:db8:2::5"  # a node behind the router
PREFIX: Final = "2001:db8:2::"  # OFF_LINK's prefix
ECHO_ID: Final = 0x4C2
SILENCE_S: Final = 0.7
LIFETIME_S: Final = 60
# RFC 4862 5.5.3 (d), quoted by the tests of addresses a Prefix Information option forms.
PIO_FORMS_AN_ADDRESS: Final = (
    "d) If the prefix advertised is not equal to the prefix of an address configured by stateless "
    "autoconfiguration already in the list of addresses associated with the interface (where "
    "\"equal\" means the two prefix lengths are the same and the first prefix-length bits of the "
    "prefixes are identical), and if the Valid Lifetime is not 0, form an address (and add it to the "
    "list) by combining the advertised prefix with an interface identifier of the link as follows:")


def ra(dut: DUT, *options: Packet, src: str | None = None, mac: str | None = None, hlim: int = NDP_HOP_LIMIT,
       lifetime: int = LIFETIME_S, slla: bool = True, **fields: Any) -> Packet:
    """A Router Advertisement to all-nodes from the tester's link-local address and MAC (the
    router), or from another router's ``src`` and ``mac``."""
    fields.setdefault("prf", 0)  # Scapy's default is High (RFC 4191); medium unless a test says
    mac = mac or dut.info.tester_mac
    frame = (Ether(src=mac, dst=multicast_mac(ALL_NODES))
             / IPv6(src=src or str(dut.info.tester_ipv6_ll), dst=ALL_NODES, hlim=hlim)
             / ICMPv6ND_RA(routerlifetime=lifetime, **fields))
    if slla:
        frame = frame / ICMPv6NDOptSrcLLAddr(lladdr=mac)
    for option in options:
        frame = frame / option
    return frame


def pio(*, on_link: int = 1, autonomous: int = 0, valid: int = LIFETIME_S, preferred: int = 30,
        prefix: str = PREFIX, length: int = 64) -> Packet:
    """A Prefix Information option (RFC 4861 §4.6.2)."""
    return ICMPv6NDOptPrefixInfo(prefixlen=length, L=on_link, A=autonomous, validlifetime=valid,
                                 preferredlifetime=preferred, prefix=prefix)


def echo(dut: DUT, seq: int, *, src: str = OFF_LINK, size: int = 0) -> Packet:
    """An echo request to the DUT's global address from ``src``, carried by the tester."""
    return dut.ether() / IPv6(src=src, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(
        id=ECHO_ID, seq=seq, data=b"\xa5" * size)


def expect_routed_reply(dut: DUT, seq: int, *, via: str | None = None, within: float = 1.0,
                        dst: str = OFF_LINK) -> Packet:
    """The echo reply to ``dst`` (OFF_LINK), sent to the router's MAC (the tester's unless ``via``)."""
    return dut.expect(Ether(dst=via or dut.info.tester_mac), IPv6(dst=dst),
                      ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=within)


def expect_no_reply(dut: DUT, seq: int, within: float = SILENCE_S) -> None:
    dut.expect_none(ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=within)


def uses_router(dut: DUT, seq: int, *, src: str = OFF_LINK) -> None:
    """The DUT answers OFF_LINK (or ``src``, another node behind the router) through the router."""
    dut.send(echo(dut, seq, src=src))
    expect_routed_reply(dut, seq, dst=src)


def has_no_router(dut: DUT, seq: int) -> None:
    """The DUT does not answer OFF_LINK at all: it has no route there."""
    dut.send(echo(dut, seq))
    expect_no_reply(dut, seq)


def hop_limit_of_reply(dut: DUT, seq: int) -> int:
    """The Hop Limit of the DUT's echo reply to the tester's global address (its CurHopLimit)."""
    dut.send(echo(dut, seq, src=str(dut.info.tester_ipv6)))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ECHO_ID, seq=seq))
    return int(reply[IPv6].hlim)


BIG_DATA: Final = 1300  # echo reply of 1348 octets: fits the 1500 link, not a 1280 MTU


def reply_pieces(dut: DUT, seq: int) -> list[Packet]:
    """The DUT's echo reply to the tester's global address for a 1348-octet echo request: one
    frame, or all its fragments up to the last one (how the DUT's link MTU shows)."""
    dut.send(echo(dut, seq, src=str(dut.info.tester_ipv6), size=BIG_DATA))
    first = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=1.0)
    if not first.haslayer(IPv6ExtHdrFragment):
        return [first]
    pieces = [first]
    ident = first[IPv6ExtHdrFragment].id
    while True:
        piece = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), IPv6ExtHdrFragment(id=ident), within=1.0)
        pieces.append(piece)
        if piece[IPv6ExtHdrFragment].m == 0:
            return pieces


def largest_packet(pieces: list[Packet]) -> int:
    """The largest IPv6 packet (header included) among ``pieces``."""
    return max(40 + int(p[IPv6].plen) for p in pieces)
