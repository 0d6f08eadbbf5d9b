"""RFC 4861 §6.3.4, §6.3.5: how a host keeps its Default Router List and Prefix List from
Router Advertisements.

Everything is observed from outside through ``harness.router_discovery``: the tester's
link-local address plays the router, so "the DUT uses the router" shows as an echo reply to an
off-link source (2001:db8:2::5) leaving towards the tester's MAC, and the on-link flag of a
prefix shows in whether the DUT resolves an address of the prefix itself. Every test that
checks that an advertisement is ignored sends the valid one afterwards and sees its effect (a
DUT that ignores all advertisements cannot pass). Lifetimes are a few seconds so the linux
backend stays quick; in-process waiting is virtual. How an advertisement is validated and how
its other fields are used is in test_rfc4861_router_advertisement_fields.py.
"""

from __future__ import annotations

from ipaddress import IPv6Network
from typing import Final

from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, MUST, described, multicast_mac, rfc, solicited_node
from harness.rfc import NDP_HOP_LIMIT
from harness.router_discovery import (
    ALL_NODES,
    ECHO_ID,
    LIFETIME_S,
    OFF_LINK,
    PREFIX,
    echo,
    expect_routed_reply,
    has_no_router,
    hop_limit_of_reply,
    pio,
    ra,
    uses_router,
)

UDP_PORT: Final = 5061

# ---- the Default Router List ------------------------------------------------------------------

@described(4861, "6.3.4", MUST,
           "If the address is not already present in the host's Default Router List, and the advertisement's "
           "Router Lifetime is non-zero, create a new entry in the list, and initialize its invalidation "
           "timer value from the advertisement's Router Lifetime field.")
def test_advertising_router_becomes_default_router(dut: DUT) -> None:
    has_no_router(dut, 1)  # no route to 2001:db8:2::/64 before the advertisement
    dut.send(ra(dut))
    uses_router(dut, 2)


@described(4861, "5.2", MUST,
           "Otherwise, the sender selects a router from the Default Router List (following the rules "
           "described in Section 6.3.6).")
def test_datagram_to_an_off_link_node_goes_through_the_default_router(dut: DUT) -> None:
    # A datagram the DUT originates to an off-link node takes the router too, whatever default
    # route IPv4 has: the IPv4 gateway has no say in IPv6 next-hop selection.
    dut.add_route("0.0.0.0/0", via=str(dut.info.other_ipv4))
    dut.send(ra(dut))
    uses_router(dut, 1)  # control: the router is in the Default Router List
    dut.udp_bind(UDP_PORT, 6)
    dut.udp_send(UDP_PORT, b"off-link", OFF_LINK, UDP_PORT)
    dut.expect(Ether(dst=dut.info.tester_mac), IPv6(dst=OFF_LINK), UDP(sport=UDP_PORT), within=1.0)


@described(4861, "6.3.4", MUST,
           "If the address is already present in the host's Default Router List and the received Router "
           "Lifetime value is zero, immediately time-out the entry as specified in Section 6.3.5.")
def test_router_lifetime_zero_removes_the_default_router(dut: DUT) -> None:
    dut.send(ra(dut))
    uses_router(dut, 1)
    dut.send(ra(dut, lifetime=0))
    has_no_router(dut, 2)


@described(4861, "6.3.5", MUST,
           "Whenever the Lifetime of an entry in the Default Router List expires, that entry is discarded.")
def test_default_router_expires_with_its_router_lifetime(dut: DUT) -> None:
    # Both sides of the Router Lifetime (3 s): still the default router a second before it
    # ends, gone 0.6 s after.
    dut.set_ipv6_option("accept_ra", 1)  # a control verb: this test waits seconds of real time
    dut.send(ra(dut, lifetime=3))
    heard = dut.now()
    uses_router(dut, 1)
    dut.wait(max(0.0, heard + 2.0 - dut.now()))
    uses_router(dut, 2)  # the router lifetime is not cut short
    dut.wait(max(0.0, heard + 3.6 - dut.now()))
    has_no_router(dut, 3)


