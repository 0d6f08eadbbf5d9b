"""RFC 4861 §7.2.3-§7.2.5, §7.3.1: what Neighbor Advertisements (and Solicitations) do to the DUT's
Neighbor Cache, observed through the link-layer address the DUT then sends to.

A neighbor's entry is put in a known state first: INCOMPLETE (the DUT is resolving it for an
echo reply), REACHABLE (resolved with a solicited advertisement) or STALE (learnt from a
solicitation; the DUT's answer to it moves the entry on to DELAY). Whether an entry is STALE/DELAY
rather than REACHABLE shows as the unicast probe that follows DELAY_FIRST_PROBE_TIME (shortened to
one second here) after traffic; a REACHABLE entry is not probed for ReachableTime (30 s).
"""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness import (
    DUT,
    MUST,
    described,
    echo_request_from,
    expect_echo_reply_to,
    multicast_mac,
    rfc,
    solicited_node,
)
from harness.features import become_router
from harness.rfc import NDP_HOP_LIMIT
from harness.suppression import consume_all

SILENCE_S = 0.6
ALL_NODES = "ff02::1"
MAC_A = "02:00:00:00:00:04"
MAC_B = "02:00:00:00:00:05"
ROUTER_LL = "fe80::1"
FAR = "2001:db8:2::5"
# DELAY_FIRST_PROBE_TIME for these tests (whole seconds, as Linux takes it) and the window in
# which the first unicast probe must follow the packet that moved the entry to DELAY.
DELAY_S = 1
PROBE_NOT_BEFORE_S = DELAY_S - 0.3
PROBE_BY_S = DELAY_S + 0.7


def _neighbor(n: int) -> str:
    return f"2001:db8:1::c2:{n:x}"


def _na(dut: DUT, nbr: str, mac: str | None, *, s: int, o: int, r: int = 0, dst: str | None = None,
        **icmp: Any) -> Packet:
    """An advertisement for ``nbr``; ``mac`` None: no Target Link-Layer Address option."""
    ip_dst = dst or str(dut.info.dut_ipv6.ip)
    eth_dst = multicast_mac(ip_dst) if ip_dst.startswith("ff") else dut.info.dut_mac
    na = (
        dut.ether(src=mac or dut.info.other_mac, dst=eth_dst)
        / IPv6(src=nbr, dst=ip_dst, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NA(tgt=nbr, R=r, S=s, O=o, **icmp)
    )
    return na / ICMPv6NDOptDstLLAddr(lladdr=mac) if mac else na


def _ns_from(dut: DUT, nbr: str, mac: str) -> Packet:
    target = str(dut.info.dut_ipv6.ip)
    group = solicited_node(target)
    return (
        dut.ether(src=mac, dst=multicast_mac(group))
        / IPv6(src=nbr, dst=group, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NS(tgt=target)
        / ICMPv6NDOptSrcLLAddr(lladdr=mac)
    )


def _resolve(dut: DUT, nbr: str, ident: int, mac: str) -> None:
    """Make ``nbr`` REACHABLE at ``mac``: the DUT resolves it for an echo reply (§7.2.5)."""
    dut.send(echo_request_from(dut, nbr, ident))
    dut.expect(ICMPv6ND_NS(tgt=nbr))
    dut.send(_na(dut, nbr, mac, s=1, o=1))
    expect_echo_reply_to(dut, nbr, ident, mac)
    # A loaded tester that answered late (1.5 s: a linux soak beside two busy loops) left the
    # resolution's retransmitted solicitation queued, for a later probe expectation to take.
    consume_all(dut, ICMPv6ND_NS(tgt=nbr))


def _stale(dut: DUT, nbr: str, mac: str) -> float:
    """Give ``nbr`` an entry learnt from its solicitation (§7.2.3: STALE); the DUT's answer is
    traffic to it, so the entry moves on to DELAY (§7.3.3). Returns when that answer left."""
    dut.send(_ns_from(dut, nbr, mac))
    na = dut.expect(IPv6(dst=nbr), ICMPv6ND_NA(tgt=str(dut.info.dut_ipv6.ip)))
    assert na[Ether].dst.lower() == mac
    return float(na.time)


def _expect_probe(dut: DUT, nbr: str, mac: str, delay_from: float) -> None:
    """The unicast probe of §7.3.3 follows DELAY_FIRST_PROBE_TIME after ``delay_from``: when the
    packet that moved the entry to DELAY left the DUT (its arrival time at the tester), not when
    the tester gets to look, which a loaded tester does late."""
    dut.expect_none(ICMPv6ND_NS(tgt=nbr), within=PROBE_NOT_BEFORE_S, since=delay_from)
    ns = dut.expect(ICMPv6ND_NS(tgt=nbr), within=max(0.0, delay_from + PROBE_BY_S - dut.now()))
    assert float(ns.time) - delay_from <= PROBE_BY_S, (
        f"the probe came {float(ns.time) - delay_from:.2f} s after the entry went to DELAY")
    assert ns[IPv6].dst == nbr and ns[Ether].dst.lower() == mac, (
        f"probe sent to {ns[IPv6].dst} at {ns[Ether].dst}, not unicast to {nbr} at {mac}")


def _expect_no_probe(dut: DUT, nbr: str, since: float | None = None) -> None:
    """No probe for ``PROBE_BY_S`` + 0.3 s from ``since`` (default: now)."""
    dut.expect_none(ICMPv6ND_NS(tgt=nbr), within=PROBE_BY_S + 0.3, since=since)


def _short_delay(dut: DUT) -> None:
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)


# ---- sending solicited advertisements (§7.2.4) ------------------------------------------------------


@rfc("RFC4861-7.2.4-3")
def test_router_advertisement_has_router_flag_one(dut: DUT) -> None:
    become_router(dut, 6)
    target = str(dut.info.dut_ipv6.ip)
    dut.send(_ns_from(dut, str(dut.info.tester_ipv6), dut.info.tester_mac))
    na = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ND_NA(tgt=target))
    assert na[ICMPv6ND_NA].R == 1, "a router's advertisement has the Router flag zero"


