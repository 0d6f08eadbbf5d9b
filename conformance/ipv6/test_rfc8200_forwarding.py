"""RFC 8200 §3/§4.5, RFC 4443 §3 and RFC 6437 §2: the DUT as a router (forwarding switched on).

One link only: packets from the tester to 2001:db8:2::5 are routed through a gateway on the
same link (the tester's own address, which the DUT has as a static neighbor), so the forwarded
packet comes back to the tester. Whether the DUT also sends a Redirect is not asserted here.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

import pytest
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, MUST, MUST_NOT, described, l3_bytes, rfc
from harness.features import optional_feature
from harness.rfc import IPV6_MIN_MTU, ICMPv6Unreach
from harness.rfc import ICMPv6TimeExceeded as TECode

SILENCE_S = 1.0
PREFIX, FAR = "2001:db8:2::/64", "2001:db8:2::5"
# Router behaviour: a host need not forward, so these run on DUTs that declare it.
pytestmark = optional_feature("ipv6-forwarding")


def _router(dut: DUT, mtu: int | None = None, via: str | None = None) -> None:
    dut.set_forwarding(6, True)
    dut.add_route(PREFIX, via=via or str(dut.info.tester_ipv6), mtu=mtu)


def _probe(dut: DUT, ident: int, size: int = 32, **ip: Any) -> Packet:
    return dut.ipv6(dst=FAR, **ip) / ICMPv6EchoRequest(id=ident, seq=1, data=bytes(size))


def _expect_forwarded(dut: DUT, ident: int) -> Packet:
    return dut.expect(
        Ether(src=dut.info.dut_mac, dst=dut.info.tester_mac), IPv6(dst=FAR), ICMPv6EchoRequest(id=ident, seq=1)
    )


def _quote_ok(error: Packet, sent: Packet) -> bool:
    quote = l3_bytes(error)[48:]
    return quote == l3_bytes(sent)[: IPV6_MIN_MTU - 48]


def _assert_unused_is_zero(error: Packet) -> None:
    # RFC 4443 3.1 and 3.3: "Unused ... It must be initialized to zero by the originator".
    assert l3_bytes(error)[44:48] == bytes(4), f"the Unused field reads {l3_bytes(error)[44:48].hex()}"


@described(8200, "3", MUST,
           "Hop Limit 8-bit unsigned integer. Decremented by 1 by each node that forwards the packet.")
def test_forwarded_packet_has_its_hop_limit_decremented(dut: DUT) -> None:
    _router(dut)
    dut.send(_probe(dut, 0x8301, hlim=64))
    forwarded = _expect_forwarded(dut, 0x8301)
    assert forwarded[IPv6].hlim == 63


@rfc("RFC6437-2-1")
def test_forwarded_packet_keeps_its_flow_label(dut: DUT) -> None:
    _router(dut)
    dut.send(_probe(dut, 0x8302, fl=0x5C0F1))
    assert _expect_forwarded(dut, 0x8302)[IPv6].fl == 0x5C0F1


@pytest.mark.parametrize("hlim", [1, 0])
@rfc("RFC4443-3.3-1")
def test_hop_limit_reaching_zero_draws_time_exceeded_code_0(dut: DUT, hlim: int) -> None:
    _router(dut)
    sent = _probe(dut, 0x8303, hlim=hlim)
    dut.send(sent)
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6TimeExceeded(code=TECode.HOP_LIMIT))
    assert _quote_ok(error, sent), "the quote is not the invoking packet"
    _assert_unused_is_zero(error)
    dut.expect_none(IPv6(dst=FAR), within=SILENCE_S, barrier=True)
    dut.send(_probe(dut, 0x8304, hlim=2))  # control: one hop left is forwarded with Hop Limit 1
    assert _expect_forwarded(dut, 0x8304)[IPv6].hlim == 1


@rfc("RFC4443-3.1-1",
     quote="If the reason for the failure to deliver is lack of a matching entry in the forwarding node's "
           "routing table, the Code field is set to 0. (This error can occur only in nodes that do not hold "
           "a \"default route\" in their routing tables.)")
def test_no_route_draws_destination_unreachable_code_0(dut: DUT) -> None:
    dut.set_forwarding(6, True)  # and no route to 2001:db8:2::/64, nor a default route
    sent = _probe(dut, 0x8305)
    dut.send(sent)
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6DestUnreach(code=ICMPv6Unreach.NO_ROUTE))
    assert _quote_ok(error, sent), "the quote is not the invoking packet"
    _assert_unused_is_zero(error)


@rfc("RFC4443-3.2-1")
def test_packet_larger_than_the_next_hop_mtu_draws_packet_too_big(dut: DUT) -> None:
    _router(dut, mtu=1280)
    sent = _probe(dut, 0x8306, size=1400)  # 1448 octets
    dut.send(sent)
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6PacketTooBig(code=0))
    assert error[ICMPv6PacketTooBig].mtu == 1280, "MTU field is not the next-hop MTU"
    assert _quote_ok(error, sent), "the quote is not the invoking packet's first 1232 octets"
    assert len(l3_bytes(error)) == IPV6_MIN_MTU
    # Control: a packet of exactly the next-hop MTU (40 + 8 + 1232 = 1280 octets) fits and is forwarded.
    dut.send(_probe(dut, 0x8307, size=IPV6_MIN_MTU - 48))
    assert len(l3_bytes(_expect_forwarded(dut, 0x8307))) == IPV6_MIN_MTU


@described(8200, "4.5", MUST_NOT,
           "unlike IPv4, fragmentation in IPv6 is performed only by source nodes, not by routers along a "
           "packet's delivery path")
def test_router_does_not_fragment_a_packet_too_big_for_the_next_hop(dut: DUT) -> None:
    _router(dut, mtu=1280)
    dut.send(_probe(dut, 0x8308, size=1400))
    dut.expect(ICMPv6PacketTooBig)
    dut.expect_none(IPv6(dst=FAR), IPv6ExtHdrFragment, within=SILENCE_S, barrier=True)
    dut.expect_none(IPv6(dst=FAR), within=0.01)


@rfc("RFC4861-7.2.2-11",
     quote="If no Neighbor Advertisement is received after MAX_MULTICAST_SOLICIT solicitations, address "
           "resolution has failed.")
def test_unresolvable_next_hop_draws_destination_unreachable_code_3(dut: DUT) -> None:
    # The gateway is an on-link address nobody answers for: 3 solicitations 1 s apart, then
    # the error (RFC 4443 §3.1 code 3: "inability to resolve the IPv6 destination address").
    silent = str(IPv6Address(int(dut.info.other_ipv6) + 0x83))
    _router(dut, via=silent)
    sent = _probe(dut, 0x8309, hlim=64)
    dut.send(sent)
    error = dut.expect(
        IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6DestUnreach(code=ICMPv6Unreach.ADDRESS), within=6.0
    )
    # The packet waited in the queue already forwarded, so its Hop Limit may read 63: the quote
    # is the invoking packet, Hop Limit octet (offset 7) aside.
    quote, wire = bytearray(l3_bytes(error)[48:]), bytearray(l3_bytes(sent))
    assert quote[7] in (64, 63), f"quoted Hop Limit {quote[7]}"
    quote[7] = wire[7] = 0
    assert quote == wire, "the quote is not the invoking packet"


@rfc("RFC4291-2.5.2-3")
def test_packet_from_the_unspecified_address_is_not_forwarded(dut: DUT) -> None:
    _router(dut)
    dut.send(_probe(dut, 0x830A, src="::"))
    dut.expect_none(IPv6(dst=FAR), within=SILENCE_S, barrier=True)
    dut.send(_probe(dut, 0x830B))  # control: the same packet from the tester is forwarded
    _expect_forwarded(dut, 0x830B)


@rfc("RFC8200-4-2",
     quote="Extension headers (except for the Hop-by-Hop Options header) are not processed, inserted, or "
           "deleted by any node along a packet's delivery path, until the packet reaches the node (or each "
           "of the set of nodes, in the case of multicast) identified in the Destination Address field of "
           "the IPv6 header.")
def test_router_passes_destination_options_on_unprocessed(dut: DUT) -> None:
    # An unknown 10xxxxxx option would draw a Parameter Problem at the destination; a router
    # must not even look at it.
    _router(dut)
    dest = IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x9E, optdata=b"\x00\x00\x00\x00")])
    sent = dut.ipv6(dst=FAR, hlim=64) / dest / ICMPv6EchoRequest(id=0x830C, seq=1, data=b"pass me on")
    dut.send(sent)
    forwarded = _expect_forwarded(dut, 0x830C)
    got, want = bytearray(l3_bytes(forwarded)), bytearray(l3_bytes(sent))
    assert got[7] == 63
    got[7] = want[7] = 0
    assert got == want, "the forwarded packet differs from the one sent beyond its Hop Limit"
    dut.expect_none(ICMPv6ParamProblem, within=0.01)
