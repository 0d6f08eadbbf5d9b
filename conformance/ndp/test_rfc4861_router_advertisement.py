"""RFC 4861 §6.1.2, §6.3.4, §6.3.5: how a host validates and uses Router Advertisements.

Everything is observed from outside. The tester's link-local address (a static neighbor of
the DUT) plays the router, so "the DUT uses the router" shows as an echo reply to an off-link
source (2001:db8:2::5) leaving towards the tester's MAC; a DUT without a default router sends
nothing (the backends give it no route by default). Cur Hop Limit shows in the hop limit of
echo replies, the MTU option in their fragmentation, Retrans Timer and Reachable Time in the
spacing of Neighbor Solicitations, the on-link flag in whether the DUT resolves an address of
the prefix itself. Every test that checks that an advertisement is ignored sends the valid one
afterwards and sees its effect (a DUT that ignores all advertisements cannot pass).
Lifetimes are a few seconds so the linux backend stays quick; in-process waiting is virtual.
"""

from __future__ import annotations

from typing import Any, Final

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrFragment,
    in6_chksum,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness import DUT, MAY, MUST, SHOULD, SHOULD_NOT, ExpectationFailed, multicast_mac, rfc, solicited_node
from harness.rfc import NDP_HOP_LIMIT

ALL_NODES: Final = "ff02::1"
OFF_LINK: Final = "2001:db8:2::5"  # a node behind the router
PREFIX: Final = "2001:db8:2::"
ECHO_ID: Final = 0x4C2
SILENCE_S: Final = 0.7
LIFETIME_S: Final = 60


def ra(dut: DUT, *options: Packet, src: str | None = None, hlim: int = NDP_HOP_LIMIT,
       lifetime: int = LIFETIME_S, slla: bool = True, **fields: Any) -> Packet:
    """A Router Advertisement from the tester's link-local address (the router) to all-nodes."""
    fields.setdefault("prf", 0)  # Scapy's default is High (RFC 4191); medium unless a test says
    mac = dut.info.tester_mac
    frame = (Ether(src=mac, dst=multicast_mac(ALL_NODES))
             / IPv6(src=src or str(dut.info.tester_ipv6_ll), dst=ALL_NODES, hlim=hlim)
             / ICMPv6ND_RA(routerlifetime=lifetime, **fields))
    if slla:
        frame = frame / ICMPv6NDOptSrcLLAddr(lladdr=mac)
    for option in options:
        frame = frame / option
    return frame


def pio(*, on_link: int = 1, autonomous: int = 0, valid: int = LIFETIME_S, preferred: int = 30,
        prefix: str = PREFIX, length: int = 64) -> Packet:
    return ICMPv6NDOptPrefixInfo(prefixlen=length, L=on_link, A=autonomous, validlifetime=valid,
                                 preferredlifetime=preferred, prefix=prefix)


def echo(dut: DUT, seq: int, *, src: str = OFF_LINK, size: int = 0) -> Packet:
    """An echo request to the DUT's global address from ``src``, carried by the tester."""
    return dut.ether() / IPv6(src=src, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(
        id=ECHO_ID, seq=seq, data=b"\xa5" * size)


def expect_routed_reply(dut: DUT, seq: int, *, via: str | None = None, within: float = 1.0) -> Packet:
    """The echo reply to OFF_LINK, sent to the router's MAC (the tester's unless ``via``)."""
    return dut.expect(Ether(dst=via or dut.info.tester_mac), IPv6(dst=OFF_LINK),
                      ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=within)


def expect_no_reply(dut: DUT, seq: int, within: float = SILENCE_S) -> None:
    dut.expect_none(ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=within)


def uses_router(dut: DUT, seq: int) -> None:
    dut.send(echo(dut, seq))
    expect_routed_reply(dut, seq)


def has_no_router(dut: DUT, seq: int) -> None:
    dut.send(echo(dut, seq))
    expect_no_reply(dut, seq)


def hop_limit_of_reply(dut: DUT, seq: int) -> int:
    dut.send(echo(dut, seq, src=str(dut.info.tester_ipv6)))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ECHO_ID, seq=seq))
    return int(reply[IPv6].hlim)


# ---- the Default Router List ------------------------------------------------------------------

@rfc(4861, "6.3.4", MUST,
     "If the address is not already present in the host's Default Router List, and the "
     "advertisement's Router Lifetime is non-zero, create a new entry in the list, and initialize "
     "its invalidation timer value from the advertisement's Router Lifetime field.")
