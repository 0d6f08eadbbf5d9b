"""TCP timers on the virtual clock, each at its T-1 / T boundary: retransmission and back-off
(RFC 6298), delayed ACK (RFC 1122 4.2.3.2, RFC 5681 4.2), keep-alive (RFC 1122 4.2.3.6), zero-window
probes (RFC 9293 3.8.6.1), R2 (RFC 9293 3.8.3)."""

from __future__ import annotations

import pytest

from stack_under_test.tests._tcp_bench import Peer, TCPBench
from stack_under_test.transport.tcp import Connection, SocketOptions, State, TCPError
from stack_under_test.transport.tcp.retransmit import RTOEstimator
from stack_under_test.wire.tcp import ACK, TCPOptions, TCPSegment


def _established(bench: TCPBench, **options: object) -> tuple[Connection, Peer]:
    return bench.accept_one(options=SocketOptions(**options))  # type: ignore[arg-type]


def _at(bench: TCPBench, start: int, ms: int) -> list[TCPSegment]:
    """Advance to ``start + ms`` and return what was sent on the way."""
    return bench.advance(start + ms - bench.clock.now_ms)


# ---- RFC 6298 ----------------------------------------------------------------------------------------
def test_rto_estimator_follows_rfc6298() -> None:
    rto = RTOEstimator(1000, 1000, 120_000)
    assert rto.rto_ms == 1000  # (2.1)
    rto.sample(400)  # (2.2): SRTT 400, RTTVAR 200, RTO 400 + 800 -> raised to the 1 s minimum (2.4)
    assert (rto.srtt, rto.rttvar, rto.rto_ms) == (400, 200, 1200)
    rto.sample(800)  # (2.3): RTTVAR 3/4*200 + 1/4*400 = 250, SRTT 7/8*400 + 1/8*800 = 450
    assert (rto.srtt, rto.rttvar, rto.rto_ms) == (450, 250, 1450)
    rto.sample(10)
    rto.sample(10)
    rto.sample(10)
    assert rto.rto_ms >= 1000  # (2.4)
    rto.back_off()
    rto.back_off()
    assert rto.rto_ms == 4 * rto.base_ms
    for _ in range(20):
        rto.back_off()
    assert rto.rto_ms == 120_000  # (2.5) and (5.5)


def test_data_is_retransmitted_after_one_second_then_at_doubling_intervals() -> None:
    """RFC 6298 (2.1) RTO 1 s before any sample; (5.5) "RTO <- RTO * 2"."""
    bench = TCPBench(4)
    conn, _ = _established(bench)
    conn.send(b"hello")
    (first,) = bench.out()
    start = bench.clock.now_ms
    for at in (1000, 3000, 7000, 15000):
        assert _at(bench, start, at - 1) == []
        (again,) = bench.advance(1)
        assert (again.seq, again.payload) == (first.seq, b"hello")


def test_rtt_sample_sets_rto_and_karn_ignores_retransmitted_segments() -> None:
    bench = TCPBench(4)
    conn, peer = _established(bench)
    assert conn.sender is not None
    handshake_sample = conn.sender.rto.srtt  # the SYN,ACK was answered at once: 0 ms
    assert handshake_sample == 0
    conn.send(b"a")
    peer.read(bench.out())
    bench.advance(300)
    peer.send(ACK)
    assert conn.sender.rto.srtt == 300 / 8  # RFC 6298 (2.3): SRTT <- 7/8 SRTT + 1/8 R'
    conn.send(b"b")
    peer.read(bench.out())
    bench.advance(conn.sender.rto.rto_ms)  # one retransmission of "b"
    bench.out()
    bench.advance(100)
    peer.send(ACK)
    # RFC 6298 3: "RTT samples MUST NOT be made using segments that were retransmitted".
    assert conn.sender.rto.srtt == 300 / 8


def test_timestamps_give_rtt_samples_even_for_retransmissions() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1460, timestamps=(1000, 0)))
    assert conn.sender is not None
    conn.send(b"b")
    bench.out()
    (again,) = bench.advance(1000)
    peer.read([again])
    bench.advance(250)
    peer.send(ACK)
    assert conn.sender.rto.srtt == 250 / 8  # the 250 ms sample after the handshake's 0 ms one


def test_retransmissions_stop_at_r2_and_the_connection_times_out() -> None:
    """RFC 9293 3.8.3 (c): "When the number of transmissions of the same segment reaches a threshold R2
    greater than R1, close the connection"; R2 "at least 100 seconds" (SHLD-11)."""
    bench = TCPBench(4)
    conn, _ = _established(bench)
    conn.send(b"lost")
    bench.out()
    start = bench.clock.now_ms
    sent = 0
    while conn.state is State.ESTABLISHED:
        bench.clock.advance(1000)
        sent += len(bench.out())
    assert sent == 15 and bench.clock.now_ms - start >= 100_000
    with pytest.raises(TCPError) as err:
        conn.recv(10)
    assert err.value.kind == "timed_out"


def test_user_timeout_bounds_the_retransmissions() -> None:
    bench = TCPBench(4)
    conn, _ = _established(bench, user_timeout_ms=5000)
    conn.send(b"lost")
    bench.out()
    start = bench.clock.now_ms
    _at(bench, start, 6999)  # the third timeout (at 7 s) is the first at or beyond 5 s
    assert conn.state is State.ESTABLISHED
    bench.advance(1)
    assert conn.state is State.CLOSED and conn.error == "timed_out"


