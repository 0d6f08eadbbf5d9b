"""ICMP Redirects a forwarding router sends (RFC 1812 5.2.7.2, rate limits 4.3.2.8).

Forwarding is on with a route to 203.0.113.0/24 through the gateway ``other_ipv4`` on the test
link, so a datagram from the tester to that network leaves by the interface it came in on: the
case a Redirect is for. The tester plays the gateway (it answers the DUT's ARP request for
``other_ipv4``) and sees each datagram forwarded after any Redirect about it.

Each test sends from an on-link source of its own, which the tester answers ARP for: a router
limits Redirects per source (Linux keeps a back-off per source address for its whole network
namespace), so one test's Redirects must not use up another's.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP, IPerror
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, ExpectationFailed, icmp_quote, l3_bytes, rfc, with_ipv4_options
from harness.features import optional_feature

REMOTE_NET: Final = "203.0.113.0/24"
REMOTE: Final = "203.0.113.5"
# A source on the far side of the gateway: on no subnet of the DUT's, so not on the next hop's.
FAR_SOURCE: Final = "203.0.113.200"
SOURCES: Final = {
    "host": "198.51.100.71", "control": "198.51.100.72", "burst": "198.51.100.73",
    "passing-through": "198.51.100.74", "through-the-dut": "198.51.100.75",
}
LSRR: Final = 131
BURST: Final = 12  # more than the 9 Redirects Linux sends a source before it falls silent
# Router behaviour (RFC 1812), and Redirects a router "MUST be able to generate": the tests run
# on DUTs that forward and send Redirects.
pytestmark = optional_feature("ipv4-forwarding", "redirect-send")


def _enable(dut: DUT) -> None:
    dut.set_forwarding(4, True)
    dut.add_route(REMOTE_NET, via=str(dut.info.other_ipv4))


def _udp(dut: DUT, ident: int, src: str) -> Packet:
    return dut.ipv4(src=src, dst=REMOTE, id=ident) / UDP(sport=40300, dport=9) / Raw(b"which way?")


def _answer_arp(dut: DUT, *on_link_sources: str) -> None:
    """Answer the DUT's ARP requests, in whatever order they come, for the gateway (as the
    gateway) and for ``on_link_sources`` (as the tester), the destinations of its Redirects."""
    macs = {str(dut.info.other_ipv4): dut.info.other_mac, **dict.fromkeys(on_link_sources, dut.info.tester_mac)}
    while macs:
        request = dut.expect(ARP(op=1), within=2.0)
        mac = macs.pop(request[ARP].pdst, None)
        if mac is not None:
            dut.send(Ether(src=mac, dst=dut.info.dut_mac)
                     / ARP(op=2, hwsrc=mac, psrc=request[ARP].pdst, hwdst=dut.info.dut_mac,
                           pdst=str(dut.info.dut_ipv4.ip)))


def _forwarded(dut: DUT, ident: int) -> Packet:
    return dut.expect(Ether(dst=dut.info.other_mac) / IP(dst=REMOTE, id=ident), within=2.0)


@rfc("RFC1812-5.2.7.2-2", "RFC1812-5.2.7.2-1", "RFC1812-5.2.7.2-7")
def test_redirect_for_the_host_names_the_next_hop(dut: DUT) -> None:
    _enable(dut)
    source = SOURCES["host"]
    sent = _udp(dut, 0xE01, source)
    dut.send(sent)
    _answer_arp(dut, source)
    redirect = dut.expect(IP(dst=source) / ICMP(type=5), within=2.0)
    assert redirect[ICMP].code == 1, f"Redirect code {redirect[ICMP].code}, expected 1 (for the Host)"
    assert redirect[ICMP].gw == str(dut.info.other_ipv4), \
        f"Redirect names {redirect[ICMP].gw}, expected the next hop {dut.info.other_ipv4}"
    assert ip_address(redirect[IP].src) in dut.info.dut_ipv4.network, \
        f"Redirect sent from {redirect[IP].src}, not on the subnet of its destination {source}"
    # The Redirect is about this datagram (its TTL may already be decremented): addresses and
    # the first 8 data octets as sent. And the datagram itself still goes on.
    assert icmp_quote(redirect)[12:28] == l3_bytes(sent)[12:28], "the Redirect quotes another datagram"
    _forwarded(dut, 0xE01)


@rfc("RFC1812-5.2.7.2-6", quote="The IP source address in the packet is on the same Logical IP")
def test_no_redirect_when_the_source_is_off_the_next_hops_subnet(dut: DUT) -> None:
    _enable(dut)
    dut.send(_udp(dut, 0xE02, FAR_SOURCE))
    # Control, after it: from an on-link source the same datagram draws a Redirect. A Redirect
    # about the first (to it through the gateway) would have come before either was forwarded.
    dut.send(_udp(dut, 0xE03, SOURCES["control"]))
    _answer_arp(dut, SOURCES["control"])
    dut.expect(ICMP(type=5) / IPerror(id=0xE03), within=2.0)
    _forwarded(dut, 0xE02)
    dut.expect_none(ICMP(type=5) / IPerror(id=0xE02), within=0)


@rfc("RFC1812-4.3.2.8-2", quote="Redirect")
def test_a_burst_of_redirected_datagrams_draws_fewer_redirects(dut: DUT) -> None:
    _enable(dut)
    source = SOURCES["burst"]
    dut.send(*[_udp(dut, 0xF00 + i, source) for i in range(BURST)])
    _answer_arp(dut, source)
    for i in range(BURST):  # every datagram forwarded: the DUT has handled the whole burst
        _forwarded(dut, 0xF00 + i)
    redirects = 0
    while True:
        try:
            dut.expect(IP(dst=source) / ICMP(type=5), within=0)
        except ExpectationFailed:
            break
        redirects += 1
    # RFC 1812 names no rate. Linux answers a burst with one Redirect, then backs off
    # exponentially from 40 ms; a limit of any kind sends fewer than one per datagram.
    assert 1 <= redirects < BURST, f"{redirects} Redirects for {BURST} datagrams sent back to back"


@pytest.mark.parametrize("route", ["passing-through", "through-the-dut"])
@rfc("RFC1812-5.2.7.2-6", quote="The packet does not contain an IP source route option.")
def test_no_redirect_for_a_source_routed_datagram(dut: DUT, route: str) -> None:
    _enable(dut)
    dut.set_accept_source_route(True)
    source = SOURCES[route]
    remote, onward = ip_address(REMOTE).packed, bytes([203, 0, 113, 6])
    if route == "passing-through":
        # To REMOTE, its loose route going on from there: the DUT is no listed hop and forwards
        # it by its destination, the route option untouched (RFC 791 processes a source route
        # only when "the address in destination field has been reached").
        lsrr, dst = bytes([LSRR, 7, 4]) + onward, REMOTE
        forwarded_lsrr = lsrr
    else:
        # To the DUT, whose loose route names REMOTE next: the DUT follows it.
        lsrr, dst = bytes([LSRR, 7, 4]) + remote, str(dut.info.dut_ipv4.ip)
        forwarded_lsrr = bytes([LSRR, 7, 8]) + dut.info.dut_ipv4.ip.packed
    # The route is the first option, at the start of the options field.
    dut.send(with_ipv4_options(dut.ipv4(src=source, dst=dst, id=0xE04) / UDP(sport=40300, dport=9)
                               / Raw(b"which way?"), lsrr))
    # Control, after it: from the same source the same datagram without the route draws a
    # Redirect. A Redirect about the first would have come before either was forwarded.
    dut.send(_udp(dut, 0xE05, source))
    _answer_arp(dut, source)
    dut.expect(ICMP(type=5) / IPerror(id=0xE05), within=2.0)
    out = bytes(_forwarded(dut, 0xE04)[IP])
    assert out[20:27] == forwarded_lsrr, f"the route forwarded as {out[20:27].hex()}, not {forwarded_lsrr.hex()}"
    dut.expect_none(ICMP(type=5) / IPerror(id=0xE04), within=0)