def test_advertising_router_becomes_default_router(dut: DUT) -> None:
    has_no_router(dut, 1)  # no route to 2001:db8:2::/64 before the advertisement
    dut.send(ra(dut))
    uses_router(dut, 2)


@rfc(4861, "6.3.4", MUST,
     "If the address is already present in the host's Default Router List and the received Router "
     "Lifetime value is zero, immediately time-out the entry as specified in Section 6.3.5.")
def test_router_lifetime_zero_removes_the_default_router(dut: DUT) -> None:
    dut.send(ra(dut))
    uses_router(dut, 1)
    dut.send(ra(dut, lifetime=0))
    has_no_router(dut, 2)


@rfc(4861, "6.3.5", MUST,
     "Whenever the Lifetime of an entry in the Default Router List expires, that entry is discarded.")
def test_default_router_expires_with_its_router_lifetime(dut: DUT) -> None:
    dut.set_ipv6_option("accept_ra", 1)  # a control verb: this test waits seconds of real time
    dut.send(ra(dut, lifetime=2))
    uses_router(dut, 1)
    dut.wait(2.6)
    has_no_router(dut, 2)


@rfc(4861, "4.2", SHOULD_NOT,
     "A Lifetime of 0 indicates that the router is not a default router and SHOULD NOT appear on "
     "the default router list. The Router Lifetime applies only to the router's usefulness as a "
     "default router; it does not apply to information contained in other message fields or options.")
def test_router_lifetime_zero_still_carries_parameters(dut: DUT) -> None:
    dut.send(ra(dut, lifetime=0, chlim=44))
    has_no_router(dut, 1)
    assert hop_limit_of_reply(dut, 2) == 44, "Cur Hop Limit of an RA with Router Lifetime 0 ignored"


# ---- validation (§6.1.2) ------------------------------------------------------------------------

RA_VALIDITY = ("A node MUST silently discard any received Router Advertisement messages that do not "
               "satisfy all of the following validity checks:")


def _short(dut: DUT) -> Packet:
    # ICMP length 14 (< 16): type, code, checksum, Cur Hop Limit, flags, Router Lifetime 60,
    # Reachable Time, and half of Retrans Timer. A parser that reads the lifetime anyway fails.
    frame = ra(dut, slla=False)
    raw = bytes(frame[ICMPv6ND_RA])[:14]
    ip = IPv6(src=str(dut.info.tester_ipv6_ll), dst=ALL_NODES, hlim=NDP_HOP_LIMIT, nh=58)
    return Ether(src=dut.info.tester_mac, dst=multicast_mac(ALL_NODES)) / _with_icmp6_checksum(ip, raw)


def _with_icmp6_checksum(ip: Packet, icmp: bytes) -> Packet:
    body = icmp[:2] + b"\x00\x00" + icmp[4:]
    cksum = in6_chksum(58, ip / Raw(body), body)
    return ip / Raw(body[:2] + cksum.to_bytes(2, "big") + body[4:])


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
    pytest.param(case, id=case, marks=rfc(4861, "6.1.2", MUST, f"{RA_VALIDITY} ... {text}"))
    for case, text in CHECKS.items()
])
def test_invalid_advertisement_is_ignored(dut: DUT, case: str) -> None:
    dut.send(_invalid(dut, case))
    has_no_router(dut, 1)
    dut.send(ra(dut))  # control: the valid advertisement is used
    uses_router(dut, 2)


@rfc(4861, "6.1.2", MUST,
     "The contents of the Reserved field, and of any unrecognized options, MUST be ignored.")
def test_reserved_bits_and_unknown_options_are_ignored(dut: DUT) -> None:
    unknown = Raw(bytes([253, 1]) + b"future")  # unassigned option type, 8 octets
    dut.send(ra(dut, unknown, res=0b11))
    uses_router(dut, 1)


# ---- parameters of the advertisement (§6.3.4) -----------------------------------------------------

@rfc(4861, "6.3.4", SHOULD,
     "If the received Cur Hop Limit value is non-zero, the host SHOULD set its CurHopLimit variable "
     "to the received value.")
def test_cur_hop_limit_sets_hop_limit_of_sent_packets(dut: DUT) -> None:
    before = hop_limit_of_reply(dut, 1)
    assert before != 33, "choose another test value: the DUT already uses 33"
    dut.send(ra(dut, chlim=33))
    assert hop_limit_of_reply(dut, 2) == 33


@rfc(4861, "6.3.4", SHOULD,
     "If the received Cur Hop Limit value is non-zero, the host SHOULD set its CurHopLimit variable "
     "to the received value.")
