"""RFC 4861 §8: Redirect messages. A host validates them (§8.1) and follows the valid ones (§8.3);
a router sends them (§8.2) and never follows them.

As a host, the DUT reaches 2001:db8:2::/64 through the tester's link-local address (a static
neighbor), so its echo replies to 2001:db8:2::5 leave for the tester's MAC. A redirect from the
tester names a better first hop (fe80::1 at MAC_R) or the destination itself; where the DUT's
next reply goes shows whether it followed the redirect. Every invalid redirect is followed by the
valid one, which must take effect (the positive control).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_Redirect,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptRedirectedHdr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness import (
    DUT,
    MUST,
    ExpectationFailed,
    bad_checksum,
    described,
    fragments6,
    l3_bytes,
    multicast_mac,
    rfc,
    short_icmpv6,
    solicited_node,
)
from harness.features import become_router, has_feature, require_feature
from harness.rfc import IPV6_MIN_MTU, NDP_HOP_LIMIT

SILENCE_S = 0.6
PREFIX, FAR, FAR_2 = "2001:db8:2::/64", "2001:db8:2::5", "2001:db8:2::6"
REDIRECTED_HEADER = 4  # RFC 4861 4.6: the option type
ROUTER_LL = "fe80::1"  # the better first hop a redirect names
MAC_R = "02:00:00:00:00:04"
MAC_A = "02:00:00:00:00:05"  # the destination's own MAC, for redirects to an on-link destination
DELAY_S = 1
REDIRECT_BURST = 20  # packets of one flow sent back to back to a router that redirects them


def _gateway(dut: DUT) -> None:
    """The DUT's current first-hop router for FAR: the tester's link-local address."""
    dut.add_route(PREFIX, via=str(dut.info.tester_ipv6_ll))


def _reply(dut: DUT, ident: int, far: str = FAR) -> Packet:
    """The DUT's echo reply to ``far`` (the tester plays it: any source MAC will do)."""
    dut.send(dut.ipv6(src=far) / ICMPv6EchoRequest(id=ident, seq=1, data=b"where-to"))
    return dut.expect(IPv6(dst=far), ICMPv6EchoReply(id=ident, seq=1))


def _reply_mac(dut: DUT, ident: int, far: str = FAR) -> str:
    """Where the DUT sends its echo reply to ``far``."""
    return str(_reply(dut, ident, far)[Ether].dst).lower()


def _expect_delay_probe(dut: DUT, delay_from: float) -> Packet:
    """The unicast probe of the target's STALE entry, which the packet that left at ``delay_from``
    moved to DELAY (RFC 4861 7.3.3): none before DELAY_FIRST_PROBE_TIME - 0.3 s, one by + 0.7 s.
    Both timed from that packet's arrival at the tester, not from when the tester got to look
    (a tester 0.3 s late would take the probe that came on time for an early one)."""
    dut.expect_none(ICMPv6ND_NS(tgt=ROUTER_LL), within=DELAY_S - 0.3, since=delay_from)
    return dut.expect(ICMPv6ND_NS(tgt=ROUTER_LL), within=max(0.0, delay_from + DELAY_S + 0.7 - dut.now()))


def _redirected_header(dut: DUT) -> ICMPv6NDOptRedirectedHdr:
    # What a router would quote: the DUT's packet to FAR that it forwarded.
    quoted = IPv6(src=str(dut.info.dut_ipv6.ip), dst=FAR) / ICMPv6EchoReply(id=0x7500, seq=1, data=b"where-to")
    return ICMPv6NDOptRedirectedHdr(pkt=bytes(quoted))


def _redirect(dut: DUT, *, src: str | None = None, target: str = ROUTER_LL, dest: str = FAR,
              tlla: str | None = MAC_R, hlim: int = NDP_HOP_LIMIT, header: bool = True,
              mac: str | None = None, **icmp: Any) -> Packet:
    pkt = (
        dut.ether(src=mac or dut.info.tester_mac)
        / IPv6(src=src or str(dut.info.tester_ipv6_ll), dst=str(dut.info.dut_ipv6.ip), hlim=hlim)
        / ICMPv6ND_Redirect(tgt=target, dst=dest, **icmp)
    )
    if tlla:
        pkt = pkt / ICMPv6NDOptDstLLAddr(lladdr=tlla)
    return pkt / _redirected_header(dut) if header else pkt


# ---- valid redirects (§8.3) ------------------------------------------------------------------------


