"""RFC 6298 (the retransmission timer) and RFC 9293 3.8.1/3.8.3: the initial RTO, its floor,
exponential back-off, the 3-second fall-back after a lost SYN, which segment a timeout
resends, and how long a TCP keeps retransmitting before it gives up (R2).

Times are measured between frames (each carries the DUT clock's time it reached the tester)
and held to the RFC's numbers with ``timer_fired_on_time``: never early, late only by the
coarseness of a real timer."""

from __future__ import annotations

import itertools
from typing import Final

import pytest
from scapy.layers.inet import TCP
from scapy.packet import Packet

from harness import DUT, TCPError, rfc
from harness.rfc import (
    TCP_INITIAL_RTO,
    TCP_MIN_RTO,
    TCP_SYN_FALLBACK_RTO,
    TIMER_EARLY,
    timer_doubled,
    timer_fired_on_time,
)
from harness.tcp_peer import (
    TCPPeer,
    established,
    payload,
    seq_add,
    seq_diff,
    seq_lt,
    skip_unless_tiny_rtt_sample,
)
from harness.time_budget import require_dut_time

PORT: Final = 7700



def _retransmissions(peer: TCPPeer, first: Packet, count: int, within: float) -> list[Packet]:
    """The next ``count`` transmissions of the segment ``first`` (same sequence number)."""
    flags = "S" if "S" in first[TCP].flags and "A" not in first[TCP].flags else ("SA" if "S" in first[TCP].flags else None)
    out = []
    for _ in range(count):
        out.append(peer.expect(flags, seq=first[TCP].seq, within=within, update=False))
    return out


def _check_interval(earlier: Packet, later: Packet, expected: float, what: str) -> None:
    measured = later.time - earlier.time
    assert timer_fired_on_time(measured, expected), f"{what} came {measured:.3f} s after the previous one, expected {expected:g} s"


def _check_doubled(first: Packet, second: Packet, third: Packet, what: str) -> None:
    before, after = second.time - first.time, third.time - second.time
    assert timer_doubled(before, after), f"{what} came {after:.3f} s after the previous one, which came after {before:.3f} s"


def _unacknowledged_data(dut: DUT, **peer: object) -> tuple[TCPPeer, Packet]:
    """An established connection whose DUT sent a data segment the peer never acknowledges."""
    tester, conn = established(dut, PORT, **peer)  # type: ignore[arg-type]
    assert dut.tcp_send(conn, b"unacknowledged") == 14
    return tester, tester.expect(data=b"unacknowledged")


