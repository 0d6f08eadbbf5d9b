"""RFC 4861 §7.1.1, §7.2.3, §7.2.4: how the DUT answers (or ignores) Neighbor Solicitations.

Each validation test sends the invalid solicitation first and the valid one after it, so a
DUT that never advertises cannot pass.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

import pytest
from scapy.layers.inet6 import (
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness import DUT, MUST, described, multicast_mac, rfc, solicited_node
from harness.rfc import NDP_HOP_LIMIT

SILENCE_S = 1.0
ALL_NODES = "ff02::1"
UNSPECIFIED = "::"


def _target(dut: DUT, which: str) -> tuple[str, str]:
    """(NS source, NS target) for the DUT's global or link-local address."""
    info = dut.info
    if which == "global":
        return str(info.tester_ipv6), str(info.dut_ipv6.ip)
    return str(info.tester_ipv6_ll), str(info.dut_ipv6_ll)


def _ns(
    dut: DUT,
    target: str,
    *,
    src: str | None = None,
    dst: str = "solicited-node",
    hlim: int = NDP_HOP_LIMIT,
    slla: bool = True,
    **icmp: Any,
) -> Packet:
    """A Neighbor Solicitation from the tester; ``dst`` "solicited-node" means the target's group."""
    ip_dst = solicited_node(target) if dst == "solicited-node" else dst
    mac = multicast_mac(ip_dst) if IPv6Address(ip_dst).is_multicast else dut.info.dut_mac
    ns = dut.ether(dst=mac) / IPv6(src=src or str(dut.info.tester_ipv6), dst=ip_dst, hlim=hlim)
    ns = ns / ICMPv6ND_NS(tgt=target, **icmp)
    return ns / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac) if slla else ns


def _expect_na(dut: DUT, target: str, **ip: Any) -> Packet:
    return dut.expect(IPv6(**ip), ICMPv6ND_NA(tgt=target))


def _control(dut: DUT) -> None:
    """A valid multicast NS for the DUT's global address is answered."""
    target = str(dut.info.dut_ipv6.ip)
    dut.send(_ns(dut, target))
    _expect_na(dut, target, dst=str(dut.info.tester_ipv6))


# ---- the solicited advertisement -----------------------------------------------------------

DESTINATIONS = ["solicited-node", "unicast"]
TARGETS = ["global", "link-local"]


@pytest.mark.parametrize("dst", DESTINATIONS)
@pytest.mark.parametrize("which", TARGETS)
@rfc("RFC4861-7.2.4-7")
def test_solicitation_is_answered_with_solicited_advertisement_to_its_source(
    dut: DUT, which: str, dst: str
) -> None:
    src, target = _target(dut, which)
    dut.send(_ns(dut, target, src=src, dst=target if dst == "unicast" else dst))
    na = _expect_na(dut, target)
    assert IPv6Address(na[IPv6].dst) == IPv6Address(src), f"NA sent to {na[IPv6].dst}, not to the NS source"
    assert na[Ether].dst.lower() == dut.info.tester_mac, "NA not unicast on the link"
    assert na[ICMPv6ND_NA].S == 1, "Solicited flag is zero"


@rfc("RFC4861-7.2.4-7")
def test_solicitation_from_an_unresolved_source_without_its_link_layer_address_is_answered(dut: DUT) -> None:
    # A multicast solicitation should carry the sender's link-layer address (RFC 4861 4.3), but
    # without it the solicitation is still valid (7.1.1 does not ask for it) and is answered:
    # "a node will first have to use Neighbor Discovery to determine the link-layer address of its
    # neighbor (i.e., send out a multicast Neighbor Solicitation)" (7.2.4), then advertise to it.
    info, target = dut.info, str(dut.info.dut_ipv6.ip)
    other = str(info.other_ipv6)
    dut.send(_ns(dut, target, src=other, slla=False))
    probe = dut.expect(ICMPv6ND_NS(tgt=other))
    answer = (dut.ether(src=info.other_mac, dst=info.dut_mac)
              / IPv6(src=other, dst=probe[IPv6].src, hlim=NDP_HOP_LIMIT)
              / ICMPv6ND_NA(tgt=other, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=info.other_mac))
    dut.send(answer)
    na = _expect_na(dut, target, dst=other)
    assert na[Ether].dst.lower() == info.other_mac, f"NA sent to {na[Ether].dst}, not the resolved {info.other_mac}"
    assert na[ICMPv6ND_NA].S == 1, "Solicited flag is zero"


