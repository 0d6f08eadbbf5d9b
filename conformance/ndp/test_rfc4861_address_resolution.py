"""RFC 4861 §7.2.2 and §7.2.3: the DUT resolving a neighbor's link-layer address, and learning it.

A neighbor the DUT has not resolved (``other``) sends an echo request; the reply needs the
neighbor's MAC, so the DUT must solicit it. Each test uses an address of its own on the link
(other_ipv6 plus an offset), because a DUT shared between tests keeps its neighbor cache.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, MUST, described, multicast_mac, rfc, solicited_node
from harness.rfc import NDP_HOP_LIMIT


def _neighbor(dut: DUT, offset: int) -> str:
    """An on-link address no test has used before: other_ipv6 + offset << 16 (stays in the /64)."""
    return str(IPv6Address(int(dut.info.other_ipv6) + (offset << 16)))


def _echo_from(dut: DUT, neighbor: str, ident: int) -> Packet:
    return (
        dut.ether(src=dut.info.other_mac)
        / IPv6(src=neighbor, dst=str(dut.info.dut_ipv6.ip))
        / ICMPv6EchoRequest(id=ident, seq=1, data=b"resolve-me")
    )


def _expect_ns_for(dut: DUT, neighbor: str) -> Packet:
    return dut.expect(ICMPv6ND_NS(tgt=neighbor))


def _advertise(dut: DUT, neighbor: str, to: str) -> Packet:
    return (
        dut.ether(src=dut.info.other_mac)
        / IPv6(src=neighbor, dst=to, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NA(tgt=neighbor, R=0, S=1, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=dut.info.other_mac)
    )


@described(4861, "7.2.2", MUST,
           "The solicitation is sent to the solicited-node multicast address corresponding to the target "
           "address.")
def test_address_resolution_solicits_the_target_solicited_node_group(dut: DUT) -> None:
    neighbor = _neighbor(dut, 1)
    dut.send(_echo_from(dut, neighbor, 0x7221))
    ns = _expect_ns_for(dut, neighbor)
    assert IPv6Address(ns[IPv6].dst) == IPv6Address(solicited_node(neighbor))
    assert ns[Ether].dst.lower() == multicast_mac(solicited_node(neighbor))


@rfc("RFC4861-7.2.2-2", "RFC4861-4.3-4")
def test_multicast_solicitation_carries_source_link_layer_address(dut: DUT) -> None:
    neighbor = _neighbor(dut, 2)
    dut.send(_echo_from(dut, neighbor, 0x7222))
    ns = dut.expect(IPv6(dst=solicited_node(neighbor)), ICMPv6ND_NS(tgt=neighbor))
    assert ns.haslayer(ICMPv6NDOptSrcLLAddr), "no Source Link-Layer Address option"
    assert ns[ICMPv6NDOptSrcLLAddr].lladdr.lower() == dut.info.dut_mac


@rfc("RFC4861-7.1.1-1",
     quote="The IP Hop Limit field has a value of 255, i.e., the packet could not possibly have been "
           "forwarded by a router.")
def test_solicitation_is_sent_with_hop_limit_255(dut: DUT) -> None:
    # The target MUST silently discard a solicitation failing this check (§7.1.1).
    neighbor = _neighbor(dut, 3)
    dut.send(_echo_from(dut, neighbor, 0x7223))
    ns = _expect_ns_for(dut, neighbor)
    assert ns[IPv6].hlim == NDP_HOP_LIMIT


@rfc("RFC4861-7.2.2-1")
def test_solicitation_source_is_the_prompting_packet_source(dut: DUT) -> None:
    # The prompting packet is the echo reply, sent from the address the request was sent to.
    neighbor = _neighbor(dut, 4)
    dut.send(_echo_from(dut, neighbor, 0x7224))
    ns = _expect_ns_for(dut, neighbor)
    assert IPv6Address(ns[IPv6].src) == IPv6Address(dut.info.dut_ipv6.ip)


@rfc("RFC4861-7.2.2-5")
def test_packet_queued_during_resolution_is_sent_once_resolved(dut: DUT) -> None:
    neighbor = _neighbor(dut, 5)
    dut.send(_echo_from(dut, neighbor, 0x7225))
    ns = _expect_ns_for(dut, neighbor)
    dut.send(_advertise(dut, neighbor, to=ns[IPv6].src))
    reply = dut.expect(IPv6(dst=neighbor), ICMPv6EchoReply(id=0x7225, seq=1))
    assert reply[Ether].dst.lower() == dut.info.other_mac, "the reply does not go to the advertised MAC"


@rfc("RFC4861-7.2.3-2")
def test_solicitation_with_source_link_layer_address_lets_the_dut_reply_without_resolving(dut: DUT) -> None:
    neighbor = _neighbor(dut, 6)
    target = str(dut.info.dut_ipv6.ip)
    dut.send(
        dut.ether(src=dut.info.other_mac, dst=multicast_mac(solicited_node(target)))
        / IPv6(src=neighbor, dst=solicited_node(target), hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NS(tgt=target)
        / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.other_mac)
    )
    dut.expect(IPv6(dst=neighbor), ICMPv6ND_NA(tgt=target))
    # The learned entry is enough to answer: no NS goes unanswered here, yet the reply comes,
    # addressed to the MAC the solicitation carried.
    dut.send(_echo_from(dut, neighbor, 0x7226))
    reply = dut.expect(IPv6(dst=neighbor), ICMPv6EchoReply(id=0x7226, seq=1), within=1.0)
    assert reply[Ether].dst.lower() == dut.info.other_mac
