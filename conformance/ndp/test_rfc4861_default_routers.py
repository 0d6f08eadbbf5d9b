"""RFC 4861 §6.2, §6.3.4, §6.3.6, Appendix D: a host is never a router, keeps several default
routers, follows the IsRouter rules, and chooses among its routers by their reachability.

Routers are the tester (its link-local address, the tester's MAC) and further link-local
addresses with MACs of their own. Which router the DUT uses shows as the Ethernet destination of
its echo reply to an off-link source (``harness.router_discovery``); whether it still has one, as
an answer at all. RFC 4191 preferences make the first choice among several routers
deterministic where a test needs that. Timers (DELAY_FIRST_PROBE_TIME, RetransTimer) are
shortened so Neighbor Unreachability Detection gives up on a silent router within seconds.
"""

from __future__ import annotations

from typing import Final

from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_RS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, ExpectationFailed, multicast_mac, rfc, solicited_node
from harness.rfc import NDP_HOP_LIMIT
from harness.router_discovery import (
    ALL_NODES,
    ECHO_ID,
    echo,
    has_no_router,
    hop_limit_of_reply,
    ra,
)
from harness.suppression import consume_all

ROUTER_A: Final = ("fe80::a", "02:00:00:00:00:0a")
ROUTER_B: Final = ("fe80::b", "02:00:00:00:00:0b")
ROUTER_C: Final = ("fe80::c", "02:00:00:00:00:0c")
PRF_HIGH, PRF_MEDIUM, PRF_LOW = 1, 0, 3  # RFC 4191 2.1 Prf values
DELAY_S: Final = 1  # DELAY_FIRST_PROBE_TIME (Linux: whole seconds)
RETRANS_S: Final = 0.5
# DELAY, then MAX_UNICAST_SOLICIT (3) probes RetransTimer apart and RetransTimer after the last.
NUD_GIVES_UP_S: Final = DELAY_S + 3 * RETRANS_S + 0.8


def _ra_from(dut: DUT, router: tuple[str, str], *, prf: int = PRF_MEDIUM, lifetime: int = 600,
             slla: bool = True) -> Packet:
    return ra(dut, src=router[0], mac=router[1], prf=prf, lifetime=lifetime, slla=slla)


def _next_hop_mac(dut: DUT, seq: int, src: str | None = None) -> str:
    """The MAC the DUT sends its echo reply to an off-link source through."""
    dut.send(echo(dut, seq, src=src or "2001:db8:2::5"))
    reply = dut.expect(IPv6(dst=src or "2001:db8:2::5"), ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=1.0)
    return str(reply[Ether].dst).lower()


