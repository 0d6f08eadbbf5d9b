"""RFC 4291 §2.6.1 and RFC 4861 §7.2.4/§7.2.7: the Subnet-Router anycast address.

A router (forwarding on) holds the Subnet-Router anycast address of each link it is on, here
2001:db8:1:: (the link's prefix with an all-zero interface identifier). It answers solicitations
for it like for a unicast address, except that the advertisement has Override zero and may be
delayed up to MAX_ANYCAST_DELAY_TIME. A host does not hold it.
"""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest
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
from harness.features import become_router, optional_feature
from harness.mld import CHANGE_TO_EXCLUDE, CHANGE_TO_INCLUDE, expect_record
from harness.rfc import NDP_HOP_LIMIT

SUBNET_ROUTER = "2001:db8:1::"
MAX_ANYCAST_DELAY_TIME_S = 1.0  # RFC 4861 §10
JITTER_S = 0.3
ANYCAST_SAMPLES = 6


def _ns(dut: DUT, *, unicast: bool = False, target: str = SUBNET_ROUTER) -> Packet:
    dst = target if unicast else solicited_node(target)
    return (
        dut.ether(dst=dut.info.dut_mac if unicast else multicast_mac(dst))
        / IPv6(src=str(dut.info.tester_ipv6), dst=dst, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NS(tgt=target)
        / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac)
    )


def _advertisement(dut: DUT, *, unicast: bool = False) -> Packet:
    become_router(dut, 6)
    dut.send(_ns(dut, unicast=unicast))
    return dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ND_NA(tgt=SUBNET_ROUTER),
                      within=MAX_ANYCAST_DELAY_TIME_S + JITTER_S)


@described(4291, "2.6.1", MUST,
           "All routers are required to support the Subnet-Router anycast addresses for the subnets to which "
           "they have interfaces.")
def test_router_answers_solicitation_for_subnet_router_anycast(dut: DUT) -> None:
    na = _advertisement(dut)
    assert na[ICMPv6ND_NA].S == 1 and na[ICMPv6ND_NA].R == 1, f"flags R={na[ICMPv6ND_NA].R} S={na[ICMPv6ND_NA].S}"
    assert na.haslayer(ICMPv6NDOptDstLLAddr) and na[ICMPv6NDOptDstLLAddr].lladdr.lower() == dut.info.dut_mac


@pytest.mark.parametrize("unicast", [False, True], ids=["multicast-ns", "unicast-ns"])
@rfc("RFC4861-7.2.7-2", "RFC4861-7.2.4-4", "RFC4861-4.4-2")
def test_anycast_advertisement_has_override_zero(dut: DUT, unicast: bool) -> None:
    assert _advertisement(dut, unicast=unicast)[ICMPv6ND_NA].O == 0, "Override flag set for an anycast target"


@rfc("RFC4861-4.4-4")
def test_anycast_advertisement_has_its_reserved_bits_zero(dut: DUT) -> None:
    # With Override 0 the first octet carries R and S only: the five Reserved bits after O stay 0.
    na = _advertisement(dut)
    assert na[ICMPv6ND_NA].res == 0, f"the Reserved field of the anycast advertisement is {na[ICMPv6ND_NA].res:#x}"


@rfc("RFC4861-7.2.4-8", "RFC4861-7.2.7-1")
def test_anycast_advertisement_comes_within_max_anycast_delay_time(dut: DUT) -> None:
    # The random delay itself cannot be told from processing time in one sample; its bound can,
    # in several: a delay drawn from a range twice as long passes one sample half the time.
    become_router(dut, 6)
    for _ in range(ANYCAST_SAMPLES):
        dut.send(_ns(dut))
        dut.expect(ICMPv6ND_NA(tgt=SUBNET_ROUTER), within=MAX_ANYCAST_DELAY_TIME_S + JITTER_S)


