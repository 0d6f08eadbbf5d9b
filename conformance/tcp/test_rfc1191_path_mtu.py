"""RFC 1191 section 3 and RFC 8201 sections 4 and 5.4, seen through a TCP bulk transfer: how the
DUT's path MTU estimate follows Fragmentation Needed / Packet Too Big messages about its
segments (lowered at once, never below 68 octets, never raised by a message, also when the
message carries no MTU), that a message about a packet the DUT never sent is not believed, and
that a smaller path MTU is not taken as congestion.

Path MTU Discovery is optional for an IPv4 host (RFC 1122 does not require it): the IPv4 tests
skip where the DUT's segments do not carry DF."""

from __future__ import annotations

from typing import Any, Final

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6PacketTooBig, IPv6, IPv6ExtHdrFragment
from scapy.packet import Packet, Raw

from harness import DUT, TCPConn, l3_bytes, rfc
from harness.rfc import TCP_INITIAL_RTO
from harness.tcp_peer import TCPPeer, datagram_size, established, payload, resent_smaller, seq_add, seq_lt
from harness.time_budget import require_dut_time

PORT: Final = 9000
BULK: Final = bytes(i % 251 for i in range(60_000))
# Where the tester must answer the DUT's segments before its retransmission timer runs out, the
# peer's handshake ACK waits this long: the timer then runs about three times it (RFC 6298 2.2),
# not at Linux's 200-ms floor, which a loaded tester can miss.
HANDSHAKE_RTT: Final = 0.5


def _size(seg: Packet) -> int:
    """The datagram's size; a TCP segment fragmented by the IP layer fails the test (the segment
    itself should have shrunk, RFC 8201 5.4's packetization layer)."""
    assert IPv6ExtHdrFragment not in seg, "the DUT fragmented a TCP segment instead of sending a smaller one"
    return datagram_size(seg)


def _bulk(dut: DUT, family: int = 4, **peer_options: Any) -> tuple[TCPPeer, TCPConn, Packet]:
    """A connection sending bulk data, and its first full-sized segment (not acknowledged)."""
    peer, conn = established(dut, PORT, family, **peer_options)  # type: ignore[arg-type]
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
    resent, _ = resent_smaller(peer, big, size=_size, within=TCP_INITIAL_RTO / 2)
    assert _size(resent) <= 1000, f"the data went again in a {_size(resent)}-octet datagram after MTU 1000"
    peer.take_all()
    peer.rcv_nxt = seq_add(big[TCP].seq, len(payload(resent)))
    peer.send_ack()
    sizes = _next_sizes(peer, 8)
    assert max(sizes) <= 1000, f"after Fragmentation Needed (MTU 1000) datagrams of {sizes} octets"


