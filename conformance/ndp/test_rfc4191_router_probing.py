"""RFC 4191 §3.5: a host that avoids its preferred router because that router is unreachable
probes it with single Neighbor Solicitations, only while it has traffic it would have sent
there, and no more than once a minute.

Two routers: X (High preference) and Y (Low), both advertising their link-layer addresses. X
never answers, so its Neighbor Unreachability Detection fails and traffic moves to Y, whose
probes the tester answers. The traffic is an echo request from an off-link address every few
seconds. The windows are minutes long: on real-time backends these tests skip. The last test
needs no waiting: routers that advertise no link-layer address are of unknown reachability at
once.
"""

from __future__ import annotations

import itertools
from typing import Final

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

from harness import DUT, SHOULD_NOT, ExpectationFailed, described, rfc
from harness.rfc import NDP_HOP_LIMIT
from harness.router_discovery import ECHO_ID, OFF_LINK, echo, expect_routed_reply, ra
from harness.time_budget import require_dut_time

X: Final = ("fe80::a", "02:00:00:00:00:0a")
Y: Final = ("fe80::b", "02:00:00:00:00:0b")
Z: Final = ("fe80::c", "02:00:00:00:00:0c")
PRF_HIGH, PRF_MEDIUM, PRF_LOW = 1, 0, 3
FAR: Final = "2001:db8:2::5"
WINDOW_S: Final = 200.0
TRAFFIC_EVERY_S: Final = 4.0
JITTER_S: Final = 0.5



def _answer(dut: DUT, ns: Packet, router: tuple[str, str]) -> None:
    dut.send(Ether(src=router[1], dst=dut.info.dut_mac) / IPv6(src=router[0], dst=ns[IPv6].src, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=router[0], R=1, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=router[1]))


