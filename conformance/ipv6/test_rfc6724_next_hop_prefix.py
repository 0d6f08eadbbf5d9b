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
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from harness import DUT, rfc
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


def _datagram(dut: DUT, n: int) -> tuple[IPv6Address, str]:
    """The source address and next-hop MAC of the DUT's next datagram to FAR."""
    dut.udp_send(SPORT, b"rule 5.5 #%d" % n, FAR, DPORT)
    frame = dut.expect(IPv6(dst=FAR), UDP(sport=SPORT, dport=DPORT), within=1.0)
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
