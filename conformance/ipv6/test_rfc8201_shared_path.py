"""RFC 8201 §5.2: the path MTU is the path's, whatever packet taught it. A TCP connection sends
bulk data to the tester while a UDP datagram of the DUT to the same address draws a Packet Too
Big: the connection's next segments fit the new estimate.
"""

from __future__ import annotations

from typing import Final

from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet

from harness import DUT, l3_bytes, rfc
from harness.tcp_peer import TCPPeer, established, payload, seq_add

TCP_PORT: Final = 9001
UDP_PORT, UDP_DPORT = 40951, 40952
BULK: Final = bytes(i % 251 for i in range(60_000))
MTU: Final = 1280


def _size(pkt: Packet) -> int:
    return len(l3_bytes(pkt))


def _flight_acknowledged(dut: DUT, peer: TCPPeer, first: Packet) -> None:
    """Take in the flight ``first`` began and acknowledge all of it, so new data follows."""
    dut.wait(0.1)
    flight = [seg for seg in [first, *peer.take_all()] if payload(seg)]
    peer.rcv_nxt = max((seq_add(seg["TCP"].seq, len(payload(seg))) for seg in flight),
                       key=lambda end: (end - first["TCP"].seq) % 2**32)
    peer.send_ack()


@rfc("RFC8201-5.2-11", "RFC8201-5.2-10")
def test_packet_too_big_about_a_udp_datagram_shrinks_the_tcp_segments_on_that_path(dut: DUT) -> None:
    peer, conn = established(dut, TCP_PORT, 6)
    assert dut.tcp_send(conn, BULK) > 0
    first = peer.expect(data=lambda d: len(d) > 1000, update=False)
    assert _size(first) > MTU, f"the connection's segments ({_size(first)} octets) already fit {MTU}"
    dut.udp_bind(UDP_PORT, 6)
    dut.udp_send(UDP_PORT, bytes(1400), peer.addr, UDP_DPORT)
    datagram = dut.expect(IPv6(dst=peer.addr), UDP(sport=UDP_PORT, dport=UDP_DPORT))
    dut.send(peer.icmp_error(datagram, mtu=MTU))
    _flight_acknowledged(dut, peer, first)
    sizes = []
    for _ in range(4):
        seg = peer.expect(data=lambda d: len(d) > 0, within=3.0)
        sizes.append(_size(seg))
        peer.send_ack()
    assert max(sizes) <= MTU, f"after a Packet Too Big ({MTU}) about a UDP datagram the connection sent {sizes} octets"