# ---- receipt of advertisements (§7.2.5) --------------------------------------------------------------


@rfc("RFC4861-7.2.5-1")
def test_advertisement_for_an_unknown_neighbor_creates_no_entry(dut: DUT) -> None:
    nbr, ident = _neighbor(1), 0x7201
    dut.send(_na(dut, nbr, MAC_A, s=0, o=1, dst=ALL_NODES))
    dut.send(echo_request_from(dut, nbr, ident))
    # Had the advertisement created an entry, the reply would go straight to MAC_A.
    ns = dut.expect(ICMPv6ND_NS(tgt=nbr))
    assert ns[IPv6].dst == solicited_node(nbr), "the DUT did not resolve the neighbor afresh"


@rfc("RFC4861-7.2.5-2")
def test_advertisement_without_target_link_layer_option_does_not_complete_resolution(dut: DUT) -> None:
    nbr, ident = _neighbor(2), 0x7202
    dut.send(echo_request_from(dut, nbr, ident))
    dut.expect(ICMPv6ND_NS(tgt=nbr))
    dut.send(_na(dut, nbr, None, s=1, o=1))
    dut.expect_none(ICMPv6EchoReply(id=ident), within=SILENCE_S, barrier=True)
    dut.send(_na(dut, nbr, MAC_B, s=1, o=1))  # control
    expect_echo_reply_to(dut, nbr, ident, MAC_B)


@described(4861, "7.2.5", MUST,
           "Note that the Override flag is ignored if the entry is in the INCOMPLETE state.")
def test_override_flag_is_ignored_while_incomplete(dut: DUT) -> None:
    nbr, ident = _neighbor(3), 0x7203
    dut.send(echo_request_from(dut, nbr, ident))
    dut.expect(ICMPv6ND_NS(tgt=nbr))
    dut.send(_na(dut, nbr, MAC_B, s=1, o=0))
    expect_echo_reply_to(dut, nbr, ident, MAC_B)


@pytest.mark.parametrize("solicited", [0, 1], ids=["S=0-stale", "S=1-reachable"])
@described(4861, "7.2.5", MUST,
           "If the advertisement's Solicited flag is set, the state of the entry is set to REACHABLE; "
           "otherwise, it is set to STALE.")
def test_incomplete_entry_becomes_reachable_or_stale_by_solicited_flag(dut: DUT, solicited: int) -> None:
    _short_delay(dut)
    nbr, ident = _neighbor(4 + solicited), 0x7204 + solicited
    dut.send(echo_request_from(dut, nbr, ident))
    dut.expect(ICMPv6ND_NS(tgt=nbr))
    dut.send(_na(dut, nbr, MAC_B, s=solicited, o=1))
    # Queued packets are sent at once either way; a STALE entry they were sent over goes to DELAY
    # and is probed, a REACHABLE one is not.
    reply = expect_echo_reply_to(dut, nbr, ident, MAC_B)
    if solicited:
        _expect_no_probe(dut, nbr)
    else:
        _expect_probe(dut, nbr, MAC_B, float(reply.time))