def _advert_from(dut: DUT, router: tuple[str, str], *, r: int) -> Packet:
    """An unsolicited Neighbor Advertisement from ``router`` with Router flag ``r``."""
    return (Ether(src=router[1], dst=multicast_mac(ALL_NODES)) / IPv6(src=router[0], dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
            / ICMPv6ND_NA(tgt=router[0], R=r, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=router[1]))


def _solicit_from(dut: DUT, router: tuple[str, str]) -> Packet:
    me = str(dut.info.dut_ipv6_ll)
    group = solicited_node(me)
    return (Ether(src=router[1], dst=multicast_mac(group)) / IPv6(src=router[0], dst=group, hlim=NDP_HOP_LIMIT)
            / ICMPv6ND_NS(tgt=me) / ICMPv6NDOptSrcLLAddr(lladdr=router[1]))


# ---- a host is no router (§6.2) ----------------------------------------------------------------------

@rfc("RFC4861-6.2.4-1", "RFC4861-6.2.6-1")
def test_host_never_answers_a_router_solicitation(dut: DUT) -> None:
    rs = (Ether(src=ROUTER_A[1], dst=multicast_mac("ff02::2"))
          / IPv6(src=ROUTER_A[0], dst="ff02::2", hlim=NDP_HOP_LIMIT) / ICMPv6ND_RS()
          / ICMPv6NDOptSrcLLAddr(lladdr=ROUTER_A[1]))
    dut.send(rs)
    # A router answers within MAX_RA_DELAY_TIME (0.5 s, §6.2.6); wait four times that.
    dut.expect_none(ICMPv6ND_RA, within=2.0)
    dut.send(dut.ipv6() / ICMPv6ND_RS())  # and a unicast one
    dut.expect_none(ICMPv6ND_RA, within=1.0)
    has_no_router(dut, 1)  # it learnt nothing from them ...
    hop_limit_of_reply(dut, 2)  # ... and it is alive: an echo from on-link is answered


@rfc("RFC4861-6.2.6-1")
def test_host_learns_no_link_layer_address_from_a_router_solicitation(dut: DUT) -> None:
    # "Silently discard" includes the Source Link-Layer Address option: after the solicitation
    # the host still has to resolve its sender, so its echo reply waits for a multicast
    # Neighbor Solicitation, not going straight to the MAC the solicitation carried.
    sender, mac = "fe80::b", "02:00:00:00:00:0b"
    me = str(dut.info.dut_ipv6_ll)  # unicast: a host is no member of ff02::2
    dut.send(Ether(src=mac, dst=dut.info.dut_mac) / IPv6(src=sender, dst=me, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=mac))
    dut.send(Ether(src=mac, dst=dut.info.dut_mac) / IPv6(src=sender, dst=me) / ICMPv6EchoRequest(id=ECHO_ID, seq=1))
    ns = dut.expect(ICMPv6ND_NS(tgt=sender), within=1.0)
    assert ns[IPv6].dst == solicited_node(sender), (
        f"the host solicited {sender} at {ns[IPv6].dst}: it took the solicitation's link-layer address")


@rfc("RFC4861-6.2.5-3")
def test_advertisements_after_forwarding_is_switched_off_have_router_flag_zero(dut: DUT) -> None:
    me = str(dut.info.dut_ipv6.ip)

    def advert(n: int) -> Packet:
        group = solicited_node(me)
        dut.send(dut.ether(dst=multicast_mac(group)) / IPv6(src=str(dut.info.tester_ipv6), dst=group, hlim=NDP_HOP_LIMIT)
                 / ICMPv6ND_NS(tgt=me) / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
        return dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ND_NA(tgt=me), within=1.0)

    dut.set_forwarding(6, True)
    assert advert(1)[ICMPv6ND_NA].R == 1, "a router's advertisement has the Router flag clear"
    dut.set_forwarding(6, False)
    assert advert(2)[ICMPv6ND_NA].R == 0, "the advertisement after forwarding was switched off has R=1"


# ---- the Default Router List (§6.3.4) ----------------------------------------------------------------------

@rfc("RFC4861-6.3.4-4")
def test_host_keeps_more_than_one_default_router(dut: DUT) -> None:
    # Heard in this order: A (High), B (Medium), C (Low). A host that kept only the last one
    # would use C first; one that kept only the first would have none left after A.
    dut.send(_ra_from(dut, ROUTER_A, prf=PRF_HIGH), _ra_from(dut, ROUTER_B), _ra_from(dut, ROUTER_C, prf=PRF_LOW))
    assert _next_hop_mac(dut, 1) == ROUTER_A[1]
    dut.send(_ra_from(dut, ROUTER_A, prf=PRF_HIGH, lifetime=0))
    assert _next_hop_mac(dut, 2) == ROUTER_B[1], "the second router was not kept"
    dut.send(_ra_from(dut, ROUTER_B, lifetime=0))
    assert _next_hop_mac(dut, 3) == ROUTER_C[1], "the third router was not kept"


@rfc("RFC4861-6.3.4-11")
def test_advertisement_without_link_layer_option_makes_a_known_neighbor_a_router(dut: DUT) -> None:
    # A's solicitation creates its entry (IsRouter FALSE); its advertisement, with no Source
    # Link-Layer Address option, must set IsRouter TRUE. Shown by an advertisement with R=0 that
    # then removes A from the Default Router List (§7.2.5: only a change from TRUE to FALSE does).
    dut.send(_solicit_from(dut, ROUTER_A))
    dut.expect(IPv6(dst=ROUTER_A[0]), ICMPv6ND_NA, within=1.0)
    dut.send(_ra_from(dut, ROUTER_A, slla=False))
    assert _next_hop_mac(dut, 1) == ROUTER_A[1]
    dut.send(_advert_from(dut, ROUTER_A, r=0))
    has_no_router(dut, 2)


@rfc("RFC4861-D-1")
def test_solicitation_from_a_router_leaves_it_a_router(dut: DUT) -> None:
    # A solicitation says nothing about host or router: A stays a default router, and its
    # IsRouter flag stays TRUE, which the advertisement with R=0 afterwards shows (it removes A).
    dut.send(_ra_from(dut, ROUTER_A))
    dut.send(_solicit_from(dut, ROUTER_A))
    dut.expect(IPv6(dst=ROUTER_A[0]), ICMPv6ND_NA, within=1.0)
    assert _next_hop_mac(dut, 1) == ROUTER_A[1], "a solicitation from the router removed it"
    dut.send(_advert_from(dut, ROUTER_A, r=0))
    has_no_router(dut, 2)


@rfc("RFC4861-6.3.4-13")
def test_advertisement_with_a_new_link_layer_address_makes_the_router_stale(dut: DUT) -> None:
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    new_mac = "02:00:00:00:00:1a"
    dut.send(_ra_from(dut, ROUTER_A))
    assert _next_hop_mac(dut, 1) == ROUTER_A[1]
    dut.send(ra(dut, src=ROUTER_A[0], mac=new_mac))
    # STALE at the new address: used at once, probed DELAY_FIRST_PROBE_TIME later.
    assert _next_hop_mac(dut, 2) == new_mac, "traffic did not move to the router's new link-layer address"
    # Probes queued by now went to the old address, rightly: a loaded tester had sent the new
    # advertisement after the first entry's DELAY and PROBE (a linux soak beside two busy loops).
    # The new entry's probe comes DELAY_FIRST_PROBE_TIME after the reply.
    consume_all(dut, ICMPv6ND_NS(tgt=ROUTER_A[0]))
    probe = dut.expect(ICMPv6ND_NS(tgt=ROUTER_A[0]), within=DELAY_S + 1.0)
    assert probe[IPv6].dst == ROUTER_A[0] and probe[Ether].dst.lower() == new_mac, (
        f"expected a unicast probe to {new_mac}, got one to {probe[IPv6].dst} at {probe[Ether].dst}")


# ---- default router selection (§6.3.6) -------------------------------------------------------------------

def _let_nud_fail(dut: DUT, router: tuple[str, str]) -> None:
    """``router`` answers none of the DUT's probes: its entry goes DELAY, PROBE, then away."""
    for _ in range(3):
        dut.expect(IPv6(dst=router[0]), ICMPv6ND_NS(tgt=router[0]), within=DELAY_S + 1.0)
    dut.wait(RETRANS_S + 0.3)


@rfc("RFC4861-6.3.6-1")
def test_reachable_router_is_preferred_over_one_whose_reachability_failed(dut: DUT) -> None:
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    dut.set_ipv6_option("retrans_time", RETRANS_S)
    dut.send(_ra_from(dut, ROUTER_A, prf=PRF_HIGH), _ra_from(dut, ROUTER_B, prf=PRF_LOW))
    assert _next_hop_mac(dut, 1) == ROUTER_A[1]
    _let_nud_fail(dut, ROUTER_A)
    # A is still the more preferred router, but B is probably reachable (STALE) and A is not.
    assert _next_hop_mac(dut, 2, "2001:db8:2::6") == ROUTER_B[1], "traffic went to the router whose NUD failed"


@rfc("RFC4861-6.3.6-2")
def test_unreachable_routers_are_tried_in_turn(dut: DUT) -> None:
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    dut.set_ipv6_option("retrans_time", RETRANS_S)
    # Equal preferences: RFC 4191 ranks none above the other, so §6.3.6 alone decides.
    routers = {ROUTER_A[1]: ROUTER_A, ROUTER_B[1]: ROUTER_B}
    dut.send(_ra_from(dut, ROUTER_A), _ra_from(dut, ROUTER_B))
    first = routers[_next_hop_mac(dut, 1)]
    _let_nud_fail(dut, first)
    second = routers[_next_hop_mac(dut, 2, "2001:db8:2::6")]
    assert second != first, "traffic went to the router whose NUD failed"
    _let_nud_fail(dut, second)
    # Neither router is known to be reachable: new destinations must try them in turn, each
    # try a multicast solicitation for the router chosen.
    dut.send(echo(dut, 3, src="2001:db8:2::7"))
    tried = str(dut.expect(ICMPv6ND_NS, within=1.0)[ICMPv6ND_NS].tgt)
    assert tried in (ROUTER_A[0], ROUTER_B[0]), f"a new destination with no reachable router made the DUT solicit {tried}"
    untried = ROUTER_B[0] if tried == ROUTER_A[0] else ROUTER_A[0]
    dut.send(echo(dut, 4, src="2001:db8:2::8"))
    # The solicitation for the other router is looked for by its target: the first one's
    # retransmission (RetransTimer after its first solicitation, RFC 4861 7.2.2) rightly comes
    # before it when a loaded tester sends the second packet late.
    try:
        dut.expect(ICMPv6ND_NS(tgt=untried), within=1.0)
    except ExpectationFailed:
        raise AssertionError(f"two new destinations with no reachable router both went to {tried}") from None
