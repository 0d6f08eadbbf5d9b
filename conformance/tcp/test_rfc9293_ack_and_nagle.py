"""RFC 9293 3.7.4 and 3.8.6.3, RFC 5681 4.2: when the DUT acknowledges (delayed ACKs, every
second full-sized segment, out-of-order data at once) and when it sends small segments (the
Nagle algorithm, TCP_NODELAY, the receiver's silly window syndrome avoidance)."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import TCP

from harness import DUT, SHOULD, TCPState, described, rfc
from harness.rfc import TCP_MAX_ACK_DELAY
from harness.tcp_peer import TCPPeer, established, seq_add
from harness.tcp_states import connection_in

PORT: Final = 7900
MSS: Final = 1000  # the DUT's segments to the peer, and the peer's full-sized segments
# An ACK sent "immediately" leaves as the segment is processed; a delayed one waits for a timer
# (up to 500 ms; commonly 40-200 ms). On a DUT that answers in order, an immediate ACK comes
# before the reply to a barrier probe sent after the segment, however loaded the machine; on
# another, anything under this counts as immediate.
IMMEDIATE: Final = 0.03
# A handshake this long (TCPPeer.connect) makes the DUT's retransmission timeout about three
# times as long (RFC 6298 2.2), where a test leaves the DUT's data unacknowledged.
RTT: Final = 0.5


def _assert_immediate(dut: DUT, ack_time: float, barrier_reply: float | None, sent: float, what: str) -> None:
    if barrier_reply is None:
        assert ack_time - sent < IMMEDIATE, f"{what} waited {ack_time - sent:.3f} s"
        return
    if ack_time <= barrier_reply:
        return
    # The barrier's order holds for nearly every frame, but a loaded Linux once answered the echo
    # request before the TCP segment sent ahead of it: the ACK came 3 us after the reply and 2 ms
    # after the segment, where its delayed ACK waits 40 ms at least (a linux soak beside two busy
    # loops). So an ACK after the reply is held to the DUT's own delayed-ACK time, measured on a
    # new connection (on this one, data held out of order would draw immediate ACKs): it waited
    # for that timer if it took half as long or more.
    waited = ack_time - sent
    delayed = _first_delayed_ack(dut, established(dut, PORT + 1)[0])
    assert delayed is not None and waited < delayed / 2, (
        f"{what} came {ack_time - barrier_reply:.3f} s after the DUT answered an echo request sent after the "
        f"segment, {waited:.3f} s after the segment: it waited for a timer (a lone segment's delayed ACK "
        + ("never came" if delayed is None else f"took {delayed:.3f} s") + ")")


def _first_delayed_ack(dut: DUT, peer: TCPPeer) -> float | None:
    """How long the DUT's ACK of the first of up to 60 lone one-octet segments that it did not
    acknowledge at once took; None when it acknowledged each at once. A DUT may acknowledge the
    first segments of a connection at once (Linux's quick-ack mode: here some 20 to 60 of them)."""
    for _ in range(60):
        peer.send_data(b"x")
        sent = peer.last_sent
        barrier_reply = dut.barrier()
        ack = peer.expect("A", ack=peer.snd_nxt, within=TCP_MAX_ACK_DELAY)
        if (ack.time > barrier_reply) if barrier_reply is not None else (ack.time - sent >= IMMEDIATE):
            return float(ack.time - sent)
    return None


@pytest.mark.parametrize("in_flight", [pytest.param(False, id="idle"), pytest.param(True, id="dut-data-in-flight")])
@rfc("RFC9293-3.8.6.3-1", "RFC5681-4.2-1", "RFC5681-4.2-2", "RFC5681-4.2-3", "RFC5681-4.2-7")
def test_a_lone_segment_is_acknowledged_within_half_a_second(dut: DUT, in_flight: bool) -> None:
    peer, conn = established(dut, PORT)
    unacked = None
    if in_flight:
        # The DUT's own data stays unacknowledged, so its retransmission timer runs (RFC 6298 2.4:
        # rounded up to 1 s, SHOULD): the ACK of the peer's segment may not wait for that timer
        # (the retransmission would carry it, too late).
        unacked = peer.rcv_nxt
        dut.tcp_send(conn, b"unacknowledged")
        peer.expect(data=b"unacknowledged")
    peer.send_data(b"one small segment", ack=unacked)
    ack = peer.expect("A", ack=peer.snd_nxt, within=2.0)
    delay = ack.time - peer.last_sent
    assert delay < TCP_MAX_ACK_DELAY, f"the ACK came {delay:.3f} s after the segment"


@pytest.mark.parametrize("state", ["ESTABLISHED", "FIN-WAIT-2"])
@rfc("RFC5681-4.2-1")
def test_lone_segments_are_acknowledged_after_a_delay(dut: DUT, state: TCPState) -> None:
    # "The delayed ACK algorithm specified in [RFC1122] SHOULD be used by a TCP receiver": a lone
    # small segment waits for the delayed-ACK timer. A DUT may acknowledge the first segments of
    # a connection at once (Linux's quick-ack mode: here some 20 to 60 of them); after those, one
    # acknowledgment at least must wait.
    peer, _conn = connection_in(dut, state, PORT)
    assert _first_delayed_ack(dut, peer) is not None, (
        f"each of 60 lone one-octet segments was acknowledged at once in {state}: no delayed ACK")


@rfc("RFC9293-3.8.6.3-2")
def test_every_second_full_sized_segment_is_acknowledged(dut: DUT) -> None:
    peer, _conn = established(dut, PORT, listen_options={"maxseg": MSS})
    rmss = peer.mss
    start = peer.snd_nxt
    for i in range(4):
        peer.send_data(bytes([i]) * rmss)
    acks = []
    while True:
        try:
            acks.append(peer.expect("A", within=TCP_MAX_ACK_DELAY)[TCP].ack)
        except AssertionError:
            break
        if acks[-1] == peer.snd_nxt:
            break
    covered = [(a - start) % 2**32 for a in acks]
    assert any(2 * rmss <= c < 4 * rmss for c in covered), (
        f"four full-sized segments drew ACKs covering {covered} octets: none after the second segment")


@rfc("RFC9293-3.8.6.3-1", quote="A TCP endpoint SHOULD implement a delayed ACK (SHLD-18)")
def test_a_stream_of_segments_draws_fewer_acks_than_segments(dut: DUT) -> None:
    # "sending fewer than one ACK (acknowledgment) segment per data segment received": a DUT may
    # acknowledge the first segments of a connection one by one (Linux's quick ACKs, at most 16),
    # but not a whole stream of them.
    peer, _conn = established(dut, PORT, listen_options={"maxseg": MSS})
    count = min(40, peer.dut_window // peer.mss)
    for i in range(count):
        peer.send_data(bytes([i]) * peer.mss)
    acks = 0
    while True:
        try:
            ack = peer.expect("A", data=b"", within=TCP_MAX_ACK_DELAY)[TCP].ack
        except AssertionError:
            break
        acks += 1
        if ack == peer.snd_nxt:
            break
    assert 0 < acks < count, f"{count} full-sized segments in a row drew {acks} ACKs"


@rfc("RFC9293-3.8.6.3-2")
def test_the_second_full_sized_segment_is_acknowledged_without_waiting_for_a_timer(dut: DUT) -> None:
    # "An ACK SHOULD be generated for at least every second full-sized segment": once two of them
    # are in, the ACK may not wait for the delayed-ACK timer (a receiver that did would, in a
    # stream, acknowledge every third segment or fewer).
    peer, _conn = established(dut, PORT, listen_options={"maxseg": MSS})
    # Built first and sent back to back: a tester descheduled between two sends for longer than
    # the DUT's delayed-ACK timer would have the first acknowledged alone by that timer, and the
    # second would then be a lone segment, rightly delayed.
    pair = [peer.segment("PA", bytes([i]) * peer.mss, seq=seq_add(peer.snd_nxt, i * peer.mss)) for i in range(2)]
    peer.send_segments(pair)
    sent = peer.last_sent
    barrier_reply = dut.barrier()
    ack = peer.expect("A", ack=peer.snd_nxt, within=TCP_MAX_ACK_DELAY)
    _assert_immediate(dut, ack.time, barrier_reply, sent, "the ACK of the second full-sized segment")


@rfc("RFC5681-4.2-8", "RFC5681-3.2-1", "RFC5681-4.2-9")
def test_segment_above_a_gap_draws_an_immediate_duplicate_ack(dut: DUT) -> None:
    peer, _conn = established(dut, PORT)
    peer.send_data(b"after a hole", seq=seq_add(peer.snd_nxt, 100), advance=False)
    barrier_reply = dut.barrier()
    dup = peer.expect("A", ack=peer.snd_nxt, within=1.0)
    _assert_immediate(dut, dup.time, barrier_reply, peer.last_sent, "the duplicate ACK")


@rfc("RFC5681-3.2-2", "RFC5681-4.2-10")
def test_segment_filling_a_gap_draws_an_immediate_ack(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    start = peer.snd_nxt
    peer.send_data(b"second", seq=seq_add(start, 5), advance=False)
    peer.expect("A", ack=start, within=1.0)
    peer.send_data(b"first")  # fills the hole [start, start+5)
    barrier_reply = dut.barrier()
    peer.snd_nxt = seq_add(start, 11)
    ack = peer.expect("A", ack=peer.snd_nxt, within=1.0)
    assert dut.tcp_recv(conn) == b"firstsecond"
    _assert_immediate(dut, ack.time, barrier_reply, peer.last_sent, "the ACK")


@rfc("RFC9293-3.7.4-1")
def test_nagle_holds_a_small_segment_while_data_is_unacknowledged(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    dut.tcp_send(conn, b"first")
    first = peer.expect(data=b"first")
    dut.tcp_send(conn, b"second")
    # A duplicate ACK: limited transmit (RFC 3042 2) may send new data for it, but Nagle's rule
    # still holds a segment smaller than a full one.
    peer.send_ack(ack=first[TCP].seq)
    peer.expect_none(data=b"second", within=0.3)
    peer.send_ack()  # the outstanding data is acknowledged: the held data goes
    peer.expect(data=b"second", within=1.0)


@pytest.mark.parametrize("when", [pytest.param("on-the-connection", id="set"),
                                  pytest.param("given-to-the-open", id="at-open")])
@rfc("RFC9293-3.7.4-2")
def test_nodelay_sends_small_segments_at_once(dut: DUT, when: str) -> None:
    # "first" stays unacknowledged. Were the DUT's retransmission timer to run out before the
    # SEND of "second" (a loaded tester), its congestion window would be one segment (RFC 5681
    # 3.1), taken by the retransmission: "second" would rightly wait. A handshake of 0.5 s makes
    # that timer about 1.5 s (RFC 6298 2.2), not Linux's 200-ms floor.
    if when == "on-the-connection":
        peer, conn = established(dut, PORT, rtt=RTT)
        dut.tcp_set_option(conn, "nodelay", True)
    else:  # an active open with Nagle off from the start
        conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT, options={"nodelay": True})
        peer = TCPPeer.for_connection(dut, conn)
        syn = peer.expect("S")
        dut.wait(max(0.0, float(syn.time) + RTT - dut.now()))  # the SYN-ACK RTT seconds after the SYN
        peer.send("SA", seq=peer.iss)
        peer.expect("A", ack=peer.snd_nxt)
    dut.tcp_send(conn, b"first")
    peer.expect(data=b"first")
    dut.tcp_send(conn, b"second")
    # With Nagle's algorithm on, "second" would wait for the ACK of "first", which the peer
    # never sends: it would not come before a retransmission timeout (Linux: 200 ms and more).
    peer.expect(data=b"second", within=0.3)


@described(9293, "3.7.4", SHOULD,
           "the sending TCP endpoint buffers all user data (regardless of the PSH bit) until the outstanding "
           "data has been acknowledged or until the TCP endpoint can send a full-sized segment (Eff.snd.MSS "
           "bytes).")
def test_nagle_lets_a_full_sized_segment_go(dut: DUT) -> None:
    # "small" stays unacknowledged: the 0.5-s handshake keeps the DUT's retransmission timer
    # (about 1.5 s, RFC 6298 2.2) from running out before a loaded tester's SEND of the full
    # segment, which would leave a congestion window of one segment (RFC 5681 3.1), taken by the
    # retransmission of "small".
    peer, conn = established(dut, PORT, mss=MSS, rtt=RTT)
    dut.tcp_send(conn, b"small")
    peer.expect(data=b"small")
    full = bytes(range(200)) * (MSS // 200)
    dut.tcp_send(conn, full)
    peer.expect(data=full, within=0.3)


@pytest.mark.parametrize("rcvbuf", [pytest.param(None, id="sliver"), pytest.param(4096, id="buffer-shrunk")])
@rfc("RFC5681-4.2-11")
def test_reading_data_without_opening_the_window_sends_no_ack(dut: DUT, rcvbuf: int | None) -> None:
    # "MUST NOT generate more than one ACK for every incoming segment, other than to update the
    # offered window as the receiving application consumes new data": a read that leaves the
    # window where it was updates nothing. Here too little is read to reopen it (RFC 9293
    # 3.8.6.2.2), or the application shrank its buffer below the window already offered.
    peer, conn = established(dut, PORT, listen_options={"rcvbuf": 32768} if rcvbuf else None)
    peer.send_data(bytes(100))
    offered = peer.expect("A", ack=peer.snd_nxt, within=2.0)[TCP].window
    if rcvbuf:
        dut.tcp_set_option(conn, "rcvbuf", rcvbuf)
    reading = dut.now()
    assert dut.tcp_recv(conn) == bytes(100)
    peer.expect_none("A", ack=peer.snd_nxt, window=lambda w: w <= offered, since=reading,
                     within=dut.now() - reading + 0.3)
    peer.send_data(b"positive control")  # the DUT does acknowledge a new segment
    peer.expect("A", ack=peer.snd_nxt, within=2.0)


@rfc("RFC9293-3.8.6.2.2-1")
def test_receiver_does_not_reopen_its_window_by_a_sliver(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options={"rcvbuf": 8192})
    largest = peer.dut_window
    while peer.dut_window > 0:
        peer.send_data(bytes(min(peer.mss, peer.dut_window)))
        peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn, max=10) is not None  # the application takes a sliver of 10 octets
    peer.send_data(b"?", advance=False)  # a probe of the closed window draws the current window
    window = peer.expect("A", within=2.0)[TCP].window
    threshold = min(largest // 2, peer.mss)
    assert window == 0 or window >= threshold, (
        f"after the application read 10 octets the DUT offered a {window}-octet window; RCV.NXT+RCV.WND "
        f"should stay fixed until at least min(RCV.BUFF/2, MSS) = {threshold} octets are free")
