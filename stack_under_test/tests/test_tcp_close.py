"""Closing (RFC 9293 3.6, 3.10.4-3.10.5): FIN-WAIT-1/2, CLOSING, TIME-WAIT and its 2 MSL,
CLOSE-WAIT and LAST-ACK, half-close, RST on close with unread data, ABORT in every state."""

from __future__ import annotations

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._tcp_bench import TCPBench
from stack_under_test.transport.tcp import State, TCPError
from stack_under_test.wire.tcp import ACK, FIN, RST, SYN, TCPOptions

TWO_MSL = 240_000  # RFC 9293 3.4.2: "For this specification the MSL is taken to be 2 minutes"


def test_active_close_walks_fin_wait_1_fin_wait_2_time_wait_then_closes_after_2msl() -> None:
    """RFC 9293 Figure 12, and 3.6.1: "When a connection is closed actively, it MUST linger in the
    TIME-WAIT state for a time 2xMSL (Maximum Segment Lifetime) (MUST-13)"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    conn.close()
    assert conn.state is State.FIN_WAIT_1
    fin = bench.one()
    assert fin.flags == FIN | ACK
    peer.read([fin])
    assert peer.send(ACK) is None
    assert conn.state is State.FIN_WAIT_2
    assert peer.send(FIN | ACK) is None
    assert conn.state is State.TIME_WAIT
    last = bench.one()
    assert (last.flags, last.ack) == (ACK, peer.seq)
    assert bench.advance(TWO_MSL - 1) == [] and conn.state is State.TIME_WAIT
    bench.advance(1)
    assert conn.state is State.CLOSED and not bench.tcp.connections


def test_retransmitted_fin_in_time_wait_is_acknowledged_and_restarts_2msl() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    conn.close()
    peer.read(bench.out())
    peer.send(ACK)
    peer.send(FIN | ACK)
    bench.out()
    bench.advance(100_000)
    assert peer.send(FIN | ACK, seq=peer.seq - 1) is None
    (ack,) = bench.out()
    assert (ack.flags, ack.ack) == (ACK, peer.seq)
    assert bench.advance(TWO_MSL - 1) == [] and conn.state is State.TIME_WAIT
    bench.advance(1)
    assert conn.state is State.CLOSED


def test_passive_close_walks_close_wait_and_last_ack() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    assert peer.send(FIN | ACK) is None
    assert conn.state is State.CLOSE_WAIT
    assert bench.one().ack == peer.seq  # "send an acknowledgment for the FIN"
    assert conn.recv(10) == b""  # the end of the stream
    conn.close()
    assert conn.state is State.LAST_ACK
    fin = bench.one()
    assert fin.flags & FIN
    peer.read([fin])
    assert peer.send(ACK) is None
    assert conn.state is State.CLOSED and not bench.tcp.connections


def test_simultaneous_close_goes_through_closing() -> None:
    """RFC 9293 Figure 13."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    conn.close()
    fin = bench.one()
    assert peer.send(FIN | ACK) is None  # crosses our FIN: it does not acknowledge it
    assert conn.state is State.CLOSING
    bench.out()
    peer.read([fin])
    assert peer.send(ACK) is None
    assert conn.state is State.TIME_WAIT


def test_fin_acknowledging_our_fin_goes_straight_to_time_wait() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    conn.close()
    peer.read(bench.out())
    assert peer.send(FIN | ACK) is None
    assert conn.state is State.TIME_WAIT


def test_half_close_keeps_receiving() -> None:
    """RFC 9293 3.6.1: "a host is permitted to continue sending data in the open direction on a
    half-closed connection"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    conn.shutdown()
    peer.read(bench.out())
    peer.send(ACK)
    assert conn.state is State.FIN_WAIT_2
    assert peer.send(ACK, b"still talking") is None
    assert conn.recv(100) == b"still talking"
    with pytest.raises(TCPError) as err:
        conn.send(b"no")
    assert err.value.kind == "closed"


def test_close_with_unread_data_resets() -> None:
    """RFC 9293 3.6.1: "If such a host issues a CLOSE call while received data is still pending in the
    TCP connection ... its TCP implementation SHOULD send a RST to show that data was lost (SHLD-3)"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    peer.send(ACK, b"unread")
    bench.out()
    conn.close()
    (rst,) = bench.out()
    assert rst.flags == RST and conn.state is State.CLOSED


def test_data_after_close_resets() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    conn.close()
    peer.read(bench.out())
    peer.send(ACK)
    assert peer.send(ACK, b"late") is Drop.TCP_DATA_AFTER_CLOSE
    assert [s.flags for s in bench.out()] == [RST]
    assert conn.state is State.CLOSED