@rfc("RFC4861-8.3-1")
def test_redirect_to_a_better_router_moves_traffic_there(dut: DUT) -> None:
    _gateway(dut)
    assert _reply_mac(dut, 0x7501) == dut.info.tester_mac
    dut.send(_redirect(dut))
    assert _reply_mac(dut, 0x7502) == MAC_R, "traffic to the destination did not follow the redirect"


@rfc("RFC4861-8.3-3", "RFC4861-8.3-2")
def test_target_entry_from_redirect_is_stale(dut: DUT) -> None:
    # STALE: used at once, then probed DELAY_FIRST_PROBE_TIME after the first packet.
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    _gateway(dut)
    dut.send(_redirect(dut))
    reply = _reply(dut, 0x7503)
    assert reply[Ether].dst.lower() == MAC_R
    ns = _expect_delay_probe(dut, float(reply.time))
    assert ns[IPv6].dst == ROUTER_LL and ns[Ether].dst.lower() == MAC_R, "the probe is not unicast to the target"


@rfc("RFC4861-8.3-5")
def test_redirect_to_the_destination_itself_sends_traffic_directly(dut: DUT) -> None:
    _gateway(dut)
    dut.send(_redirect(dut, target=FAR, tlla=MAC_A))
    assert _reply_mac(dut, 0x7504) == MAC_A


@rfc("RFC4861-8.1-4")
def test_redirect_to_an_off_prefix_destination_without_link_layer_option_is_resolved(dut: DUT) -> None:
    # No Target Link-Layer Address option: the DUT must resolve 2001:db8:2::5 on the link.
    _gateway(dut)
    dut.send(_redirect(dut, target=FAR, tlla=None))
    dut.send(dut.ipv6(src=FAR) / ICMPv6EchoRequest(id=0x7505, seq=1))
    ns = dut.expect(ICMPv6ND_NS(tgt=FAR))
    assert ns[IPv6].dst == solicited_node(FAR)


@rfc("RFC4861-8.1-1", quote="ICMP length (derived from the IP length) is 40 or more octets.")
def test_redirect_of_exactly_40_octets_without_options_is_followed(dut: DUT) -> None:
    # No option at all, so the ICMP length is exactly 40: valid. The DUT now sends to the
    # redirect's target, which it must resolve first (no Target Link-Layer Address came).
    _gateway(dut)
    assert _reply_mac(dut, 0x75E0) == dut.info.tester_mac
    redirect = _redirect(dut, tlla=None, header=False)
    assert len(l3_bytes(redirect)) == 40 + 40
    dut.send(redirect)
    dut.send(dut.ipv6(src=FAR) / ICMPv6EchoRequest(id=0x75E1, seq=1))
    dut.expect(ICMPv6ND_NS(tgt=ROUTER_LL))


