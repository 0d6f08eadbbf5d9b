"""RFC 4861 §4.6, §5.1, §6.3.4, §9: how a host reads Neighbor Discovery options: the fields it
must ignore, the options it must ignore in messages that do not use them, the order and the
absence of options, and the on-link flag of a Prefix Information option.

Observed as in test_rfc4861_router_advertisement.py: the tester's link-local address plays the
router, an on-link prefix shows in the DUT resolving an address of it itself (a multicast
Neighbor Solicitation) instead of answering through the router, an address formed from a
prefix shows in ``ipv6_addresses``, and the link MTU in whether a 1348-octet echo reply is
fragmented. Each address of 2001:db8:2::/64 is probed once (an INCOMPLETE entry would swallow a
second probe), and every "ignored" is shown beside the effect the same option has where it
belongs.
"""

from __future__ import annotations

import ipaddress
from typing import Final

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptRedirectedHdr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, eui64_address, rfc, solicited_node
from harness.rfc import NDP_HOP_LIMIT
from harness.router_discovery import PREFIX, SILENCE_S, echo, pio, ra, reply_pieces, uses_router

NETWORK: Final = ipaddress.IPv6Network(f"{PREFIX}/64")
MAC_N: Final = "02:00:00:00:00:06"  # a neighbor the DUT resolves


def _member(n: int) -> str:
    """A fresh address of 2001:db8:2::/64 per probe."""
    return str(NETWORK[0x100 + n])


def _is_on_link(dut: DUT, n: int) -> None:
    """The DUT resolves ``_member(n)`` itself to answer it: the prefix is on-link."""
    src = _member(n)
    dut.send(echo(dut, n, src=src))
    dut.expect(IPv6(dst=solicited_node(src)), ICMPv6ND_NS(tgt=src), within=1.0)


def _is_unreachable(dut: DUT, n: int) -> None:
    """No route at all: neither an answer nor a solicitation."""
    src = _member(n)
    dut.send(echo(dut, n, src=src))
    dut.expect_none(ICMPv6ND_NS(tgt=src), within=SILENCE_S)
    dut.expect_none(ICMPv6EchoReply(seq=n), within=0.0)


def _slaac_address(dut: DUT) -> ipaddress.IPv6Address:
    return eui64_address(NETWORK, dut.info.dut_mac)


def _has_address_in(dut: DUT, network: ipaddress.IPv6Network) -> list[ipaddress.IPv6Address]:
    return [a.interface.ip for a in dut.ipv6_addresses() if a.interface.ip in network]


# ---- the on-link flag (§4.6.2, §6.3.4) -------------------------------------------------------------

@pytest.mark.parametrize("valid", [60, 0], ids=["L0", "L0-valid-0"])
@rfc("RFC4861-4.6.2-1", "RFC4861-4.6.2-2", "RFC4861-6.3.4-15")
def test_prefix_option_without_on_link_flag_leaves_an_on_link_prefix_on_link(dut: DUT, valid: int) -> None:
    dut.send(ra(dut, pio(on_link=1)))
    _is_on_link(dut, 1)
    # The same prefix without L (a zero Valid Lifetime too): "the advertisement makes no
    # statement about on-link or off-link properties of the prefix".
    dut.send(ra(dut, pio(on_link=0, valid=valid, preferred=0)))
    _is_on_link(dut, 2)


# ---- fields the receiver ignores ---------------------------------------------------------------------

@rfc("RFC4861-4.6.2-3", "RFC4861-4.6.2-5")
def test_prefix_option_with_reserved_fields_set_is_processed(dut: DUT) -> None:
    # Reserved1: the five bits RFC 4861 still leaves unused (RFC 6275 took the first for its R
    # flag); Reserved2: all 32. First with L and A clear: ignored, the reserved bits stand for
    # neither flag, so the prefix stays off-link (answered through the router) and forms no
    # address; then with both set (the control).
    def option(flags: int) -> Packet:
        return ICMPv6NDOptPrefixInfo(prefixlen=64, L=flags, A=flags, res1=0x1F, res2=0xFFFFFFFF, validlifetime=600,
                                     preferredlifetime=300, prefix=PREFIX)

    dut.send(ra(dut, option(0)))
    uses_router(dut, 2, src=_member(2))
    assert not _has_address_in(dut, NETWORK), (
        f"an address formed from a prefix whose A flag is clear (Reserved1 set): {dut.ipv6_addresses()}")
    dut.send(ra(dut, option(1)))
    _is_on_link(dut, 1)
    assert _slaac_address(dut) in _has_address_in(dut, NETWORK), (
        f"no address formed from a Prefix Information option with reserved fields set: {dut.ipv6_addresses()}")


