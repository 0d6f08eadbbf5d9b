"""RFC 4861 §7.2.1: the DUT listens on the solicited-node multicast group of every address it has,
and keeps a group as long as any of its addresses maps onto it.

Membership is observed the way a neighbor depends on it: a Neighbor Solicitation sent to the group
(and to its multicast MAC) is answered only if the DUT receives on that group.
"""

from __future__ import annotations

from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.packet import Packet

from harness import DUT, multicast_mac, rfc, solicited_node
from harness.rfc import NDP_HOP_LIMIT

# Two addresses with the same low-order 24 bits (0xc50001), hence one solicited-node group.
FIRST, SECOND = "2001:db8:1::1:c5:1", "2001:db8:1::2:c5:1"
SILENCE_S = 0.6


def _ns_via_group(dut: DUT, target: str) -> Packet:
    group = solicited_node(target)
    return (
        dut.ether(dst=multicast_mac(group))
        / IPv6(src=str(dut.info.tester_ipv6), dst=group, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NS(tgt=target)
        / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac)
    )


def _expect_na(dut: DUT, target: str) -> None:
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ND_NA(tgt=target))


@rfc("RFC4861-7.2.1-2")
def test_solicited_node_group_of_a_new_address_is_joined(dut: DUT) -> None:
    dut.send(_ns_via_group(dut, FIRST))
    dut.expect_none(ICMPv6ND_NA(tgt=FIRST), within=SILENCE_S, barrier=True)  # not the DUT's address yet
    dut.add_address(f"{FIRST}/64")
    dut.send(_ns_via_group(dut, FIRST))
    _expect_na(dut, FIRST)


@rfc("RFC4861-7.2.1-3")
def test_shared_solicited_node_group_is_kept_while_one_address_remains(dut: DUT) -> None:
    dut.add_address(f"{FIRST}/64")
    dut.add_address(f"{SECOND}/64")
    dut.remove_address(f"{FIRST}/64")
    dut.send(_ns_via_group(dut, SECOND))
    _expect_na(dut, SECOND)
    dut.send(_ns_via_group(dut, FIRST))  # the removed one is no longer answered
    dut.expect_none(ICMPv6ND_NA(tgt=FIRST), within=SILENCE_S, barrier=True)