def test_rto_falls_back_to_3_seconds_after_a_lost_syn() -> None:
    """RFC 6298 5.7: "the RTO MUST be re-initialized to 3 seconds when data transmission begins"."""
    bench = TCPBench(4)
    conn = bench.tcp.connect(bench.peer_text, 80)
    syn = bench.one()
    bench.advance(1000)
    bench.out()
    bench.inject(80, syn.src_port, 7000, syn.seq + 1, 0x12)
    bench.out()
    assert conn.sender is not None and conn.sender.rto.rto_ms == 3000
    assert conn.sender.cc.cwnd == conn.sender.smss  # RFC 5681 3.1: one segment after a lost SYN


# ---- delayed ACK ---------------------------------------------------------------------------------------
def test_a_lone_segment_is_acknowledged_after_200_ms() -> None:
    """RFC 9293 3.8.6.3: "the delay MUST be less than 0.5 seconds (MUST-40)"; we wait 200 ms, as Linux's
    largest delayed-ACK timeout."""
    bench = TCPBench(4)
    _, peer = _established(bench)
    peer.send(ACK, b"x")
    start = bench.clock.now_ms
    assert _at(bench, start, 199) == []
    (ack,) = bench.advance(1)
    assert ack.ack == peer.seq


def test_every_second_segment_is_acknowledged_at_once() -> None:
    """RFC 5681 4.2: "an ACK SHOULD be generated for at least every second full-sized segment"."""
    bench = TCPBench(4)
    _, peer = _established(bench)
    peer.send(ACK, b"x" * 1460)
    assert bench.out() == []
    peer.send(ACK, b"y" * 1460)
    (ack,) = bench.out()
    assert ack.ack == peer.seq


def test_out_of_order_segment_is_acknowledged_at_once_with_sack() -> None:
    bench = TCPBench(4)
    _, peer = bench.accept_one(peer_options=TCPOptions(mss=1460, sack_permitted=True))
    assert peer.send(ACK, b"later", seq=peer.seq + 100) is None
    (dup,) = bench.out()
    assert dup.ack == peer.seq
    assert dup.options.sack_blocks == ((peer.seq + 100, peer.seq + 105),)


# ---- keep-alive -----------------------------------------------------------------------------------------
def test_keepalive_is_off_by_default() -> None:
    """RFC 1122 4.2.3.6: keep-alives "MUST default to off"."""
    bench = TCPBench(4)
    _established(bench)
    assert bench.advance(3 * 3600 * 1000) == []


def test_keepalive_probes_after_idle_then_at_the_interval_then_drops() -> None:
    bench = TCPBench(4)
    conn, _ = _established(bench, keepalive=True, keepidle_ms=10_000, keepintvl_ms=2_000, keepcnt=3)
    assert conn.sender is not None
    start = conn.last_recv_ms
    assert _at(bench, start, 9_999) == []
    (probe,) = bench.advance(1)
    # RFC 9293 3.8.4: "SEG.SEQ = SND.NXT-1", SHLD-12 "with no data".
    assert (probe.seq, probe.payload, probe.flags) == ((conn.sender.snd_max - 1) & 0xFFFFFFFF, b"", ACK)
    for at in (12_000, 14_000):
        assert _at(bench, start, at - 1) == []
        assert len(bench.advance(1)) == 1
    assert conn.state is State.ESTABLISHED
    _at(bench, start, 16_000)
    assert conn.state is State.CLOSED and conn.error == "timed_out"


def test_an_answered_keepalive_keeps_the_connection() -> None:
    bench = TCPBench(4)
    conn, peer = _established(bench, keepalive=True, keepidle_ms=10_000, keepintvl_ms=2_000, keepcnt=1)
    for _ in range(5):
        assert len(bench.advance(10_000)) == 1
        peer.send(ACK)
    assert conn.state is State.ESTABLISHED


def test_keepalive_defaults_are_two_hours_75_seconds_9_probes() -> None:
    options = SocketOptions()
    assert (options.keepidle_ms, options.keepintvl_ms, options.keepcnt) == (7_200_000, 75_000, 9)


# ---- zero window ------------------------------------------------------------------------------------------
def test_zero_window_is_probed_after_rto_with_one_octet_then_backs_off() -> None:
    """RFC 9293 3.8.6.1: "The transmitting host SHOULD send the first zero-window probe when a zero
    window has existed for the retransmission timeout period (SHLD-29), and SHOULD increase
    exponentially the interval between successive probes (SHLD-30)"."""
    bench = TCPBench(4)
    conn, peer = _established(bench)
    peer.send(ACK, window=0)
    conn.send(b"waiting")
    assert bench.out() == []
    start = bench.clock.now_ms
    assert _at(bench, start, 999) == []
    (probe,) = bench.advance(1)
    assert probe.payload == b"w"  # "at least one octet of new data"
    for at in (3000, 7000):
        assert _at(bench, start, at - 1) == []
        peer_ack = bench.advance(1)
        assert [s.payload for s in peer_ack] == [b"w"]
        peer.send(ACK, window=0)  # answered: the connection stays (MUST-37)
    peer.send(ACK, window=1000)
    (rest,) = bench.out()
    assert rest.payload == b"waiting"


def test_answered_zero_window_probes_never_time_out() -> None:
    """RFC 9293 3.8.6.1: "As long as the receiving TCP peer continues to send acknowledgments in
    response to the probe segments, the sending TCP peer MUST allow the connection to stay open
    (MUST-37)."""
    bench = TCPBench(4)
    conn, peer = _established(bench)
    peer.send(ACK, window=0)
    conn.send(b"waiting")
    for _ in range(40):
        if bench.advance(120_000):
            peer.send(ACK, window=0)
    assert conn.state is State.ESTABLISHED
