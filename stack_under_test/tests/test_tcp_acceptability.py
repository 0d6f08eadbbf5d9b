"""Which segments a connection accepts: sequence arithmetic mod 2^32 (RFC 9293 3.4), every row of
the acceptability table (3.10.7.4 Table 6), RFC 5961's RST/SYN/ACK checks and challenge-ACK rate
limit, and PAWS (RFC 7323 5.3)."""

from __future__ import annotations

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._tcp_bench import TCPBench
from stack_under_test.transport.tcp import SocketOptions, State, seq
from stack_under_test.transport.tcp.acceptability import (
    ChallengeACKLimiter,
    RSTVerdict,
    acceptable,
    ack_in_range,
    paws_rejects,
    rst_verdict,
)
from stack_under_test.wire.tcp import ACK, RST, SYN, TCPOptions

TOP = 0xFFFF_FFFF


# ---- sequence numbers --------------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b"), [(1, 2), (TOP, 0), (TOP - 5, 3), (0, (1 << 31) - 1)])
def test_less_than_holds_across_the_wrap(a: int, b: int) -> None:
    assert seq.lt(a, b) and seq.le(a, b) and seq.gt(b, a) and seq.ge(b, a)
    assert not seq.lt(b, a) and not seq.gt(a, b)


def test_a_number_is_not_less_than_itself_and_half_the_space_is_ambiguous() -> None:
    assert not seq.lt(7, 7) and seq.le(7, 7)
    assert not seq.lt(0, 1 << 31) and not seq.lt(1 << 31, 0)


def test_add_and_sub_wrap() -> None:
    assert seq.add(TOP, 1) == 0 and seq.add(0, -1) == TOP
    assert seq.sub(2, TOP) == 3


# ---- RFC 9293 Table 6 --------------------------------------------------------------------------------
@pytest.mark.parametrize(("seg_seq", "seg_len", "rcv_nxt", "rcv_wnd", "ok"), [
    # Row 1: length 0, window 0: "SEG.SEQ = RCV.NXT"
    (100, 0, 100, 0, True), (101, 0, 100, 0, False), (99, 0, 100, 0, False),
    # Row 2: length 0, window > 0: "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND"
    (100, 0, 100, 10, True), (109, 0, 100, 10, True), (110, 0, 100, 10, False), (99, 0, 100, 10, False),
    # Row 3: length > 0, window 0: "not acceptable"
    (100, 1, 100, 0, False),
    # Row 4: first or last octet in the window
    (100, 5, 100, 10, True), (95, 6, 100, 10, True), (95, 5, 100, 10, False), (109, 5, 100, 10, True),
    (110, 5, 100, 10, False),
    # the same across the wrap
    (TOP - 2, 4, TOP, 10, True), (2, 0, TOP, 4, True), (3, 0, TOP, 4, False),
], ids=lambda v: str(v))
def test_acceptability_table(seg_seq: int, seg_len: int, rcv_nxt: int, rcv_wnd: int, ok: bool) -> None:
    assert acceptable(seg_seq, seg_len, rcv_nxt, rcv_wnd) is ok


@pytest.mark.parametrize(("seg_seq", "verdict"), [
    (100, RSTVerdict.RESET), (101, RSTVerdict.CHALLENGE), (109, RSTVerdict.CHALLENGE),
    (110, RSTVerdict.DROP), (99, RSTVerdict.DROP),
])
def test_rst_verdicts_of_rfc5961(seg_seq: int, verdict: RSTVerdict) -> None:
    assert rst_verdict(seg_seq, 100, 10) is verdict


def test_ack_range_of_rfc5961() -> None:
    """RFC 5961 5.2: "((SND.UNA - MAX.SND.WND) <= SEG.ACK <= SND.NXT)"."""
    assert ack_in_range(1000, 1000, 2000, 500) and ack_in_range(500, 1000, 2000, 500)
    assert ack_in_range(2000, 1000, 2000, 500)
    assert not ack_in_range(499, 1000, 2000, 500) and not ack_in_range(2001, 1000, 2000, 500)
    assert ack_in_range(TOP, 5, 10, 10)