@pytest.mark.parametrize("dst", DESTINATIONS)
@pytest.mark.parametrize("which", TARGETS)
@described(4861, "7.2.4", MUST,
           "The Target Address of the advertisement is copied from the Target Address of the solicitation.")
def test_advertisement_target_is_the_solicitation_target(dut: DUT, which: str, dst: str) -> None:
    src, target = _target(dut, which)
    dut.send(_ns(dut, target, src=src, dst=target if dst == "unicast" else dst))
    na = dut.expect(IPv6(dst=src), ICMPv6ND_NA)
    assert IPv6Address(na[ICMPv6ND_NA].tgt) == IPv6Address(target)


@pytest.mark.parametrize("which", TARGETS)
@rfc("RFC4861-7.2.4-2", "RFC4861-4.4-6", "RFC4861-4.4-8")
def test_advertisement_to_multicast_solicitation_carries_target_link_layer_address(
    dut: DUT, which: str
) -> None:
    src, target = _target(dut, which)
    dut.send(_ns(dut, target, src=src))
    na = _expect_na(dut, target, dst=src)
    assert na.haslayer(ICMPv6NDOptDstLLAddr), "no Target Link-Layer Address option"
    assert na[ICMPv6NDOptDstLLAddr].lladdr.lower() == dut.info.dut_mac


@rfc("RFC4861-7.2.4-5", "RFC4861-4.4-3")
def test_advertisement_with_target_link_layer_address_sets_override(dut: DUT) -> None:
    # A multicast solicitation: the option is included (MUST above) and the target is a plain
    # unicast address of the DUT, neither anycast nor proxied.
    target = str(dut.info.dut_ipv6.ip)
    dut.send(_ns(dut, target))
    na = _expect_na(dut, target, dst=str(dut.info.tester_ipv6))
    assert na.haslayer(ICMPv6NDOptDstLLAddr), "no Target Link-Layer Address option"
    assert na[ICMPv6ND_NA].O == 1, "Override flag is zero"


@rfc("RFC4861-7.2.4-3")
def test_host_advertisement_has_router_flag_zero(dut: DUT) -> None:
    # Forwarding is off by default: the DUT is a host.
    target = str(dut.info.dut_ipv6.ip)
    dut.send(_ns(dut, target))
    na = _expect_na(dut, target, dst=str(dut.info.tester_ipv6))
    assert na[ICMPv6ND_NA].R == 0


@rfc("RFC4861-7.1.2-1",
     quote="The IP Hop Limit field has a value of 255, i.e., the packet could not possibly have been "
           "forwarded by a router.")
def test_advertisement_is_sent_with_hop_limit_255(dut: DUT) -> None:
    # A receiver MUST silently discard an advertisement failing this check (§7.1.2), so an
    # advertisement sent with any other hop limit is lost.
    target = str(dut.info.dut_ipv6.ip)
    dut.send(_ns(dut, target))
    na = _expect_na(dut, target, dst=str(dut.info.tester_ipv6))
    assert na[IPv6].hlim == NDP_HOP_LIMIT


@rfc("RFC4861-7.2.4-6", "RFC4861-4.4-1")
def test_duplicate_address_detection_probe_is_answered_to_all_nodes_with_solicited_zero(dut: DUT) -> None:
    # Another node probing an address the DUT already owns (RFC 4862 DAD): source ::, no SLLA.
    target = str(dut.info.dut_ipv6.ip)
    dut.send(_ns(dut, target, src=UNSPECIFIED, slla=False))
    na = _expect_na(dut, target, dst=ALL_NODES)
    assert na[Ether].dst.lower() == multicast_mac(ALL_NODES)
    assert na[ICMPv6ND_NA].S == 0, "Solicited flag set in the answer to a DAD probe"


