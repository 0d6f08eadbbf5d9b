"""RFC 6724 §5 rule 5.5, which RFC 8504 §6.6 (after RFC 8028) asks hosts to implement: "Prefer
addresses in a prefix advertised by the next-hop."

Two routers on the link, each advertising a prefix of its own for SLAAC; their RFC 4191
preferences decide which one is the default router. A UDP datagram to an off-link address must
leave through that router from the address in the prefix it advertised, and after the
preferences swap, through the other router from the other address. Both prefixes share as many
leading bits with the destination (RFC 6724 rule 8 ties), so only rule 5.5 tells them apart.
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from typing import Final

from scapy.layers.inet import UDP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import Ether

from harness import DUT, rfc
from harness.rfc import NDP_HOP_LIMIT
from harness.router_discovery import pio, ra

ROUTER_A: Final = ("fe80::a", "02:00:00:00:00:0a", IPv6Network("2001:db8:a::/64"))
ROUTER_B: Final = ("fe80::b", "02:00:00:00:00:0b", IPv6Network("2001:db8:b::/64"))
PRF_HIGH, PRF_LOW = 1, 3  # RFC 4191 2.1
FAR: Final = "2001:db8:99::1"
SPORT, DPORT = 46725, 9


def _advertise(dut: DUT, preferred: tuple[str, str, IPv6Network]) -> None:
    for src, mac, prefix in (ROUTER_A, ROUTER_B):
        prf = PRF_HIGH if src == preferred[0] else PRF_LOW
        dut.send(ra(dut, pio(autonomous=1, valid=600, preferred=300, prefix=str(prefix.network_address)),
                    src=src, mac=mac, prf=prf, lifetime=1800))
    dut.wait(0.3)


def _datagram(dut: DUT, n: int, dst: str = FAR) -> tuple[IPv6Address, str]:
    """The source address and next-hop MAC of the DUT's next datagram to ``dst``."""
    dut.udp_send(SPORT, b"rule 5.5 #%d" % n, dst, DPORT)
    frame = dut.expect(IPv6(dst=dst), UDP(sport=SPORT, dport=DPORT), within=1.0)
    return IPv6Address(frame[IPv6].src), str(frame[Ether].dst).lower()


@rfc("RFC8504-6.6-2")
def test_source_is_in_the_prefix_the_next_hop_advertised(dut: DUT) -> None:
    dut.udp_bind(SPORT, 6)
    for n, (router, other) in enumerate(((ROUTER_A, ROUTER_B), (ROUTER_B, ROUTER_A))):
        _advertise(dut, router)
        src, next_hop = _datagram(dut, n)
        assert next_hop == router[1], f"the datagram went to {next_hop}, not to the preferred router {router[1]}"
        assert src in router[2], (f"the datagram through the router that advertised {router[2]} came from {src}, "
                                  f"not from the DUT's address in that prefix")
        assert src not in other[2]


@rfc("RFC8504-6.6-2")
def test_source_is_in_the_prefix_of_the_route_s_next_hop_not_the_default_router_s(dut: DUT) -> None:
    # A route names fe80::b as the next hop for 2001:db8:98::/64 while fe80::a is the preferred
    # default router: the datagram to 2001:db8:98::1 leaves through fe80::b, so rule 5.5 prefers
    # the address in the prefix fe80::b advertised.
    dut.udp_bind(SPORT, 6)
    _advertise(dut, ROUTER_A)
    dut.add_route("2001:db8:98::/64", via=ROUTER_B[0])
    src, next_hop = _datagram(dut, 2, dst="2001:db8:98::1")
    assert next_hop == ROUTER_B[1], f"the datagram went to {next_hop}, not to the route's next hop {ROUTER_B[1]}"
    assert src in ROUTER_B[2], (f"the datagram through the router that advertised {ROUTER_B[2]} came from {src}, "
                                f"not from the DUT's address in that prefix")


@rfc("RFC8504-6.6-2")
def test_no_router_s_prefix_is_preferred_for_an_on_link_destination(dut: DUT) -> None:
    # The destination is on the link: it is its own next hop and advertised no prefix, so rule
    # 5.5 prefers no address, and rule 8 (longest matching prefix) picks 2001:db8:1::1, not the
    # address in the prefix of the preferred default router.
    dut.udp_bind(SPORT, 6)
    _advertise(dut, ROUTER_A)
    dest = "2001:db8:1::c4:55"
    dut.udp_send(SPORT, b"rule 5.5 on-link", dest, DPORT)
    ns = dut.expect(ICMPv6ND_NS(tgt=dest), within=1.0)
    dut.send(Ether(src=dut.info.other_mac, dst=dut.info.dut_mac)
             / IPv6(src=dest, dst=ns[IPv6].src, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=dest, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=dut.info.other_mac))
    frame = dut.expect(IPv6(dst=dest), UDP(sport=SPORT, dport=DPORT), within=1.0)
    assert IPv6Address(frame[IPv6].src) == IPv6Address(dut.info.dut_ipv6.ip), (
        f"the datagram to the on-link {dest} came from {frame[IPv6].src}, not from {dut.info.dut_ipv6.ip}")
