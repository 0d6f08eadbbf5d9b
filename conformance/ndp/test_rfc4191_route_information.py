"""RFC 4191: Default Router Preferences and More-Specific Routes, on a type C host.

Two routers on the link: A is the tester's link-local address (a static neighbor of the DUT,
the tester's MAC) and B is fe80::1 with MAC 02:00:00:00:00:03 (learnt from the Source
Link-Layer option of its advertisements). The DUT's choice shows in the Ethernet destination
of its echo reply to 2001:db8:2::5, an off-link address it has no other route for. Route
Information options are accepted up to /64 (``accept_ra_rt_info_max_plen`` 64; Linux ignores
them by default).
"""

from __future__ import annotations

from typing import Any, Final

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6NDOptRouteInfo,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, MUST, SHOULD, described, rfc, router_discovery
from harness.features import optional_feature

ALL_NODES: Final = "ff02::1"
OFF_LINK: Final = "2001:db8:2::5"
ROUTE: Final = "2001:db8:2::"
ROUTER_B: Final = "fe80::1"
ECHO_ID: Final = 0x4191
# RFC 8504 5.9: "IPv6 nodes MUST implement [RFC4191]"; a DUT without it fails that one requirement
# (ipv6/test_rfc8504_node_requirements.py) and these tests of its details are not run.
pytestmark = optional_feature("route-information")
# RFC 4191 §2.1: "01 High, 00 Medium (default), 11 Low, 10 Reserved - MUST NOT be sent"
HIGH, MEDIUM, RESERVED, LOW = 1, 0, 2, 3


@pytest.fixture(autouse=True)
def _accept_more_specific_routes(dut: DUT) -> None:
    dut.set_ipv6_option("accept_ra_rt_info_max_plen", 64)


def router(dut: DUT, which: str) -> tuple[str, str]:
    """(link-local address, MAC) of router A or B."""
    if which == "A":
        return str(dut.info.tester_ipv6_ll), dut.info.tester_mac
    return ROUTER_B, dut.info.other_mac


def ra(dut: DUT, which: str, *options: Packet, lifetime: int = 0, prf: int = MEDIUM, **fields: Any) -> Packet:
    """A Router Advertisement from router A or B; not a default router unless ``lifetime``."""
    src, mac = router(dut, which)
    return router_discovery.ra(dut, *options, src=src, mac=mac, lifetime=lifetime, prf=prf, **fields)


def rio(*, prf: int = MEDIUM, lifetime: int = 60, prefix: str = ROUTE, plen: int = 64) -> Packet:
    return ICMPv6NDOptRouteInfo(len=1 if plen == 0 else 2 if plen <= 64 else 3, plen=plen, prf=prf,
                                rtlifetime=lifetime, prefix=prefix)


def reply_goes_via(dut: DUT, which: str, seq: int) -> None:
    dut.send(dut.ether() / IPv6(src=OFF_LINK, dst=str(dut.info.dut_ipv6.ip))
             / ICMPv6EchoRequest(id=ECHO_ID, seq=seq))
    _, mac = router(dut, which)
    reply = dut.expect(IPv6(dst=OFF_LINK), ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=1.0)
    assert reply[Ether].dst.lower() == mac, (
        f"the reply to {OFF_LINK} went to {reply[Ether].dst}, not to router {which} ({mac})")


def no_route(dut: DUT, seq: int) -> None:
    dut.send(dut.ether() / IPv6(src=OFF_LINK, dst=str(dut.info.dut_ipv6.ip))
             / ICMPv6EchoRequest(id=ECHO_ID, seq=seq))
    dut.expect_none(ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=0.7, barrier=True)


@described(4191, "3.1", SHOULD,
           "Then as the host processes Route Information Options in the Router Advertisement message body, "
           "it updates its routing table for each such option.")
def test_route_information_installs_a_more_specific_route(dut: DUT) -> None:
    no_route(dut, 1)
    dut.send(ra(dut, "B", rio()))  # Router Lifetime 0: B is not a default router
    reply_goes_via(dut, "B", 2)


@rfc("RFC4191-3.3-1")
def test_route_lifetime_zero_removes_the_route(dut: DUT) -> None:
    # RFC 4191 §3.1: "Updating each route is done as follows. A route is located in the Routing Table based on
    # the prefix, prefix length, and next-hop router. If the received route's lifetime is zero, the route is
    # removed from the Routing Table if present."
    dut.send(ra(dut, "B", rio()))
    reply_goes_via(dut, "B", 1)
    dut.send(ra(dut, "B", rio(lifetime=0)))
    no_route(dut, 2)


@described(4191, "2.3", MUST,
           "The length of time in seconds (relative to the time the packet is sent) that the prefix is valid "
           "for route determination.")
def test_route_expires_with_its_lifetime(dut: DUT) -> None:
    dut.send(ra(dut, "B", rio(lifetime=1)))  # the least non-zero lifetime is a route too
    reply_goes_via(dut, "B", 1)
    dut.wait(1.6)
    no_route(dut, 2)


