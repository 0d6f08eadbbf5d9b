"""RFC 9293 3.9.2.2 (RFC 1122 4.2.3.9) and RFC 5927: ICMP errors about a connection's segments.
Soft errors never abort a connection; hard errors should; Source Quench is ignored; and an
error that quotes a sequence number not in flight may be ignored (RFC 5927 4.1).

Each error quotes a segment the DUT really sent and the peer has not acknowledged, so a DUT
that checks the quoted sequence number still takes it as genuine."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, TCP
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6ParamProblem, ICMPv6TimeExceeded
from scapy.packet import Packet, Raw

from harness import DUT, MAY, TCPConn, TCPError, described, l3_bytes, rfc
from harness.tcp_peer import TCPPeer, established, seq_add

PORT: Final = 8500
IP_HEADER: Final = 20  # the DUT's SYN carries no IPv4 options
SOFT_V4: Final = [
    pytest.param((3, 0), id="net-unreachable"), pytest.param((3, 1), id="host-unreachable"),
    pytest.param((3, 5), id="source-route-failed"), pytest.param((11, 0), id="ttl-exceeded"),
    pytest.param((11, 1), id="reassembly-time-exceeded"), pytest.param((12, 0), id="parameter-problem"),
]


def _in_flight(dut: DUT, family: int = 4, rtt: float = 0.0) -> tuple[TCPPeer, TCPConn, Packet]:
    """A connection with a data segment of the DUT in flight (sent, not acknowledged); its
    handshake takes ``rtt`` seconds (``TCPPeer.connect``)."""
    peer, conn = established(dut, PORT, family, rtt=rtt)  # type: ignore[arg-type]
    dut.tcp_send(conn, b"in flight")
    return peer, conn, peer.expect(data=b"in flight")


def _connecting(dut: DUT) -> tuple[TCPPeer, TCPConn, Packet]:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    peer = TCPPeer.for_connection(dut, conn)
    return peer, conn, peer.expect("S")


def _error_v4(peer: TCPPeer, about: Packet, kind: tuple[int, int]) -> Packet:
    error = peer.icmp_error(about, type=kind[0], code=kind[1])
    if kind[0] == 12:
        error[ICMP].ptr = 1
    return error


@pytest.mark.parametrize("kind", SOFT_V4)
@rfc("RFC9293-3.9.2.2-3")
def test_soft_error_does_not_abort_an_established_connection(dut: DUT, kind: tuple[int, int]) -> None:
    peer, conn, data = _in_flight(dut)
    dut.send(_error_v4(peer, data, kind))
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    peer.send_ack()
    peer.send_data(b"still connected")
    assert dut.tcp_recv(conn) == b"still connected"


@pytest.mark.parametrize("family", [pytest.param(4, id="ipv4-host-unreachable"), pytest.param(6, id="ipv6-no-route")])
@rfc("RFC9293-3.9.2.2-3", quote="it SHOULD make the information available to the application (SHLD-25)")
def test_soft_error_is_reported_when_the_connection_times_out(dut: DUT, family: int) -> None:
    # RFC 1122 4.2.3.9's DISCUSSION: TCP "could merely note the message and report it to the
    # application only when and if the TCP connection times out" (Linux: sk_err_soft).
    peer, conn, data = _in_flight(dut, family)
    dut.tcp_set_option(conn, "user_timeout", 3.0)
    dut.send(_error_v4(peer, data, (3, 1)) if family == 4 else peer.icmp_error(data, code=0))
    dut.wait(9.0)  # nothing is acknowledged: the 3-s user timeout ends the connection
    with pytest.raises(TCPError) as failure:
        dut.tcp_recv(conn, within=0.1)
    assert failure.value.kind == "unreachable", (
        f"after a soft error the timed-out connection reported {failure.value.kind!r}, not the error")


@pytest.mark.parametrize("code", [pytest.param(0, id="no-route"), pytest.param(3, id="address-unreachable")])
@rfc("RFC9293-3.9.2.2-3",
     quote="For ICMPv6, these include: Destination Unreachable -- codes 0, 3; Time Exceeded -- codes 0, 1; "
           "and Parameter Problem -- codes 0, 1, 2. Since these Unreachable messages indicate soft error "
           "conditions, a TCP implementation MUST NOT abort the connection (MUST-56)")
def test_icmpv6_soft_error_does_not_abort_an_established_connection(dut: DUT, code: int) -> None:
    peer, conn, data = _in_flight(dut, 6)
    dut.send(peer.icmp_error(data, code=code))
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    peer.send_ack()
    peer.send_data(b"still connected")
    assert dut.tcp_recv(conn) == b"still connected"


@rfc("RFC9293-3.9.2.2-3")
def test_soft_error_does_not_abort_an_opening_connection(dut: DUT) -> None:
    peer, conn, syn = _connecting(dut)
    dut.send(_error_v4(peer, syn, (3, 1)))
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "SYN-SENT", "a Host Unreachable (a soft error) aborted the open"
    peer.send("SA", seq=peer.iss)  # the SYN did get through after all
    peer.expect("A", ack=peer.snd_nxt)


@pytest.mark.parametrize("code", [pytest.param(2, id="protocol-unreachable"), pytest.param(3, id="port-unreachable")])
@rfc("RFC9293-3.9.2.2-4", "RFC1122-3.2.2.1-4", quote="For ICMP these include Destination Unreachable -- codes 2-4.")
def test_hard_error_aborts_an_opening_connection(dut: DUT, code: int) -> None:
    _peer, conn, syn = _connecting(dut)
    dut.send(_error_v4(_peer, syn, (3, code)))
    with pytest.raises(TCPError):
        dut.tcp_recv(conn, within=1.0)
    assert dut.tcp_state(conn) == "CLOSED"


@rfc("RFC9293-3.9.2.2-4", "RFC9293-3.9.2.2-1",
     quote="For ICMP these include Destination Unreachable -- codes 2-4.")
def test_hard_error_quoting_eight_octets_of_the_segment_aborts_an_opening_connection(dut: DUT) -> None:
    # RFC 792: the error returns "the internet header plus the first 64 bits of the original
    # datagram's data", which hold the ports and the sequence number; many routers quote no more.
    peer, conn, syn = _connecting(dut)
    error = dut.ipv4(src=peer.addr, dst=peer.dut_addr) / ICMP(type=3, code=3) / Raw(l3_bytes(syn)[:IP_HEADER + 8])
    dut.send(error)
    with pytest.raises(TCPError):
        dut.tcp_recv(conn, within=1.0)
    assert dut.tcp_state(conn) == "CLOSED", "a Port Unreachable quoting the SYN's first 8 octets left it opening"


@pytest.mark.parametrize(("kind", "code"), [
    pytest.param(3, 0, id="hop-limit-exceeded"), pytest.param(3, 1, id="reassembly-time-exceeded"),
    pytest.param(4, 0, id="erroneous-header-field"), pytest.param(4, 1, id="unrecognized-next-header"),
    pytest.param(4, 2, id="unrecognized-option"),
])
@rfc("RFC9293-3.9.2.2-3",
     quote="For ICMPv6, these include: Destination Unreachable -- codes 0, 3; Time Exceeded -- codes 0, 1; "
           "and Parameter Problem -- codes 0, 1, 2. Since these Unreachable messages indicate soft error "
           "conditions, a TCP implementation MUST NOT abort the connection (MUST-56)")
def test_icmpv6_time_exceeded_and_parameter_problem_do_not_abort_a_connection(dut: DUT, kind: int, code: int) -> None:
    peer, conn, data = _in_flight(dut, 6)
    message = ICMPv6TimeExceeded(code=code) if kind == 3 else ICMPv6ParamProblem(code=code, ptr=6 if code < 2 else 40)
    dut.send(dut.ipv6(src=peer.addr, dst=peer.dut_addr) / message / Raw(l3_bytes(data)))
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    peer.send_ack()
    peer.send_data(b"still connected")
    assert dut.tcp_recv(conn) == b"still connected"


@rfc("RFC9293-3.9.2.2-4")
def test_hard_error_aborts_an_established_connection(dut: DUT) -> None:
    peer, conn, data = _in_flight(dut)
    dut.send(_error_v4(peer, data, (3, 2)))
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "CLOSED", "a Protocol Unreachable left the connection established"


@rfc("RFC9293-3.9.2.2-2")
def test_source_quench_is_ignored(dut: DUT) -> None:
    # The segment in flight must be acknowledged before the DUT's retransmission timer runs out:
    # after a timeout its congestion window is one segment (RFC 5681 3.1), and one ACK of a few
    # octets grows it by no more than those octets, so it would rightly send one segment of the
    # two. A 0.5-s handshake makes that timer about 1.5 s (RFC 6298 2.2), longer than a loaded
    # tester takes to answer; Linux's 200-ms floor runs out during the silence window below.
    peer, conn, data = _in_flight(dut, rtt=0.5)
    dut.send(_error_v4(peer, data, (4, 0)))
    peer.expect_none(flags="Ra", within=0.3)  # no reset
    peer.send_ack()
    # A sender that obeyed the quench would be down to one segment; this one still sends two at once.
    dut.tcp_send(conn, bytes(2 * peer.mss))
    first = peer.expect(seq=peer.rcv_nxt, data=lambda d: len(d) > 0, within=0.5)
    second = peer.expect(seq=peer.rcv_nxt, data=lambda d: len(d) > 0, within=0.5)
    assert second.time - first.time < 0.1, "after a Source Quench the DUT sent one segment per round trip"
    assert dut.tcp_state(conn) == "ESTABLISHED"


@rfc("RFC9293-3.9.2.2-2")
def test_source_quench_leaves_no_trace_in_the_error_a_timeout_reports(dut: DUT) -> None:
    # A DUT that kept the quench, as it keeps a soft error for the application (SHLD-25), would
    # report it when the connection times out instead of the timeout itself.
    peer, conn = established(dut, PORT)
    dut.tcp_set_option(conn, "user_timeout", 3.0)
    dut.tcp_send(conn, b"never acknowledged")
    data = peer.expect(data=b"never acknowledged")
    dut.send(_error_v4(peer, data, (4, 0)))
    dut.wait(9.0)  # nothing is acknowledged: the 3-s user timeout ends the connection
    with pytest.raises(TCPError) as failure:
        dut.tcp_recv(conn, within=0.1)
    assert failure.value.kind == "timed_out", f"the timed-out connection reported {failure.value.kind!r}"


@described(5927, "4.1", MAY,
           "These implementations check that the TCP sequence number contained in the payload of the ICMP "
           "error message is within the range SND.UNA =< SEG.SEQ < SND.NXT. This means that they require "
           "that the sequence number be within the range of the data already sent but not yet acknowledged. "
           "If an ICMP error message does not pass this check, it is discarded.")
def test_error_quoting_a_sequence_number_not_in_flight_is_ignored(dut: DUT) -> None:
    peer, conn, syn = _connecting(dut)
    forged = syn.copy()
    forged[TCP].seq = seq_add(syn[TCP].seq, 5000)
    dut.send(_error_v4(peer, forged, (3, 3)))
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "SYN-SENT", "a Port Unreachable quoting a sequence number never sent aborted the open"
    dut.send(_error_v4(peer, syn, (3, 3)))  # positive control: the genuine one does
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "CLOSED"


@rfc("RFC9293-3.9.2.2-1", quote="directing it to the connection that created the error")
def test_error_quoting_too_little_to_name_a_connection_leaves_it_alone(dut: DUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv6), PORT)
    peer = TCPPeer.for_connection(dut, conn)
    syn = peer.expect("S")
    # A Port Unreachable quoting the SYN's IPv6 header and two octets of its TCP header (RFC
    # 4443 asks for as much as fits): the source port alone names no connection.
    dut.send(dut.ipv6(src=peer.addr, dst=peer.dut_addr) / ICMPv6DestUnreach(code=4) / Raw(l3_bytes(syn)[:42]))
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "SYN-SENT", "an error quoting no destination port ended the open"
    peer.send("SA", seq=peer.iss)  # the handshake completes as if nothing had come
    peer.expect("A", ack=peer.snd_nxt)


@rfc("RFC9293-3.9.2.2-1")
def test_error_about_another_connection_leaves_this_one_alone(dut: DUT) -> None:
    peer, conn, syn = _connecting(dut)
    other = syn.copy()
    other[TCP].sport = (syn[TCP].sport + 1) % 65536 or 1
    dut.send(_error_v4(peer, other, (3, 3)))
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "SYN-SENT"
    dut.send(_error_v4(peer, syn, (3, 3)))  # the same error about this connection's SYN
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "CLOSED"
