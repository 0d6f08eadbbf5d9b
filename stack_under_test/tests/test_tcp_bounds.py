"""Bounded memory: the SYN queue under a flood, the accept queue (backlog), the send buffer,
TIME-WAIT and the number of connections; each overflow is a named, counted Drop."""

from __future__ import annotations

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._tcp_bench import TCPBench
from stack_under_test.transport.tcp import SocketOptions, State, TCPError
from stack_under_test.wire.tcp import ACK, FIN, SYN


def test_syn_flood_is_held_to_the_syn_queue() -> None:
    bench = TCPBench(4, syn_queue_len=64)
    listener = bench.tcp.listen("0.0.0.0", 80)
    verdicts = [bench.inject(1024 + i, 80, i * 7919, 0, SYN) for i in range(1000)]
    assert verdicts.count(None) == 64
    assert verdicts.count(Drop.TCP_SYN_QUEUE_FULL) == 936
    assert len(listener.half_open) == 64 and len(bench.tcp.connections) == 64
    assert bench.stats.drops[Drop.TCP_SYN_QUEUE_FULL] == 936
    bench.advance(64_000)  # the half-open connections give up (5 SYN,ACK retransmissions)
    assert listener.half_open == {} and bench.tcp.connections == {}
    assert bench.inject(9, 80, 1, 0, SYN) is None  # the listener takes new SYNs again


def test_full_accept_queue_drops_new_syns() -> None:
    bench = TCPBench(4)
    listener = bench.tcp.listen("0.0.0.0", 80, backlog=2)
    for port in (5001, 5002):
        bench.inject(port, 80, 100, 0, SYN)
        synack = bench.one()
        bench.inject(port, 80, 101, synack.seq + 1, ACK)
    assert len(listener.completed) == 2
    assert bench.inject(5003, 80, 100, 0, SYN) is Drop.TCP_ACCEPT_QUEUE_FULL
    assert bench.out() == []
    assert listener.accept() is not None
    assert bench.inject(5003, 80, 100, 0, SYN) is None


def test_handshake_ack_waits_while_the_accept_queue_is_full() -> None:
    bench = TCPBench(4)
    listener = bench.tcp.listen("0.0.0.0", 80, backlog=1)
    bench.inject(5001, 80, 100, 0, SYN)
    bench.inject(5002, 80, 100, 0, SYN)
    first, second = bench.out()
    bench.inject(5001, 80, 101, first.seq + 1, ACK)
    assert bench.inject(5002, 80, 101, second.seq + 1, ACK) is Drop.TCP_ACCEPT_QUEUE_FULL
    assert bench.tcp.connections[(bench.dut, 80, bench.peer, 5002)].state is State.SYN_RECEIVED
    listener.accept()
    assert bench.inject(5002, 80, 101, second.seq + 1, ACK) is None
    assert listener.accept() is not None


def test_send_takes_no_more_than_the_send_buffer() -> None:
    bench = TCPBench(4)
    conn, _ = bench.accept_one(options=SocketOptions(sndbuf=4096))
    assert conn.send(b"x" * 10_000) == 4096
    assert conn.send(b"y") == 0


def test_time_wait_beyond_its_bound_closes_at_once() -> None:
    bench = TCPBench(4, max_time_wait=1)
    conns = []
    for port in (80, 81):
        conn, peer = bench.accept_one(port=port)
        conn.close()
        peer.read(bench.out())
        peer.send(FIN | ACK)
        bench.out()
        conns.append(conn)
    assert conns[0].state is State.TIME_WAIT
    assert conns[1].state is State.CLOSED and bench.tcp.events["tcp_time_wait_overflow"] == 1


def test_connections_are_bounded_in_number() -> None:
    bench = TCPBench(4, max_connections=3)
    bench.tcp.listen("0.0.0.0", 80)
    for port in (5001, 5002, 5003):
        assert bench.inject(port, 80, 1, 0, SYN) is None
    assert bench.inject(5004, 80, 1, 0, SYN) is Drop.TCP_TOO_MANY_CONNECTIONS
    with pytest.raises(TCPError):
        bench.tcp.connect(bench.peer_text, 9)


def test_receive_buffer_memory_stays_within_the_buffer() -> None:
    bench = TCPBench(4)
    conn, peer = bench.accept_one(options=SocketOptions(rcvbuf=8192))
    for _ in range(50):
        peer.send(ACK, b"m" * 1000, seq=peer.seq)  # the peer keeps pushing at the same point
        peer.seq += 1000
    assert conn.receiver is not None
    assert conn.receiver.unread + conn.receiver.ooo_bytes <= 8192