@rfc("RFC4861-4.2-3",
     quote="The Router Lifetime applies only to the router's usefulness as a default router; it does not "
           "apply to information contained in other message fields or options.")
def test_router_lifetime_zero_still_carries_parameters(dut: DUT) -> None:
    dut.send(ra(dut, lifetime=0, chlim=44))
    has_no_router(dut, 1)
    assert hop_limit_of_reply(dut, 2) == 44, "Cur Hop Limit of an RA with Router Lifetime 0 ignored"


# ---- Prefix Information: on-link determination ------------------------------------------------------

# Other addresses of OFF_LINK's prefix. Next-hop determination is cached per destination and
# RFC 4861 lets the cache outlive a change of the Prefix List ("When removing an entry from the
# Prefix List, there is no need to purge any entries from the Destination or Neighbor Caches",
# §5.2): a test that asks again after such a change asks about a destination not asked about yet.
FRESH: Final = ("2001:db8:2::6", "2001:db8:2::7")


def _resolves_itself(dut: DUT, seq: int, address: str = OFF_LINK) -> None:
    """The DUT takes ``address`` for on-link: it multicasts an NS for it instead of using the router."""
    dut.send(echo(dut, seq, src=address))
    dut.expect(IPv6(dst=solicited_node(address)), ICMPv6ND_NS(tgt=address), within=1.0)


@described(4861, "6.3.4", MUST,
           "If the prefix is not already present in the Prefix List, and the Prefix Information option's "
           "Valid Lifetime field is non-zero, create a new entry for the prefix and initialize its "
           "invalidation timer to the Valid Lifetime value in the Prefix Information option.")
def test_on_link_prefix_is_resolved_directly(dut: DUT) -> None:
    # Negative control first: with L=0 the advertisement "makes no statement about on-link or
    # off-link properties of the prefix" (§4.6.2), so the router is used.
    dut.send(ra(dut, pio(on_link=0)))
    uses_router(dut, 1)
    dut.expect_none(ICMPv6ND_NS(tgt=OFF_LINK), within=0.3)
    dut.send(ra(dut, pio(on_link=1)))
    _resolves_itself(dut, 2, FRESH[0])


@described(4861, "4.6.2", MUST, "The number of leading bits in the Prefix that are valid. The value ranges from 0 to 128.")
def test_on_link_prefix_of_128_bits_covers_its_one_address(dut: DUT) -> None:
    # Prefix Length 128, the top of the range: OFF_LINK alone is on-link, its neighbor FRESH[0]
    # still goes through the router (a default router, so both are reachable).
    dut.send(ra(dut, pio(on_link=1, prefix=OFF_LINK, length=128)))
    _resolves_itself(dut, 1)
    uses_router(dut, 2, src=FRESH[0])


@described(4861, "6.3.4", MUST,
           "If the prefix is already present in the host's Prefix List as the result of a previously "
           "received advertisement, reset its invalidation timer to the Valid Lifetime value in the Prefix "
           "Information option. If the new Lifetime value is zero, time-out the prefix immediately (see "
           "Section 6.3.5).")
def test_prefix_valid_lifetime_zero_removes_the_prefix(dut: DUT) -> None:
    dut.send(ra(dut, pio()))
    _resolves_itself(dut, 1)
    dut.send(ra(dut, pio(valid=0, preferred=0)))
    uses_router(dut, 2, src=FRESH[0])
    # Gone from the Prefix List, the prefix advertised anew is "not already present": a new
    # entry makes it on-link again.
    dut.send(ra(dut, pio()))
    _resolves_itself(dut, 3, FRESH[1])


@described(4861, "2.1", MUST,
           "on-link - an address that is assigned to an interface on a specified link. A node considers an "
           "address to be on-link if: - it is covered by one of the link's prefixes (e.g., as indicated by the "
           "on-link flag in the Prefix Information option), or")