def test_cur_hop_limit_zero_leaves_hop_limit_unchanged(dut: DUT) -> None:
    # §4.2: "A value of zero means unspecified (by this router)."
    dut.send(ra(dut, chlim=33))
    assert hop_limit_of_reply(dut, 1) == 33
    dut.send(ra(dut, chlim=0))
    assert hop_limit_of_reply(dut, 2) == 33, "an RA with Cur Hop Limit 0 changed the hop limit"


BIG_DATA = 1300  # echo reply of 1348 octets: fits the 1500 link, not a 1280 MTU


def _reply_pieces(dut: DUT, seq: int) -> list[Packet]:
    """The echo reply to the tester: one frame, or all fragments up to the last one."""
    dut.send(echo(dut, seq, src=str(dut.info.tester_ipv6), size=BIG_DATA))
    first = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)),
                       ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=1.0)
    if not first.haslayer(IPv6ExtHdrFragment):
        return [first]
    pieces = [first]
    ident = first[IPv6ExtHdrFragment].id
    while True:
        piece = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), IPv6ExtHdrFragment(id=ident),
                           within=1.0)
        pieces.append(piece)
        if piece[IPv6ExtHdrFragment].m == 0:
            return pieces


def _largest_packet(pieces: list[Packet]) -> int:
    return max(40 + p[IPv6].plen for p in pieces)


MTU_TEXT = ("If the MTU option is present, hosts SHOULD copy the option's value into LinkMTU so long as "
            "the value is greater than or equal to the minimum link MTU [IPv6] and does not exceed the "
            "maximum LinkMTU value specified in the link-type-specific document (e.g., [IPv6-ETHER]).")


@pytest.mark.parametrize("mtu", [1280, 1300])
@rfc(4861, "6.3.4", SHOULD, MTU_TEXT)
def test_mtu_option_lowers_the_link_mtu(dut: DUT, mtu: int) -> None:
    assert len(_reply_pieces(dut, 1)) == 1, "the reply was fragmented before any MTU option"
    dut.send(ra(dut, ICMPv6NDOptMTU(mtu=mtu)))
    pieces = _reply_pieces(dut, 2)
    assert len(pieces) > 1, f"a 1348-octet reply was not fragmented after an MTU option of {mtu}"
    assert _largest_packet(pieces) <= mtu


@pytest.mark.parametrize("mtu", [1279, 1501], ids=["below-minimum", "above-link-mtu"])
@rfc(4861, "6.3.4", SHOULD, MTU_TEXT)
def test_mtu_option_out_of_range_is_ignored(dut: DUT, mtu: int) -> None:
    dut.send(ra(dut, ICMPv6NDOptMTU(mtu=mtu)))
    uses_router(dut, 1)  # the advertisement itself was accepted
    pieces = _reply_pieces(dut, 2)
    assert len(pieces) == 1, f"the link MTU followed an MTU option of {mtu}"
    dut.send(ra(dut, ICMPv6NDOptMTU(mtu=1280)))  # control: an in-range value is used
    assert len(_reply_pieces(dut, 3)) > 1


def _solicits_for(dut: DUT, target: str) -> Packet:
    return dut.expect(ICMPv6ND_NS(tgt=target), within=1.2)


@rfc(4861, "6.3.4", SHOULD,
     "The RetransTimer variable SHOULD be copied from the Retrans Timer field, if the received value "
     "is non-zero.")
def test_retrans_timer_sets_solicitation_spacing(dut: DUT) -> None:
    # The DUT answers an echo from an unresolved on-link neighbor: multicast NSs, RetransTimer
    # apart (§7.2.2). 400 ms instead of the default 1000 ms.
    dut.send(ra(dut, retranstimer=400))
    other = str(dut.info.other_ipv6)
    dut.send(echo(dut, 1, src=other))
    _solicits_for(dut, other)
    dut.expect_none(ICMPv6ND_NS(tgt=other), within=0.25)
    try:
        dut.expect(ICMPv6ND_NS(tgt=other), within=0.45)
    except ExpectationFailed:
        raise AssertionError("no retransmitted NS 0.25-0.7 s after the first: Retrans Timer 400 ms "
                             "not used") from None


@rfc(4861, "6.3.4", SHOULD,
     "If the received Reachable Time value is non-zero, the host SHOULD set its BaseReachableTime "
     "variable to the received value.")