# MSS 1452: datagrams of 1,492 octets, exactly a plateau of RFC 1191 Table 7-1, which the search
# of section 5 must go below, not stay at.
@pytest.mark.parametrize("mss", [pytest.param(None, id="link-mss"), pytest.param(1452, id="plateau-sized")])
@rfc("RFC1191-3-7")
def test_fragmentation_needed_without_a_next_hop_mtu_still_lowers_the_estimate(dut: DUT, mss: int | None) -> None:
    peer, _conn, big = _bulk(dut) if mss is None else _bulk(dut, mss=mss)
    dut.send(peer.icmp_error(big, type=3, code=4, mtu=0))  # an RFC 792 router: the field is zero
    resent_smaller(peer, big, size=_size)  # fails unless the data goes again in a smaller datagram


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
    resent, _ = resent_smaller(peer, big, size=_size)
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
    whole window), and return how many full-sized data segments (``big``'s size) it held: the
    first flight, without the smaller copies a Packet Too Big made the DUT send again."""
    flight = _first_flight(dut, peer, big)
    _ack_all(peer, flight, big)
    return len({seg[TCP].seq for seg in flight if len(payload(seg)) == len(payload(big))})


def _first_flight(dut: DUT, peer: TCPPeer, big: Packet) -> list[Packet]:
    """The data segments of the flight ``big`` began: it and the rest, sent at once behind it."""
    dut.wait(0.1)
    return [seg for seg in [big, *peer.take_all()] if payload(seg)]


def _ack_all(peer: TCPPeer, flight: list[Packet], big: Packet) -> None:
    """One ACK of every octet of ``flight``, which ``big`` began."""
    peer.rcv_nxt = max((seq_add(seg[TCP].seq, len(payload(seg))) for seg in flight),
                       key=lambda end: (end - big[TCP].seq) % 2**32)
    peer.send_ack()


def _data_segments_until_quiet(peer: TCPPeer, enough: int, quiet: float = 0.2) -> list[Packet]:
    """The data segments the DUT sends from now on, until ``enough`` have come or none came for
    ``quiet`` seconds: a loaded tester or DUT may deliver one burst in parts, and a DUT that has
    shrunk its window sends no more until an ACK or its retransmission timer."""
    burst: list[Packet] = []
    while len(burst) < enough:
        try:
            burst.append(peer.expect(data=lambda d: len(d) > 0, within=quiet))
        except AssertionError:
            break
    return burst


@pytest.mark.parametrize("quote", [pytest.param("another-connection", id="another-connection"),
                                   pytest.param("two-octets", id="too-short-to-name-a-connection")])
@rfc("RFC8201-4-1")
def test_a_packet_too_big_about_a_packet_never_sent_is_not_believed(dut: DUT, quote: str) -> None:
    peer, _conn, big = _bulk(dut, 6)
    if quote == "another-connection":
        # The same addresses, but a connection that does not exist: the DUT never sent this packet.
        forged = big.copy()
        forged[TCP].sport, forged[TCP].dport = PORT + 1, peer.port + 1
        forged[TCP].seq = seq_add(big[TCP].seq, 0x4000_0000)
        dut.send(peer.icmp_error(forged, mtu=1280))
    else:
        # The packet's IPv6 header and the first two octets of its TCP header: not even the
        # destination port, let alone a sequence number, to match a segment in flight with.
        dut.send(dut.ipv6(src=peer.addr, dst=peer.dut_addr) / ICMPv6PacketTooBig(mtu=1280) / Raw(l3_bytes(big)[:42]))
    _acknowledge_the_flight(dut, peer, big)
    # New data, past the ACK: a Packet Too Big quoting data already acknowledged need not be
    # believed either.
    real = peer.expect(seq=lambda s: not seq_lt(s, peer.rcv_nxt), data=lambda d: len(d) > 0, within=3.0,
                       update=False)
    assert _size(real) > 1280, f"a Packet Too Big quoting a packet never sent shrank the segments to {_size(real)} octets"
    # Positive control: the same message quoting a packet the DUT did send is believed.
    dut.send(peer.icmp_error(real, mtu=1280))
    peer.expect(data=lambda d: 0 < len(d) <= 1280 - 60, within=3.0, update=False)


@rfc("RFC8201-5.4-6")
def test_a_packet_too_big_is_not_a_congestion_signal(dut: DUT) -> None:
    # The window must see no timeout before the tester's ACK of the flight: a longer handshake
    # gives a loaded tester room; the RFC's point does not depend on the timer.
    peer, _conn, big = _bulk(dut, 6, rtt=HANDSHAKE_RTT)
    dut.send(peer.icmp_error(big, mtu=1280))
    resent, timer_copies = resent_smaller(peer, big, size=_size)
    assert _size(resent) <= 1280  # positive control: the message was taken
    if timer_copies:
        pytest.skip("the retransmission timer ran out before the Packet Too Big was taken in (a loaded tester): "
                    "the window rightly shrank, so the burst shows nothing of how the message was taken")
    flight = _first_flight(dut, peer, big)
    _ack_all(peer, flight, big)
    first = len({seg[TCP].seq for seg in flight if len(payload(seg)) == len(payload(big))})  # the initial window
    burst = _data_segments_until_quiet(peer, enough=first)
    # The first segment's data went again after the message; a further copy is the timer's, run
    # out before the tester's ACK of the flight came: a timeout, after which the window rightly
    # starts at one segment (RFC 5681 3.1).
    again = [seg for seg in [*flight, *burst] if seg[TCP].seq == big[TCP].seq and seg.time > resent.time]
    if again:
        pytest.skip(f"the DUT sent the first segment's data again {float(again[0].time) - float(resent.time):.2f} s "
                    f"after answering the Packet Too Big, before the tester's ACK (sent "
                    f"{peer.last_sent - float(resent.time):.2f} s after it) came: its retransmission timer ran out "
                    "(a loaded tester), and the window rightly shrank")
    # A loss would halve the window (RFC 5681 3.2) or shrink it to one segment (after an RTO);
    # the probe's loss "must not be considered as a congestion notification": the DUT sends at
    # least as many segments at once as in its first flight.
    assert len(burst) >= first, (
        f"a first flight of {first} segments, and after the Packet Too Big and an ACK of all of them "
        f"a burst of only {len(burst)}")


@rfc("RFC5681-3.1-7", "RFC5681-3.1-8")
def test_a_smaller_path_mtu_scales_the_window_down_by_the_segment_sizes(dut: DUT) -> None:
    peer, _conn, big = _bulk(dut)
    flight = _first_flight(dut, peer, big)
    first = len({seg[TCP].seq for seg in flight})
    # cwnd "SHOULD be reduced by the ratio of the old segment size to the new segment size": the
    # first flight's segments of the old size become as many of the new. Kept in octets, the
    # window would let first * old / 536 segments go at once.
    kept = first * len(payload(big)) // 536
    dut.send(peer.icmp_error(big, type=3, code=4, mtu=576))  # segments of 536 octets from now on
    dut.barrier()
    dut.wait(0.3)
    resent = _data_by_seq(peer)  # the first flight's data, sent again in smaller segments
    sizes = {len(payload(seg)) for seg in resent.values()}
    assert resent and max(sizes) <= 536, f"after Fragmentation Needed (MTU 576) data segments of {sorted(sizes)} octets"
    window, how = len(resent), "sent again before any ACK"
    if window < first:
        # The DUT counts the rest of the first flight as still in flight and holds it back: an
        # ACK of all of it frees the window, which the ACK may grow by one segment (RFC 5681
        # 3.1: "at most SMSS bytes for each ACK"). A window sent again in full before any ACK
        # is measured there instead, where no ACK's growth (more than one segment on some
        # stacks) adds to it.
        _ack_all(peer, flight, big)
        dut.wait(0.1)
        window, how = len(_data_by_seq(peer)), "sent at once after an ACK of all of it"
    assert window < kept, (
        f"a first flight of {first} segments of {len(payload(big))} octets, and after the path MTU fell to 576 "
        f"{window} segments of at most 536 octets {how}: the window kept its octets ({kept} segments)")


def _data_by_seq(peer: TCPPeer) -> dict[int, Packet]:
    """The data segments the DUT sent since the last look, one per sequence number (a copy the
    retransmission timer sends again is no new segment)."""
    return {seg[TCP].seq: seg for seg in peer.take_all() if payload(seg)}


@rfc("RFC8201-5.2-11", "RFC8201-5.2-9")
def test_a_packet_too_big_about_a_udp_datagram_shrinks_tcp_on_the_same_path(dut: DUT) -> None:
    peer, _conn, big = _bulk(dut, 6)
    udp_port = PORT + 5
    dut.udp_bind(udp_port, 6)
    dut.udp_send(udp_port, bytes(1300), peer.addr, 9)  # 1348 octets on the wire: more than 1280
    datagram = dut.expect(IPv6(src=peer.dut_addr, dst=peer.addr), UDP(sport=udp_port), within=2.0)
    dut.send(peer.icmp_error(datagram, mtu=1280))  # about the UDP datagram, not a TCP segment
    _acknowledge_the_flight(dut, peer, big)
    # New data, past the ACK: a copy of the flight that the retransmission timer sent before the
    # ACK came (a loaded tester) may still be the size it was when first sent.
    seg = peer.expect(seq=lambda s: not seq_lt(s, peer.rcv_nxt), data=lambda d: len(d) > 0, within=3.0,
                      update=False)
    assert _size(seg) <= 1280, (
        f"after a Packet Too Big (MTU 1280) about a UDP datagram to the same address, a TCP segment of {_size(seg)} "
        "octets: the TCP layer was not told of the smaller path MTU")


@pytest.mark.parametrize("family", [pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")])
@rfc("RFC1191-3-6", "RFC1191-3-5", "RFC8201-4-11", "RFC8201-4-10", "RFC8201-3-4")
def test_no_larger_datagram_for_five_minutes_after_a_datagram_too_big(dut: DUT, family: int) -> None:
    watch = 290.0  # "MUST NOT be done less than 5 minutes after" the message
    require_dut_time(dut, watch)
    peer, conn = established(dut, PORT, family)  # type: ignore[arg-type]
    assert dut.tcp_send(conn, BULK[:3000]) == 3000
    big = peer.expect(data=lambda d: len(d) > 1000, update=False)
    if family == 4 and not big[IP].flags.DF:
        pytest.skip("the DUT's TCP segments do not carry DF: it does not do IPv4 Path MTU Discovery")
    mtu = 1000 if family == 4 else 1280
    dut.send(peer.icmp_error(big, type=3, code=4, mtu=mtu))
    told = dut.now()
    peer.receive(3000, within=10.0)  # the data again, in smaller segments
    sizes: list[int] = []
    # A little data every 20 s: each time, the DUT could try a larger datagram to see whether the
    # path MTU grew; within five minutes of the message it must not.
    while dut.now() - told < watch:
        dut.wait(20.0)
        assert dut.tcp_send(conn, BULK[:2000]) == 2000
        start = len(peer.received)
        while len(peer.received) - start < 2000:
            sizes.append(_size(peer.expect(data=lambda d: len(d) > 0, within=5.0)))
            peer.send_ack()
    assert len(sizes) >= 14 and max(sizes) <= mtu, (
        f"within {watch:g} s of a Datagram Too Big reporting MTU {mtu}, datagrams of up to {max(sizes)} octets")


@rfc("RFC8201-5.2-12")
def test_a_packet_too_big_after_the_path_mtu_fell_still_draws_a_retransmission(dut: DUT) -> None:
    # Both handshakes put the retransmission timers well after the messages (RFC 6298 2.2).
    first, _conn, big = _bulk(dut, 6, rtt=HANDSHAKE_RTT)
    second, other = established(dut, PORT + 1, 6, rtt=HANDSHAKE_RTT)  # a second connection on the same path
    assert dut.tcp_send(other, BULK) > 0
    dropped = second.expect(data=lambda d: len(d) > 1000, update=False)
    dut.send(first.icmp_error(big, mtu=1280))  # the path MTU falls: the first connection's message
    resent_smaller(first, big, size=_size, within=1.0)
    # The second connection's own message changes no estimate any more, yet its segment was
    # dropped: it "should be notified ... so that it may retransmit the dropped data" -- at once,
    # not when its retransmission timer (at least 1 s, RFC 6298 2.4) would. Timed from when the
    # message left, however late the copy is read; a copy as large as before is the timer's.
    message = second.icmp_error(dropped, mtu=1280)
    sent = dut.now()
    dut.send(message)
    again, _ = resent_smaller(second, dropped, size=_size, within=2.0)
    if float(again.time) < sent:
        pytest.skip(f"the second connection's data went again {float(again.time) - float(dropped.time):.2f} s after "
                    "it was first sent, smaller but before the tester sent its Packet Too Big (a loaded tester): "
                    "its retransmission timer's copy, no answer to the message")
    assert float(again.time) - sent < 0.15, (
        f"the dropped data went again {float(again.time) - sent:.3f} s after the Packet Too Big: not at once")
    assert _size(again) <= 1280