def test_paws_rejects_only_older_valid_timestamps() -> None:
    assert paws_rejects(99, 100, True)
    assert not paws_rejects(100, 100, True) and not paws_rejects(101, 100, True)
    assert not paws_rejects(99, 100, False)
    assert paws_rejects(TOP, 3, True)


def test_challenge_ack_limiter_allows_ten_per_five_seconds() -> None:
    limiter = ChallengeACKLimiter(10, 5000)
    assert all(limiter.allow(0) for _ in range(10))
    assert not limiter.allow(4999)
    assert limiter.allow(5000)


# ---- on a connection -----------------------------------------------------------------------------------
def test_out_of_window_data_is_answered_with_an_ack() -> None:
    """RFC 9293 3.10.7.4: "If an incoming segment is not acceptable, an acknowledgment should be sent
    in reply ... <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    assert peer.send(ACK, b"x" * 10, seq=peer.seq + 10_000_000) is Drop.TCP_UNACCEPTABLE
    (ack,) = bench.out()
    assert (ack.flags, ack.ack) == (ACK, peer.seq)
    assert conn.recv(100) is None


def test_old_duplicate_is_answered_with_an_ack() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    peer.send(ACK, b"abc")
    bench.advance(500)
    assert peer.send(ACK, b"abc", seq=peer.seq - 3) is Drop.TCP_UNACCEPTABLE
    assert [s.ack for s in bench.out()] == [peer.seq]
    assert conn.recv(10) == b"abc"


def test_segment_straddling_rcv_nxt_delivers_only_the_new_part() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    peer.send(ACK, b"abc")
    assert peer.send(ACK, b"bcdef", seq=peer.seq - 2) is None
    assert conn.recv(10) == b"abcdef"


def test_rst_exactly_at_rcv_nxt_resets() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    assert peer.send(RST) is None
    assert conn.state is State.CLOSED and bench.out() == []


def test_in_window_rst_draws_a_challenge_ack() -> None:
    """RFC 5961 3.2: "TCP MUST send an acknowledgment (challenge ACK) ... After sending the challenge
    ACK, TCP MUST drop the unacceptable segment"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    assert peer.send(RST, seq=peer.seq + 100) is Drop.TCP_RST_CHALLENGED
    (ack,) = bench.out()
    assert (ack.flags, ack.ack) == (ACK, peer.seq)
    assert conn.state is State.ESTABLISHED


def test_out_of_window_rst_is_dropped_silently() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    assert peer.send(RST, seq=peer.seq - 1) is Drop.TCP_RST_OUT_OF_WINDOW
    assert peer.send(RST, seq=peer.seq + 10_000_000) is Drop.TCP_RST_OUT_OF_WINDOW
    assert bench.out() == [] and conn.state is State.ESTABLISHED


def test_rst_at_rcv_nxt_is_accepted_with_a_zero_window() -> None:
    """RFC 9293 3.10.7.4: with a zero window "special allowance should be made to accept valid ACKs,
    URGs, and RSTs"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one(options=SocketOptions(rcvbuf=4096))
    peer.send(ACK, b"z" * 4096)
    assert conn.receiver is not None and conn.receiver.window == 0
    assert peer.send(RST) is None and conn.state is State.CLOSED


def test_syn_on_an_established_connection_draws_a_challenge_ack() -> None:
    """RFC 5961 4.2: "If the SYN bit is set, irrespective of the sequence number, TCP MUST send an ACK
    (also referred to as challenge ACK) to the remote peer"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    for offset in (0, 50, -5, 1 << 30):
        assert peer.send(SYN, seq=peer.seq + offset) is Drop.TCP_SYN_CHALLENGED
        (ack,) = bench.out()
        assert (ack.flags, ack.ack) == (ACK, peer.seq)
    assert conn.state is State.ESTABLISHED


def test_challenge_acks_are_rate_limited() -> None:
    bench = TCPBench(4)
    _conn, peer = bench.accept_one()
    for _ in range(15):
        peer.send(RST, seq=peer.seq + 1)
    assert len(bench.out()) == 10
    assert bench.tcp.events["tcp_challenge_ack_limited"] == 5
    bench.advance(5000)
    peer.send(RST, seq=peer.seq + 1)
    assert len(bench.out()) == 1


