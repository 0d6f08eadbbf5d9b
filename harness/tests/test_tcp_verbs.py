"""The TCP DUT verbs on the in-process backend: what each verb does to the stack, seen from the
tester's side of the link with Scapy, and that backends without them raise Unsupported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet

from harness.backends.inprocess import InProcessDUT
from harness.dut import TCPConn, TCPError, Unsupported
from harness.tests.fakedut import FakeDUT


@pytest.fixture
def dut() -> Iterator[InProcessDUT]:
    d = InProcessDUT()
    yield d
    d.close()


def _handshake(dut: InProcessDUT, port: int = 80, family: int = 4, sport: int = 40000) -> tuple[TCPConn, Packet]:
    """The tester opens a connection to the DUT's listener; returns (accepted conn, SYN-ACK)."""
    base = dut.ipv4() if family == 4 else dut.ipv6()
    dut.send(base / TCP(sport=sport, dport=port, flags="S", seq=1000))
    synack = dut.expect(TCP, within=1.0)
    assert synack[TCP].flags == "SA"
    dut.send(base / TCP(sport=sport, dport=port, flags="A", seq=1001, ack=synack[TCP].seq + 1))
    conn = dut.tcp_accept(port, family=family, within=1.0)  # type: ignore[arg-type]
    assert conn is not None
    return conn, synack


@pytest.mark.parametrize("family", [4, 6])
def test_listen_accept_and_the_connections_addresses(dut: InProcessDUT, family: int) -> None:
    dut.tcp_listen(80, family=family)  # type: ignore[arg-type]
    conn, _ = _handshake(dut, family=family)
    info = dut.info
    local, remote = (info.dut_ipv4.ip, info.tester_ipv4) if family == 4 else (info.dut_ipv6.ip, info.tester_ipv6)
    assert (conn.family, conn.local, conn.local_port, conn.remote, conn.remote_port) == (
        family, str(local), 80, str(remote), 40000,
    )
    assert dut.tcp_state(conn) == "ESTABLISHED"


def test_accept_returns_none_when_no_connection_completes(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    assert dut.tcp_accept(80, within=5.0) is None
    assert dut._now() >= 5.0  # waited in virtual time


def test_send_and_recv_move_data_both_ways(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    conn, synack = _handshake(dut)
    ours = synack[TCP].seq + 1
    dut.send(dut.ipv4() / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=ours) / b"ping")
    assert dut.tcp_recv(conn, within=1.0) == b"ping"
    assert dut.tcp_send(conn, b"pong") == 4
    seg = dut.expect(TCP, within=1.0)
    assert bytes(seg[TCP].payload) == b"pong" and seg[IP].flags == "DF"


def test_recv_returns_none_on_silence_and_empty_bytes_at_eof(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    conn, synack = _handshake(dut)
    assert dut.tcp_recv(conn, within=0.5) is None
    dut.send(dut.ipv4() / TCP(sport=40000, dport=80, flags="FA", seq=1001, ack=synack[TCP].seq + 1))
    assert dut.tcp_recv(conn, within=0.5) == b""
    assert dut.tcp_state(conn) == "CLOSE-WAIT"


def test_connect_returns_in_syn_sent_with_the_local_port(dut: InProcessDUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), 5555, options={"maxseg": 1000})
    syn = dut.expect(TCP, within=0.1)
    assert syn[TCP].flags == "S" and syn[TCP].sport == conn.local_port and syn[TCP].dport == 5555
    assert dict(syn[TCP].options)["MSS"] == 1000
    assert dut.tcp_state(conn) == "SYN-SENT"
    dut.send(dut.ipv4() / TCP(sport=5555, dport=conn.local_port, flags="SA", seq=9, ack=syn[TCP].seq + 1))
    assert dut.tcp_state(conn) == "ESTABLISHED"


def test_connect_with_a_fixed_source_port_over_ipv6(dut: InProcessDUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv6), 22, sport=4444)
    syn = dut.expect(IPv6, TCP, within=0.1)
    assert (conn.local_port, syn[TCP].sport, conn.family) == (4444, 4444, 6)


def test_refused_connection_raises_refused(dut: InProcessDUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), 5555)
    syn = dut.expect(TCP, within=0.1)
    dut.send(dut.ipv4() / TCP(sport=5555, dport=conn.local_port, flags="RA", seq=0, ack=syn[TCP].seq + 1))
    assert dut.tcp_state(conn) == "CLOSED"
    with pytest.raises(TCPError) as err:
        dut.tcp_send(conn, b"x")
    assert err.value.kind == "refused"


