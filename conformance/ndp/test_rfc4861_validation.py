"""RFC 4861 §6.1, §7.1: validation of Neighbor Advertisements, Router Solicitations, Router
Advertisements, and the Neighbor Solicitation checks conformance/ipv6/ does not cover.

Each invalid message is one the DUT would act on if it skipped the check, and each test shows the
action with a valid message afterwards (the positive control), so a DUT that never acts fails:
- Neighbor Advertisement: the DUT is resolving a neighbor; an accepted advertisement releases the
  queued echo reply to the link-layer address it carries.
- Router Solicitation (DUT as router): an accepted one installs the sender's link-layer address,
  so an echo from the sender is answered without a Neighbor Solicitation first.
- Router Advertisement (DUT as host, no routes): an accepted one makes the sender a default
  router, so an echo from an off-link address is answered through it (the §6.1.2 validity checks
  themselves are in test_rfc4861_router_advertisement_fields.py).
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
    ICMPv6ND_RS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness import (
    DUT,
    bad_checksum,
    echo_request_from,
    expect_echo_reply_to,
    multicast_mac,
    rfc,
    short_icmpv6,
    solicited_node,
)
from harness.features import become_router
from harness.rfc import NDP_HOP_LIMIT

SILENCE_S = 0.6
ALL_NODES = "ff02::1"
ALL_ROUTERS = "ff02::2"
MAC_A = "02:00:00:00:00:04"  # the link-layer address an invalid message carries
MAC_B = "02:00:00:00:00:05"  # the one the valid control message carries
ROUTER_LL = "fe80::1"
FAR = "2001:db8:2::5"  # off-link: reachable only through a default router
UNKNOWN_OPTION = Raw(bytes([253, 1]) + b"future")  # unassigned type 253, Length 1 (8 octets)


def _zero_length_option() -> Raw:
    return Raw(bytes([253, 0, 0, 0, 0, 0, 0, 0]))


def _neighbor(n: int) -> str:
    """An on-link address of its own per test (2001:db8:1::c1:n)."""
    return f"2001:db8:1::c1:{n:x}"


# ---- Neighbor Advertisement (§7.1.2) -----------------------------------------------------------


def _resolve(dut: DUT, nbr: str, ident: int) -> Packet:
    """Make the DUT resolve ``nbr``: an echo request from it needs a reply. Returns the NS."""
    dut.send(
        dut.ether(src=MAC_B)
        / IPv6(src=nbr, dst=str(dut.info.dut_ipv6.ip))
        / ICMPv6EchoRequest(id=ident, seq=1, data=b"resolve-me")
    )
    return dut.expect(ICMPv6ND_NS(tgt=nbr))


def _na(dut: DUT, nbr: str, mac: str, *, dst: str | None = None, hlim: int = NDP_HOP_LIMIT,
        tlla: bool = True, s: int = 1, **icmp: Any) -> Packet:
    ip_dst = dst or str(dut.info.dut_ipv6.ip)
    eth_dst = multicast_mac(ip_dst) if ip_dst.startswith("ff") else dut.info.dut_mac
    na = dut.ether(src=mac, dst=eth_dst) / IPv6(src=nbr, dst=ip_dst, hlim=hlim)
    na = na / ICMPv6ND_NA(tgt=nbr, R=0, S=s, O=1, **icmp)
    return na / ICMPv6NDOptDstLLAddr(lladdr=mac) if tlla else na


INVALID_NAS: dict[str, Callable[[DUT, str], Packet | bytes]] = {
    "hop-limit-254": lambda dut, nbr: _na(dut, nbr, MAC_A, hlim=254),
    "code-1": lambda dut, nbr: _na(dut, nbr, MAC_A, code=1),
    "bad-checksum": lambda dut, nbr: bad_checksum(_na(dut, nbr, MAC_A), ICMPv6ND_NA),
    "icmp-length-23": lambda dut, nbr: short_icmpv6(_na(dut, nbr, MAC_A), 23),
    "solicited-to-multicast": lambda dut, nbr: _na(dut, nbr, MAC_A, dst=ALL_NODES),
    "zero-length-option": lambda dut, nbr: _na(dut, nbr, MAC_A) / _zero_length_option(),
}
NA_CHECKS = {
    "hop-limit-254": "The IP Hop Limit field has a value of 255, i.e., the packet could not possibly "
                     "have been forwarded by a router.",
    "code-1": "ICMP Code is 0.",
    "bad-checksum": "ICMP Checksum is valid.",
    "icmp-length-23": "ICMP length (derived from the IP length) is 24 or more octets.",
    "solicited-to-multicast": "If the IP Destination Address is a multicast address the Solicited flag "
                              "is zero.",
    "zero-length-option": "All included options have a length that is greater than zero.",
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=rfc("RFC4861-7.1.2-1", quote=NA_CHECKS[c])) for c in INVALID_NAS],
)
def test_invalid_advertisement_does_not_complete_resolution(dut: DUT, case: str) -> None:
    nbr = _neighbor(0x10 + list(INVALID_NAS).index(case))
    ident = 0x7120 + list(INVALID_NAS).index(case)
    _resolve(dut, nbr, ident)
    dut.send(INVALID_NAS[case](dut, nbr))
    dut.expect_none(ICMPv6EchoReply(id=ident), within=SILENCE_S, barrier=True)
    dut.send(_na(dut, nbr, MAC_B))  # control: the valid advertisement completes resolution
    expect_echo_reply_to(dut, nbr, ident, MAC_B)


@rfc("RFC4861-7.1.2-2", "RFC4861-4.4-9", "RFC4861-9-1", "RFC4861-9-3")
def test_advertisement_with_reserved_bits_and_unknown_option_is_accepted(dut: DUT) -> None:
    nbr, ident = _neighbor(0x20), 0x7130
    _resolve(dut, nbr, ident)
    na = _na(dut, nbr, MAC_B, tlla=False, res=0x1FFFFFFF) / UNKNOWN_OPTION
    dut.send(na / ICMPv6NDOptDstLLAddr(lladdr=MAC_B))
    expect_echo_reply_to(dut, nbr, ident, MAC_B)


@rfc("RFC4861-7.1.2-3")
def test_advertisement_with_a_prefix_information_option_is_processed(dut: DUT) -> None:
    nbr, ident = _neighbor(0x21), 0x7131
    _resolve(dut, nbr, ident)
    pio = ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, validlifetime=600, preferredlifetime=300,
                                prefix="2001:db8:2::")
    dut.send(_na(dut, nbr, MAC_B, tlla=False) / pio / ICMPv6NDOptDstLLAddr(lladdr=MAC_B))
    expect_echo_reply_to(dut, nbr, ident, MAC_B)


# ---- Neighbor Solicitation (§7.1.1) checks not covered in conformance/ipv6 ------------------------


def _ns_for_dut(dut: DUT) -> Packet:
    target = str(dut.info.dut_ipv6.ip)
    group = solicited_node(target)
    return (
        dut.ether(dst=multicast_mac(group))
        / IPv6(src=str(dut.info.tester_ipv6), dst=group, hlim=NDP_HOP_LIMIT)
        / ICMPv6ND_NS(tgt=target)
        / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac)
    )


def _expect_na_for_dut(dut: DUT) -> None:
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ND_NA(tgt=str(dut.info.dut_ipv6.ip)))


@rfc("RFC4861-7.1.1-1", quote="ICMP length (derived from the IP length) is 24 or more octets.")
def test_solicitation_shorter_than_24_octets_is_ignored(dut: DUT) -> None:
    dut.send(short_icmpv6(_ns_for_dut(dut), 23))
    dut.expect_none(ICMPv6ND_NA, within=SILENCE_S, barrier=True)
    dut.send(_ns_for_dut(dut))
    _expect_na_for_dut(dut)


@rfc("RFC4861-7.1.1-3")
def test_solicitation_with_an_mtu_option_is_answered(dut: DUT) -> None:
    dut.send(_ns_for_dut(dut) / ICMPv6NDOptMTU(mtu=1280))
    _expect_na_for_dut(dut)


# ---- Router Solicitation (§6.1.1) ----------------------------------------------------------------


def _rs(dut: DUT, src: str, mac: str, *, hlim: int = NDP_HOP_LIMIT, **icmp: Any) -> Packet:
    return (
        dut.ether(src=mac, dst=multicast_mac(ALL_ROUTERS))
        / IPv6(src=src, dst=ALL_ROUTERS, hlim=hlim)
        / ICMPv6ND_RS(**icmp)
        / ICMPv6NDOptSrcLLAddr(lladdr=mac)
    )


@rfc("RFC4861-6.1.1-1")
def test_host_ignores_router_solicitation(dut: DUT) -> None:
    # Had the host taken the Source Link-Layer Address from the solicitation, it would answer the
    # echo at once to MAC_A; having learnt nothing, it must resolve the sender first.
    nbr, ident = _neighbor(0x30), 0x7140
    dut.send(_rs(dut, nbr, MAC_A))
    dut.send(echo_request_from(dut, nbr, ident))
    dut.expect(ICMPv6ND_NS(tgt=nbr))


INVALID_RSS: dict[str, tuple[str, Callable[[DUT, str], Packet | bytes]]] = {
    "hop-limit-254": ("The IP Hop Limit field has a value of 255, i.e., the packet could not possibly "
                      "have been forwarded by a router.", lambda dut, src: _rs(dut, src, MAC_A, hlim=254)),
    "code-1": ("ICMP Code is 0.", lambda dut, src: _rs(dut, src, MAC_A, code=1)),
    "bad-checksum": ("ICMP Checksum is valid.", lambda dut, src: bad_checksum(_rs(dut, src, MAC_A), ICMPv6ND_RS)),
    "icmp-length-7": ("ICMP length (derived from the IP length) is 8 or more octets.",
                      lambda dut, src: short_icmpv6(_rs(dut, src, MAC_A), 7)),
    "zero-length-option": ("All included options have a length that is greater than zero.",
                           lambda dut, src: _rs(dut, src, MAC_A) / _zero_length_option()),
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=rfc("RFC4861-6.1.1-2", quote=text)) for c, (text, _) in INVALID_RSS.items()],
)
def test_router_ignores_invalid_router_solicitation(dut: DUT, case: str) -> None:
    # RFC 4861 §6.2.6: a valid solicitation with a Source Link-Layer Address option creates a
    # STALE Neighbor Cache entry for its sender, so the router answers it without resolving.
    become_router(dut, 6)
    index = list(INVALID_RSS).index(case)
    bad, good = _neighbor(0x40 + index), _neighbor(0x50 + index)
    dut.send(INVALID_RSS[case][1](dut, bad))
    dut.send(echo_request_from(dut, bad, 0x7150 + index))
    dut.expect(ICMPv6ND_NS(tgt=bad))  # nothing learnt: the router must resolve the sender
    dut.send(_rs(dut, good, MAC_B))  # control: a valid solicitation is learnt from
    dut.send(echo_request_from(dut, good, 0x7160 + index))
    expect_echo_reply_to(dut, good, 0x7160 + index, MAC_B)


# ---- Router Advertisement (§6.1.2) ---------------------------------------------------------------


def _ra(dut: DUT, *, src: str = ROUTER_LL, hlim: int = NDP_HOP_LIMIT, lifetime: int = 600,
        slla: bool = True, **icmp: Any) -> Packet:
    ra = (
        dut.ether(src=MAC_B, dst=multicast_mac(ALL_NODES))
        / IPv6(src=src, dst=ALL_NODES, hlim=hlim)
        / ICMPv6ND_RA(chlim=0, M=0, O=0, routerlifetime=lifetime, reachabletime=0, retranstimer=0, **icmp)
    )
    return ra / ICMPv6NDOptSrcLLAddr(lladdr=MAC_B) if slla else ra


def _far_echo(dut: DUT, ident: int) -> Packet:
    return dut.ether(src=MAC_B) / IPv6(src=FAR, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(id=ident, seq=1)


def _expect_no_default_router(dut: DUT, ident: int) -> None:
    dut.send(_far_echo(dut, ident))
    dut.expect_none(ICMPv6EchoReply(id=ident), within=SILENCE_S, barrier=True)


def _expect_default_router(dut: DUT, ident: int) -> None:
    dut.send(_far_echo(dut, ident))
    reply = dut.expect(IPv6(dst=FAR), ICMPv6EchoReply(id=ident, seq=1))
    assert reply[Ether].dst.lower() == MAC_B, f"reply to the off-link source sent to {reply[Ether].dst}"


# The §6.1.2 validity checks and unrecognized options are tested in test_rfc4861_router_advertisement_fields.py.


@rfc("RFC4861-6.1.2-3", "RFC4861-4.6.1-1")
def test_router_advertisement_with_a_target_link_layer_option_is_processed(dut: DUT) -> None:
    _expect_no_default_router(dut, 0x7192)
    dut.send(_ra(dut) / ICMPv6NDOptDstLLAddr(lladdr=MAC_A))
    _expect_default_router(dut, 0x7193)
