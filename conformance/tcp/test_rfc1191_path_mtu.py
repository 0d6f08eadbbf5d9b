"""RFC 1191 section 3 and RFC 8201 sections 4 and 5.4, seen through a TCP bulk transfer: how the
DUT's path MTU estimate follows Fragmentation Needed / Packet Too Big messages about its
segments (lowered at once, never below 68 octets, never raised by a message, also when the
message carries no MTU), that a message about a packet the DUT never sent is not believed, and
that a smaller path MTU is not taken as congestion.

Path MTU Discovery is optional for an IPv4 host (RFC 1122 does not require it): the IPv4 tests
skip where the DUT's segments do not carry DF."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet

from harness import DUT, TCPConn, rfc
from harness.rfc import TCP_INITIAL_RTO
from harness.tcp_peer import TCPPeer, established, payload, seq_add

PORT: Final = 9000
BULK: Final = bytes(i % 251 for i in range(60_000))


def _size(seg: Packet) -> int:
    return len(bytes(seg[IP] if IP in seg else seg[IPv6]))


def _bulk(dut: DUT, family: int = 4) -> tuple[TCPPeer, TCPConn, Packet]:
    """A connection sending bulk data, and its first full-sized segment (not acknowledged)."""
    peer, conn = established(dut, PORT, family)  # type: ignore[arg-type]
    assert dut.tcp_send(conn, BULK) > 0
    big = peer.expect(data=lambda d: len(d) > 1000, update=False)
    if family == 4 and not big[IP].flags.DF:
        pytest.skip("the DUT's TCP segments do not carry DF: it does not do IPv4 Path MTU Discovery "
                    "(optional for a host), so RFC 1191's rules for it do not apply")
    return peer, conn, big


def _next_sizes(peer: TCPPeer, count: int) -> list[int]:
    """Datagram sizes of the DUT's next ``count`` data segments, each acknowledged as it comes."""
    sizes = []
    for _ in range(count):
        seg = peer.expect(data=lambda d: len(d) > 0, within=3.0)
        sizes.append(_size(seg))
        peer.send_ack()
    return sizes


@rfc("RFC1191-3-2", "RFC1191-3-3", "RFC1191-3-4")
def test_after_fragmentation_needed_every_datagram_fits_the_new_mtu(dut: DUT) -> None:
    peer, _conn, big = _bulk(dut)
    dut.send(peer.icmp_error(big, type=3, code=4, mtu=1000))
    # "as fast as possible": the data goes again in smaller datagrams at once, well before the
    # retransmission timer (at least 1 s, RFC 6298 2.4) would have sent it.
    resent = peer.expect(seq=big[TCP].seq, data=lambda d: len(d) > 0, within=TCP_INITIAL_RTO / 2, update=False)
    assert _size(resent) <= 1000, f"the data went again in a {_size(resent)}-octet datagram after MTU 1000"
    peer.take_all()
    peer.rcv_nxt = seq_add(big[TCP].seq, len(payload(resent)))
    peer.send_ack()
    sizes = _next_sizes(peer, 8)
    assert max(sizes) <= 1000, f"after Fragmentation Needed (MTU 1000) datagrams of {sizes} octets"


@rfc("RFC1191-3-7")
def test_fragmentation_needed_without_a_next_hop_mtu_still_lowers_the_estimate(dut: DUT) -> None:
    peer, _conn, big = _bulk(dut)
    dut.send(peer.icmp_error(big, type=3, code=4, mtu=0))  # an RFC 792 router: the field is zero
    resent = peer.expect(seq=big[TCP].seq, data=lambda d: len(d) > 0, within=3.0, update=False)
    assert _size(resent) < _size(big), (
        f"a Fragmentation Needed without MTU about a {_size(big)}-octet datagram, and the data "
        f"went again in {_size(resent)} octets")


