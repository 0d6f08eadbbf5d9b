"""RFC 4861 §6.3.5 and RFC 4191 §3.3: a change of the Default Router List reaches traffic that
is already flowing, not only new destinations.

An established TCP connection from an off-link peer (2001:db8:2::5) is the traffic: a host
that caches its next hop per destination (as TCP connections do) must redo next-hop
determination when a router goes away or a better one comes. Which router the DUT uses shows
as the Ethernet destination of its acknowledgments. Router A is the tester (its link-local
address and MAC), router B a second link-local address with the link's other MAC.
"""

from __future__ import annotations

from typing import Final

from scapy.layers.l2 import Ether

from harness import DUT, rfc
from harness.features import optional_feature
from harness.router_discovery import OFF_LINK, ra
from harness.tcp_peer import TCPPeer

ROUTER_B: Final = "fe80::1"
PRF_HIGH, PRF_MEDIUM = 1, 0  # RFC 4191 2.1 Prf values
PORT: Final = 6305


def _connect(dut: DUT) -> TCPPeer:
    dut.tcp_listen(PORT, 6)
    peer = TCPPeer(dut, 6, dut_port=PORT, addr=OFF_LINK)
    peer.connect()
    return peer


def _next_hop_of_ack(dut: DUT, peer: TCPPeer, data: bytes) -> str:
    """The MAC the DUT's acknowledgment of ``data`` goes to."""
    peer.send_data(data)
    ack = peer.expect("A", ack=peer.snd_nxt, within=1.0)
    return str(ack[Ether].dst).lower()


@rfc("RFC4861-6.3.5-1")
def test_connection_through_a_removed_router_moves_to_the_remaining_one(dut: DUT) -> None:
    other = dut.info.other_mac.lower()
    # Two routers of equal preference: whichever the connection starts through is the one that
    # leaves (RFC 4861 leaves the first choice to the host; no RFC 4191 needed).
    routers: dict[str, tuple[str | None, str | None]] = {dut.info.tester_mac.lower(): (None, None),
                                                         other: (ROUTER_B, other)}
    dut.send(*(ra(dut, src=src, mac=mac) for src, mac in routers.values()))
    peer = _connect(dut)
    first = _next_hop_of_ack(dut, peer, b"one")
    assert first in routers, f"the connection started through {first}, neither router"
    (remaining,) = set(routers) - {first}
    src, mac = routers[first]
    dut.send(ra(dut, src=src, mac=mac, lifetime=0))
    hop = _next_hop_of_ack(dut, peer, b"two")
    assert hop == remaining, (
        f"after router {first} left the Default Router List the connection's traffic went to {hop}, not to "
        f"the remaining router {remaining}")


@optional_feature("route-information")
@rfc("RFC4191-3.3-1")
def test_connection_moves_to_a_new_more_preferred_router(dut: DUT) -> None:
    other = dut.info.other_mac.lower()
    dut.send(ra(dut, prf=PRF_MEDIUM))
    peer = _connect(dut)
    assert _next_hop_of_ack(dut, peer, b"one") == dut.info.tester_mac.lower(), "the connection did not start through router A"
    dut.send(ra(dut, src=ROUTER_B, mac=other, prf=PRF_HIGH))
    hop = _next_hop_of_ack(dut, peer, b"two")
    assert hop == other, f"after a High-preference router came the connection's traffic still went to {hop}"
