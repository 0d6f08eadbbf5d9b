"""RFC 6980 §5: Neighbor Discovery messages that arrive with a Fragment header are ignored."""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RS,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, fragments6, multicast_mac, rfc, solicited_node
from harness.features import optional_feature
from harness.rfc import NDP_HOP_LIMIT

SILENCE_S = 1.0


def _ns(dut: DUT, target: str) -> Packet:
    group = solicited_node(target)
    return (
        dut.ether(dst=multicast_mac(group))
        / IPv6(src=str(dut.info.tester_ipv6), dst=group, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NS(tgt=target)
        / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac)
    )


def _fragmented(ns: Packet, how: str) -> list[Packet]:
    if how == "atomic":
        ip = ns[IPv6]
        body = ip.payload.copy()
        frame = ns.copy()
        frame[IPv6].remove_payload()
        frame[IPv6].nh = 44
        return [frame / IPv6ExtHdrFragment(offset=0, m=0, id=0x6980) / body]
    return fragments6(ns, [(0, 16), (16, 16)], ident=0x6981)


@pytest.mark.parametrize("how", ["atomic", "two-fragments"])
@rfc("RFC6980-5-3", quote="Neighbor Solicitation")
def test_fragmented_neighbor_solicitation_is_ignored(dut: DUT, how: str) -> None:
    target = str(dut.info.dut_ipv6.ip)
    dut.send(*_fragmented(_ns(dut, target), how))
    dut.expect_none(ICMPv6ND_NA, within=SILENCE_S, barrier=True)
    dut.send(_ns(dut, target))  # control: the same solicitation unfragmented is answered
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ND_NA(tgt=target))


def _rs(dut: DUT, src: str, mac: str) -> Packet:
    return (dut.ether(dst=multicast_mac("ff02::2")) / IPv6(src=src, dst="ff02::2", hlim=NDP_HOP_LIMIT)
            / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=mac))


@optional_feature("ipv6-forwarding")
@rfc("RFC6980-5-3", quote="Router Solicitation")
def test_fragmented_router_solicitation_is_ignored_by_a_router(dut: DUT) -> None:
    # A router learns the link-layer address a Router Solicitation carries (RFC 4861 6.2.6: a
    # STALE Neighbor Cache entry), so its answer to an echo from that source goes straight to it;
    # from a solicitation in a fragment it learns nothing, and the answer waits for address
    # resolution: a Neighbor Solicitation for the source.
    dut.set_forwarding(6, True)
    learnt, ignored = ("fe80::db8:62", "02:00:00:00:db:62"), ("fe80::db8:61", "02:00:00:00:db:61")
    dut.send(_rs(dut, *learnt), *_fragmented(_rs(dut, *ignored), "atomic"))
    for seq, (src, _) in enumerate((learnt, ignored), start=1):
        dut.send(dut.ether() / IPv6(src=src, dst=str(dut.info.dut_ipv6_ll)) / ICMPv6EchoRequest(id=0x6982, seq=seq))
    # control: the answer to the solicitation's source goes to the address it carried
    reply = dut.expect(IPv6(dst=learnt[0]), ICMPv6EchoReply(id=0x6982, seq=1))
    assert str(reply[Ether].dst).lower() == learnt[1], f"the answer went to {reply[Ether].dst}, not {learnt[1]}"
    dut.expect(ICMPv6ND_NS(tgt=ignored[0]), within=1.0)