def test_configured_prefix_stays_on_link_when_an_advertisement_times_it_out(dut: DUT) -> None:
    # The link's own prefix, 2001:db8:1::/64, is configured on the DUT with its address; an
    # advertisement puts it in the Prefix List too, then times it out (Valid Lifetime 0). The
    # Prefix List entry goes, the configured prefix stays: a neighbor on it is resolved directly.
    link_prefix = str(dut.info.dut_ipv6.network.network_address)
    neighbor = str(dut.info.dut_ipv6.network[0xC466])
    dut.send(ra(dut, pio(prefix=link_prefix)))
    dut.send(ra(dut, pio(prefix=link_prefix, valid=0, preferred=0)))
    _resolves_itself(dut, 1, neighbor)


@described(4861, "6.3.5", MUST,
           "Whenever the invalidation timer expires for a Prefix List entry, that entry is discarded.")
def test_prefix_stays_on_link_when_an_address_in_it_is_removed(dut: DUT) -> None:
    # The advertised prefix is in the Prefix List until its timer expires, whatever happens to an
    # address configured in it by hand: removing 2001:db8:2::1 leaves the prefix on-link.
    dut.send(ra(dut, pio()))
    dut.barrier()  # the prefix is advertised before the address in it is configured
    dut.add_address(f"{PREFIX}1/64")
    _resolves_itself(dut, 1)
    dut.remove_address(f"{PREFIX}1/64")
    _resolves_itself(dut, 2, FRESH[0])


@described(4861, "6.3.5", MUST,
           "Whenever the invalidation timer expires for a Prefix List entry, that entry is discarded.")
def test_prefix_expires_with_its_valid_lifetime(dut: DUT) -> None:
    # Both sides of the Valid Lifetime (3 s): still on-link a second before it ends, off-link
    # 0.6 s after.
    dut.set_ipv6_option("accept_ra", 1)  # a control verb: this test waits seconds of real time
    dut.send(ra(dut, pio(valid=3, preferred=1)))
    heard = dut.now()
    _resolves_itself(dut, 1)
    dut.wait(max(0.0, heard + 2.0 - dut.now()))
    _resolves_itself(dut, 2, FRESH[1])  # the valid lifetime is not cut short
    dut.wait(max(0.0, heard + 3.6 - dut.now()))
    uses_router(dut, 3, src=FRESH[0])


# ---- more of the Default Router List and the Prefix List -------------------------------------------

@described(4861, "6.3.4", MUST,
           "If the address is already present in the host's Default Router List as a result of a previously "
           "received advertisement, reset its invalidation timer to the Router Lifetime value in the newly "
           "received advertisement.")
def test_new_advertisement_resets_the_router_lifetime(dut: DUT) -> None:
    dut.set_ipv6_option("accept_ra", 1)  # a control verb: this test waits seconds of real time
    dut.send(ra(dut, lifetime=2))
    dut.wait(1.2)
    dut.send(ra(dut, lifetime=LIFETIME_S))
    dut.wait(1.4)  # past the first advertisement's 2 s
    uses_router(dut, 1)


@described(4861, "6.3.4", MUST,
           "If the prefix is already present in the host's Prefix List as the result of a previously "
           "received advertisement, reset its invalidation timer to the Valid Lifetime value in the Prefix "
           "Information option.")
def test_new_advertisement_resets_the_prefix_lifetime(dut: DUT) -> None:
    dut.set_ipv6_option("accept_ra", 1)  # a control verb: this test waits seconds of real time
    dut.send(ra(dut, pio(valid=2, preferred=1)))
    dut.wait(1.2)
    dut.send(ra(dut, pio(valid=LIFETIME_S)))
    dut.wait(1.4)
    _resolves_itself(dut, 1)


@described(4861, "6.3.4", MUST,
           "If the Prefix Information option's Valid Lifetime field is zero, and the prefix is not present "
           "in the host's Prefix List, silently ignore the option.")