@rfc("RFC4861-4.6.2-6")
def test_prefix_bits_after_the_prefix_length_are_ignored(dut: DUT) -> None:
    # 2001:db8:2::ffff:1/64: the bits after the 64th are set; the prefix is 2001:db8:2::/64.
    option = pio(on_link=1, autonomous=1, prefix="2001:db8:2::ffff:1", valid=600, preferred=300)
    dut.send(ra(dut, option))
    _is_on_link(dut, 1)
    formed = _has_address_in(dut, NETWORK)
    assert formed == [_slaac_address(dut)], (
        f"expected the address {_slaac_address(dut)} formed from the first 64 bits only, got {formed}")


@rfc("RFC4861-4.6.4-1")
def test_mtu_option_with_reserved_field_set_is_applied(dut: DUT) -> None:
    assert len(reply_pieces(dut, 1)) == 1, "the reply was fragmented before any MTU option"
    dut.send(ra(dut, ICMPv6NDOptMTU(res=0xFFFF, mtu=1280)))
    pieces = reply_pieces(dut, 2)
    assert len(pieces) > 1, "a 1348-octet reply was not fragmented after an MTU option of 1280"
    assert max(40 + p[IPv6].plen for p in pieces) <= 1280


# ---- options in messages that do not use them ----------------------------------------------------------

def _resolving(dut: DUT, nbr: str, ident: int) -> None:
    """Make the DUT resolve on-link ``nbr`` to answer its echo request."""
    dut.send(dut.ether(src=MAC_N) / IPv6(src=nbr, dst=str(dut.info.dut_ipv6.ip))
             / ICMPv6EchoRequest(id=ident, seq=1, data=b"resolve"))
    dut.expect(ICMPv6ND_NS(tgt=nbr), within=1.0)


def _advert(dut: DUT, nbr: str, *options: Packet) -> Packet:
    frame = (dut.ether(src=MAC_N) / IPv6(src=nbr, dst=str(dut.info.dut_ipv6.ip), hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=nbr, R=0, S=1, O=1))
    for option in options:
        frame = frame / option
    return frame / ICMPv6NDOptDstLLAddr(lladdr=MAC_N)


def _resolved(dut: DUT, nbr: str, ident: int) -> None:
    reply = dut.expect(IPv6(dst=nbr), ICMPv6EchoReply(id=ident), within=1.0)
    assert reply[Ether].dst.lower() == MAC_N


@rfc("RFC4861-4.6.2-8")
def test_prefix_option_in_a_neighbor_advertisement_is_ignored(dut: DUT) -> None:
    nbr = "2001:db8:1::c6:1"
    _resolving(dut, nbr, 0x4681)
    dut.send(_advert(dut, nbr, pio(on_link=1, autonomous=1, valid=600, preferred=300)))
    _resolved(dut, nbr, 0x4681)  # the advertisement itself was processed
    assert not _has_address_in(dut, NETWORK), f"an address was formed from an NA's prefix option: {dut.ipv6_addresses()}"
    _is_unreachable(dut, 1)  # nor did the prefix become on-link (the DUT has no router)
    # Control: the same option in a Router Advertisement does both.
    dut.send(ra(dut, pio(on_link=1, autonomous=1, valid=600, preferred=300), lifetime=0))
    _is_on_link(dut, 2)
    assert _slaac_address(dut) in _has_address_in(dut, NETWORK)


@rfc("RFC4861-4.6.3-2")
def test_redirected_header_option_in_a_neighbor_advertisement_is_ignored(dut: DUT) -> None:
    nbr = "2001:db8:1::c6:2"
    _resolving(dut, nbr, 0x4682)
    quoted = IPv6(src=str(dut.info.dut_ipv6.ip), dst=nbr) / ICMPv6EchoReply(id=0x4682, seq=1)
    dut.send(_advert(dut, nbr, ICMPv6NDOptRedirectedHdr(pkt=bytes(quoted))))
    _resolved(dut, nbr, 0x4682)


