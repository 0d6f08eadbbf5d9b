"""RFC 4861 §4, §9, RFC 6980 §5: rules on the Neighbor Discovery messages a host sends.

One exchange makes the DUT send every kind of message a host sends (``_sent_messages``): a
multicast Neighbor Solicitation resolving a neighbor, a unicast one probing a neighbor (NUD),
one from the unspecified address (Duplicate Address Detection), a solicited Neighbor
Advertisement, one to all-nodes answering a DAD probe, and a Router Solicitation after a link
flap. Each test then holds every message of the kind the rule is about to it, with the link MTU
lowered to the IPv6 minimum so that a rule about size has something to bite on.
"""

from __future__ import annotations

from typing import Final

from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, multicast_mac, rfc, solicited_node
from harness.rfc import IPV6_MIN_MTU, NDP_HOP_LIMIT

MAC_N: Final = "02:00:00:00:00:06"
PROBED: Final = "2001:db8:1::c7:1"  # a neighbor the DUT learns from its solicitation, then probes
RESOLVED: Final = "2001:db8:1::c7:2"  # a neighbor the DUT resolves to answer it
CHECKED: Final = "2001:db8:1::c7:3/64"  # an address the DUT adds with DAD
DELAY_S: Final = 1  # DELAY_FIRST_PROBE_TIME for the probe (Linux: whole seconds)


def _sent_messages(dut: DUT) -> dict[str, Packet]:
    """Every kind of Neighbor Discovery message a host sends, by name."""
    dut.set_link_mtu(IPV6_MIN_MTU)
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    me = str(dut.info.dut_ipv6.ip)
    group = solicited_node(me)
    out: dict[str, Packet] = {}
    # A solicitation from PROBED: the answer is a solicited NA, and traffic over a STALE entry
    # (RFC 4861 §7.3.3), so a unicast probe follows DELAY_FIRST_PROBE_TIME later.
    dut.send(dut.ether(src=MAC_N, dst=multicast_mac(group)) / IPv6(src=PROBED, dst=group, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NS(tgt=me) / ICMPv6NDOptSrcLLAddr(lladdr=MAC_N))
    out["solicited NA"] = dut.expect(IPv6(dst=PROBED), ICMPv6ND_NA(tgt=me), within=1.0)
    dut.send(dut.ether(src=MAC_N) / IPv6(src=RESOLVED, dst=me) / ICMPv6EchoRequest(id=0x4C7, seq=1))
    out["multicast NS"] = dut.expect(IPv6(dst=solicited_node(RESOLVED)), ICMPv6ND_NS(tgt=RESOLVED), within=1.0)
    # Another node's Duplicate Address Detection probe for the DUT's address.
    dut.send(dut.ether(dst=multicast_mac(group)) / IPv6(src="::", dst=group, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NS(tgt=me))
    out["NA to all-nodes"] = dut.expect(IPv6(dst="ff02::1"), ICMPv6ND_NA(tgt=me), within=1.0)
    out["unicast NS"] = dut.expect(IPv6(dst=PROBED), ICMPv6ND_NS(tgt=PROBED), within=DELAY_S + 1.5)
    dut.add_address(CHECKED, dad=True)
    out["DAD NS"] = dut.expect(IPv6(src="::"), ICMPv6ND_NS(tgt=CHECKED.split("/")[0]), within=2.0)
    dut.set_ipv6_option("router_solicitations", 1)
    dut.restart_link()
    out["RS"] = dut.expect(ICMPv6ND_RS, within=3.0)
    return out


def _each(messages: dict[str, Packet], kinds: tuple[type[Packet], ...]) -> dict[str, Packet]:
    return {name: pkt for name, pkt in messages.items() if any(pkt.haslayer(k) for k in kinds)}


@rfc("RFC4861-4.1-1", "RFC4861-4.3-1", "RFC4861-4.4-4")
def test_reserved_fields_of_sent_messages_are_zero(dut: DUT) -> None:
    for name, pkt in _sent_messages(dut).items():
        layer = next(pkt[k] for k in (ICMPv6ND_RS, ICMPv6ND_NS, ICMPv6ND_NA) if pkt.haslayer(k))
        assert layer.res == 0, f"the Reserved field of the {name} the DUT sent is {layer.res:#x}"


@rfc("RFC4861-4.3-2", "RFC4861-4.4-5")
def test_target_of_sent_solicitations_and_advertisements_is_not_multicast(dut: DUT) -> None:
    for name, pkt in _each(_sent_messages(dut), (ICMPv6ND_NS, ICMPv6ND_NA)).items():
        target = pkt[ICMPv6ND_NS].tgt if pkt.haslayer(ICMPv6ND_NS) else pkt[ICMPv6ND_NA].tgt
        assert not target.lower().startswith("ff"), f"the {name} the DUT sent targets the multicast address {target}"


@rfc("RFC4861-9-10", "RFC6980-5-1")
def test_sent_messages_fit_the_link_mtu_unfragmented(dut: DUT) -> None:
    for name, pkt in _sent_messages(dut).items():
        assert not pkt.haslayer(IPv6ExtHdrFragment), f"the {name} the DUT sent is a fragment"
        size = 40 + pkt[IPv6].plen
        assert size <= IPV6_MIN_MTU, f"the {name} the DUT sent is {size} octets, over the link MTU {IPV6_MIN_MTU}"


@rfc("RFC4861-4.4-7")
def test_advertisement_answering_a_unicast_solicitation_carries_the_target_link_layer_address(dut: DUT) -> None:
    me = str(dut.info.dut_ipv6.ip)
    dut.send(dut.ether() / IPv6(src=str(dut.info.tester_ipv6), dst=me, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NS(tgt=me) / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
    na = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ND_NA(tgt=me), within=1.0)
    assert na.haslayer(ICMPv6NDOptDstLLAddr), "the advertisement answering a unicast solicitation has no TLLA option"
    assert na[ICMPv6NDOptDstLLAddr].lladdr.lower() == dut.info.dut_mac
    assert na[Ether].dst.lower() == dut.info.tester_mac
