"""RFC 4861 §6.1.2, §6.3.4: how a host validates a Router Advertisement and uses its fields
other than the lists (Cur Hop Limit, MTU, Retrans Timer, Reachable Time), and that a router
does not configure itself from another router's advertisements.

Everything is observed from outside through ``harness.router_discovery``: whether the DUT uses
the router shows in an echo reply to an off-link source routed to the tester's MAC, Cur Hop
Limit in the hop limit of echo replies, the MTU option in their fragmentation, Retrans Timer
and Reachable Time in the spacing of Neighbor Solicitations. Every test that checks that an
advertisement or a field is ignored sends a valid one afterwards and sees its effect.
The Default Router List and the Prefix List are in test_rfc4861_router_advertisement.py.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness import DUT, SHOULD, ExpectationFailed, described, multicast_mac, rfc, with_icmpv6_checksum
from harness.features import become_router
from harness.rfc import NDP_HOP_LIMIT
from harness.router_discovery import (
    ALL_NODES,
    ECHO_ID,
    echo,
    has_no_router,
    hop_limit_of_reply,
    largest_packet,
    ra,
    reply_pieces,
    uses_router,
)

# ---- validation (§6.1.2) ------------------------------------------------------------------------


def _short(dut: DUT) -> Packet:
    # ICMP length 14 (< 16): type, code, checksum, Cur Hop Limit, flags, Router Lifetime 60,
    # Reachable Time, and half of Retrans Timer. A parser that reads the lifetime anyway fails.
    frame = ra(dut, slla=False)
    raw = bytes(frame[ICMPv6ND_RA])[:14]
    src = str(dut.info.tester_ipv6_ll)
    ip = IPv6(src=src, dst=ALL_NODES, hlim=NDP_HOP_LIMIT, nh=58)
    return Ether(src=dut.info.tester_mac, dst=multicast_mac(ALL_NODES)) / ip / Raw(with_icmpv6_checksum(raw, src, ALL_NODES))


def _invalid(dut: DUT, case: str) -> Packet:
    if case == "source-global":
        return ra(dut, src=str(dut.info.tester_ipv6))
    if case == "hop-limit-254":
        return ra(dut, hlim=254)
    if case == "code-1":
        return ra(dut, code=1)
    if case == "bad-checksum":
        good = Ether(bytes(ra(dut)))[ICMPv6ND_RA].cksum
        return ra(dut, cksum=good ^ 0x5A5A)
    if case == "zero-length-option":
        # A Source Link-Layer Address option whose Length octet is 0.
        mac = bytes.fromhex(dut.info.tester_mac.replace(":", ""))
        return ra(dut, Raw(bytes([1, 0]) + mac), slla=False)
    if case == "short":
        return _short(dut)
    raise AssertionError(case)


CHECKS = {
    "source-global": "- IP Source Address is a link-local address.",
    "hop-limit-254": "- The IP Hop Limit field has a value of 255, i.e., the packet could not possibly "
                     "have been forwarded by a router.",
    "code-1": "- ICMP Code is 0.",
    "bad-checksum": "- ICMP Checksum is valid.",
    "short": "- ICMP length (derived from the IP length) is 16 or more octets.",
    "zero-length-option": "- All included options have a length that is greater than zero.",
}


@pytest.mark.parametrize("case", [
    pytest.param(case, id=case, marks=rfc("RFC4861-6.1.2-1", quote=text))
    for case, text in CHECKS.items()
])
def test_invalid_advertisement_is_ignored(dut: DUT, case: str) -> None:
    dut.send(_invalid(dut, case))
    has_no_router(dut, 1)
    dut.send(ra(dut))  # control: the valid advertisement is used
    uses_router(dut, 2)


@rfc("RFC4861-6.1.2-2", "RFC4861-4.2-2", "RFC4861-4.2-8", "RFC4861-9-1", "RFC4861-9-11")
def test_reserved_bits_and_unknown_options_are_ignored(dut: DUT) -> None:
    unknown = Raw(bytes([253, 1]) + b"future")  # unassigned option type, 8 octets
    dut.send(ra(dut, unknown, res=0b11))
    uses_router(dut, 1)


# ---- parameters of the advertisement (§6.3.4) -----------------------------------------------------

@rfc("RFC4861-6.3.4-5")
def test_cur_hop_limit_sets_hop_limit_of_sent_packets(dut: DUT) -> None:
    before = hop_limit_of_reply(dut, 1)
    assert before != 33, "choose another test value: the DUT already uses 33"
    dut.send(ra(dut, chlim=33))
    assert hop_limit_of_reply(dut, 2) == 33


@rfc("RFC4861-6.3.4-2", "RFC4861-6.3.4-5")
def test_cur_hop_limit_zero_leaves_hop_limit_unchanged(dut: DUT) -> None:
    # §4.2: "A value of zero means unspecified (by this router)."
    dut.send(ra(dut, chlim=33))
    assert hop_limit_of_reply(dut, 1) == 33
    dut.send(ra(dut, chlim=0))
    assert hop_limit_of_reply(dut, 2) == 33, "an RA with Cur Hop Limit 0 changed the hop limit"


@pytest.mark.parametrize("mtu", [1280, 1300])
@rfc("RFC4861-6.3.4-14")
def test_mtu_option_lowers_the_link_mtu(dut: DUT, mtu: int) -> None:
    assert len(reply_pieces(dut, 1)) == 1, "the reply was fragmented before any MTU option"
    dut.send(ra(dut, ICMPv6NDOptMTU(mtu=mtu)))
    pieces = reply_pieces(dut, 2)
    assert len(pieces) > 1, f"a 1348-octet reply was not fragmented after an MTU option of {mtu}"
    assert largest_packet(pieces) <= mtu


@rfc("RFC4861-6.3.4-14")
def test_mtu_option_of_the_link_maximum_raises_the_link_mtu_again(dut: DUT) -> None:
    # 1500, the Ethernet maximum (RFC 2464 2), "does not exceed the maximum LinkMTU value":
    # after 1280 it is taken in turn, and a 1348-octet reply is whole again.
    dut.send(ra(dut, ICMPv6NDOptMTU(mtu=1280)))
    assert len(reply_pieces(dut, 1)) > 1, "a 1348-octet reply was not fragmented after an MTU option of 1280"
    dut.send(ra(dut, ICMPv6NDOptMTU(mtu=1500)))
    pieces = reply_pieces(dut, 2)
    assert len(pieces) == 1, f"after an MTU option of 1500 the reply still came in {len(pieces)} fragments"


@pytest.mark.parametrize("mtu", [1279, 1501], ids=["below-minimum", "above-link-mtu"])
@rfc("RFC4861-6.3.4-14")
def test_mtu_option_out_of_range_is_ignored(dut: DUT, mtu: int) -> None:
    dut.send(ra(dut, ICMPv6NDOptMTU(mtu=mtu)))
    uses_router(dut, 1)  # the advertisement itself was accepted
    pieces = reply_pieces(dut, 2)
    assert len(pieces) == 1, f"the link MTU followed an MTU option of {mtu}"
    dut.send(ra(dut, ICMPv6NDOptMTU(mtu=1280)))  # control: an in-range value is used
    assert len(reply_pieces(dut, 3)) > 1


def _solicits_for(dut: DUT, target: str) -> Packet:
    return dut.expect(ICMPv6ND_NS(tgt=target), within=1.2)


@rfc("RFC4861-6.3.4-9")
def test_retrans_timer_sets_solicitation_spacing(dut: DUT) -> None:
    # The DUT answers an echo from an unresolved on-link neighbor: multicast NSs, RetransTimer
    # apart (§7.2.2). 400 ms instead of the default 1000 ms.
    dut.send(ra(dut, retranstimer=400))
    other = str(dut.info.other_ipv6)
    dut.send(echo(dut, 1, src=other))
    # Both windows are timed from when the first NS left the DUT, not from when the tester got
    # round to reading it: a tester 0.15 s late would otherwise see the retransmission due at
    # 400 ms inside its "nothing before 0.25 s" window.
    first = float(_solicits_for(dut, other).time)
    dut.expect_none(ICMPv6ND_NS(tgt=other), within=0.25, since=first)
    try:
        again = dut.expect(ICMPv6ND_NS(tgt=other), within=max(0.0, first + 0.7 - dut.now()))
    except ExpectationFailed:
        again = None
    if again is None or float(again.time) - first > 0.7:
        raise AssertionError("no retransmitted NS 0.25-0.7 s after the first: Retrans Timer 400 ms "
                             "not used")


@rfc("RFC4861-6.3.4-6", "RFC4861-6.3.4-7")
def test_reachable_time_bounds_how_long_a_neighbor_stays_reachable(dut: DUT) -> None:
    # BaseReachableTime 1 s: ReachableTime is drawn anew, 0.5-1.5 s (§6.3.2). After 1.7 s a
    # confirmed neighbor is STALE, so sending to it starts DELAY and, DELAY_FIRST_PROBE_TIME
    # later, a unicast probe (§7.3.3). A ReachableTime kept from the default 30 s (15-45 s)
    # would leave it REACHABLE: no probe.
    dut.set_ipv6_option("delay_first_probe_time", 1)
    dut.send(ra(dut, reachabletime=1000))
    other, mac = str(dut.info.other_ipv6), dut.info.other_mac
    dut.send(echo(dut, 1, src=other))
    ns = _solicits_for(dut, other)
    dut.send(Ether(src=mac, dst=dut.info.dut_mac) / IPv6(src=other, dst=ns[IPv6].src)
             / ICMPv6ND_NA(tgt=other, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))
    dut.expect(Ether(dst=mac), ICMPv6EchoReply(id=ECHO_ID, seq=1))
    dut.wait(1.7)
    dut.send(echo(dut, 2, src=other))
    dut.expect(Ether(dst=mac), ICMPv6EchoReply(id=ECHO_ID, seq=2))
    try:
        dut.expect(Ether(dst=mac), IPv6(dst=other), ICMPv6ND_NS(tgt=other), within=1.8)
    except ExpectationFailed:
        raise AssertionError("no unicast probe: the neighbor still counted as reachable 1.7 s after "
                             "confirmation with Reachable Time 1000 ms") from None


@rfc("RFC4861-6.3.4-6")
def test_reachable_time_zero_leaves_the_base_unchanged(dut: DUT) -> None:
    # §4.2: "A value of zero means unspecified (by this router)." BaseReachableTime 2 s from the
    # first RA, then one with Reachable Time 0: ReachableTime stays 1-3 s (§6.3.2). A packet
    # 0.5 s after confirmation finds the neighbor REACHABLE (no DELAY, so no probe); a packet
    # after 3.2 s finds it STALE and draws the unicast probe DELAY_FIRST_PROBE_TIME later (the
    # positive control). A ReachableTime of 0 would probe after the first packet too.
    dut.set_ipv6_option("delay_first_probe_time", 1)
    dut.send(ra(dut, reachabletime=2000), ra(dut, reachabletime=0))
    other, mac = str(dut.info.other_ipv6), dut.info.other_mac
    dut.send(echo(dut, 1, src=other))
    ns = _solicits_for(dut, other)
    dut.send(Ether(src=mac, dst=dut.info.dut_mac) / IPv6(src=other, dst=ns[IPv6].src)
             / ICMPv6ND_NA(tgt=other, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))
    # Timed by the DUT's frames: the waiting reply leaves when the advertisement confirms.
    confirmed = float(dut.expect(Ether(dst=mac), ICMPv6EchoReply(id=ECHO_ID, seq=1)).time)
    dut.wait(max(0.0, confirmed + 0.5 - dut.now()))
    dut.send(echo(dut, 2, src=other))
    second = float(dut.expect(Ether(dst=mac), ICMPv6EchoReply(id=ECHO_ID, seq=2)).time)
    # A DUT that took ReachableTime 0 probes DELAY_FIRST_PROBE_TIME (1 s) after the second reply.
    # One that moves a used entry from REACHABLE straight to DELAY when ReachableTime (1 s at
    # least) runs out, as Linux does, rightly probes 2 s after the confirmation: the window ends
    # 0.2 s before that, however late the tester read the second reply.
    quiet_until = confirmed + 1.8
    if second + 1.0 > quiet_until:
        pytest.skip(f"the second packet reached the DUT {second - confirmed:.2f} s after the confirmation (a loaded "
                    "tester): a probe it drew could not be told from one of a ReachableTime that ran out")
    dut.expect_none(Ether(dst=mac), IPv6(dst=other), ICMPv6ND_NS(tgt=other), within=quiet_until - second,
                    since=second)
    dut.wait(max(0.0, confirmed + 3.2 - dut.now()))
    dut.send(echo(dut, 3, src=other))
    dut.expect(Ether(dst=mac), ICMPv6EchoReply(id=ECHO_ID, seq=3))
    try:
        dut.expect(Ether(dst=mac), IPv6(dst=other), ICMPv6ND_NS(tgt=other), within=1.8)
    except ExpectationFailed:
        raise AssertionError("control: no unicast probe for a packet 3.2 s after confirmation") from None


@rfc("RFC4861-6.3.4-9")
def test_retrans_timer_zero_leaves_the_timer_unchanged(dut: DUT) -> None:
    # §4.2: "A value of zero means unspecified (by this router)."
    dut.send(ra(dut, retranstimer=400), ra(dut, retranstimer=0))
    other = str(dut.info.other_ipv6)
    dut.send(echo(dut, 1, src=other))
    _solicits_for(dut, other)
    try:
        dut.expect(ICMPv6ND_NS(tgt=other), within=0.7)
    except ExpectationFailed:
        raise AssertionError("an RA with Retrans Timer 0 changed the retransmission timer") from None


# ---- a router does not configure itself from advertisements -----------------------------------------

@described(4861, "6.3.4", SHOULD,
           "On receipt of a valid Router Advertisement, a host extracts the source address of the packet and "
           "does the following:")
def test_router_ignores_advertisements_for_its_configuration(dut: DUT) -> None:
    # The processing of §6.3.4 is the host's; with forwarding on the DUT is a router (§2.1).
    become_router(dut, 6)
    dut.send(ra(dut, chlim=33))
    assert hop_limit_of_reply(dut, 1) != 33, "a router took Cur Hop Limit from another router's RA"
    dut.set_forwarding(6, False)
    dut.send(ra(dut, chlim=33))  # control: the same advertisement configures the host
    assert hop_limit_of_reply(dut, 2) == 33
