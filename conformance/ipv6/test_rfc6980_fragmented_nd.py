"""RFC 6980 §5: Neighbor Discovery messages that arrive with a Fragment header are ignored."""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import (
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrFragment,
)
from scapy.packet import Packet

from harness import DUT, fragments6, multicast_mac, rfc, solicited_node
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