def test_orphaned_fin_wait_2_times_out() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    conn.close()
    peer.read(bench.out())
    peer.send(ACK)
    assert conn.state is State.FIN_WAIT_2
    bench.advance(60_000 - 1)
    assert conn.state is State.FIN_WAIT_2
    bench.advance(1)
    assert conn.state is State.CLOSED


def test_half_closed_fin_wait_2_waits_for_the_peer() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    conn.shutdown()
    peer.read(bench.out())
    peer.send(ACK)
    bench.advance(600_000)
    assert conn.state is State.FIN_WAIT_2


@pytest.mark.parametrize("setup", ["established", "close-wait", "fin-wait-1", "fin-wait-2"])
def test_abort_sends_rst_from_snd_nxt(setup: str) -> None:
    """RFC 9293 3.10.5: "Send a reset segment: <SEQ=SND.NXT><CTL=RST>"."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    if setup == "close-wait":
        peer.send(FIN | ACK)
    elif setup in ("fin-wait-1", "fin-wait-2"):
        conn.shutdown()
        if setup == "fin-wait-2":
            peer.read(bench.out())
            peer.send(ACK)
    bench.out()
    assert conn.sender is not None
    nxt = conn.sender.snd_max
    conn.abort()
    (rst,) = bench.out()
    assert (rst.flags, rst.seq) == (RST, nxt)
    assert conn.state is State.CLOSED


def test_abort_in_syn_sent_and_time_wait_is_silent() -> None:
    bench = TCPBench(4)
    conn = bench.tcp.connect(bench.peer_text, 80)
    bench.out()
    conn.abort()
    assert bench.out() == [] and conn.state is State.CLOSED
    conn2, peer = bench.accept_one(port=81)
    conn2.close()
    peer.read(bench.out())
    peer.send(FIN | ACK)
    bench.out()
    assert conn2.state is State.TIME_WAIT
    conn2.abort()
    assert bench.out() == [] and conn2.state is State.CLOSED


@pytest.mark.parametrize("state", ["established", "fin-wait-1", "close-wait"])
def test_rst_at_rcv_nxt_resets_the_connection(state: str) -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    if state == "fin-wait-1":
        conn.shutdown()
    elif state == "close-wait":
        peer.send(FIN | ACK)
    bench.out()
    assert peer.send(RST) is None
    assert conn.state is State.CLOSED
    with pytest.raises(TCPError) as err:
        conn.recv(1)
    assert err.value.kind == "reset"


def test_rst_in_last_ack_just_closes() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    peer.send(FIN | ACK)
    conn.close()
    bench.out()
    assert peer.send(RST) is None and conn.state is State.CLOSED


def test_new_syn_reopens_from_time_wait() -> None:
    """RFC 9293 3.6.1 MAY-2, with the new ISS above the old incarnation's sequence numbers."""
    bench = TCPBench(4)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1460))
    assert conn.sender is not None
    conn.close()
    peer.read(bench.out())
    peer.send(FIN | ACK)
    bench.out()
    assert conn.state is State.TIME_WAIT
    old_nxt = conn.sender.snd_max
    assert bench.inject(40000, 80, peer.seq + 100_000, 0, SYN) is None
    synack = bench.one()
    assert synack.flags == SYN | ACK and (synack.seq - old_nxt) & 0xFFFFFFFF > 65_535
    assert conn.state is State.CLOSED


def test_old_syn_in_time_wait_is_challenged() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one()
    conn.close()
    peer.read(bench.out())
    peer.send(FIN | ACK)
    bench.out()
    assert bench.inject(40000, 80, peer.seq - 10, 0, SYN) is Drop.TCP_SYN_CHALLENGED
    (ack,) = bench.out()
    assert ack.flags == ACK and conn.state is State.TIME_WAIT


def test_closed_listener_resets_its_unaccepted_connections() -> None:
    bench = TCPBench(4)
    conn, _ = bench.accept_one()
    listener = bench.tcp.listeners[(4, 80)]
    peer2_seq = 9000
    bench.inject(40001, 80, peer2_seq, 0, SYN)
    synack = bench.one()
    bench.inject(40001, 80, peer2_seq + 1, synack.seq + 1, ACK)
    assert len(listener.completed) == 1
    bench.tcp.close_listener(listener)
    (rst,) = bench.out()
    assert rst.flags == RST and rst.dst_port == 40001
    assert conn.state is State.ESTABLISHED
    assert bench.inject(40002, 80, 1, 0, SYN) is Drop.TCP_NO_CONNECTION