def test_reachable_time_bounds_how_long_a_neighbor_stays_reachable(dut: DUT) -> None:
    # BaseReachableTime 1 s: ReachableTime is 0.5-1.5 s (§6.3.2). After 1.7 s a confirmed
    # neighbor is STALE, so sending to it starts DELAY and, DELAY_FIRST_PROBE_TIME later, a
    # unicast probe (§7.3.3). With the default 30 s it would still be REACHABLE: no probe.
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


# ---- Prefix Information: on-link determination ------------------------------------------------------

def _resolves_itself(dut: DUT, seq: int) -> None:
    """The DUT takes OFF_LINK for on-link: it multicasts an NS for it instead of using the router."""
    dut.send(echo(dut, seq))
    dut.expect(IPv6(dst=solicited_node(OFF_LINK)), ICMPv6ND_NS(tgt=OFF_LINK), within=1.0)


@rfc(4861, "6.3.4", MUST,
     "If the prefix is not already present in the Prefix List, and the Prefix Information option's Valid "
     "Lifetime field is non-zero, create a new entry for the prefix and initialize its invalidation "
     "timer to the Valid Lifetime value in the Prefix Information option.")
def test_on_link_prefix_is_resolved_directly(dut: DUT) -> None:
    # Negative control first: with L=0 the advertisement "makes no statement about on-link or
    # off-link properties of the prefix" (§4.6.2), so the router is used.
    dut.send(ra(dut, pio(on_link=0)))
    uses_router(dut, 1)
    dut.expect_none(ICMPv6ND_NS(tgt=OFF_LINK), within=0.3)
    dut.send(ra(dut, pio(on_link=1)))
    _resolves_itself(dut, 2)


@rfc(4861, "6.3.4", MUST,
     "If the prefix is already present in the host's Prefix List as the result of a previously "
     "received advertisement, reset its invalidation timer to the Valid Lifetime value in the Prefix "
     "Information option. If the new Lifetime value is zero, time-out the prefix immediately (see "
     "Section 6.3.5).")
def test_prefix_valid_lifetime_zero_removes_the_prefix(dut: DUT) -> None:
    dut.send(ra(dut, pio()))
    _resolves_itself(dut, 1)
    dut.send(ra(dut, pio(valid=0, preferred=0)))
    uses_router(dut, 2)


@rfc(4861, "6.3.5", MUST,
     "Whenever the invalidation timer expires for a Prefix List entry, that entry is discarded.")
def test_prefix_expires_with_its_valid_lifetime(dut: DUT) -> None:
    dut.set_ipv6_option("accept_ra", 1)  # a control verb: this test waits seconds of real time
    dut.send(ra(dut, pio(valid=2, preferred=1)))
    _resolves_itself(dut, 1)
    dut.wait(2.6)
    uses_router(dut, 2)


# ---- a router does not configure itself from advertisements -----------------------------------------

@rfc(4861, "6.3.4", SHOULD,
     "On receipt of a valid Router Advertisement, a host extracts the source address of the packet "
     "and does the following:")
def test_router_ignores_advertisements_for_its_configuration(dut: DUT) -> None:
    # The processing of §6.3.4 is the host's; with forwarding on the DUT is a router (§2.1).
    dut.set_forwarding(6, True)
    dut.send(ra(dut, chlim=33))
    assert hop_limit_of_reply(dut, 1) != 33, "a router took Cur Hop Limit from another router's RA"
    dut.set_forwarding(6, False)
    dut.send(ra(dut, chlim=33))  # control: the same advertisement configures the host
    assert hop_limit_of_reply(dut, 2) == 33


# ---- more of the Default Router List and the Prefix List -------------------------------------------

@rfc(4861, "6.3.4", MUST,
     "If the address is already present in the host's Default Router List as a result of a "
     "previously received advertisement, reset its invalidation timer to the Router Lifetime value "
     "in the newly received advertisement.")
def test_new_advertisement_resets_the_router_lifetime(dut: DUT) -> None:
    dut.set_ipv6_option("accept_ra", 1)  # a control verb: this test waits seconds of real time
    dut.send(ra(dut, lifetime=2))
    dut.wait(1.2)
    dut.send(ra(dut, lifetime=LIFETIME_S))
    dut.wait(1.4)  # past the first advertisement's 2 s
    uses_router(dut, 1)