@rfc("RFC4861-4.6.4-2")
def test_mtu_option_in_a_neighbor_advertisement_is_ignored(dut: DUT) -> None:
    nbr = "2001:db8:1::c6:3"
    _resolving(dut, nbr, 0x4683)
    dut.send(_advert(dut, nbr, ICMPv6NDOptMTU(mtu=1280)))
    _resolved(dut, nbr, 0x4683)
    assert len(reply_pieces(dut, 1)) == 1, "an NA's MTU option lowered the link MTU"
    dut.send(ra(dut, ICMPv6NDOptMTU(mtu=1280)))  # control: in an RA the option is used
    assert len(reply_pieces(dut, 2)) > 1


# ---- the link-local prefix (§4.6.2, §5.1) ---------------------------------------------------------------

@rfc("RFC4861-5.1-1", "RFC4861-4.6.2-7")
def test_advertised_link_local_prefix_does_not_expire_the_link_local_prefix(dut: DUT) -> None:
    dut.set_ipv6_option("accept_ra", 1)  # a control verb: this test waits seconds of real time
    # fe80::/64 advertised on-link for 2 s: were it taken, fe80::/64 would leave the Prefix List.
    dut.send(ra(dut, pio(prefix="fe80::", on_link=1, valid=2, preferred=1)))
    dut.wait(2.6)
    neighbor = "fe80::c6:4"
    dut.send(dut.ether(src=MAC_N) / IPv6(src=neighbor, dst=str(dut.info.dut_ipv6_ll))
             / ICMPv6EchoRequest(id=0x4684, seq=1))
    ns = dut.expect(ICMPv6ND_NS(tgt=neighbor), within=1.0)
    dut.send(dut.ether(src=MAC_N) / IPv6(src=neighbor, dst=ns[IPv6].src, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=neighbor, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=MAC_N))
    reply = dut.expect(IPv6(dst=neighbor), ICMPv6EchoReply(id=0x4684), within=1.0)
    assert reply[Ether].dst.lower() == MAC_N


# ---- order and absence of options (§9) -----------------------------------------------------------------

@rfc("RFC4861-9-8")
def test_options_are_processed_whatever_their_order(dut: DUT) -> None:
    frame = ra(dut, pio(on_link=1, autonomous=1, valid=600, preferred=300), ICMPv6NDOptMTU(mtu=1280),
               ICMPv6NDOptSrcLLAddr(lladdr=dut.info.other_mac), src="fe80::c6:5", mac=dut.info.other_mac,
               slla=False)
    dut.send(frame)
    _is_on_link(dut, 1)
    assert _slaac_address(dut) in _has_address_in(dut, NETWORK)
    assert len(reply_pieces(dut, 2)) > 1, "the MTU option after the prefix option was not applied"
    # The Source Link-Layer Address option, last: the router's MAC is known without a solicitation.
    off_link = "2001:db8:3::5"
    dut.send(echo(dut, 3, src=off_link))
    dut.expect(Ether(dst=dut.info.other_mac), IPv6(dst=off_link), ICMPv6EchoReply(seq=3), within=1.0)
    dut.expect_none(ICMPv6ND_NS(tgt="fe80::c6:5"), within=0.2)


@rfc("RFC4861-9-7", "RFC4861-6.3.4-1")
def test_advertisement_without_options_keeps_what_earlier_ones_said(dut: DUT) -> None:
    dut.send(ra(dut, pio(on_link=1, autonomous=1, valid=600, preferred=300), ICMPv6NDOptMTU(mtu=1280)))
    _is_on_link(dut, 1)
    assert len(reply_pieces(dut, 2)) > 1
    # The router's next advertisement carries neither the prefix nor the MTU.
    dut.send(ra(dut))
    _is_on_link(dut, 3)
    assert _slaac_address(dut) in _has_address_in(dut, NETWORK), "the address went with the next advertisement"
    assert len(reply_pieces(dut, 4)) > 1, "the MTU went with the next advertisement"