@rfc("RFC1191-3-8")
def test_the_estimate_never_falls_below_68_octets(dut: DUT) -> None:
    peer, conn, big = _bulk(dut)
    dut.send(peer.icmp_error(big, type=3, code=4, mtu=40))  # below the IPv4 minimum of 68
    peer.take_all()
    peer.rcv_nxt = big[TCP].seq
    peer.send_ack()
    sizes = _next_sizes(peer, 4)
    assert min(sizes) >= 68, f"after a next-hop MTU of 40, datagrams of {sizes} octets (below 68)"
    assert dut.tcp_state(conn) == "ESTABLISHED"


@rfc("RFC1191-3-9")
def test_a_larger_mtu_in_a_later_message_does_not_raise_the_estimate(dut: DUT) -> None:
    peer, _conn, big = _bulk(dut)
    dut.send(peer.icmp_error(big, type=3, code=4, mtu=1000))
    resent = peer.expect(seq=big[TCP].seq, data=lambda d: len(d) > 0, within=3.0, update=False)
    assert _size(resent) <= 1000  # positive control: the first message was taken
    # A second message about the smaller datagram, still unacknowledged, claims MTU 1400.
    dut.send(peer.icmp_error(resent, type=3, code=4, mtu=1400))
    peer.take_all()
    peer.rcv_nxt = big[TCP].seq
    peer.send_ack()
    sizes = _next_sizes(peer, 6)
    assert max(sizes) <= 1000, f"a Datagram Too Big claiming 1400 raised the estimate: datagrams of {sizes} octets"


def _acknowledge_the_flight(dut: DUT, peer: TCPPeer, big: Packet) -> int:
    """Take in the DUT's flight that ``big`` began, acknowledge all of it at once (freeing the
    whole window), and return how many data segments it held."""
    dut.wait(0.1)  # the rest of the flight, sent at once behind ``big``
    flight = [seg for seg in [big, *peer.take_all()] if payload(seg)]
    peer.rcv_nxt = max((seq_add(seg[TCP].seq, len(payload(seg))) for seg in flight),
                       key=lambda end: (end - big[TCP].seq) % 2**32)
    peer.send_ack()
    return len({seg[TCP].seq for seg in flight})


@rfc("RFC8201-4-1")
def test_a_packet_too_big_about_a_packet_never_sent_is_not_believed(dut: DUT) -> None:
    peer, _conn, big = _bulk(dut, 6)
    # The same addresses, but a connection that does not exist: the DUT never sent this packet.
    forged = big.copy()
    forged[TCP].sport, forged[TCP].dport = PORT + 1, peer.port + 1
    forged[TCP].seq = seq_add(big[TCP].seq, 0x4000_0000)
    dut.send(peer.icmp_error(forged, mtu=1280))
    _acknowledge_the_flight(dut, peer, big)
    real = peer.expect(data=lambda d: len(d) > 0, within=3.0, update=False)
    assert _size(real) > 1280, f"a Packet Too Big quoting a packet never sent shrank the segments to {_size(real)} octets"
    # Positive control: the same message quoting a packet the DUT did send is believed.
    dut.send(peer.icmp_error(real, mtu=1280))
    peer.expect(data=lambda d: 0 < len(d) <= 1280 - 60, within=3.0, update=False)


@rfc("RFC8201-5.4-6")
def test_a_packet_too_big_is_not_a_congestion_signal(dut: DUT) -> None:
    peer, _conn, big = _bulk(dut, 6)
    dut.send(peer.icmp_error(big, mtu=1280))
    resent = peer.expect(seq=big[TCP].seq, data=lambda d: len(d) > 0, within=3.0, update=False)
    assert _size(resent) <= 1280  # positive control: the message was taken
    first = _acknowledge_the_flight(dut, peer, big)  # the initial window, in segments
    dut.wait(0.2)
    burst = [seg for seg in peer.take_all() if payload(seg)]
    # A loss would halve the window (RFC 5681 3.2) or shrink it to one segment (after an RTO);
    # the probe's loss "must not be considered as a congestion notification": the DUT sends at
    # least as many segments at once as in its first flight.
    assert len(burst) >= first, (
        f"a first flight of {first} segments, and after the Packet Too Big and an ACK of all of them "
        f"a burst of only {len(burst)}")
