"""RFC 9293 3.8.4 (RFC 1122 4.2.3.6): keep-alives are off by default, switched on per
connection, sent only after an idle interval that is configurable and defaults to at least two
hours, carry SEG.SEQ = SND.NXT-1, and an unanswered probe is not a dead connection.

Idle and probe intervals are shortened through the socket options (whole seconds, as Linux
takes them), so the tests stay short on a real clock."""

from __future__ import annotations

from typing import Final

from scapy.layers.inet import TCP
from scapy.packet import Packet

from harness import DUT, TCPConn, rfc
from harness.rfc import TCP_KEEPALIVE_DEFAULT_MIN, timer_fired_on_time
from harness.tcp_peer import TCPPeer, established, payload, seq_add
from harness.time_budget import require_dut_time

PORT: Final = 8100
IDLE: Final = 2.0
INTERVAL: Final = 1.0


def _probe(peer: TCPPeer, within: float) -> Packet:
    """A keep-alive probe: an ACK at SND.NXT-1 (RFC 9293 3.8.4), with no data or one octet."""
    return peer.expect("A", seq=seq_add(peer.rcv_nxt, -1), data=lambda d: len(d) <= 1, within=within, update=False)


def _quick_keepalive(dut: DUT, conn: TCPConn, *, enable: bool = True) -> None:
    dut.tcp_set_option(conn, "keepidle", IDLE)
    dut.tcp_set_option(conn, "keepintvl", INTERVAL)
    dut.tcp_set_option(conn, "keepcnt", 5)
    if enable:
        dut.tcp_set_option(conn, "keepalive", True)


@rfc("RFC9293-3.8.4-2")
def test_keepalive_is_off_by_default(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    _quick_keepalive(dut, conn, enable=False)  # short timers, but keep-alive itself left as it was
    peer.expect_none(within=IDLE + 2 * INTERVAL + 0.5)
    dut.tcp_set_option(conn, "keepalive", True)  # positive control: switched on, it probes
    _probe(peer, within=IDLE + 1.0)


@rfc("RFC9293-3.8.4-2", "RFC9293-3.8.4-1")
def test_keepalive_is_switched_per_connection(dut: DUT) -> None:
    on, on_conn = established(dut, PORT)
    off = TCPPeer(dut, dut_port=PORT)
    off_conn = off.connect_accepted()
    _quick_keepalive(dut, on_conn)
    _quick_keepalive(dut, off_conn, enable=False)
    _probe(on, within=IDLE + 1.0)
    off.expect_none(within=0.5)
    dut.tcp_set_option(on_conn, "keepalive", False)
    on.send_ack()  # answers the probe; from now on, nothing more
    # From the answer, sent after the option was off: a loaded tester may be late enough to switch
    # it off that the unanswered probe's retransmission came INTERVAL after it, which is allowed.
    on.expect_none(since=on.last_sent, within=IDLE + INTERVAL + 0.5)


@rfc("RFC9293-3.8.4-3", "RFC9293-3.8.4-4")
def test_first_probe_follows_the_configured_idle_interval(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    _quick_keepalive(dut, conn)
    peer.send_data(b"traffic restarts the idle time")
    last = peer.last_sent
    probe = _probe(peer, within=IDLE + 2.0)
    while probe.time < last:
        # Sent before the data: the connection was idle from the handshake while a loaded tester
        # was late to send it, and keep-alive was already on.
        probe = _probe(peer, within=IDLE + 2.0)
    waited = probe.time - last
    assert timer_fired_on_time(waited, IDLE), f"the first probe came {waited:.3f} s after the last segment, idle time {IDLE:g} s"


@rfc("RFC9293-3.8.4-5",
     quote="It is extremely important to remember that ACK segments that contain no data are not reliably "
           "transmitted by TCP.")
def test_an_unanswered_probe_does_not_end_the_connection(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    _quick_keepalive(dut, conn)
    first = _probe(peer, within=IDLE + 1.0)
    second = _probe(peer, within=INTERVAL + 2.0)  # the first went unanswered: another one
    assert timer_fired_on_time(second.time - first.time, INTERVAL)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    peer.send_ack()
    peer.send_data(b"alive")
    assert dut.tcp_recv(conn) == b"alive"


@rfc("RFC9293-3.8.4-6", quote="An implementation SHOULD send a keep-alive segment with no data (SHLD-12)")
def test_probe_carries_no_data(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    _quick_keepalive(dut, conn)
    probe = _probe(peer, within=IDLE + 1.0)
    assert payload(probe) == b"", f"the probe carries {len(payload(probe))} octet(s)"
    assert probe[TCP].ack == peer.snd_nxt


@rfc("RFC9293-3.8.4-3")
def test_answered_probes_keep_coming_each_idle_interval(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    _quick_keepalive(dut, conn)
    first = _probe(peer, within=IDLE + 1.0)
    peer.send_ack()  # an answer: the connection is idle again from here
    answered = peer.last_sent
    second = _probe(peer, within=IDLE + 2.0)
    while second.time < answered:
        # Sent before the answer: the unanswered first probe's successor, INTERVAL after it (RFC
        # 9293 3.8.4: no "failure to respond to any specific probe" ends it), a loaded tester late.
        second = _probe(peer, within=IDLE + 2.0)
    assert timer_fired_on_time(second.time - answered, IDLE), (
        f"after an answered probe the next came {second.time - answered:.3f} s later, not after the idle time")
    assert first.time < second.time


@rfc("RFC9293-3.8.4-4")
def test_default_idle_interval_is_at_least_two_hours(dut: DUT) -> None:
    require_dut_time(dut, TCP_KEEPALIVE_DEFAULT_MIN)
    peer, conn = established(dut, PORT)
    dut.tcp_set_option(conn, "keepalive", True)  # the default idle interval
    peer.expect_none(within=TCP_KEEPALIVE_DEFAULT_MIN - 1.0)
    _probe(peer, within=TCP_KEEPALIVE_DEFAULT_MIN)  # positive control: it does probe eventually


@rfc("RFC9293-3.8.4-3", "RFC9293-3.8.4-1")
def test_keepalive_set_on_the_listener_probes_the_accepted_connection(dut: DUT) -> None:
    # Switched on before the connection exists (on the listening socket, which the accepted
    # connection inherits it from): the idle timer must start with the connection itself.
    peer, _conn = established(dut, PORT, listen_options={
        "keepalive": True, "keepidle": IDLE, "keepintvl": INTERVAL, "keepcnt": 5})
    established_at = peer.last_sent
    probe = _probe(peer, within=IDLE + 2.0)
    waited = probe.time - established_at
    assert timer_fired_on_time(waited, IDLE), f"the first probe came {waited:.3f} s after the handshake, idle time {IDLE:g} s"