@rfc("RFC6298-2-1")
def test_unanswered_syn_is_retransmitted_after_one_second(dut: DUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    peer = TCPPeer.for_connection(dut, conn)
    syn = peer.expect("S")
    (again,) = _retransmissions(peer, syn, 1, within=5.0)
    _check_interval(syn, again, TCP_INITIAL_RTO, "the SYN's retransmission")


@rfc("RFC6298-5-3")
def test_syn_retransmissions_back_off_exponentially(dut: DUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    peer = TCPPeer.for_connection(dut, conn)
    syn = peer.expect("S")
    first, second = _retransmissions(peer, syn, 2, within=10.0)
    _check_doubled(syn, first, second, "the SYN's second retransmission")


@rfc("RFC6298-2-1")
def test_unanswered_syn_ack_is_retransmitted_after_one_second_then_two(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_syn()
    synack = peer.expect("SA")
    first, second = _retransmissions(peer, synack, 2, within=10.0)
    _check_interval(synack, first, TCP_INITIAL_RTO, "the SYN-ACK's retransmission")
    _check_interval(first, second, 2 * TCP_INITIAL_RTO, "the SYN-ACK's second retransmission")


@rfc("RFC6298-2-8", "RFC6298-1-2", "RFC6298-5-1")
def test_data_is_retransmitted_one_second_after_a_tiny_rtt_sample(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    synack = peer.connect()  # the handshake gives the DUT a tiny RTT sample, unless the tester is late
    skip_unless_tiny_rtt_sample(peer, synack)
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    assert dut.tcp_send(conn, b"unacknowledged") == 14
    data = peer.expect(data=b"unacknowledged")
    again = peer.expect(seq=data[TCP].seq, data=lambda d: len(d) > 0, within=5.0, update=False)
    waited = again.time - data.time
    assert waited >= TCP_MIN_RTO - 0.01, f"data was retransmitted after {waited:.3f} s, under the 1 s floor of RTO"
    # Any RTT sample under a third of a second computes an RTO under 1 s (2.2: SRTT + 4 x R/2),
    # which 2.4 rounds up to 1 s, not to more: the timer of 5.1 expires after that second.
    _check_interval(data, again, TCP_MIN_RTO, "the first retransmission of data")


@rfc("RFC6298-5-3", "RFC6298-5-1")
def test_data_retransmissions_back_off_exponentially(dut: DUT) -> None:
    peer, data = _unacknowledged_data(dut)
    sent = [data]
    for _ in range(3):
        sent.append(peer.expect(seq=data[TCP].seq, data=lambda d: len(d) > 0, within=20.0, update=False))
    _check_doubled(sent[1], sent[2], sent[3], "the third retransmission")


@rfc("RFC6298-5-4")
def test_rto_is_three_seconds_after_a_retransmitted_syn(dut: DUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    peer = TCPPeer.for_connection(dut, conn)
    syn = peer.expect("S")
    peer.expect("S", seq=syn[TCP].seq, within=5.0)  # the first SYN "was lost": answer the second
    peer.send("SA", seq=peer.iss)
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_send(conn, b"after a lost SYN") == 16
    data = peer.expect(data=b"after a lost SYN")
    again = peer.expect(seq=data[TCP].seq, data=lambda d: len(d) > 0, within=10.0, update=False)
    _check_interval(data, again, TCP_SYN_FALLBACK_RTO, "the first retransmission of data")


@rfc("RFC6298-5-4")
def test_rto_is_three_seconds_after_a_retransmitted_syn_ack(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_syn()
    synack = peer.expect("SA")
    peer.expect("SA", seq=synack[TCP].seq, within=5.0)  # the first SYN,ACK "was lost": answer the second
    peer.send_ack()
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    assert dut.tcp_send(conn, b"after a lost SYN,ACK") == 20
    data = peer.expect(data=b"after a lost SYN,ACK")
    again = peer.expect(seq=data[TCP].seq, data=lambda d: len(d) > 0, within=10.0, update=False)
    _check_interval(data, again, TCP_SYN_FALLBACK_RTO, "the first retransmission of data")


# With the connection closed as well, the FIN follows the data: the first segment, sent again,
# must not carry it (its sequence number is after the last octet of data).
@pytest.mark.parametrize("closed", [pytest.param(False, id="open"), pytest.param(True, id="fin-queued")])
@rfc("RFC6298-5-2",
     quote="(5.4) Retransmit the earliest segment that has not been acknowledged by the TCP receiver.")
def test_timeout_retransmits_the_earliest_unacknowledged_segment(dut: DUT, closed: bool) -> None:
    peer, conn = established(dut, PORT, mss=536)
    data = bytes(i % 251 for i in range(3 * 536))  # three full-sized segments (no Nagle hold-back)
    assert dut.tcp_send(conn, data) == len(data)
    if closed:
        dut.tcp_close(conn)
    una = peer.rcv_nxt
    peer.receive(len(data), ack=False)  # the first transmissions, none acknowledged
    end = peer.rcv_nxt
    resent = peer.expect(seq=lambda s: seq_lt(s, end), data=lambda d: len(d) > 0, within=5.0, update=False)
    assert resent[TCP].seq == una, (f"the first retransmission starts {seq_diff(resent[TCP].seq, una):+d} octets "
                                    "from SND.UNA, not at the earliest unacknowledged segment")
    assert "F" not in resent.sprintf("%TCP.flags%") or seq_add(una, len(payload(resent))) == end, (
        f"the first segment, {len(payload(resent))} of {len(data)} octets, came again with the FIN")


@rfc("RFC6298-5-2",
     quote="(5.2) When all outstanding data has been acknowledged, turn off the retransmission timer.")
def test_acknowledged_data_is_not_retransmitted(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    dut.tcp_send(conn, b"acknowledged at once")
    peer.expect(data=b"acknowledged at once")
    end = peer.rcv_nxt
    peer.send_ack()
    # From the ACK's sending: a copy the timer sent before it reached the DUT (a loaded tester
    # acknowledging after the RTO) was no retransmission of acknowledged data.
    peer.expect_none(seq=lambda s: seq_lt(s, end), data=lambda d: len(d) > 0, since=peer.last_sent,
                     within=2.5 * TCP_INITIAL_RTO)
    dut.tcp_send(conn, b"never acknowledged")  # positive control: this one is retransmitted
    sent = peer.expect(data=b"never acknowledged")
    peer.expect(seq=sent[TCP].seq, data=lambda d: len(d) > 0, within=5.0, update=False)


@rfc("RFC6298-2-9")
def test_back_off_is_not_capped_below_sixty_seconds(dut: DUT) -> None:
    require_dut_time(dut, 200.0)
    peer, data = _unacknowledged_data(dut)
    times = [data.time]
    while times[-1] - times[0] < 190.0:
        try:
            times.append(peer.expect(seq=data[TCP].seq, data=lambda d: len(d) > 0, within=130.0, update=False).time)
        except AssertionError:
            break
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for before, after in itertools.pairwise(gaps):
        assert after >= min(2 * before, 60.0) - 0.01, f"the back-off went from {before:.1f} s to {after:.1f} s: capped below 60 s"


@rfc("RFC9293-3.8.3-5")
def test_unacknowledged_data_is_retransmitted_for_at_least_100_seconds(dut: DUT) -> None:
    require_dut_time(dut, 101.0)
    peer, conn = established(dut, PORT)
    dut.tcp_send(conn, b"into the void")
    peer.expect(data=b"into the void")
    dut.wait(100.0)
    assert dut.tcp_state(conn) == "ESTABLISHED", "the connection was given up within 100 s"


@rfc("RFC9293-3.8.3-7", "RFC9293-3.8.3-6")
def test_syn_is_retransmitted_for_at_least_three_minutes(dut: DUT) -> None:
    require_dut_time(dut, 181.0)
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    peer = TCPPeer.for_connection(dut, conn)
    peer.expect("S")
    dut.wait(180.0)
    assert dut.tcp_state(conn) == "SYN-SENT", "the open attempt was given up within 3 minutes"


@rfc("RFC9293-3.8.3-2", "RFC9293-3.8.3-1")
def test_user_timeout_ends_a_connection_whose_data_goes_unacknowledged(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    dut.tcp_set_option(conn, "user_timeout", 3.0)
    dut.tcp_send(conn, b"nobody acknowledges this")
    sent = peer.expect(data=b"nobody acknowledges this")
    # Timed from the data's arrival, not from when a loaded tester read it.
    dut.wait(max(0.0, float(sent.time) + 2.0 - dut.now()))
    state = dut.tcp_state(conn)
    if state != "ESTABLISHED" and dut.now() - float(sent.time) >= 3.0 - TIMER_EARLY:
        pytest.skip(f"the tester saw the connection's state {dut.now() - float(sent.time):.3f} s after the data went "
                    "out, past the 3-s user timeout: a loaded tester; whether it ended before that is unknown")
    assert state == "ESTABLISHED", "the connection ended before its 3 s user timeout"
    # The timeout counts from the data's first transmission, not from its latest retransmission
    # (those at 1 s and 3 s would put the end at 7 s): over a second after it, the connection is gone.
    dut.wait(max(0.0, float(sent.time) + 4.2 - dut.now()))
    with pytest.raises(TCPError) as failure:
        dut.tcp_recv(conn, within=0.1)
    assert failure.value.kind == "timed_out"