def test_ack_below_the_acceptable_range_is_dropped_with_an_ack() -> None:
    """RFC 5961 5.2: "All incoming segments whose ACK value doesn't satisfy the above condition MUST
    be discarded and an ACK sent back"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    assert conn.sender is not None
    una = conn.sender.snd_una
    assert peer.send(ACK, b"inject", ack=una - 70_000) is Drop.TCP_ACK_OUT_OF_RANGE
    (ack,) = bench.out()
    assert ack.flags == ACK
    assert conn.recv(100) is None


def test_ack_of_unsent_data_is_dropped_with_an_ack() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    assert conn.sender is not None
    assert peer.send(ACK, b"data", ack=conn.sender.snd_max + 5) is Drop.TCP_ACK_OUT_OF_RANGE
    assert len(bench.out()) == 1
    assert conn.recv(100) is None


def test_segment_without_ack_bit_is_dropped() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    assert peer.send(0, b"noack") is Drop.TCP_NO_ACK_FLAG
    assert conn.recv(10) is None


def test_paws_drops_an_old_timestamp_with_an_ack() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1460, timestamps=(1000, 0)))
    assert peer.send(ACK, b"new") is None
    assert peer.send(ACK, b"old", options=TCPOptions(timestamps=(5, peer.their_tsval))) is Drop.TCP_PAWS_REJECTED
    assert any(s.flags == ACK for s in bench.out())
    assert conn.recv(10) == b"new"


def test_missing_timestamp_is_dropped_once_negotiated() -> None:
    """RFC 7323 3.2: "If a non-<RST> segment is received without a TSopt, a TCP SHOULD silently drop
    the segment."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1460, timestamps=(1000, 0)))
    assert peer.send(ACK, b"bare", options=TCPOptions()) is Drop.TCP_TIMESTAMP_MISSING
    assert conn.recv(10) is None


def test_rst_is_not_subject_to_paws() -> None:
    """RFC 7323 5.2: "When an <RST> segment is received, it MUST NOT be subjected to the PAWS check"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1460, timestamps=(1000, 0)))
    assert peer.send(RST, options=TCPOptions(timestamps=(1, 0))) is None
    assert conn.state is State.CLOSED


def test_timestamps_echo_ts_recent() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1460, timestamps=(1000, 0)))
    peer.send(ACK, b"a")
    peer.send(ACK, b"b")
    (ack,) = bench.out()
    assert ack.options.timestamps is not None and ack.options.timestamps[1] == peer.tsval - 1
    del conn


def test_data_flows_both_ways_across_the_sequence_wrap() -> None:
    """RFC 9293 3.4: "all arithmetic dealing with sequence numbers must be performed modulo 2^32"."""
    bench = TCPBench(4)
    bench.tcp.secrets.isn = lambda *_: 0xFFFF_FFF0  # type: ignore[method-assign]
    listener = bench.tcp.listen("0.0.0.0", 80)
    bench.inject(40000, 80, 0xFFFF_FFF8, 0, SYN)
    synack = bench.one()
    assert synack.seq == 0xFFFF_FFF0
    assert bench.inject(40000, 80, 0xFFFF_FFF9, 0xFFFF_FFF1, ACK) is None
    conn = listener.accept()
    assert conn is not None
    assert bench.inject(40000, 80, 0xFFFF_FFF9, 0xFFFF_FFF1, ACK, payload=b"0123456789abcdef") is None
    assert conn.recv(100) == b"0123456789abcdef"
    conn.send(b"x" * 40)
    (data,) = [s for s in bench.out() if s.payload]
    assert data.seq == 0xFFFF_FFF1 and data.ack == 9  # our ACK wrapped past zero
    assert bench.inject(40000, 80, 9, (0xFFFF_FFF1 + 40) & TOP, ACK) is None
    assert conn.sender is not None and conn.sender.flight == 0 and conn.sender.snd_una == 0x19