def test_unknown_prefix_with_zero_valid_lifetime_is_ignored(dut: DUT) -> None:
    dut.send(ra(dut, pio(valid=0, preferred=0)))
    uses_router(dut, 1)
    dut.expect_none(ICMPv6ND_NS(tgt=OFF_LINK), within=0.3)
    dut.send(ra(dut, pio()))  # control
    _resolves_itself(dut, 2, FRESH[0])


ROUTER_B: Final = "fe80::1"


def ra_from_b(dut: DUT, *, lifetime: int = LIFETIME_S, prf: int = 0) -> Packet:
    """A Router Advertisement from a second router, B (``ROUTER_B``, the link's "other" MAC)."""
    return ra(dut, src=ROUTER_B, mac=dut.info.other_mac, lifetime=lifetime, prf=prf)


@rfc("RFC4861-6.3.4-10")
def test_router_link_layer_address_is_learnt_from_the_advertisement(dut: DUT) -> None:
    dut.send(ra_from_b(dut))
    dut.send(echo(dut, 1))
    expect_routed_reply(dut, 1, via=dut.info.other_mac)
    dut.expect_none(ICMPv6ND_NS(tgt=ROUTER_B), within=0.2)


@rfc("RFC4861-7.2.5-9", "RFC4861-7.2.5-8", "RFC4861-7.3.3-5", "RFC4861-7.3.3-6")
def test_advertisement_without_router_flag_removes_the_router(dut: DUT) -> None:
    mac = dut.info.other_mac
    dut.send(ra_from_b(dut))
    dut.send(echo(dut, 1))
    expect_routed_reply(dut, 1, via=mac)
    dut.send(Ether(src=mac, dst=multicast_mac(ALL_NODES)) / IPv6(src=ROUTER_B, dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=ROUTER_B, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))
    has_no_router(dut, 2)


@rfc("RFC4861-6.3.5-1")
def test_traffic_moves_to_the_remaining_router(dut: DUT) -> None:
    # RFC 4191 preferences make the first choice deterministic: B (High) over A (Low).
    dut.send(ra(dut, prf=3), ra_from_b(dut, prf=1))
    dut.send(echo(dut, 1))
    expect_routed_reply(dut, 1, via=dut.info.other_mac)
    dut.send(ra_from_b(dut, lifetime=0, prf=1))
    uses_router(dut, 2)


@described(4861, "6.3.4", MUST,
           "If the prefix is the link-local prefix, silently ignore the Prefix Information option.")
def test_link_local_prefix_information_is_ignored(dut: DUT) -> None:
    # Processed, Valid Lifetime 0 would "time-out the prefix immediately": fe80::/64 off-link, and
    # with Router Lifetime 0 there is no default router to reach it through, so the echo reply
    # below could not be sent. (Whether the DUT resolves the tester first -- a static neighbor or
    # the tester's responder -- does not matter.) The control: the same advertisement's
    # autonomous prefix forms an address (RFC 4862 5.5.3), so the advertisement was processed.
    dut.send(ra(dut, pio(prefix="fe80::", valid=0, preferred=0), pio(on_link=0, autonomous=1), lifetime=0))
    dut.send(dut.ether() / IPv6(src=str(dut.info.tester_ipv6_ll), dst=str(dut.info.dut_ipv6_ll))
             / ICMPv6EchoRequest(id=ECHO_ID, seq=1))
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6_ll)), ICMPv6EchoReply(id=ECHO_ID, seq=1))
    formed = [a for a in dut.ipv6_addresses() if a.interface.ip in IPv6Network(f"{PREFIX}/64")]
    assert formed, "control: the advertisement's autonomous prefix formed no address, so it was not processed"


@rfc("RFC4861-6.2.6-2")
def test_unicast_advertisement_is_accepted(dut: DUT) -> None:
    unicast = ra(dut)
    unicast[Ether].dst = dut.info.dut_mac
    unicast[IPv6].dst = str(dut.info.dut_ipv6_ll)
    dut.send(unicast)
    uses_router(dut, 1)