@rfc(4861, "6.3.4", MUST,
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


@rfc(4861, "6.3.4", MUST,
     "If the Prefix Information option's Valid Lifetime field is zero, and the prefix is not present "
     "in the host's Prefix List, silently ignore the option.")
def test_unknown_prefix_with_zero_valid_lifetime_is_ignored(dut: DUT) -> None:
    dut.send(ra(dut, pio(valid=0, preferred=0)))
    uses_router(dut, 1)
    dut.expect_none(ICMPv6ND_NS(tgt=OFF_LINK), within=0.3)
    dut.send(ra(dut, pio()))  # control
    _resolves_itself(dut, 2)


ROUTER_B: Final = "fe80::1"


def ra_from_b(dut: DUT, *, lifetime: int = LIFETIME_S, slla: bool = True, prf: int = 0) -> Packet:
    mac = dut.info.other_mac
    frame = (Ether(src=mac, dst=multicast_mac(ALL_NODES))
             / IPv6(src=ROUTER_B, dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_RA(routerlifetime=lifetime, prf=prf))
    return frame / ICMPv6NDOptSrcLLAddr(lladdr=mac) if slla else frame


@rfc(4861, "6.3.4", SHOULD,
     "If the advertisement contains a Source Link-Layer Address option, the link-layer address SHOULD "
     "be recorded in the Neighbor Cache entry for the router (creating an entry if necessary) and the "
     "IsRouter flag in the Neighbor Cache entry MUST be set to TRUE.")
def test_router_link_layer_address_is_learnt_from_the_advertisement(dut: DUT) -> None:
    dut.send(ra_from_b(dut))
    dut.send(echo(dut, 1))
    expect_routed_reply(dut, 1, via=dut.info.other_mac)
    dut.expect_none(ICMPv6ND_NS(tgt=ROUTER_B), within=0.2)


@rfc(4861, "7.2.5", MUST,
     "In those cases where the IsRouter flag changes from TRUE to FALSE as a result of this update, "
     "the node MUST remove that router from the Default Router List and update the Destination Cache "
     "entries for all destinations using that neighbor as a router as specified in Section 7.3.3.")
def test_advertisement_without_router_flag_removes_the_router(dut: DUT) -> None:
    mac = dut.info.other_mac
    dut.send(ra_from_b(dut))
    dut.send(echo(dut, 1))
    expect_routed_reply(dut, 1, via=mac)
    dut.send(Ether(src=mac, dst=multicast_mac(ALL_NODES)) / IPv6(src=ROUTER_B, dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=ROUTER_B, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))
    has_no_router(dut, 2)


@rfc(4861, "6.3.5", MUST,
     "When removing a router from the Default Router list, the node MUST update the Destination Cache "
     "in such a way that all entries using the router perform next-hop determination again rather than "
     "continue sending traffic to the (deleted) router.")
def test_traffic_moves_to_the_remaining_router(dut: DUT) -> None:
    # RFC 4191 preferences make the first choice deterministic: B (High) over A (Low).
    dut.send(ra(dut, prf=3), ra_from_b(dut, prf=1))
    dut.send(echo(dut, 1))
    expect_routed_reply(dut, 1, via=dut.info.other_mac)
    dut.send(ra_from_b(dut, lifetime=0, prf=1))
    uses_router(dut, 2)


@rfc(4861, "6.3.4", SHOULD,
     "The RetransTimer variable SHOULD be copied from the Retrans Timer field, if the received value "
     "is non-zero.")
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


@rfc(4861, "6.3.4", MUST, "If the prefix is the link-local prefix, silently ignore the Prefix Information option.")
def test_link_local_prefix_information_is_ignored(dut: DUT) -> None:
    # Processed, Valid Lifetime 0 would "time-out the prefix immediately": fe80::/64 off-link.
    dut.send(ra(dut, pio(prefix="fe80::", valid=0, preferred=0)))
    dut.send(dut.ether() / IPv6(src=str(dut.info.tester_ipv6_ll), dst=str(dut.info.dut_ipv6_ll))
             / ICMPv6EchoRequest(id=ECHO_ID, seq=1))
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6_ll)), ICMPv6EchoReply(id=ECHO_ID, seq=1))
    dut.expect_none(ICMPv6ND_NS(tgt=str(dut.info.tester_ipv6_ll)), within=0.2)


@rfc(4861, "6.2.6", MAY,
     "A router MAY choose to unicast the response directly to the soliciting host's address (if the "
     "solicitation's source address is not the unspecified address), but the usual case is to "
     "multicast the response to the all-nodes group.")
def test_unicast_advertisement_is_accepted(dut: DUT) -> None:
    unicast = ra(dut)
    unicast[Ether].dst = dut.info.dut_mac
    unicast[IPv6].dst = str(dut.info.dut_ipv6_ll)
    dut.send(unicast)
    uses_router(dut, 1)