def _avoiding_x(dut: DUT) -> None:
    """Both routers known; X's reachability has failed and traffic goes to Y."""
    dut.set_ipv6_option("delay_first_probe_time", 1)
    dut.set_ipv6_option("retrans_time", 0.5)
    dut.send(ra(dut, src=X[0], mac=X[1], prf=PRF_HIGH, lifetime=1800),
             ra(dut, src=Y[0], mac=Y[1], prf=PRF_LOW, lifetime=1800))
    dut.send(dut.ether() / IPv6(src=FAR, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(id=0x4191, seq=0))
    reply = dut.expect(IPv6(dst=FAR), ICMPv6EchoReply(id=0x4191, seq=0), within=1.0)
    assert reply[Ether].dst.lower() == X[1], "the first reply did not go to the preferred router"
    for _ in range(3):  # X's unicast probes, unanswered
        dut.expect(IPv6(dst=X[0]), ICMPv6ND_NS(tgt=X[0]), within=2.0)
    dut.wait(1.0)


def _watch(dut: DUT, *, traffic: bool) -> list[float]:
    """Run WINDOW_S seconds (with traffic to FAR every few seconds, or none), answering every
    probe of Y; the times of the solicitations for X."""
    probes: list[float] = []
    start, seq = dut.now(), 1
    while dut.now() - start < WINDOW_S:
        if traffic:
            dut.send(dut.ether() / IPv6(src=FAR, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(id=0x4191, seq=seq))
            seq += 1
        until = dut.now() + TRAFFIC_EVERY_S
        while (left := until - dut.now()) > 0:
            try:
                ns = dut.expect(ICMPv6ND_NS, within=left)
            except ExpectationFailed:
                break
            if ns[ICMPv6ND_NS].tgt == Y[0]:
                _answer(dut, ns, Y)
            elif ns[ICMPv6ND_NS].tgt == X[0]:
                probes.append(float(ns.time))
        if traffic:
            reply = dut.expect(IPv6(dst=FAR), ICMPv6EchoReply(id=0x4191, seq=seq - 1), within=0.0)
            assert reply[Ether].dst.lower() == Y[1], f"traffic went to {reply[Ether].dst}, not to the reachable router"
    return probes


@rfc("RFC4191-3.5-1")
def test_avoided_preferred_router_is_probed_while_traffic_flows(dut: DUT) -> None:
    require_dut_time(dut, WINDOW_S)
    _avoiding_x(dut)
    probes = _watch(dut, traffic=True)
    assert probes, f"no Neighbor Solicitation for the avoided router in {WINDOW_S:g} s of traffic through the other"


@rfc("RFC4191-3.5-3")
def test_router_probes_are_at_most_one_a_minute(dut: DUT) -> None:
    require_dut_time(dut, WINDOW_S)
    _avoiding_x(dut)
    probes = _watch(dut, traffic=True)
    assert len(probes) >= 2, f"{len(probes)} probes of the avoided router in {WINDOW_S:g} s: too few to measure a gap"
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(probes)]
    assert all(gap >= 60 - JITTER_S for gap in gaps), f"probes of the avoided router {gaps} s apart"


@rfc("RFC4191-3.5-2")
def test_no_router_probes_without_traffic(dut: DUT) -> None:
    require_dut_time(dut, WINDOW_S)
    _avoiding_x(dut)
    probes = _watch(dut, traffic=False)
    assert not probes, f"the avoided router was probed {len(probes)} times while no traffic flowed"
    # Control: with traffic it is probed.
    assert _watch(dut, traffic=True), "no probe even with traffic"


def _solicited_targets(dut: DUT, within: float) -> list[str]:
    """The targets of every Neighbor Solicitation the DUT sends in the next ``within`` seconds."""
    targets: list[str] = []
    until = dut.now() + within
    while (left := until - dut.now()) > 0:
        try:
            targets.append(str(dut.expect(ICMPv6ND_NS, within=left)[ICMPv6ND_NS].tgt))
        except ExpectationFailed:
            break
    return targets


@rfc("RFC4191-3.5-2", "RFC4191-3.5-1")
def test_only_routers_more_preferred_than_the_one_used_are_probed(dut: DUT) -> None:
    # X (High) and Z (Low) advertise no link-layer address, so the DUT has no Neighbor Cache
    # entry for either: their reachability is unknown (RFC 4861 6.3.6 rule 1: such routers
    # "SHOULD" yield to reachable ones). The tester (Medium, a known neighbor) carries the
    # traffic. The host would have used X were it reachable, so X is probed (the positive
    # control); it would never have used Z, so probing Z is probing "in the absence of useful
    # traffic that the host would have sent to the router if it were reachable".
    dut.set_ipv6_option("retrans_time", 0.5)
    dut.send(ra(dut, src=X[0], mac=X[1], prf=PRF_HIGH, slla=False), ra(dut, prf=PRF_MEDIUM),
             ra(dut, src=Z[0], mac=Z[1], prf=PRF_LOW, slla=False))
    dut.send(echo(dut, 1))
    targets = _solicited_targets(dut, 1.2)  # RetransTimer and more: a repeated probe would show
    assert Z[0] not in targets, f"the Low-preference router was probed: {targets}"
    try:
        reply = dut.expect(IPv6(dst=OFF_LINK), ICMPv6EchoReply(id=ECHO_ID, seq=1), within=0.0)
    except ExpectationFailed:
        raise AssertionError(f"no reply through the reachable router; solicited: {targets}") from None
    assert reply[Ether].dst.lower() == dut.info.tester_mac.lower(), (
        f"the reply went to {reply[Ether].dst}, not to the reachable router")
    assert targets.count(X[0]) == 1, (
        f"the High-preference router of unknown reachability was not probed with a single solicitation: {targets}")


@rfc("RFC4861-7.2.2-5", "RFC4191-3.5-1")
def test_probe_of_a_router_under_resolution_keeps_the_packet_waiting_for_it(dut: DUT) -> None:
    # X (High) advertises no link-layer address and is at first the only router: the reply to
    # the first echo waits for X's address resolution. Then the tester (Medium) advertises
    # itself with its link-layer address, and a second echo comes while X is still unresolved: a
    # host that now sends through the tester may probe X (RFC 4191 3.5), but X's resolution is
    # already under way, and RFC 4861 7.2.2: "While waiting for address resolution to complete,
    # the sender MUST, for each neighbor, retain a small queue of packets waiting for address
    # resolution to complete." A probe must not cost the packet that waits: once X answers, the
    # first reply goes to X.
    dut.send(ra(dut, src=X[0], mac=X[1], prf=PRF_HIGH, slla=False))
    dut.send(echo(dut, 1))
    solicitation = dut.expect(ICMPv6ND_NS(tgt=X[0]))
    dut.send(ra(dut, prf=PRF_MEDIUM), echo(dut, 2))
    dut.barrier()  # an in-order DUT has taken the second echo in (and may have probed X)
    _answer(dut, solicitation, X)
    try:
        reply = dut.expect(IPv6(dst=OFF_LINK), ICMPv6EchoReply(id=ECHO_ID, seq=1))
    except ExpectationFailed:
        raise AssertionError(
            f"X ({X[0]}) answered its solicitation, but the echo reply that waited for its resolution never came "
            "(lost when X was probed?)") from None
    assert reply[Ether].dst.lower() == X[1], f"the reply that waited for X went to {reply[Ether].dst}"


@rfc("RFC4861-7.2.2-9", "RFC4861-7.2.2-5")
def test_packet_for_a_router_being_probed_is_resolved_like_any_other(dut: DUT) -> None:
    # X (High, no link-layer address) and the tester (Medium, a known neighbor): traffic goes
    # through the tester and X may be probed with "a single Neighbor Solicitation" (RFC 4191
    # 3.5). Then X itself sends an echo request: the reply to X waits for X's address, and that
    # is address resolution, RFC 4861 7.2.2: "While awaiting a response, the sender SHOULD
    # retransmit Neighbor Solicitation messages approximately every RetransTimer milliseconds"
    # (up to MAX_MULTICAST_SOLICIT, 7.3.3), not give up after the probe's one. X answers only a
    # solicitation sent after its echo request.
    dut.send(ra(dut, src=X[0], mac=X[1], prf=PRF_HIGH, slla=False), ra(dut, prf=PRF_MEDIUM))
    dut.send(echo(dut, 1))
    dut.expect(ICMPv6ND_NS(tgt=X[0]))  # the probe (or, on a DUT that uses X, its resolution)
    dut.send(Ether(src=X[1], dst=dut.info.dut_mac) / IPv6(src=X[0], dst=str(dut.info.dut_ipv6_ll))
             / ICMPv6EchoRequest(id=0x4192, seq=1))
    try:
        solicitation = dut.expect(ICMPv6ND_NS(tgt=X[0]), within=2.0)
    except ExpectationFailed:
        raise AssertionError(
            f"an echo reply waits for X ({X[0]}), but no solicitation for X came within 2 s of its echo request "
            "(resolution stopped after the probe's one solicitation?)") from None
    _answer(dut, solicitation, X)
    reply = dut.expect(IPv6(dst=X[0]), ICMPv6EchoReply(id=0x4192, seq=1))
    assert reply[Ether].dst.lower() == X[1], f"the echo reply to X went to {reply[Ether].dst}"


@described(4861, "7.3.2", SHOULD_NOT, "While stale, no action takes place until a packet is sent.")
def test_probed_router_made_known_by_an_unsolicited_advertisement_is_not_verified_without_traffic(dut: DUT) -> None:
    # X (High, no link-layer address) is probed while the traffic goes through the tester (Medium).
    # An unsolicited advertisement of X then gives its address: 7.2.5 makes the entry STALE
    # ("If the advertisement's Solicited flag is set, the state of the entry is set to REACHABLE;
    # otherwise, it is set to STALE"), and no packet has been sent to X, so no solicitation for X
    # may follow, however long DELAY_FIRST_PROBE_TIME is waited out. Positive control: once X
    # itself sends a request, the reply is traffic to X, and X is solicited.
    delay_s = 1
    dut.set_ipv6_option("delay_first_probe_time", delay_s)
    dut.send(ra(dut, src=X[0], mac=X[1], prf=PRF_HIGH, slla=False), ra(dut, prf=PRF_MEDIUM))
    dut.send(echo(dut, 1))
    expect_routed_reply(dut, 1)  # through the tester, the reachable router (RFC 4861 6.3.6 rule 1)
    dut.expect(ICMPv6ND_NS(tgt=X[0]))  # the probe
    dut.send(Ether(src=X[1], dst=dut.info.dut_mac) / IPv6(src=X[0], dst=str(dut.info.dut_ipv6_ll), hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=X[0], R=1, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=X[1]))
    dut.expect_none(ICMPv6ND_NS(tgt=X[0]), within=delay_s + 2 * JITTER_S)
    dut.send(Ether(src=X[1], dst=dut.info.dut_mac) / IPv6(src=X[0], dst=str(dut.info.dut_ipv6_ll))
             / ICMPv6EchoRequest(id=0x4193, seq=1))
    dut.expect(IPv6(dst=X[0]), ICMPv6EchoReply(id=0x4193, seq=1))
    dut.expect(ICMPv6ND_NS(tgt=X[0]), within=delay_s + 1.0 + 2 * JITTER_S)


@rfc("RFC4191-3.5-1")
def test_router_whose_resolution_failed_is_probed_once_traffic_avoids_it(dut: DUT) -> None:
    # X (High, no link-layer address) is at first the only router: the first reply waits for X's
    # address resolution, which X never answers. Meanwhile the tester (Medium) advertises itself
    # with its link-layer address and carries the traffic. Soliciting X for a packet that waits
    # for it is address resolution, not a probe of RFC 4191 3.5; once it has failed, traffic
    # that avoids X is the case the RFC names: "the host SHOULD probe each such router X's
    # reachability by sending a single Neighbor Solicitation to that router's address".
    retrans_s = 0.5
    dut.set_ipv6_option("retrans_time", retrans_s)
    dut.send(ra(dut, src=X[0], mac=X[1], prf=PRF_HIGH, slla=False))
    dut.send(echo(dut, 1))
    dut.expect(ICMPv6ND_NS(tgt=X[0]))  # X's resolution, unanswered
    dut.send(ra(dut, prf=PRF_MEDIUM), echo(dut, 2))
    expect_routed_reply(dut, 2)  # through the tester, the reachable router (RFC 4861 6.3.6 rule 1)
    for _ in range(2):  # the rest of X's resolution (MAX_MULTICAST_SOLICIT 3)
        dut.expect(ICMPv6ND_NS(tgt=X[0]), within=retrans_s + 2 * JITTER_S)
    # Once the resolution has given up (RetransTimer after its last solicitation, later on a
    # loaded DUT), the next packet through the tester brings the probe.
    deadline, seq = dut.now() + 3.0, 3
    while True:
        dut.send(echo(dut, seq))
        try:
            dut.expect(ICMPv6ND_NS(tgt=X[0]), within=retrans_s)
            break
        except ExpectationFailed:
            assert dut.now() < deadline, (
                f"X ({X[0]}) failed address resolution and traffic goes through the tester, but X is never probed")
        seq += 1