@pytest.mark.parametrize("solicited", [0, 1], ids=["S=0", "S=1"])
@described(4861, "7.2.5", MUST,
           "I. If the Override flag is clear and the supplied link-layer address differs from that in the "
           "cache, then one of two actions takes place: a. If the state of the entry is REACHABLE, set it to "
           "STALE, but do not update the entry in any other way.")
def test_non_override_advertisement_with_new_address_makes_reachable_entry_stale_only(
    dut: DUT, solicited: int
) -> None:
    # Even a solicited one: with Override clear it does not confirm the cached address.
    _short_delay(dut)
    nbr = _neighbor(0x30 + solicited)
    _resolve(dut, nbr, 0x7230 + solicited, MAC_B)
    dut.send(_na(dut, nbr, MAC_A, s=solicited, o=0))
    dut.send(echo_request_from(dut, nbr, 0x7232 + solicited))
    reply = expect_echo_reply_to(dut, nbr, 0x7232 + solicited, MAC_B)  # the address was not updated
    _expect_probe(dut, nbr, MAC_B, float(reply.time))  # but the entry went STALE, so the reply moved it to DELAY


@pytest.mark.parametrize("solicited", [0, 1], ids=["S=0", "S=1"])
@rfc("RFC4861-7.2.5-3")
def test_non_override_advertisement_with_new_address_is_ignored_unless_reachable(dut: DUT, solicited: int) -> None:
    nbr, ident = _neighbor(8 + solicited), 0x7208 + solicited
    _stale(dut, nbr, MAC_B)
    dut.send(_na(dut, nbr, MAC_A, s=solicited, o=0))
    dut.send(echo_request_from(dut, nbr, ident))
    expect_echo_reply_to(dut, nbr, ident, MAC_B)


@rfc("RFC4861-7.2.5-5", "RFC4861-7.2.5-4")
def test_override_advertisement_replaces_the_cached_address(dut: DUT) -> None:
    nbr = _neighbor(0xA)
    _resolve(dut, nbr, 0x720A, MAC_B)
    dut.send(_na(dut, nbr, MAC_A, s=0, o=1, dst=ALL_NODES))
    dut.send(echo_request_from(dut, nbr, 0x720B))
    expect_echo_reply_to(dut, nbr, 0x720B, MAC_A)


@rfc("RFC4861-7.2.5-7", "RFC4861-7.3.3-4")
def test_unsolicited_override_with_new_address_leaves_entry_stale(dut: DUT) -> None:
    _short_delay(dut)
    nbr = _neighbor(0xC)
    _resolve(dut, nbr, 0x720C, MAC_B)
    dut.send(_na(dut, nbr, MAC_A, s=0, o=1, dst=ALL_NODES))
    dut.send(echo_request_from(dut, nbr, 0x720D))
    reply = expect_echo_reply_to(dut, nbr, 0x720D, MAC_A)
    _expect_probe(dut, nbr, MAC_A, float(reply.time))


@described(4861, "7.2.5", MUST, "Otherwise, the entry's state remains unchanged.")
def test_unsolicited_advertisement_with_the_cached_address_leaves_delay_unchanged(dut: DUT) -> None:
    # DELAY (the answer to the solicitation was sent over the STALE entry); an unsolicited
    # advertisement repeating the cached address changes nothing, so the probe still comes.
    _short_delay(dut)
    nbr = _neighbor(0xE)
    delay_from = _stale(dut, nbr, MAC_B)
    dut.send(_na(dut, nbr, MAC_B, s=0, o=1, dst=ALL_NODES))
    _expect_probe(dut, nbr, MAC_B, delay_from)


@rfc("RFC4861-7.3.1-2")
def test_unsolicited_advertisement_is_no_reachability_confirmation(dut: DUT) -> None:
    _short_delay(dut)
    nbr, ident = _neighbor(0xF), 0x720F
    delay_from = _stale(dut, nbr, MAC_B)  # the advertisement answering it was traffic: DELAY
    dut.send(_na(dut, nbr, MAC_B, s=0, o=1, dst=ALL_NODES))
    dut.send(echo_request_from(dut, nbr, ident))  # traffic: an unconfirmed entry must be probed
    expect_echo_reply_to(dut, nbr, ident, MAC_B)
    _expect_probe(dut, nbr, MAC_B, delay_from)


# Solicited advertisements for an entry in DELAY (learnt from a solicitation, then used) that case
# II covers by its other two clauses: the Override flag set with a new address, or the Override
# flag clear with the cached address. (No option at all: test_rfc4861_nud.py.)
SOLICITED_II: dict[str, tuple[int, str]] = {"override-new-address": (1, MAC_A), "no-override-same-address": (0, MAC_B)}


