"""ICMP errors about our segments (RFC 9293 3.9.2.2, RFC 1122 4.2.3.9, RFC 5927) and Path MTU
Discovery for TCP (RFC 1191, RFC 8201, RFC 9293 3.7.2)."""

from __future__ import annotations

import pytest

from stack_under_test.tests._tcp_bench import Out, Peer, TCPBench
from stack_under_test.transport.tcp import Connection, State, TCPError
from stack_under_test.wire.tcp import ACK, TCPOptions

ROUTER4 = bytes((198, 51, 100, 254))
ROUTER6 = bytes.fromhex("20010db80001000000000000000000fe")
BULK = b"d" * 20_000


def _sending(family: int) -> tuple[TCPBench, Connection, Peer, list[Out]]:
    bench = TCPBench(family)
    conn, peer = bench.accept_one(peer_options=TCPOptions(mss=1460))
    conn.send(BULK)
    return bench, conn, peer, [o for o in bench.out_frames() if o.seg.payload]


def test_fragmentation_needed_lowers_the_mss_and_resends_at_once() -> None:
    """RFC 1191 6.4: "the retransmission could be done in immediate response to a notification that the
    Path MTU has changed, but only for the specific connection"."""
    bench, conn, _, flight = _sending(4)
    assert conn.sender is not None and conn.sender.smss == 1460
    assert bench.icmp_error(3, 4, 1280, flight[0].packet, src=ROUTER4) is None
    assert conn.sender.smss == 1280 - 40
    resent = [o for o in bench.out_frames() if o.seg.payload]
    assert len(resent) == 1  # "only one segment should be retransmitted until acknowledgements begin"
    assert resent[0].seg.seq == flight[0].seg.seq and len(resent[0].packet) <= 1280 and resent[0].df


def test_fragmentation_needed_without_an_mtu_uses_the_plateau_below() -> None:
    """RFC 1191 5: a host guesses the next plateau below the datagram's length (1500 -> 1492)."""
    bench, conn, _, flight = _sending(4)
    bench.icmp_error(3, 4, 0, flight[0].packet, src=ROUTER4)
    assert conn.path_mtu == 1492


def test_a_packet_too_big_that_does_not_lower_the_mtu_changes_nothing() -> None:
    bench, conn, _, flight = _sending(4)
    bench.icmp_error(3, 4, 1400, flight[0].packet, src=ROUTER4)
    bench.out()
    bench.icmp_error(3, 4, 1450, flight[1].packet, src=ROUTER4)
    assert conn.path_mtu == 1400 and bench.out() == []  # RFC 1191 6.4: "ignore any other notifications"


def test_ipv6_packet_too_big_lowers_the_mss() -> None:
    bench, conn, _, flight = _sending(6)
    assert bench.icmp_error(2, 0, 1280, flight[0].packet, src=ROUTER6) is None
    assert conn.sender is not None and conn.sender.smss == 1280 - 60
    assert all(len(o.packet) <= 1280 for o in bench.out_frames())


def test_icmp_quoting_a_sequence_outside_the_flight_is_ignored() -> None:
    """RFC 5927 4.1: the quoted sequence number must satisfy SND.UNA =< SEG.SEQ < SND.NXT."""
    bench, conn, peer, flight = _sending(4)
    peer.read([o.seg for o in flight])
    peer.send(ACK)
    bench.out()
    bench.icmp_error(3, 4, 1280, flight[0].packet, src=ROUTER4)  # already acknowledged
    assert conn.path_mtu == 1500 and bench.tcp.events["tcp_icmp_out_of_window"] == 1


@pytest.mark.parametrize("code", [0, 1, 5])
def test_soft_errors_never_abort(code: int) -> None:
    """RFC 9293 3.9.2.2: soft errors (Destination Unreachable codes 0, 1, 5): "a TCP implementation
    MUST NOT abort the connection (MUST-56)"."""
    bench, conn, _, flight = _sending(4)
    bench.icmp_error(3, code, 0, flight[0].packet, src=ROUTER4)
    assert conn.state is State.ESTABLISHED and conn.soft_error == "unreachable"


def test_hard_error_aborts_an_established_connection() -> None:
    """RFC 9293 3.9.2.2: "These are hard error conditions, so TCP implementations SHOULD abort the
    connection (SHLD-26)", in the synchronized states too."""
    bench, conn, _, flight = _sending(4)
    bench.icmp_error(3, 3, 0, flight[0].packet, src=ROUTER4)
    assert conn.state is State.CLOSED and conn.error == "refused"
    assert [o for o in bench.out_frames() if o.seg.payload] == []  # nothing more is sent


def test_hard_error_quoting_acknowledged_data_leaves_the_connection_alone() -> None:
    """RFC 5927 4.1: a hard error must still quote a sequence number in flight to be acted on."""
    bench, conn, peer, flight = _sending(4)
    peer.read([o.seg for o in flight])
    peer.send(ACK)
    bench.icmp_error(3, 2, 0, flight[0].packet, src=ROUTER4)
    assert conn.state is State.ESTABLISHED


@pytest.mark.parametrize(("family", "icmp_type", "code", "kind"), [
    (4, 3, 3, "refused"), (4, 3, 2, "unreachable"), (6, 1, 4, "refused"), (6, 1, 1, "unreachable"),
])
def test_hard_error_aborts_a_connection_attempt(family: int, icmp_type: int, code: int, kind: str) -> None:
    """RFC 9293 3.9.2.2: hard errors: "TCP implementations SHOULD abort the connection (SHLD-26)"."""
    bench = TCPBench(family)
    conn = bench.tcp.connect(bench.peer_text, 80)
    (syn,) = bench.out_frames()
    bench.icmp_error(icmp_type, code, 0, syn.packet, src=ROUTER4 if family == 4 else ROUTER6)
    assert conn.state is State.CLOSED
    with pytest.raises(TCPError) as err:
        conn.send(b"x")
    assert err.value.kind == kind


def test_soft_error_in_syn_sent_is_kept_and_reported_at_the_timeout() -> None:
    """RFC 1122 4.2.3.9: soft errors "SHOULD make the information available to the application"."""
    bench = TCPBench(4)
    conn = bench.tcp.connect(bench.peer_text, 80)
    (syn,) = bench.out_frames()
    bench.icmp_error(3, 1, 0, syn.packet, src=ROUTER4)
    assert conn.state is State.SYN_SENT
    while conn.state is State.SYN_SENT:
        bench.advance(10_000)
    assert conn.error == "unreachable"


def test_source_quench_is_ignored() -> None:
    """RFC 9293 3.9.2.2: "TCP implementations MUST silently discard any received ICMP Source Quench
    messages (MUST-55)"."""
    bench, conn, _, flight = _sending(4)
    assert conn.sender is not None
    cwnd = conn.sender.cc.cwnd
    bench.icmp_error(4, 0, 0, flight[0].packet, src=ROUTER4)
    assert conn.sender.cc.cwnd == cwnd and conn.state is State.ESTABLISHED
    assert bench.tcp.events["tcp_icmp_source_quench_ignored"] == 1


def test_icmp_for_an_unknown_connection_is_ignored() -> None:
    bench, conn, _, flight = _sending(4)
    quoted = bytearray(flight[0].packet)
    quoted[22] ^= 0xFF  # another destination port
    bench.icmp_error(3, 2, 0, bytes(quoted), src=ROUTER4)
    assert conn.state is State.ESTABLISHED and bench.tcp.events["tcp_icmp_no_connection"] == 1
