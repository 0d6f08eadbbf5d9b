"""Receiving: in-order and out-of-order data (RFC 9293 3.10.7.4 SHLD-31), SACK blocks (RFC 2018 4),
the offered window and receiver silly-window avoidance (RFC 9293 3.8.6.2.2), window scaling
(RFC 7323 2.3), the urgent pointer (RFC 6093), and the bound on what is held out of order."""

from __future__ import annotations

from stack_under_test.drops import Drop
from stack_under_test.tests._tcp_bench import TCPBench
from stack_under_test.transport.tcp import SocketOptions, State
from stack_under_test.transport.tcp.receiver import Receiver
from stack_under_test.wire.tcp import ACK, FIN, URG, TCPOptions


def test_out_of_order_segments_are_held_and_delivered_in_order() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    base = peer.seq
    assert peer.send(ACK, b"CCC", seq=base + 6) is None
    assert peer.send(ACK, b"BBB", seq=base + 3) is None
    assert conn.recv(100) is None
    assert peer.send(ACK, b"AAA", seq=base) is None
    assert conn.recv(100) == b"AAABBBCCC"
    acks = [s.ack for s in bench.out()]
    assert acks[-1] == base + 9  # the segment that filled the gap was acknowledged at once


def test_overlapping_out_of_order_pieces_merge() -> None:
    receiver = Receiver(irs=99, rcvbuf=65536, max_ranges=8)
    receiver.accept(110, b"klmno", False)
    receiver.accept(108, b"ijklm", False)
    receiver.accept(114, b"opq", False)
    assert [(a, b) for a, b, _ in receiver.ranges] == [(108, 117)]
    receiver.accept(100, b"abcdefgh", False)
    assert receiver.read(100) == b"abcdefghijklmnopq"


def test_sack_blocks_report_the_newest_first() -> None:
    """RFC 2018 4: "The first SACK block ... MUST specify the contiguous block of data containing the
    segment which triggered this ACK"."""
    bench = TCPBench(4)
    _, peer = bench.accept_one(peer_options=TCPOptions(mss=1460, sack_permitted=True))
    base = peer.seq
    peer.send(ACK, b"x" * 10, seq=base + 100)
    peer.send(ACK, b"y" * 10, seq=base + 200)
    peer.send(ACK, b"z" * 10, seq=base + 300)
    last = bench.out()[-1]
    assert last.options.sack_blocks == ((base + 300, base + 310), (base + 200, base + 210), (base + 100, base + 110))
    peer.send(ACK, b"y" * 5, seq=base + 210)  # extends the middle block
    assert bench.out()[-1].options.sack_blocks[0] == (base + 200, base + 215)


def test_no_sack_blocks_without_sack_permitted() -> None:
    """RFC 2018 4: "If the data receiver has not received a SACK-Permitted option for a given connection,
    it MUST NOT send SACK options on that connection."""
    bench = TCPBench(4)
    _, peer = bench.accept_one(peer_options=TCPOptions(mss=1460))
    peer.send(ACK, b"x", seq=peer.seq + 100)
    assert bench.out()[-1].options.sack_blocks == ()


def test_data_beyond_the_window_is_trimmed() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one(options=SocketOptions(rcvbuf=4096))
    assert peer.send(ACK, b"q" * 5000) is None
    assert conn.recv(10_000) == b"q" * 4096


def test_a_full_buffer_offers_a_zero_window_and_reading_reopens_it() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one(options=SocketOptions(rcvbuf=4096))
    peer.send(ACK, b"a" * 2048)
    peer.send(ACK, b"b" * 2048)
    (ack,) = bench.out()
    assert ack.window == 0
    assert peer.send(ACK, b"c", seq=peer.seq) is Drop.TCP_UNACCEPTABLE  # Table 6 row 3
    bench.out()
    conn.recv(1000)  # 1000 < min(RCV.BUFF/2, MSS): not worth a window update yet
    assert bench.out() == []
    conn.recv(2000)
    (update,) = bench.out()
    assert update.window == 3000 and update.ack == peer.seq


def test_window_field_is_scaled_after_the_syn() -> None:
    """RFC 7323 2.3: "SEG.WND = RCV.WND >> Rcv.Wind.Shift"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1460, window_scale=7))
    assert conn.agreed is not None and conn.receiver is not None
    shift = conn.agreed.receive_shift
    assert shift > 0
    peer.send(ACK, b"x")
    (ack,) = bench.advance(200)
    assert ack.window == conn.receiver.window >> shift


def test_peer_window_is_scaled_by_its_shift() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1460, window_scale=3))
    peer.send(ACK, window=1000)
    assert conn.sender is not None and conn.sender.snd_wnd == 8000


def test_fin_out_of_order_waits_for_the_data_before_it() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    base = peer.seq
    assert peer.send(FIN | ACK, b"end", seq=base + 3) is None
    assert conn.state is State.ESTABLISHED
    assert peer.send(ACK, b"the", seq=base) is None
    assert conn.state is State.CLOSE_WAIT
    assert conn.recv(10) == b"theend"
    assert conn.recv(10) == b""


def test_bare_fin_beyond_a_hole_is_held_until_the_hole_fills() -> None:
    """RFC 9293 3.10.7.4: "Segments with higher beginning sequence numbers SHOULD be held for later
    processing (SHLD-31)", a FIN without data too: the in-order segment that fills the hole (which
    header prediction would take) also takes RCV.NXT over the held FIN."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    base = peer.seq
    assert peer.send(FIN | ACK, seq=base + 5) is None
    assert [s.ack for s in bench.out()] == [base]  # a duplicate ACK at once, as for data out of order
    assert peer.send(ACK, b"first", seq=base) is None
    assert conn.state is State.CLOSE_WAIT
    assert bench.out()[-1].ack == base + 6
    assert conn.recv(10) == b"first"
    assert conn.recv(10) == b""


def test_urgent_pointer_points_past_the_urgent_data() -> None:
    """RFC 6093 4: "the urgent pointer points to the sequence number of the octet following the urgent
    data"; RFC 9293 MUST-33: the application can learn how much urgent data remains."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    peer.send(ACK | URG, b"abcdef", urgent=4)
    assert conn.urgent_unread() == 4
    assert conn.recv(2) == b"ab"  # delivered in line (RFC 6093 6: SO_OOBINLINE semantics)
    assert conn.urgent_unread() == 2
    conn.recv(10)
    assert conn.urgent_unread() == 0


def test_urgent_send_sets_the_pointer_after_the_data() -> None:
    bench = TCPBench(4)
    conn, _ = bench.accept_one()
    conn.send(b"xyz", urgent=True)
    (seg,) = bench.out()
    assert seg.flags & URG and seg.urgent == 3


def test_out_of_order_queue_is_bounded() -> None:
    bench = TCPBench(4, out_of_order_segments=4)
    conn, peer = bench.accept_one()
    base = peer.seq
    for i in range(4):
        assert peer.send(ACK, b"x", seq=base + 10 + 10 * i) is None
    assert peer.send(ACK, b"x", seq=base + 100) is Drop.TCP_OUT_OF_ORDER_QUEUE_FULL
    assert conn.receiver is not None and len(conn.receiver.ranges) == 4
    assert peer.send(ACK, b"x", seq=base + 11) is None  # joins an existing range: still allowed


def test_ack_with_data_piggybacks() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    peer.send(ACK, b"question")
    conn.recv(100)
    conn.send(b"answer")
    (seg,) = bench.out()
    assert seg.payload == b"answer" and seg.ack == peer.seq
    assert bench.advance(1000 - 1) == []  # no separate delayed ACK followed: it rode on the data