@pytest.mark.parametrize("case", list(SOLICITED_II))
@rfc("RFC4861-7.2.5-6", "RFC4861-7.2.5-4", "RFC4861-7.2.5-5")
def test_solicited_advertisement_makes_a_delay_entry_reachable(dut: DUT, case: str) -> None:
    override, mac = SOLICITED_II[case]
    _short_delay(dut)
    nbr, ident = _neighbor(0x16 + override), 0x7216 + override
    _stale(dut, nbr, MAC_B)
    dut.send(_na(dut, nbr, mac, s=1, o=override))
    answered = dut.now()  # the advertisement has left
    dut.send(echo_request_from(dut, nbr, ident))
    expect_echo_reply_to(dut, nbr, ident, mac)
    # REACHABLE: no probe DELAY_FIRST_PROBE_TIME after this traffic (it would come in DELAY).
    # From when the advertisement left: a probe sent before it came (a tester more than
    # DELAY_FIRST_PROBE_TIME late with it) was due then.
    _expect_no_probe(dut, nbr, since=answered)


# The IsRouter TRUE -> FALSE rule for a default router (§7.2.5) is tested in
# test_rfc4861_router_advertisement.py; for a redirect target in test_rfc4861_redirect.py.


# ---- receipt of solicitations (§7.2.3) --------------------------------------------------------------


@rfc("RFC4861-7.2.3-4", "RFC4861-7.3.3-4")
def test_solicitation_with_new_source_address_replaces_it_and_makes_entry_stale(dut: DUT) -> None:
    _short_delay(dut)
    nbr = _neighbor(0x12)
    _resolve(dut, nbr, 0x7212, MAC_B)
    dut.send(_ns_from(dut, nbr, MAC_A))
    na = dut.expect(IPv6(dst=nbr), ICMPv6ND_NA(tgt=str(dut.info.dut_ipv6.ip)))
    assert na[Ether].dst.lower() == MAC_A, f"advertisement sent to {na[Ether].dst}, not the new address"
    _expect_probe(dut, nbr, MAC_A, float(na.time))


@rfc("RFC4861-7.2.3-6")
def test_solicitation_from_a_router_keeps_it_a_router(dut: DUT) -> None:
    # fe80::1 is a default router (IsRouter TRUE from its advertisement). Its solicitation carries
    # no router indication and must leave IsRouter TRUE: only then is the later R=0 advertisement
    # a change from router to host, which removes it from the Default Router List (§7.2.5).
    dut.send(
        dut.ether(src=MAC_B, dst=multicast_mac(ALL_NODES))
        / IPv6(src=ROUTER_LL, dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_RA(chlim=0, M=0, O=0, routerlifetime=600, reachabletime=0, retranstimer=0)
        / ICMPv6NDOptSrcLLAddr(lladdr=MAC_B)
    )
    far_echo = dut.ether(src=MAC_B) / IPv6(src=FAR, dst=str(dut.info.dut_ipv6.ip))
    dut.send(far_echo / ICMPv6EchoRequest(id=0x7220, seq=1))
    dut.expect(IPv6(dst=FAR), ICMPv6EchoReply(id=0x7220))
    dut.send(_ns_from(dut, ROUTER_LL, MAC_B))
    dut.expect(IPv6(dst=ROUTER_LL), ICMPv6ND_NA)
    dut.send(_na(dut, ROUTER_LL, MAC_B, s=0, o=1, r=0, dst=ALL_NODES))
    dut.send(far_echo / ICMPv6EchoRequest(id=0x7221, seq=1))
    dut.expect_none(ICMPv6EchoReply(id=0x7221), within=SILENCE_S, barrier=True)


@described(4861, "4.4", MUST,
           "Target link-layer address The link-layer address for the target, i.e., the sender of the "
           "advertisement.")
def test_advertisement_is_judged_by_its_target_option_not_a_malformed_source_option(dut: DUT) -> None:
    # An advertisement carries a Target Link-Layer Address option (§4.4 lists no Source one); one
    # that also carries a Source Link-Layer Address option of the wrong size for Ethernet (2 units,
    # RFC 2464 6 has 1) is still valid by §7.1.2 and resolves the neighbor to its Target option.
    nbr = _neighbor(0x4C)
    dut.send(echo_request_from(dut, nbr, 0x4C01))
    dut.expect(ICMPv6ND_NS(tgt=nbr))
    na = _na(dut, nbr, MAC_A, s=1, o=1) / ICMPv6NDOptSrcLLAddr(len=2, lladdr=MAC_B) / Raw(bytes(8))
    dut.send(na)
    expect_echo_reply_to(dut, nbr, 0x4C01, MAC_A)