@described(4191, "3.1", SHOULD,
           "If a route's lifetime is non-zero, the route is added to the Routing Table if not present and "
           "the route's lifetime and preference is updated if the route is already present.")
def test_route_lifetime_is_updated_by_a_later_advertisement(dut: DUT) -> None:
    dut.send(ra(dut, "B", rio(lifetime=2)))
    heard = dut.now()
    dut.wait(1.0)
    dut.send(ra(dut, "B", rio(lifetime=60)))
    dut.wait(max(0.0, heard + 2.6 - dut.now()))  # past the first advertisement's 2 s
    reply_goes_via(dut, "B", 1)


@described(4191, "3.1", SHOULD,
           "Updating each route is done as follows. A route is located in the Routing Table based on the "
           "prefix, prefix length, and next-hop router.")
def test_route_information_changes_only_its_own_route(dut: DUT) -> None:
    dut.send(ra(dut, "B", rio()))
    reply_goes_via(dut, "B", 1)
    # The test link's own prefix is another route (on-link): the tester's address on it is still
    # answered directly, at the tester's MAC.
    tester = str(dut.info.tester_ipv6)
    dut.send(dut.ether() / IPv6(src=tester, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(id=ECHO_ID, seq=2))
    reply = dut.expect(IPv6(dst=tester), ICMPv6EchoReply(id=ECHO_ID, seq=2), within=1.0)
    assert reply[Ether].dst.lower() == dut.info.tester_mac.lower(), (
        f"the reply to the on-link tester went to {reply[Ether].dst}")


@rfc("RFC4191-2.3-1")
def test_route_information_with_reserved_preference_is_ignored(dut: DUT) -> None:
    dut.send(ra(dut, "B", rio(prf=RESERVED)))
    no_route(dut, 1)
    dut.send(ra(dut, "B", rio(prf=MEDIUM)))  # control
    reply_goes_via(dut, "B", 2)


@pytest.mark.parametrize("high", ["A", "B"])
@described(4191, "3.2", SHOULD,
           "When a type C host does next-hop determination and consults its Routing Table for an off-link "
           "destination, it searches its routing table to find the route with the longest prefix that "
           "matches the destination, using route preference values as a tie-breaker if multiple matching "
           "routes have the same prefix length.")
def test_route_preference_breaks_ties(dut: DUT, high: str) -> None:
    low = "B" if high == "A" else "A"
    dut.send(ra(dut, low, rio(prf=LOW)), ra(dut, high, rio(prf=HIGH)))
    reply_goes_via(dut, high, 1)


@described(4191, "3.2", SHOULD,
           "When a type C host does next-hop determination and consults its Routing Table for an off-link "
           "destination, it searches its routing table to find the route with the longest prefix that "
           "matches the destination, using route preference values as a tie-breaker if multiple matching "
           "routes have the same prefix length.")
def test_longest_prefix_wins_over_preference(dut: DUT) -> None:
    # A is a High-preference default router (::/0); B has a Low-preference route for the /64.
    dut.send(ra(dut, "A", lifetime=60, prf=HIGH), ra(dut, "B", rio(prf=LOW)))
    reply_goes_via(dut, "B", 1)


@pytest.mark.parametrize("high", ["A", "B"])
@described(4191, "2.2", SHOULD, "Indicates whether to prefer this router over other default routers.")
def test_default_router_preference_selects_the_router(dut: DUT, high: str) -> None:
    low = "B" if high == "A" else "A"
    dut.send(ra(dut, low, lifetime=60, prf=LOW), ra(dut, high, lifetime=60, prf=HIGH))
    reply_goes_via(dut, high, 1)


@rfc("RFC4191-2.2-2")
def test_reserved_default_router_preference_counts_as_medium(dut: DUT) -> None:
    # Treated as Medium, the Reserved router beats a Low one; ignored, there'd be no such router.
    dut.send(ra(dut, "A", lifetime=60, prf=LOW), ra(dut, "B", lifetime=60, prf=RESERVED))
    reply_goes_via(dut, "B", 1)


@described(4191, "3.1", SHOULD,
           "The Router Preference and Lifetime values in a ::/0 Route Information Option override the "
           "preference and lifetime values in the Router Advertisement header.")
def test_default_route_information_overrides_the_header(dut: DUT) -> None:
    dut.send(ra(dut, "B", lifetime=60))
    reply_goes_via(dut, "B", 1)  # control: B is a default router by its header alone
    dut.send(ra(dut, "B", rio(prefix="::", plen=0, lifetime=0), lifetime=60))
    no_route(dut, 2)


@described(4191, "3.1", MUST,
           "Updating each route is done as follows. A route is located in the Routing Table based on the "
           "prefix, prefix length, and next-hop router. If the received route's lifetime is zero, the route "
           "is removed from the Routing Table if present.")
def test_route_lifetime_zero_removes_only_that_routers_route(dut: DUT) -> None:
    dut.send(ra(dut, "B", rio()))
    dut.send(ra(dut, "A", rio(lifetime=0)))  # A never had this route: nothing of B's may go
    reply_goes_via(dut, "B", 1)


# ---- fields the receiver ignores (§2.2, §2.3) ------------------------------------------------------

@rfc("RFC4191-2.2-1", quote="If the Router Lifetime is zero, the preference value MUST be set to (00) by the "
                            "sender and MUST be ignored by the receiver.")
def test_preference_of_an_advertisement_with_router_lifetime_zero_is_ignored(dut: DUT) -> None:
    dut.send(ra(dut, "A", lifetime=60))
    reply_goes_via(dut, "A", 1)
    # B, High but with Router Lifetime 0: not a default router, whatever its preference says.
    dut.send(ra(dut, "B", lifetime=0, prf=HIGH))
    reply_goes_via(dut, "A", 2)
    dut.send(ra(dut, "B", lifetime=60, prf=HIGH))  # control: with a lifetime, High wins
    reply_goes_via(dut, "B", 3)


@rfc("RFC4191-2.2-3")
def test_reserved_bits_after_the_preference_are_ignored(dut: DUT) -> None:
    # The three bits after Prf (Scapy: P and res): set, the advertisement is read as before,
    # its High preference included.
    dut.send(ra(dut, "A", lifetime=60))
    dut.send(ra(dut, "B", lifetime=60, prf=HIGH, P=1, res=3))
    reply_goes_via(dut, "B", 1)


@rfc("RFC4191-2.3-2")
def test_route_information_with_reserved_fields_set_is_installed(dut: DUT) -> None:
    option = rio()
    option.res1, option.res2 = 0x7, 0x7  # the Reserved fields before and after Prf
    dut.send(ra(dut, "B", option))
    reply_goes_via(dut, "B", 1)


@rfc("RFC4191-2.3-3")
def test_prefix_bits_after_the_route_length_are_ignored(dut: DUT) -> None:
    # A /48 whose prefix field has bits set after bit 48: the route is 2001:db8:2::/48, so it
    # covers 2001:db8:2::5 (with the bits kept, 2001:db8:2:ff::/48 would not).
    dut.send(ra(dut, "B", rio(plen=48, prefix="2001:db8:2:ff::")))
    reply_goes_via(dut, "B", 1)


@rfc("RFC4191-2.3-3")
def test_route_whose_last_prefix_bit_is_one_keeps_it(dut: DUT) -> None:
    # 2001:db8:3::/48 ends in a 1 bit (0x0003), and its prefix field has bits set after bit 48:
    # those are ignored, the 48th is not, so the route covers 2001:db8:3::5 (2001:db8:2::/48 would
    # not). Router B's route to it carries the reply.
    far = "2001:db8:3::5"
    dut.send(ra(dut, "B", rio(plen=48, prefix="2001:db8:3:ff::")))
    dut.send(dut.ether() / IPv6(src=far, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(id=ECHO_ID, seq=1))
    reply = dut.expect(IPv6(dst=far), ICMPv6EchoReply(id=ECHO_ID, seq=1), within=1.0)
    assert reply[Ether].dst.lower() == router(dut, "B")[1], f"the reply to {far} went to {reply[Ether].dst}, not router B"


@described(4191, "2.3", MUST, "If Prefix Length is greater than 0, then Length must be 2 or 3.")
def test_route_information_of_length_3_for_a_48_bit_prefix_is_installed(dut: DUT) -> None:
    # The long form (Length 3, a 16-octet Prefix field) is as valid for a /48 as the short one.
    option = rio(plen=48)
    option.len = 3
    option.prefix = ROUTE
    dut.send(ra(dut, "B", option))
    reply_goes_via(dut, "B", 1)


@described(4191, "2.3", MUST, "The number of leading bits in the Prefix that are valid. The value ranges from 0 to 128.")
def test_route_information_with_a_prefix_length_beyond_128_does_not_stop_the_others(dut: DUT) -> None:
    # A Route Information option of Prefix Length 129 (Length 3) names no route; the valid one
    # after it in the same advertisement is still installed. Routes up to /128 are accepted here,
    # so the length is judged by its range, not by the host's configured maximum.
    dut.set_ipv6_option("accept_ra_rt_info_max_plen", 128)
    bad = rio(plen=128, prefix="2001:db8:3::")
    bad.plen = 129
    dut.send(ra(dut, "B", bad, rio()))
    reply_goes_via(dut, "B", 1)


@described(4191, "2.3", MUST, "If Prefix Length is greater than 64, then Length must be 3.")
def test_route_information_for_a_128_bit_prefix_is_installed_when_accepted(dut: DUT) -> None:
    # A host route (/128, Length 3) through router B, with routes up to /128 accepted: the reply
    # to that one address goes to B.
    dut.set_ipv6_option("accept_ra_rt_info_max_plen", 128)
    far = "2001:db8:3::5"
    dut.send(ra(dut, "B", rio(plen=128, prefix=far)))
    dut.send(dut.ether() / IPv6(src=far, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(id=ECHO_ID, seq=1))
    reply = dut.expect(IPv6(dst=far), ICMPv6EchoReply(id=ECHO_ID, seq=1), within=1.0)
    assert reply[Ether].dst.lower() == router(dut, "B")[1], f"the reply to {far} went to {reply[Ether].dst}, not router B"
