"""Sending: the congestion window (RFC 5681 slow start, congestion avoidance, fast retransmit,
RFC 6582 NewReno, RFC 3042 limited transmit, restart after idle), Nagle (RFC 9293 3.7.4) and
sender silly-window avoidance (RFC 9293 3.8.6.2.1), as seen on the wire."""

from __future__ import annotations

import pytest

from stack_under_test.tests._tcp_bench import Peer, TCPBench
from stack_under_test.transport.tcp import Connection, SocketOptions
from stack_under_test.transport.tcp.congestion import DupAckAction, NewReno, initial_window
from stack_under_test.wire.tcp import ACK, TCPOptions, TCPSegment

MSS = 1000
DATA = bytes(range(256)) * 400  # 102,400 octets


def _sender(**options: object) -> tuple[TCPBench, Connection, Peer]:
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=MSS), options=SocketOptions(**options))  # type: ignore[arg-type]
    return bench, conn, peer


def _data(segs: list[TCPSegment]) -> list[TCPSegment]:
    return [s for s in segs if s.payload]


@pytest.mark.parametrize(("smss", "iw"), [(536, 2144), (1095, 4380), (1096, 3288), (2190, 6570), (2191, 4382)])
def test_initial_window_follows_rfc5681(smss: int, iw: int) -> None:
    """RFC 5681 3.1: IW is 4, 3 or 2 segments for SMSS up to 1095, up to 2190, above."""
    assert initial_window(smss) == iw


def test_first_flight_is_the_initial_window() -> None:
    bench, conn, _ = _sender()
    conn.send(DATA)
    first = _data(bench.out())
    assert [len(s.payload) for s in first] == [MSS] * 4  # SMSS 1000 <= 1095: 4 segments


def test_slow_start_adds_one_smss_per_ack_of_new_data() -> None:
    """RFC 5681 3.1: "cwnd += min (N, SMSS)" (one cumulative ACK for a whole flight adds one SMSS)."""
    bench, conn, peer = _sender()
    assert conn.sender is not None
    conn.send(DATA)
    flight = _data(bench.out())
    peer.read(flight)
    peer.send(ACK)  # acknowledges all four
    assert conn.sender.cc.cwnd == 5 * MSS
    assert len(_data(bench.out())) == 5


def test_acks_per_segment_double_the_window_each_round_trip() -> None:
    bench, conn, peer = _sender()
    assert conn.sender is not None
    conn.send(DATA)
    sizes = []
    flight = _data(bench.out())
    for _ in range(3):
        sizes.append(len(flight))
        nxt: list[TCPSegment] = []
        for seg in flight:
            peer.read([seg])
            peer.send(ACK)
            nxt += _data(bench.out())
        flight = nxt
    assert sizes == [4, 8, 16]


def test_congestion_avoidance_adds_one_smss_per_window_of_acked_data() -> None:
    cc = NewReno(1000, 0)
    cc.cwnd, cc.ssthresh = 4000, 4000
    for ack in range(1000, 4000, 1000):
        cc.on_new_ack(ack, 1000, 0)
    assert cc.cwnd == 4000
    cc.on_new_ack(4000, 1000, 0)
    assert cc.cwnd == 5000  # RFC 5681 3.1: "cwnd MUST NOT be increased by more than SMSS bytes per RTT"