@rfc("RFC4861-7.1.1-2", "RFC4861-4.3-5", "RFC4861-9-1")
def test_solicitation_with_reserved_bits_and_unknown_option_is_answered(dut: DUT) -> None:
    # Reserved all ones, and an option of unassigned type 253 (8 octets, Length 1) before the SLLA.
    target = str(dut.info.dut_ipv6.ip)
    unknown_option = Raw(bytes([253, 1]) + b"future")
    ns = _ns(dut, target, slla=False, res=0xFFFFFFFF) / unknown_option
    dut.send(ns / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
    _expect_na(dut, target, dst=str(dut.info.tester_ipv6))


# ---- solicitations that must be silently discarded -----------------------------------------


@rfc("RFC4861-7.1.1-1", quote="The IP Hop Limit field has a value of 255")
def test_solicitation_with_hop_limit_below_255_is_ignored(dut: DUT) -> None:
    target = str(dut.info.dut_ipv6.ip)
    dut.send(_ns(dut, target, hlim=254))
    dut.expect_none(ICMPv6ND_NA, within=SILENCE_S, barrier=True)
    _control(dut)


@rfc("RFC4861-7.1.1-1", quote="ICMP Checksum is valid.")
def test_solicitation_with_bad_checksum_is_ignored(dut: DUT) -> None:
    target = str(dut.info.dut_ipv6.ip)
    good = _ns(dut, target)
    right = Ether(bytes(good))[ICMPv6ND_NS].cksum
    dut.send(_ns(dut, target, cksum=right ^ 0x0F0F))
    dut.expect_none(ICMPv6ND_NA, within=SILENCE_S, barrier=True)
    _control(dut)


@rfc("RFC4861-7.1.1-1", quote="ICMP Code is 0.")
def test_solicitation_with_nonzero_code_is_ignored(dut: DUT) -> None:
    dut.send(_ns(dut, str(dut.info.dut_ipv6.ip), code=1))
    dut.expect_none(ICMPv6ND_NA, within=SILENCE_S, barrier=True)
    _control(dut)


@rfc("RFC4861-7.1.1-1", quote="Target Address is not a multicast address.")
def test_solicitation_for_a_multicast_target_is_ignored(dut: DUT) -> None:
    # Sent to all-nodes, which the DUT certainly receives, for the all-nodes group itself.
    dut.send(_ns(dut, ALL_NODES, dst=ALL_NODES))
    dut.expect_none(ICMPv6ND_NA, within=SILENCE_S, barrier=True)
    _control(dut)


@rfc("RFC4861-7.1.1-1", "RFC4861-4.6-1",
     quote="All included options have a length that is greater than zero.")
def test_solicitation_with_zero_length_option_is_ignored(dut: DUT) -> None:
    # A Source Link-Layer Address option (type 1) whose Length octet is 0.
    zero_length_option = Raw(bytes([1, 0]) + bytes.fromhex(dut.info.tester_mac.replace(":", "")))
    dut.send(_ns(dut, str(dut.info.dut_ipv6.ip), slla=False) / zero_length_option)
    dut.expect_none(ICMPv6ND_NA, within=SILENCE_S, barrier=True)
    _control(dut)


@rfc("RFC4861-7.1.1-1",
     quote="If the IP source address is the unspecified address, the IP destination address is a "
           "solicited-node multicast address.")
def test_unspecified_source_solicitation_to_a_unicast_address_is_ignored(dut: DUT) -> None:
    target = str(dut.info.dut_ipv6.ip)
    dut.send(_ns(dut, target, src=UNSPECIFIED, dst=target, slla=False))
    dut.expect_none(ICMPv6ND_NA, within=SILENCE_S, barrier=True)
    dut.send(_ns(dut, target, src=UNSPECIFIED, slla=False))  # control: the well-formed DAD probe
    _expect_na(dut, target, dst=ALL_NODES)


@rfc("RFC4861-7.1.1-1",
     quote="If the IP source address is the unspecified address, there is no source link-layer address "
           "option in the message.")
def test_unspecified_source_solicitation_with_source_link_layer_option_is_ignored(dut: DUT) -> None:
    target = str(dut.info.dut_ipv6.ip)
    dut.send(_ns(dut, target, src=UNSPECIFIED, slla=True))
    dut.expect_none(ICMPv6ND_NA, within=SILENCE_S, barrier=True)
    dut.send(_ns(dut, target, src=UNSPECIFIED, slla=False))
    _expect_na(dut, target, dst=ALL_NODES)


@rfc("RFC4861-7.2.3-1",
     quote="The Target Address is a \"valid\" unicast or anycast address assigned to the receiving interface "
           "[ADDRCONF],")
def test_solicitation_for_an_address_not_assigned_to_the_dut_is_ignored(dut: DUT) -> None:
    # Unicast to the DUT so that it surely receives it; the target is a neighbor's address.
    other = str(dut.info.other_ipv6)
    dut.send(_ns(dut, other, dst=str(dut.info.dut_ipv6.ip)))
    dut.expect_none(ICMPv6ND_NA(tgt=other), within=SILENCE_S, barrier=True)
    _control(dut)
