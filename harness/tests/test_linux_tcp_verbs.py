"""The TCP verbs of the linux backend: real sockets in the DUT namespace, seen from the tester's
side of the veth with Scapy (needs root; skips otherwise)."""

from __future__ import annotations

import pytest
from scapy.layers.inet import TCP

from harness.backends.linux import tcp
from harness.backends.linux.dut import LinuxDUT
from harness.dut import TCPError
from harness.tcp_peer import TCPPeer


@pytest.mark.parametrize("family", [4, 6])
def test_listen_accept_send_recv_and_close(kernel: LinuxDUT, family: int) -> None:
    kernel.tcp_listen(80, family)  # type: ignore[arg-type]
    peer = TCPPeer(kernel, family, dut_port=80)  # type: ignore[arg-type]
    conn = peer.connect_accepted()
    assert (conn.family, conn.local_port, conn.remote, conn.remote_port) == (family, 80, peer.addr, peer.port)
    assert kernel.tcp_state(conn) == "ESTABLISHED"
    peer.send_data(b"ping")
    assert kernel.tcp_recv(conn, within=1.0) == b"ping"
    assert kernel.tcp_send(conn, b"pong") == 4
    peer.expect(data=b"pong")
    kernel.tcp_close(conn)
    peer.expect("FA")
    assert kernel.tcp_state(conn) == "FIN-WAIT-1"  # closed handle: read from /proc/net/tcp*
    peer.send_fin()
    peer.expect("A")
    assert kernel.tcp_state(conn) == "TIME-WAIT"


def test_connect_returns_in_syn_sent_and_reports_a_refusal(kernel: LinuxDUT) -> None:
    conn = kernel.tcp_connect(str(kernel.info.tester_ipv4), 5555, options={"maxseg": 1000})
    peer = TCPPeer.for_connection(kernel, conn)
    syn = peer.expect("S")
    assert syn[TCP].options and dict(syn[TCP].options)["MSS"] == 1000
    assert kernel.tcp_state(conn) == "SYN-SENT"
    assert kernel.tcp_send(conn, b"early") == 0  # Linux takes nothing before the handshake
    peer.send("RA", seq=0, ack=syn[TCP].seq + 1)
    with pytest.raises(TCPError) as err:
        kernel.tcp_recv(conn, within=0.5)
    assert err.value.kind == "refused"
    with pytest.raises(TCPError) as again:  # later verbs still say why (not EPIPE's "closed")
        kernel.tcp_send(conn, b"x")
    assert again.value.kind == "refused"


def test_abort_sends_a_reset_and_shutdown_refuses_sending(kernel: LinuxDUT) -> None:
    kernel.tcp_listen(81)
    first = TCPPeer(kernel, dut_port=81)
    conn = first.connect_accepted()
    kernel.tcp_shutdown(conn)
    first.expect("FA")
    with pytest.raises(TCPError) as err:
        kernel.tcp_send(conn, b"x")
    assert err.value.kind == "closed"
    second = TCPPeer(kernel, dut_port=81)
    other = second.connect_accepted()
    kernel.tcp_abort(other)
    second.expect("Ra", seq=second.rcv_nxt)
    assert kernel.tcp_state(other) == "CLOSED"


def test_bad_arguments_are_value_errors(kernel: LinuxDUT) -> None:
    kernel.tcp_listen(82)
    with pytest.raises(ValueError):
        kernel.tcp_listen(82)
    with pytest.raises(ValueError):
        kernel.tcp_accept(83)
    with pytest.raises(ValueError):
        kernel.tcp_listen(84, options={"maxseg": 10})
    with pytest.raises(ValueError):
        kernel.tcp_listen(84, options={"keepidle": -1})


def test_reset_removes_every_connection_the_kernel_keeps(kernel: LinuxDUT) -> None:
    kernel.tcp_listen(85)
    peer = TCPPeer(kernel, dut_port=85)
    conn = peer.connect_accepted()
    kernel.tcp_close(conn)
    peer.expect("FA")  # an orphan in FIN-WAIT-1 that would retransmit into the next test
    kernel.reset()
    peer.send_ack(seq=peer.snd_nxt)  # the connection is gone: a RST answers (RFC 9293 3.10.7.1)
    peer.expect("R")


@pytest.mark.parametrize(("name", "value", "wanted"), [
    ("keepidle", 0.2, 1), ("keepintvl", 2.5, 3), ("user_timeout", 1.5, 1500), ("nodelay", True, 1), ("maxseg", 536, 536),
])
def test_options_are_converted_to_what_setsockopt_takes(name: str, value: float, wanted: int) -> None:
    assert tcp.checked_option(name, value) == wanted