def test_shutdown_sends_fin_and_keeps_receiving(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    conn, synack = _handshake(dut)
    dut.tcp_shutdown(conn)
    fin = dut.expect(TCP, within=0.1)
    assert "F" in fin[TCP].flags and dut.tcp_state(conn) == "FIN-WAIT-1"
    dut.send(dut.ipv4() / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=synack[TCP].seq + 2) / b"more")
    assert dut.tcp_state(conn) == "FIN-WAIT-2"
    assert dut.tcp_recv(conn, within=0.1) == b"more"
    with pytest.raises(TCPError) as err:
        dut.tcp_send(conn, b"x")
    assert err.value.kind == "closed"


def test_close_then_state_follows_the_connection_to_time_wait(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    conn, synack = _handshake(dut)
    dut.tcp_close(conn)
    dut.expect(TCP, within=0.1, flags="FA")
    dut.send(dut.ipv4() / TCP(sport=40000, dport=80, flags="FA", seq=1001, ack=synack[TCP].seq + 2))
    assert dut.tcp_state(conn) == "TIME-WAIT"
    dut.wait(240.0)
    assert dut.tcp_state(conn) == "CLOSED"


def test_abort_resets(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    conn, synack = _handshake(dut)
    dut.tcp_abort(conn)
    rst = dut.expect(TCP, within=0.1)
    assert rst[TCP].flags == "R" and rst[TCP].seq == synack[TCP].seq + 1
    assert dut.tcp_state(conn) == "CLOSED"


def test_set_option_nodelay_and_keepalive_timers_in_seconds(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    conn, _ = _handshake(dut)
    dut.tcp_set_option(conn, "keepalive", True)
    dut.tcp_set_option(conn, "keepidle", 10)
    dut.tcp_set_option(conn, "keepintvl", 0.5)  # rounded up to 1 s, as Linux takes whole seconds
    probe = dut.expect(TCP, within=10.5)
    assert probe.time is not None and len(probe[TCP].payload) == 0
    stack_conn = dut._tcp.conn(conn.handle)
    assert (stack_conn.options.keepidle_ms, stack_conn.options.keepintvl_ms) == (10_000, 1_000)


@pytest.mark.parametrize(("name", "value"), [("maxseg", 10), ("keepcnt", 0), ("keepidle", -1), ("bogus", 1)])
def test_set_option_rejects_bad_values_with_value_error(dut: InProcessDUT, name: str, value: Any) -> None:
    dut.tcp_listen(80)
    conn, _ = _handshake(dut)
    with pytest.raises(ValueError):
        dut.tcp_set_option(conn, name, value)  # type: ignore[arg-type]


def test_listen_options_shape_the_syn_ack(dut: InProcessDUT) -> None:
    dut.tcp_listen(80, options={"maxseg": 700})
    dut.send(dut.ipv4() / TCP(sport=40000, dport=80, flags="S", seq=1000, options=[("MSS", 1460)]))
    synack = dut.expect(TCP, within=0.1)
    assert dict(synack[TCP].options)["MSS"] == 700


def test_a_second_listen_on_the_same_port_is_a_value_error(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    with pytest.raises(ValueError):
        dut.tcp_listen(80)
    dut.tcp_listen(80, family=6)  # the other family is another socket


def test_close_listener_refuses_later_syns(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    dut.tcp_close_listener(80)
    dut.send(dut.ipv4() / TCP(sport=40000, dport=80, flags="S", seq=1))
    assert dut.expect(TCP, within=0.1)[TCP].flags == "RA"


def test_reset_forgets_every_tcp_socket(dut: InProcessDUT) -> None:
    dut.tcp_listen(80)
    conn, _ = _handshake(dut)
    dut.reset()
    with pytest.raises(ValueError):
        dut.tcp_state(conn)
    dut.tcp_listen(80)  # the port is free again
    dut.send(dut.ipv4() / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=5))
    assert dut.expect(TCP, within=0.1)[TCP].flags == "R"  # the old connection is gone


def test_unknown_handle_is_a_value_error(dut: InProcessDUT) -> None:
    with pytest.raises(ValueError):
        dut.tcp_send(TCPConn(99, 4, "198.51.100.1", 1, "198.51.100.2", 2), b"x")
    with pytest.raises(ValueError):
        dut.tcp_accept(81)


def test_a_backend_without_tcp_raises_unsupported() -> None:
    fake = FakeDUT()
    with pytest.raises(Unsupported, match="TCP"):
        fake.tcp_listen(80)
    with pytest.raises(Unsupported):
        fake.tcp_connect("198.51.100.2", 80)