def test_third_duplicate_ack_triggers_fast_retransmit() -> None:
    """RFC 5681 3.2 steps 2-3: ssthresh = max(FlightSize / 2, 2*SMSS), retransmit SND.UNA, cwnd =
    ssthresh + 3*SMSS; "additional data sent in limited transmit MUST NOT be included in this
    calculation"."""
    bench, conn, peer = _sender()
    sender = conn.sender
    assert sender is not None
    conn.send(DATA)
    flight = _data(bench.out())  # 4 segments; the first is "lost"
    una = flight[0].seq
    flight_size = sender.flight  # before limited transmit
    for _ in range(2):  # limited transmit (RFC 3042): one new segment per duplicate
        peer.send(ACK, ack=una)
        assert len(_data(bench.out())) == 1
    assert sender.flight == flight_size + 2 * MSS
    peer.send(ACK, ack=una)
    (rtx,) = _data(bench.out())
    assert rtx.seq == una and len(rtx.payload) == MSS
    assert sender.cc.ssthresh == max(flight_size // 2, 2 * MSS)
    assert sender.cc.cwnd == sender.cc.ssthresh + 3 * MSS


def test_limited_transmit_leaves_cwnd_alone() -> None:
    """RFC 3042 2: "the TCP sender MUST NOT change cwnd to reflect these two segments"."""
    bench, conn, peer = _sender()
    assert conn.sender is not None
    conn.send(DATA)
    flight = _data(bench.out())
    cwnd = conn.sender.cc.cwnd
    peer.send(ACK, ack=flight[0].seq)
    peer.send(ACK, ack=flight[0].seq)
    assert conn.sender.cc.cwnd == cwnd


def test_newreno_partial_ack_retransmits_the_next_hole() -> None:
    """RFC 6582 3.2 (3): "If this ACK does *not* acknowledge all of the data up to and including
    recover, then this is a partial ACK. In this case, retransmit the first unacknowledged segment."""
    bench, conn, peer = _sender()
    sender = conn.sender
    assert sender is not None
    conn.send(DATA)
    flight = _data(bench.out())
    for _ in range(3):
        peer.send(ACK, ack=flight[0].seq)
    bench.out()
    assert sender.cc.in_recovery
    # Segments 1 and 3 were lost: the retransmitted 1 and the original 2 arrive; the ACK covers 2.
    peer.send(ACK, ack=flight[2].seq)
    rtx = _data(bench.out())
    assert rtx and rtx[0].seq == flight[2].seq
    assert sender.cc.in_recovery
    peer.send(ACK, ack=sender.snd_max)  # the full acknowledgment ends recovery
    assert not sender.cc.in_recovery and sender.cc.cwnd <= sender.cc.ssthresh


def test_fast_retransmit_is_not_entered_twice_for_one_window() -> None:
    """RFC 6582 3.2 (2): without an ACK beyond recover "the TCP does not enter fast retransmit and does
    not reset ssthresh"."""
    cc = NewReno(1000, 0)
    for _ in range(3):
        cc.on_duplicate_ack(1, 8000, 8001)
    assert cc.in_recovery and cc.recover == 8000
    cc.on_new_ack(8001, 8000, 0)
    ssthresh = cc.ssthresh
    for _ in range(3):
        action = cc.on_duplicate_ack(8001, 4000, 8001)
    assert action is DupAckAction.NOTHING and cc.ssthresh == ssthresh


def test_timeout_shrinks_cwnd_to_one_segment_and_halves_ssthresh() -> None:
    """RFC 5681 3.1: after a timeout ssthresh = max (FlightSize / 2, 2*SMSS) and "cwnd MUST be set to
    no more than the loss window, LW, which equals 1 full-sized segment"."""
    bench, conn, _ = _sender()
    sender = conn.sender
    assert sender is not None
    conn.send(DATA)
    flight = _data(bench.out())
    flight_size = sender.flight
    (rtx,) = _data(bench.advance(1000))
    assert rtx.seq == flight[0].seq
    assert sender.cc.cwnd == MSS and sender.cc.ssthresh == max(flight_size // 2, 2 * MSS)
    # A second timeout of the same segment holds ssthresh.
    ssthresh = sender.cc.ssthresh
    bench.advance(2000)
    assert sender.cc.ssthresh == ssthresh


def test_after_a_timeout_the_rest_is_sent_again_as_cwnd_grows() -> None:
    bench, conn, peer = _sender()
    conn.send(DATA)
    flight = _data(bench.out())
    (rtx,) = _data(bench.advance(1000))
    peer.read([rtx])
    peer.send(ACK)  # the receiver lost everything after the first segment too
    again = _data(bench.out())
    assert [s.seq for s in again] == [flight[1].seq, flight[2].seq]  # cwnd 2 segments


def test_nagle_holds_a_small_segment_while_data_is_unacknowledged() -> None:
    """RFC 9293 3.7.4: the sender "buffers all user data (regardless of the PSH bit) until the
    outstanding data has been acknowledged or until the TCP endpoint can send a full-sized segment"."""
    bench, conn, peer = _sender()
    conn.send(b"first")
    (first,) = bench.out()
    conn.send(b"second")
    conn.send(b"third")
    assert bench.out() == []
    peer.read([first])
    peer.send(ACK)
    (joined,) = bench.out()
    assert joined.payload == b"secondthird"


def test_nodelay_sends_small_segments_at_once() -> None:
    """RFC 9293 3.7.4: "there MUST be a way for an application to disable the Nagle algorithm on an
    individual connection (MUST-17)"."""
    bench, conn, _ = _sender(nodelay=True)
    conn.send(b"first")
    conn.send(b"second")
    assert [s.payload for s in bench.out()] == [b"first", b"second"]


def test_switching_nodelay_on_releases_held_data() -> None:
    bench, conn, _ = _sender()
    conn.send(b"first")
    bench.out()
    conn.send(b"held")
    assert bench.out() == []
    conn.set_option("nodelay", True)
    assert [s.payload for s in bench.out()] == [b"held"]


def test_nagle_still_sends_full_segments() -> None:
    bench, conn, _ = _sender()
    conn.send(b"x")
    bench.out()
    conn.send(b"y" * (MSS + 10))
    assert [len(s.payload) for s in _data(bench.out())] == [MSS]


def test_small_window_holds_data_until_the_override_timeout() -> None:
    """RFC 9293 3.8.6.2.1: with little window and more data than fits, wait (SWS avoidance), then send
    what fits when "the override timeout occurs"."""
    bench, conn, peer = _sender()
    peer.send(ACK, window=100)
    conn.send(b"z" * 5000)
    assert bench.out() == []
    (forced,) = bench.advance(1000)
    assert len(forced.payload) == 100


def test_sending_never_exceeds_the_offered_window() -> None:
    bench, conn, peer = _sender()
    peer.send(ACK, window=2500)
    conn.send(DATA)
    sent = sum(len(s.payload) for s in bench.out())
    assert sent <= 2500


def test_idle_connection_restarts_from_the_initial_window() -> None:
    """RFC 5681 4.1: "a TCP SHOULD set cwnd to no more than RW before beginning transmission if the TCP
    has not sent data in an interval exceeding the retransmission timeout"."""
    bench, conn, peer = _sender()
    sender = conn.sender
    assert sender is not None
    conn.send(DATA[:20_000])
    for _ in range(6):
        segs = _data(bench.out())
        if not segs:
            break
        peer.read(segs)
        peer.send(ACK)
    assert sender.cc.cwnd > initial_window(MSS)
    bench.advance(5000)
    conn.send(DATA)
    assert len(_data(bench.out())) == 4


def test_a_timeout_during_fast_recovery_lowers_ssthresh_a_second_time() -> None:
    """RFC 5681 4.3: "the loss of a retransmission ... cwnd (and ssthresh) MUST be lowered twice"."""
    cc = NewReno(1000, 0)
    cc.on_new_ack(1, 0, 16_000)  # highest_ack moves past recover, so three duplicates recover
    for _ in range(3):
        action = cc.on_duplicate_ack(1, 16_000, 16_001)
    assert action is DupAckAction.FAST_RETRANSMIT and cc.ssthresh == 8_000
    cc.on_timeout(16_000, 16_001, True)  # the fast retransmission was lost
    assert cc.ssthresh == 4_000 and cc.cwnd == 1_000


def test_limited_transmit_is_left_out_of_flight_size() -> None:
    """RFC 5681 3.2: "additional data sent in limited transmit MUST NOT be included"."""
    cc = NewReno(1000, 0)
    cc.on_new_ack(1, 0, 8_000)
    cc.on_duplicate_ack(1, 8_000, 8_001)
    cc.limited_sent += 2_000  # what the sender sent on the first two duplicates
    cc.on_duplicate_ack(1, 9_000, 9_001)
    assert cc.on_duplicate_ack(1, 10_000, 10_001) is DupAckAction.FAST_RETRANSMIT
    assert cc.ssthresh == 4_000