@rfc("RFC4861-7.2.3-1",
     quote="The Target Address is a \"valid\" unicast or anycast address assigned to the receiving interface "
           "[ADDRCONF],")
def test_host_does_not_answer_for_subnet_router_anycast(dut: DUT) -> None:
    # Forwarding off: the DUT is a host and holds no Subnet-Router anycast address.
    dut.send(_ns(dut))
    dut.expect_none(ICMPv6ND_NA(tgt=SUBNET_ROUTER), within=MAX_ANYCAST_DELAY_TIME_S + JITTER_S)
    dut.set_forwarding(6, True)  # control: as a router it answers
    dut.send(_ns(dut))
    dut.expect(ICMPv6ND_NA(tgt=SUBNET_ROUTER), within=MAX_ANYCAST_DELAY_TIME_S + JITTER_S)


@rfc("RFC4443-4.2-5")
def test_echo_to_subnet_router_anycast_is_answered_from_a_unicast_address(dut: DUT) -> None:
    become_router(dut, 6)  # a router holds the Subnet-Router anycast address (RFC 4291 2.6.1)
    dut.send(dut.ipv6(dst=SUBNET_ROUTER) / ICMPv6EchoRequest(id=0x7601, seq=1, data=b"anycast"))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x7601, seq=1))
    own = {IPv6Address(dut.info.dut_ipv6.ip), IPv6Address(dut.info.dut_ipv6_ll)}
    assert IPv6Address(reply[IPv6].src) in own, f"reply from {reply[IPv6].src}, not one of {sorted(map(str, own))}"
    assert reply[Ether].dst.lower() == dut.info.tester_mac


OTHER_SUBNET, OTHER_SUBNET_ROUTER = "2001:db8:3::1/126", "2001:db8:3::"


@described(4291, "2.6.1", MUST,
           "All routers are required to support the Subnet-Router anycast addresses for the subnets to which "
           "they have interfaces.")
def test_router_holds_the_subnet_router_anycast_address_only_while_it_has_the_subnet(dut: DUT) -> None:
    # A /126: short subnets have the address too. Once the address in it is gone, the router
    # has no interface in that subnet, so the anycast address is no longer "assigned to the
    # receiving interface" (RFC 4861 7.2.3) and a solicitation for it goes unanswered.
    become_router(dut, 6)
    dut.add_address(OTHER_SUBNET)
    dut.send(_ns(dut, target=OTHER_SUBNET_ROUTER))
    dut.expect(ICMPv6ND_NA(tgt=OTHER_SUBNET_ROUTER), within=MAX_ANYCAST_DELAY_TIME_S + JITTER_S)
    dut.remove_address(OTHER_SUBNET)
    dut.send(_ns(dut, target=OTHER_SUBNET_ROUTER))
    dut.expect_none(ICMPv6ND_NA(tgt=OTHER_SUBNET_ROUTER), within=MAX_ANYCAST_DELAY_TIME_S + JITTER_S)
    dut.send(_ns(dut))  # control: the link's own subnet is still answered for
    dut.expect(ICMPv6ND_NA(tgt=SUBNET_ROUTER), within=MAX_ANYCAST_DELAY_TIME_S + JITTER_S)


@optional_feature("mldv2")
@described(3810, "6.1", MUST,
           "A change of per-interface state causes the node to immediately transmit a State Change Report "
           "from that interface.")
def test_router_stops_listening_for_the_anycast_address_when_it_stops_forwarding(dut: DUT) -> None:
    # RFC 4291 2.8: a node listens to "the Solicited-Node multicast address for each of its
    # unicast and anycast addresses". Forwarding on, the router gains the Subnet-Router anycast
    # address and joins its solicited-node group (the control); forwarding off, it has it no
    # more and leaves that group, which it reports as a change of state.
    group = solicited_node(SUBNET_ROUTER)
    become_router(dut, 6)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    dut.set_forwarding(6, False)
    expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=1.0)