@rfc("RFC4861-7.2-1")
def test_redirect_without_link_layer_option_makes_the_host_resolve_the_target(dut: DUT) -> None:
    _gateway(dut)
    dut.send(_redirect(dut, tlla=None))
    dut.send(dut.ipv6(src=FAR) / ICMPv6EchoRequest(id=0x7506, seq=1))
    ns = dut.expect(ICMPv6ND_NS(tgt=ROUTER_LL))
    assert ns[IPv6].dst == solicited_node(ROUTER_LL)
    dut.send(
        dut.ether(src=MAC_R) / IPv6(src=ROUTER_LL, dst=ns[IPv6].src, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NA(tgt=ROUTER_LL, R=1, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=MAC_R)
    )
    reply = dut.expect(IPv6(dst=FAR), ICMPv6EchoReply(id=0x7506))
    assert reply[Ether].dst.lower() == MAC_R


@rfc("RFC4861-8.1-2", "RFC4861-4.5-2", "RFC4861-9-1")
def test_redirect_with_reserved_bits_and_unknown_option_is_followed(dut: DUT) -> None:
    _gateway(dut)
    dut.send(_redirect(dut, res=0xFFFFFFFF) / Raw(bytes([253, 1]) + b"future"))
    assert _reply_mac(dut, 0x7507) == MAC_R


@rfc("RFC4861-4.6.3-1")
def test_redirect_whose_redirected_header_has_reserved_fields_set_is_followed(dut: DUT) -> None:
    _gateway(dut)
    header = _redirected_header(dut)
    header.res = b"\xff" * 6  # both Reserved fields of the option, 16 and 32 bits
    dut.send(_redirect(dut, header=False) / header)
    assert _reply_mac(dut, 0x750D) == MAC_R


@rfc("RFC4861-8.1-3")
def test_redirect_with_an_mtu_option_is_followed(dut: DUT) -> None:
    _gateway(dut)
    dut.send(_redirect(dut) / ICMPv6NDOptMTU(mtu=1280))
    assert _reply_mac(dut, 0x7508) == MAC_R


def _reachable_router(dut: DUT, mac: str) -> None:
    """fe80::1 REACHABLE at ``mac``: the DUT resolves it to answer its echo request."""
    dut.send(dut.ether(src=mac) / IPv6(src=ROUTER_LL, dst=str(dut.info.dut_ipv6_ll))
             / ICMPv6EchoRequest(id=0x75F0, seq=1))
    ns = dut.expect(ICMPv6ND_NS(tgt=ROUTER_LL))
    dut.send(
        dut.ether(src=mac) / IPv6(src=ROUTER_LL, dst=ns[IPv6].src, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NA(tgt=ROUTER_LL, R=1, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac)
    )
    dut.expect(IPv6(dst=ROUTER_LL), ICMPv6EchoReply(id=0x75F0))


@rfc("RFC4861-8.3-4")
def test_redirect_with_a_new_address_for_a_known_target_makes_it_stale(dut: DUT) -> None:
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    _gateway(dut)
    _reachable_router(dut, MAC_A)
    dut.send(_redirect(dut, tlla=MAC_R))
    reply = _reply(dut, 0x7509)
    assert reply[Ether].dst.lower() == MAC_R, "the target's cached address was not replaced"
    ns = _expect_delay_probe(dut, float(reply.time))
    assert ns[Ether].dst.lower() == MAC_R


@described(4861, "8.3", MUST,
           "If the link-layer address is the same as that already in the cache, the cache entry's state "
           "remains unchanged.")
def test_redirect_with_the_cached_address_leaves_a_reachable_target_reachable(dut: DUT) -> None:
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    _gateway(dut)
    _reachable_router(dut, MAC_R)
    dut.send(_redirect(dut, tlla=MAC_R))
    assert _reply_mac(dut, 0x750A) == MAC_R
    dut.expect_none(ICMPv6ND_NS(tgt=ROUTER_LL), within=DELAY_S + 0.6)  # REACHABLE: no probe


@rfc("RFC4861-8.3-6")
def test_redirect_target_is_a_router_whose_turning_host_undoes_the_redirect(dut: DUT) -> None:
    # Only a target recorded as a router can turn into a host (§7.2.5 R=0 advertisement); then
    # destinations using it "must perform next-hop determination again" (§7.3.3): back to the
    # tester, the first hop from the routing table.
    # Another destination, redirected to itself (on-link), does not use that router: it stays.
    _gateway(dut)
    dut.send(_redirect(dut))
    assert _reply_mac(dut, 0x750B) == MAC_R
    dut.send(_redirect(dut, target=FAR_2, dest=FAR_2, tlla=MAC_A))
    assert _reply_mac(dut, 0x750D, FAR_2) == MAC_A
    dut.send(
        dut.ether(src=MAC_R, dst=multicast_mac("ff02::1")) / IPv6(src=ROUTER_LL, dst="ff02::1", hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NA(tgt=ROUTER_LL, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=MAC_R)
    )
    assert _reply_mac(dut, 0x750C) == dut.info.tester_mac, "traffic still goes to a node that is no router"
    assert _reply_mac(dut, 0x750E, FAR_2) == MAC_A, (
        f"the redirect of {FAR_2} to itself was undone with the router's, which it did not use")


# ---- invalid redirects (§8.1) ------------------------------------------------------------------------

INVALID: dict[str, tuple[str, Callable[[DUT], Packet | bytes]]] = {
    # Also not the first-hop router (fe80::ff:fe00:2 is): no address can be both.
    "global-source": ("IP Source Address is a link-local address.",
                      lambda dut: _redirect(dut, src=str(dut.info.tester_ipv6))),
    "hop-limit-254": ("The IP Hop Limit field has a value of 255, i.e., the packet could not possibly "
                      "have been forwarded by a router.", lambda dut: _redirect(dut, hlim=254)),
    "bad-checksum": ("ICMP Checksum is valid.", lambda dut: bad_checksum(_redirect(dut), ICMPv6ND_Redirect)),
    "code-1": ("ICMP Code is 0.", lambda dut: _redirect(dut, code=1)),
    "icmp-length-39": ("ICMP length (derived from the IP length) is 40 or more octets.",
                       lambda dut: short_icmpv6(_redirect(dut), 39)),
    "not-first-hop": ("The IP source address of the Redirect is the same as the current first-hop router "
                      "for the specified ICMP Destination Address.",
                      lambda dut: _redirect(dut, src="fe80::99", mac=dut.info.other_mac)),
    "multicast-destination": ("The ICMP Destination Address field in the redirect message does not contain "
                              "a multicast address.", lambda dut: _redirect(dut, dest="ff0e::1:5")),
    "global-target": ("The ICMP Target Address is either a link-local address (when redirected to a "
                      "router) or the same as the ICMP Destination Address (when redirected to the "
                      "on-link destination).", lambda dut: _redirect(dut, target="2001:db8:1::c4:99")),
    "zero-length-option": ("All included options have a length that is greater than zero.",
                           lambda dut: _redirect(dut, header=False) / Raw(bytes([253, 0]) + bytes(6))),
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=rfc("RFC4861-8.1-1", quote=text)) for c, (text, _) in INVALID.items()],
)
def test_invalid_redirect_changes_nothing(dut: DUT, case: str) -> None:
    index = list(INVALID).index(case)
    _gateway(dut)
    sent = INVALID[case][1](dut)
    dut.send(sent)
    assert _reply_mac(dut, 0x7510 + index) == dut.info.tester_mac, "traffic followed an invalid redirect"
    # Nor was the target's Target Link-Layer Address learnt: an echo from the target needs resolving.
    target = Ether(bytes(sent))[ICMPv6ND_Redirect].tgt if case != "icmp-length-39" else ROUTER_LL
    dut.send(dut.ether(src=dut.info.other_mac) / IPv6(src=target, dst=str(dut.info.dut_ipv6.ip))
             / ICMPv6EchoRequest(id=0x7520 + index, seq=1))
    dut.expect(ICMPv6ND_NS(tgt=target))
    dut.send(_redirect(dut))  # control: the valid redirect is followed
    assert _reply_mac(dut, 0x7530 + index) == MAC_R


@rfc("RFC4861-8.1-1",
     quote="The IP source address of the Redirect is the same as the current first-hop router for the "
           "specified ICMP Destination Address.")
def test_redirect_from_a_default_router_that_is_not_the_first_hop_is_ignored(dut: DUT) -> None:
    # fe80::1 is a default router (its advertisement), but 2001:db8:2::/64 has a more specific
    # route through the tester: only the tester may redirect traffic for 2001:db8:2::5.
    dut.send(
        dut.ether(src=MAC_R, dst=multicast_mac("ff02::1"))
        / IPv6(src=ROUTER_LL, dst="ff02::1", hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_RA(chlim=0, M=0, O=0, routerlifetime=600, reachabletime=0, retranstimer=0)
        / ICMPv6NDOptSrcLLAddr(lladdr=MAC_R)
    )
    _gateway(dut)
    assert _reply_mac(dut, 0x7570) == dut.info.tester_mac
    dut.send(_redirect(dut, src=ROUTER_LL, mac=MAC_R, target="fe80::3", tlla=MAC_A))
    assert _reply_mac(dut, 0x7571) == dut.info.tester_mac, "followed a redirect from a router that is not the first hop"
    dut.send(_redirect(dut))  # control: the first hop's redirect is followed
    assert _reply_mac(dut, 0x7572) == MAC_R


@rfc("RFC4861-8.1-1",
     quote="The IP source address of the Redirect is the same as the current first-hop router for the "
           "specified ICMP Destination Address.")
def test_redirect_for_an_on_link_destination_is_ignored(dut: DUT) -> None:
    # The DUT reaches the neighbor directly: there is no first-hop router to redirect it.
    nbr = "2001:db8:1::c4:50"
    dut.send(dut.ether(src=MAC_A) / IPv6(src=nbr, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(id=0x7573, seq=1))
    ns = dut.expect(ICMPv6ND_NS(tgt=nbr))
    dut.send(
        dut.ether(src=MAC_A) / IPv6(src=nbr, dst=ns[IPv6].src, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NA(tgt=nbr, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=MAC_A)
    )
    dut.expect(IPv6(dst=nbr), ICMPv6EchoReply(id=0x7573))
    dut.send(_redirect(dut, dest=nbr, header=False))
    dut.send(dut.ether(src=MAC_A) / IPv6(src=nbr, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(id=0x7574, seq=1))
    reply = dut.expect(IPv6(dst=nbr), ICMPv6EchoReply(id=0x7574))
    assert reply[Ether].dst.lower() == MAC_A, f"reply to the on-link neighbor sent to {reply[Ether].dst}"


@rfc("RFC4861-8.1-1",
     quote="The IP source address of the Redirect is the same as the current first-hop router for the "
           "specified ICMP Destination Address.")
def test_after_a_redirect_only_the_new_first_hop_may_redirect_again(dut: DUT) -> None:
    # Redirected to fe80::1, the DUT's first hop for the destination is fe80::1: the router that
    # sent the redirect is no longer it, and its next redirect must be ignored; fe80::1's own
    # redirect to fe80::2 replaces the first one (RFC 4861 8.3: "subsequent traffic goes to the
    # specified target").
    _gateway(dut)
    dut.send(_redirect(dut))
    assert _reply_mac(dut, 0x7575) == MAC_R
    dut.send(_redirect(dut, target="fe80::2", tlla=MAC_A))
    assert _reply_mac(dut, 0x7576) == MAC_R, "followed a redirect from the router it had been redirected away from"
    dut.send(_redirect(dut, src=ROUTER_LL, mac=MAC_R, target="fe80::2", tlla=MAC_A))
    assert _reply_mac(dut, 0x7577) == MAC_A, "the new first hop's redirect did not move the traffic again"


# ---- routers (§8.2) ------------------------------------------------------------------------------------


@rfc("RFC4861-8.2-5")
def test_router_does_not_follow_a_redirect(dut: DUT) -> None:
    become_router(dut, 6)
    _gateway(dut)
    assert _reply_mac(dut, 0x7540) == dut.info.tester_mac
    dut.send(_redirect(dut))
    assert _reply_mac(dut, 0x7541) == dut.info.tester_mac, "the router followed a redirect"


def _introduce(dut: DUT, src: str, mac: str) -> None:
    """The router learns ``mac`` for ``src`` (a solicitation for its address), so it can send a
    redirect at once, and to a router ``src`` its Target Link-Layer Address is known."""
    target = str(dut.info.dut_ipv6.ip if not src.startswith("fe80:") else dut.info.dut_ipv6_ll)
    group = solicited_node(target)
    dut.send(
        dut.ether(src=mac, dst=multicast_mac(group)) / IPv6(src=src, dst=group, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=mac)
    )
    dut.expect(IPv6(dst=src), ICMPv6ND_NA)


def _forwarded(dut: DUT, sender: str, dest: str, ident: int, size: int = 16) -> Packet:
    """A packet from ``sender`` (on the link, at other_mac) that the router forwards to ``dest``."""
    sent = (dut.ether(src=dut.info.other_mac) / IPv6(src=sender, dst=dest, hlim=64)
            / ICMPv6EchoRequest(id=ident, seq=1, data=bytes(size)))
    dut.send(sent)
    return sent


def _forward_via_router(dut: DUT, n: int, *, on_link: bool = False, size: int = 16,
                        target_known: bool = False) -> tuple[Packet, Packet]:
    """The DUT routes 2001:db8:2::/64 back onto the link (through fe80::1, or on-link); a neighbor
    sends it a packet for 2001:db8:2::n, so the better first hop is on the sender's own link.
    Returns (sent, redirect). Each test uses a sender and a destination of its own: routers
    rate-limit redirects per source and per destination (§8.2), across tests too.
    ``target_known``: fe80::1 first introduces itself, so the router knows the target's MAC."""
    become_router(dut, 6)
    require_feature(dut, "redirect-send")
    dut.add_route(PREFIX, via=None if on_link else ROUTER_LL)
    if target_known:
        _introduce(dut, ROUTER_LL, MAC_R)
    sender, dest = f"2001:db8:1::c4:{n:x}", f"2001:db8:2::{n:x}"
    _introduce(dut, sender, dut.info.other_mac)
    sent = _forwarded(dut, sender, dest, 0x7550 + n, size)
    redirect = dut.expect(IPv6(dst=sender), ICMPv6ND_Redirect(dst=dest), within=2.0)
    return sent, redirect


@rfc("RFC4861-8.3-7")
def test_host_sends_no_redirect(dut: DUT) -> None:
    # A packet for 2001:db8:2::/64 handed to the host's MAC, with a route through fe80::1 on the
    # sender's link: a router would redirect (control), a host does not.
    if not has_feature(dut, "redirect-send"):
        pytest.skip("the DUT cannot act as a router that sends Redirects (it does not declare "
                    "redirect-send), so its silence as a host proves nothing")
    sender, dest = "2001:db8:1::c4:20", "2001:db8:2::20"
    dut.add_route(PREFIX, via=ROUTER_LL)
    probe = (dut.ether(src=dut.info.other_mac) / IPv6(src=sender, dst=dest, hlim=64)
             / ICMPv6EchoRequest(id=0x7560, seq=1))
    dut.send(probe)
    dut.expect_none(ICMPv6ND_Redirect, within=SILENCE_S, barrier=True)
    _, redirect = _forward_via_router(dut, 0x21)  # control: the same DUT as a router redirects
    assert redirect[ICMPv6ND_Redirect].tgt == ROUTER_LL


@rfc("RFC4861-8.2-1",
     quote="the Source Address field of the packet identifies a neighbor, and - the router determines (by "
           "means outside the scope of this specification) that a better first-hop node resides on the same "
           "link as the sending node for the Destination Address of the packet being forwarded, and - the "
           "Destination Address of the packet is not a multicast address.")
def test_router_redirects_a_neighbor_to_a_better_router(dut: DUT) -> None:
    _, redirect = _forward_via_router(dut, 0x10)
    assert redirect[ICMPv6ND_Redirect].tgt == ROUTER_LL, f"target {redirect[ICMPv6ND_Redirect].tgt}"


@rfc("RFC4861-8.2-4")
def test_router_limits_the_rate_of_its_redirects(dut: DUT) -> None:
    # One redirect first (the control), then 20 more packets of the same flow back to back: a
    # router that redirects every one of them limits nothing.
    sent, _ = _forward_via_router(dut, 0x17)
    dut.send(*[bytes(sent[Ether]) for _ in range(REDIRECT_BURST)])
    redirects = 0
    while True:
        try:
            dut.expect(IPv6(dst=sent[IPv6].src), ICMPv6ND_Redirect(dst=sent[IPv6].dst), within=0.5)
        except ExpectationFailed:
            break
        redirects += 1
    assert redirects < REDIRECT_BURST, f"all {REDIRECT_BURST} packets sent back to back drew a redirect"


@rfc("RFC4861-8.2-3")
def test_router_redirect_to_an_on_link_destination_names_it_as_target(dut: DUT) -> None:
    _, redirect = _forward_via_router(dut, 0x11, on_link=True)
    assert redirect[ICMPv6ND_Redirect].tgt == redirect[ICMPv6ND_Redirect].dst, (
        f"target {redirect[ICMPv6ND_Redirect].tgt} for destination {redirect[ICMPv6ND_Redirect].dst}")


@rfc("RFC4861-8.1-1",
     quote="IP Source Address is a link-local address. Routers must use their link-local address as the "
           "source for Router Advertisement and Redirect messages so that hosts can uniquely identify "
           "routers.")
def test_router_redirect_is_valid_for_the_host(dut: DUT) -> None:
    # The checks a host applies (§8.1): link-local source, hop limit 255, code 0.
    _, redirect = _forward_via_router(dut, 0x12)
    assert redirect[IPv6].src == str(dut.info.dut_ipv6_ll), f"redirect from {redirect[IPv6].src}"
    assert redirect[IPv6].hlim == NDP_HOP_LIMIT and redirect[ICMPv6ND_Redirect].code == 0


@pytest.mark.parametrize("target_known", [False, True], ids=["target-unknown", "target-known"])
@rfc("RFC4861-9-9")
def test_router_redirect_quotes_a_large_packet_within_1280_octets(dut: DUT, target_known: bool) -> None:
    # With the target's MAC known, a Target Link-Layer Address option (8 octets) comes first and
    # the quote is 8 octets shorter; the redirect still fills the 1280 octets to within 7.
    sent, redirect = _forward_via_router(dut, 0x13 + 0x20 * target_known, size=1400, target_known=target_known)
    if target_known:
        # §8.2: the options hold the "Target Link-Layer Address option: link-layer address of
        # the target, if known."
        assert redirect.haslayer(ICMPv6NDOptDstLLAddr) and redirect[ICMPv6NDOptDstLLAddr].lladdr.lower() == MAC_R, (
            "no Target Link-Layer Address option naming the known target's MAC")
    assert len(l3_bytes(redirect)) <= IPV6_MIN_MTU, f"redirect of {len(l3_bytes(redirect))} octets"
    # §4.5 Redirected Header: "As much as possible of the IP packet that triggered the sending of
    # the Redirect without making the redirect packet exceed the minimum MTU": the option counts
    # in units of 8 octets, so at most 7 octets of the 1280 may stay unused.
    assert len(l3_bytes(redirect)) > IPV6_MIN_MTU - 8, (
        f"redirect of {len(l3_bytes(redirect))} octets: it quotes less of the 1400-octet packet than fits")
    assert redirect.haslayer(ICMPv6NDOptRedirectedHdr), "no Redirected Header option"
    quoted = bytes(redirect[ICMPv6NDOptRedirectedHdr])[8:]
    assert quoted[8:40] == l3_bytes(sent)[8:40], "the Redirected Header does not quote the forwarded packet"


@described(4861, "4.6.3", MUST, "Length The length of the option in units of 8 octets.")
def test_router_redirect_options_fill_whole_8_octet_units(dut: DUT) -> None:
    # The forwarded packet is 65 octets (40 + an 8-octet echo header + 17 of data), so the
    # Redirected Header (8 octets, then the packet) needs padding: read octet by octet (Scapy
    # would re-pad what it dissects), every option's Length must cover it in whole 8-octet units
    # and the options must end where the message ends. The packet fits, so it is quoted whole or,
    # cut to whole units instead of padded (Linux), short of at most 7 octets.
    sent, redirect = _forward_via_router(dut, 0x14, size=17)
    raw = l3_bytes(redirect)
    message = raw[40 : 40 + int.from_bytes(raw[4:6], "big")]
    at, quoted = 40, None  # the options follow type, code, checksum, reserved, target, destination
    while at < len(message):
        length = message[at + 1] * 8 if at + 2 <= len(message) else 0
        assert length and at + length <= len(message), (
            f"an option at octet {at} of the {len(message)}-octet Redirect reads Length {length // 8}")
        if message[at] == REDIRECTED_HEADER:
            quoted = message[at + 8 : at + length]
        at += length
    assert quoted is not None, "no Redirected Header option"
    packet = l3_bytes(sent)
    assert len(packet) - 8 < len(quoted) < len(packet) + 8, (
        f"a Redirected Header of {len(quoted)} octets after its 8-octet start for a {len(packet)}-octet packet")
    n = min(len(quoted), len(packet))
    # Octet 7, the Hop Limit, may show the decrement of forwarding.
    assert quoted[:7] + quoted[8:n] == packet[:7] + packet[8:n], "the Redirected Header does not quote the packet"


@rfc("RFC4861-8.1-1",
     quote="IP Source Address is a link-local address.")
def test_redirect_from_the_first_hop_s_global_address_is_ignored(dut: DUT) -> None:
    # The route to FAR goes through the tester's global address, so a Redirect from that address
    # does come from the current first hop: only the link-local rule stands between it and the DUT.
    dut.add_route(PREFIX, via=str(dut.info.tester_ipv6))
    dut.send(_redirect(dut, src=str(dut.info.tester_ipv6)))
    assert _reply_mac(dut, 0x7540) == dut.info.tester_mac, "traffic followed a Redirect from a global address"
    # Control: with the first hop named by its link-local address, the same Redirect from it is followed.
    dut.remove_route(PREFIX)
    _gateway(dut)
    dut.send(_redirect(dut))
    assert _reply_mac(dut, 0x7541) == MAC_R


@pytest.mark.parametrize("how", ["fragmented", "atomic"])
@rfc("RFC6980-5-3", quote="Redirect")
def test_fragmented_redirect_is_ignored(dut: DUT, how: str) -> None:
    # The valid Redirect of the test above, cut into fragments (or carried in an atomic fragment):
    # the DUT must not move its traffic for FAR; the same Redirect whole is followed (control).
    _gateway(dut)
    redirect = _redirect(dut)
    pieces = [(0, 16, True), (16, len(redirect[ICMPv6ND_Redirect]) - 16, False)] if how == "fragmented" else \
        [(0, len(redirect[ICMPv6ND_Redirect]), False)]
    dut.send(*fragments6(redirect, pieces, ident=0x7550))
    assert _reply_mac(dut, 0x7550) == dut.info.tester_mac, f"traffic followed a Redirect sent {how}"
    dut.send(_redirect(dut))
    assert _reply_mac(dut, 0x7551) == MAC_R


@rfc("RFC4861-8.2-2")
def test_router_never_names_a_global_router_address_as_redirect_target(dut: DUT) -> None:
    # The better first hop for 2001:db8:2::/64 is a router known only by a global address: a
    # redirect would have to name its link-local address, which the DUT does not know, so it
    # sends none (or one naming a link-local target), never one with the global address.
    become_router(dut, 6)
    require_feature(dut, "redirect-send")
    gateway = "2001:db8:1::c4:99"
    dut.add_route(PREFIX, via=gateway)
    dut.add_route("2001:db8:4::/64", via=ROUTER_LL)  # the control's route
    sender = "2001:db8:1::c4:30"
    _introduce(dut, sender, dut.info.other_mac)
    _forwarded(dut, sender, "2001:db8:2::30", 0x7570)
    dut.expect_none(ICMPv6ND_Redirect(tgt=gateway), within=SILENCE_S, barrier=True)
    # Control: forwarded through fe80::1 instead, the same sender's packet is redirected.
    _forwarded(dut, sender, "2001:db8:4::30", 0x7571)
    redirect = dut.expect(IPv6(dst=sender), ICMPv6ND_Redirect(dst="2001:db8:4::30"))
    assert redirect[ICMPv6ND_Redirect].tgt == ROUTER_LL, f"target {redirect[ICMPv6ND_Redirect].tgt}"


@rfc("RFC4861-8.2-1",
     quote="the Source Address field of the packet identifies a neighbor, and")
def test_router_sends_no_redirect_to_a_source_that_is_not_a_neighbor(dut: DUT) -> None:
    # 2001:db8:3::/64 is reached through fe80::1: a packet from 2001:db8:3::31 came through a
    # router, so its source is no neighbor. (Its MAC is known all the same, from a solicitation,
    # so a redirect sent to it would reach the wire rather than wait for address resolution.)
    become_router(dut, 6)
    require_feature(dut, "redirect-send")
    dut.add_route(PREFIX, via=ROUTER_LL)
    dut.add_route("2001:db8:3::/64", via=ROUTER_LL)
    far_sender = "2001:db8:3::31"
    _introduce(dut, far_sender, dut.info.other_mac)
    _forwarded(dut, far_sender, "2001:db8:2::31", 0x7572)
    dut.expect_none(ICMPv6ND_Redirect, within=SILENCE_S, barrier=True)
    # Control: the same forwarding for a sender on the link is redirected.
    sender = "2001:db8:1::c4:31"
    _introduce(dut, sender, dut.info.other_mac)
    _forwarded(dut, sender, "2001:db8:2::32", 0x7573)
    dut.expect(IPv6(dst=sender), ICMPv6ND_Redirect(dst="2001:db8:2::32"))


REDIRECT_PROBES = 30


@rfc("RFC4861-8.2-4")
def test_router_limits_the_rate_of_redirects(dut: DUT) -> None:
    # 30 back-to-back packets, to two destinations in turn, each of which a router would
    # redirect: "A router MUST limit the rate", so not every one draws a redirect (Linux: 6 per
    # destination and per source, then one a second), but the first does. Built before the
    # burst is sent, so the burst is short (as in the ICMPv6 rate-limit tests).
    become_router(dut, 6)
    require_feature(dut, "redirect-send")
    dut.add_route(PREFIX, via=ROUTER_LL)
    sender, dests = "2001:db8:1::c4:40", ("2001:db8:2::40", "2001:db8:2::41")
    _introduce(dut, sender, dut.info.other_mac)
    dut.send(*[bytes(dut.ether(src=dut.info.other_mac) / IPv6(src=sender, dst=dests[seq % 2], hlim=64)
                     / ICMPv6EchoRequest(id=0x7580, seq=seq)) for seq in range(REDIRECT_PROBES)])
    redirects = 0
    while True:
        try:
            dut.expect(IPv6(dst=sender), ICMPv6ND_Redirect, within=0.3)
        except ExpectationFailed:
            break
        redirects += 1
    assert redirects, "no redirect at all: the first packet of the burst must draw one"
    assert redirects < REDIRECT_PROBES, f"all {REDIRECT_PROBES} back-to-back packets drew a redirect"
