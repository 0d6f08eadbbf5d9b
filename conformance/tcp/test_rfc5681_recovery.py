"""RFC 5681 beyond the first flight: the window after a lost SYN, ssthresh and congestion
avoidance after a timeout, fast recovery's inflation and deflation, limited transmit with SACK,
the restart window after idle, and one ACK per segment at most.

The tests count segments per round trip: a round is what the DUT sends until it falls quiet,
and the peer acknowledges each segment of it on its own, so cwnd grows as the RFC's per-ACK
rules say and each round shows the window the ACKs of the last one opened."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Final

import pytest
from scapy.layers.inet import TCP
from scapy.packet import Packet

from harness import DUT, ExpectationFailed, TCPConn, rfc
from harness.rfc import TCP_DUPACK_THRESHOLD, TCP_INITIAL_RTO
from harness.tcp_peer import TCPPeer, established, option, payload, seq_add, seq_end, seq_lt

PORT: Final = 7850
MSS: Final = 536  # four segments of initial window (RFC 5681 3.1: SMSS <= 1095)
BULK: Final = 200_000
# A window's worth has left once nothing more comes for this long (well below any RTO).
QUIET: Final = 0.1


# Where the tester's duplicate ACKs must reach the DUT before its retransmission timer runs out,
# the peer's handshake ACK waits this long: the timer then runs about three times it (RFC 6298
# 2.2), not Linux's 200-ms floor, however loaded the tester (a CI run saw the ACKs 310 ms late).
HANDSHAKE_RTT: Final = 0.3


def _sender(dut: DUT, rtt: float = 0.0, port: int = PORT, **peer: object) -> tuple[TCPPeer, TCPConn]:
    tester, conn = established(dut, port, mss=MSS, window=65535, rtt=rtt, **peer)  # type: ignore[arg-type]
    assert dut.tcp_send(conn, bytes(i % 251 for i in range(BULK))) > 0
    return tester, conn


def _sack_sender(dut: DUT, port: int, rtt: float = 0.0) -> TCPPeer:
    """``_sender`` with SACK permitted; skips on a DUT that does not agree to it."""
    peer, _conn = _sender(dut, port=port, sack_permitted=True, rtt=rtt)
    if not peer.sack_ok:
        pytest.skip("the DUT did not agree to SACK (RFC 2018 2: SACK-Permitted is optional)")
    return peer


def _on_new_connections(attempt: Callable[[int], bool], why_not: str) -> None:
    """Run ``attempt`` (given a port) on up to three connections until one is conclusive (True);
    else skip with ``why_not``: a DUT's loss recovery may start before the stimulus on any one."""
    for n in range(3):
        if attempt(PORT + n):
            return
    pytest.skip(why_not)


def _burst(peer: TCPPeer, *, within: float = 1.0, update: bool = True,
           through: float | None = None) -> list[Packet]:
    """The data segments the DUT sends from now on until it falls quiet for ``QUIET`` seconds
    (the first may take ``within``; none at all: an empty list): all a window lets go, whatever
    the link's pace. Segments that reached the tester by ``through`` belong to it whatever the
    gaps between them."""
    out: list[Packet] = []
    wait = within
    while True:
        try:
            seg = peer.expect(data=lambda d: len(d) > 0, within=wait, update=False)
        except AssertionError:
            return out
        # Quiet on the wire, not while the tester looked: a tester that reads late must not
        # take the retransmission timer's segment for the end of the burst.
        gap = float(seg.time) - float(out[-1].time) if out else 0.0
        if gap > QUIET and (through is None or float(seg.time) > through):
            peer.put_back(seg)
            return out
        if update:
            peer.update(seg)
        out.append(seg)
        wait = QUIET


def _ack_each(peer: TCPPeer, burst: list[Packet], rcv_nxt: int) -> None:
    """One ACK per segment, as a receiver whose RCV.NXT was ``rcv_nxt`` sends them: slow start
    adds a segment per ACK of new data, congestion avoidance counts the octets; a segment beyond
    a hole draws a duplicate ACK. Sent back to back: a tester descheduled between two ACKs would
    spread the DUT's answer to them over two bursts (a tap soak run: 0.25 s between the first
    ACK and the second, and the next round's flight was taken for 2 segments and 8 more)."""
    acks = []
    for seg in burst:
        if not seq_lt(rcv_nxt, seg[TCP].seq) and seq_lt(rcv_nxt, seq_end(seg)):
            rcv_nxt = seq_end(seg)
        acks.append(peer.segment("A", ack=rcv_nxt))
    peer.send_segments(acks)


class Rounds:
    """Round trips of a bulk transfer: each round's segments are acknowledged one by one (as a
    receiver whose RCV.NXT was what it was when the round began), then the next is collected."""

    def __init__(self, peer: TCPPeer, *, within: float = 1.0, update: bool = True) -> None:
        self.peer = peer
        self.before = peer.rcv_nxt
        self.burst = _burst(peer, within=within, update=update)

    def next(self, *, update: bool = True) -> list[Packet]:
        _ack_each(self.peer, self.burst, self.before)
        self.before = self.peer.rcv_nxt
        # A tester descheduled between two of its ACKs splits the DUT's answer in two (0.11 s
        # after the second of ten: a linux soak beside two busy loops). On an in-order DUT all of
        # it comes before the reply to a barrier sent after the last ACK.
        answered = self.peer.dut.barrier()
        self.burst = _burst(self.peer, within=0.5, update=update, through=answered)
        if any(seq_lt(seg[TCP].seq, self.before) for seg in self.burst):
            # Data of an acknowledged round again: the retransmission timer's copy, which a
            # tester 1.2 s late with its ACKs let run out (a linux soak beside two busy loops).
            pytest.skip("the DUT's retransmission timer ran out while a loaded tester was late acknowledging a "
                        "round of slow start: its window started over, so the rounds cannot be watched")
        return self.burst


def _grow(peer: TCPPeer, rounds: int) -> list[Packet]:
    """``rounds`` round trips of slow start; returns the last burst, which the peer has not
    received (its RCV.NXT stays at the burst's start)."""
    rounds_ = Rounds(peer)
    for n in range(rounds):
        rounds_.next(update=n < rounds - 1)
    assert rounds_.burst, "slow start stalled: the DUT sent nothing after the ACKs of its last round"
    return rounds_.burst


def _rounds_after_a_timeout(dut: DUT, count: int) -> tuple[int, list[int]]:
    """Grow the flight, lose all of it, and after the retransmission timeout acknowledge every
    segment: (segments lost, segments sent in each of ``count`` round trips that follow)."""
    peer, _conn = _sender(dut)
    lost = _grow(peer, 2)  # never arrived: the peer's RCV.NXT stays where it was
    sizes = []
    after = Rounds(peer, within=2 * TCP_INITIAL_RTO + 1.0)  # from the timeout's retransmission on
    for _ in range(count):
        if not after.burst:
            break  # the DUT waits for something the rounds do not give it (its own timer, say)
        sizes.append(len(after.burst))
        after.next()
    return len(lost), sizes


@rfc("RFC5681-3.1-17", "RFC5681-3.1-9")
def test_after_a_timeout_slow_start_ends_at_half_the_lost_flight(dut: DUT) -> None:
    lost, sizes = _rounds_after_a_timeout(dut, 6)
    # ssthresh <= max(FlightSize / 2, 2*SMSS): once a round reaches it, slow start has ended and
    # each round trip adds at most one segment.
    half = max(lost // 2, 2)
    assert any(size >= half for size in sizes[:-1]), (
        f"after {lost} segments were lost to a timeout the rounds went {sizes}: they never reached half the "
        "flight, so where slow start ends cannot be seen")
    for before, after in itertools.pairwise(sizes):
        if before >= half:
            assert after <= before + 1, (
                f"{lost} segments were lost to a timeout, yet the rounds after it grew {sizes}: slow start went "
                f"on past {half} segments, so ssthresh was not set to at most half the flight")


@rfc("RFC5681-3.1-14", "RFC5681-3.1-12", "RFC5681-3.1-11")
def test_congestion_avoidance_adds_one_segment_per_round_trip(dut: DUT) -> None:
    lost, sizes = _rounds_after_a_timeout(dut, 8)
    half = max(lost // 2, 2)
    avoiding = [s for s in sizes if s >= half]
    assert len(avoiding) >= 3, f"rounds {sizes} never reached congestion avoidance ({half} segments)"
    steps = [b - a for a, b in itertools.pairwise(avoiding)]
    assert all(step <= 1 for step in steps), f"congestion avoidance grew by {steps} segments per round trip"
    assert sum(steps) >= 1, f"congestion avoidance did not grow at all in {len(steps)} round trips ({sizes})"


@rfc("RFC5681-3.1-6")
def test_after_a_lost_syn_the_initial_window_is_one_segment(dut: DUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT, options={"maxseg": MSS})
    peer = TCPPeer.for_connection(dut, conn, mss=MSS)
    peer.expect("S")  # lost
    peer.expect("S", within=TCP_INITIAL_RTO + 2.0)  # the retransmission gets through
    peer.send("SA", seq=peer.iss)
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_send(conn, bytes(4 * MSS)) > 0
    first = Rounds(peer)
    assert len(first.burst) == 1, f"after a retransmitted SYN the DUT's first flight was {len(first.burst)} segments, not one"
    assert first.next(), "no more data after the ACK (positive control)"


def _fast_recovery(dut: DUT, rounds: int = 1) -> tuple[TCPPeer, list[Packet], list[Packet], int]:
    """A flight (after ``rounds`` round trips of slow start; 0: the initial window) of which the
    first segment is lost, and three duplicate ACKs, once the fast retransmission came: (peer,
    the flight, what limited transmit sent meanwhile, SND.UNA)."""
    peer, _conn = _sender(dut, rtt=HANDSHAKE_RTT)
    flight = _grow(peer, rounds) if rounds else _burst(peer, update=False)
    una = flight[0][TCP].seq
    for _ in range(TCP_DUPACK_THRESHOLD):
        peer.send_ack(ack=una)
    peer.expect(seq=una, data=lambda d: len(d) > 0, within=1.0, update=False)
    limited = [s for s in peer.take_all() if len(payload(s)) and s[TCP].seq != una]
    return peer, flight, limited, una


def _last_end(segments: list[Packet], una: int) -> int:
    return max((seq_end(s) for s in segments), key=lambda e: (e - una) % 2**32)


def _released_by_a_duplicate(dut: DUT, peer: TCPPeer, una: int, high: int) -> list[Packet]:
    """Send one more duplicate ACK; the new data (from ``high`` on) the DUT sent for it. On a DUT
    that answers in order a barrier's reply comes after all of it, however late a loaded machine
    runs the DUT (a CI run on a TAP: the answers to nine duplicates all came after the ninth was
    sent); elsewhere the DUT gets ``QUIET`` to answer."""
    peer.send_ack(ack=una)
    _let_answer(dut)
    return [s for s in peer.take_all() if len(payload(s)) and not seq_lt(s[TCP].seq, high)]


def _let_answer(dut: DUT) -> None:
    """Give the DUT time to answer what the peer sent: until a barrier's reply on a DUT that
    answers in order, ``QUIET`` elsewhere."""
    if dut.barrier() is None:
        dut.wait(QUIET)


@rfc("RFC5681-3.2-10", "RFC5681-3.2-7", "RFC5681-3.2-12", "RFC5681-3.2-9")
def test_duplicate_acks_in_fast_recovery_release_one_new_segment_each(dut: DUT) -> None:
    peer, flight, limited, una = _fast_recovery(dut)
    high = _last_end([*flight, *limited], una)
    # Each duplicate ACK stands for a segment that left the network. ssthresh <= FlightSize / 2
    # (limited transmit's segments not counted) and cwnd = ssthresh + 3*SMSS, one SMSS more per
    # further duplicate: while their number is at most half the flight, cwnd has no room beyond
    # what is in flight, so nothing new may go.
    released = 0
    for n in range(TCP_DUPACK_THRESHOLD + 1, len(flight) + len(limited)):
        got = _released_by_a_duplicate(dut, peer, una, high)
        if got:
            high = _last_end(got, una)
        assert len(got) <= 1, f"duplicate ACK {n} released {len(got)} new segments: one SMSS per duplicate"
        if n <= len(flight) // 2:
            assert not got, (f"duplicate ACK {n} of a {len(flight)}-segment flight released new data: ssthresh "
                             "was more than half the flight")
        released += len(got)
    assert released >= 1, (f"the duplicate ACKs for a {len(flight)}-segment flight released no new data: cwnd "
                           "was not inflated by one SMSS per duplicate")


def _first_release(dut: DUT, peer: TCPPeer, flight: list[Packet], limited: list[Packet], una: int) -> tuple[int, int]:
    """Duplicate ACKs after the third, up to two more than the segments outstanding (the flight and
    limited transmit's), each given its barrier: the number of the first that released new data,
    and how many segments were outstanding. None releasing any fails the test: step 4 inflates cwnd
    (the positive control)."""
    high = _last_end([*flight, *limited], una)
    outstanding = len(flight) + len(limited)
    first_release = None
    for n in range(TCP_DUPACK_THRESHOLD + 1, outstanding + 3):
        got = _released_by_a_duplicate(dut, peer, una, high)
        if got and first_release is None:
            first_release = n
    assert first_release is not None, (
        f"{outstanding} segments outstanding and {outstanding + 2} duplicate ACKs released no new data (positive "
        "control: step 4 inflates cwnd)")
    return first_release, outstanding


@rfc("RFC5681-3.2-8")
def test_flight_size_for_ssthresh_leaves_out_limited_transmit(dut: DUT) -> None:
    peer, flight, limited, una = _fast_recovery(dut)
    if not limited:
        pytest.skip("the DUT sent nothing on the first two duplicate ACKs: it does not use limited "
                    "transmit (RFC 5681 3.2 step 1 is a SHOULD)")
    # ssthresh = FlightSize / 2 with FlightSize the flight alone; cwnd = ssthresh + 3*SMSS, and one
    # SMSS more per further duplicate (step 4). New data may go once cwnd exceeds what is
    # outstanding (the flight and limited transmit's segments): not before duplicate number
    # outstanding - len(flight) // 2 + 1. Had FlightSize counted limited transmit's segments,
    # ssthresh would be larger by half their number and data would go one duplicate earlier.
    first_release, outstanding = _first_release(dut, peer, flight, limited, una)
    quiet_until = outstanding - len(flight) // 2
    assert first_release > quiet_until, (
        f"a flight of {len(flight)} and {len(limited)} limited transmit segments: new data went on duplicate ACK "
        f"{first_release}; with ssthresh half the flight alone and one SMSS per further duplicate, not before "
        f"{quiet_until + 1} (one earlier if FlightSize counted the limited transmit segments)")


@rfc("RFC5681-3.2-7", "RFC5681-3.2-9", "RFC5681-3.2-10")
def test_fast_retransmit_of_the_initial_window_leaves_ssthresh_at_most_two_segments(dut: DUT) -> None:
    # Equation (4), ssthresh = max (FlightSize / 2, 2*SMSS), where half the flight is at most two
    # segments (an initial window of 4): cwnd = ssthresh + 3*SMSS, one SMSS more per further
    # duplicate, and new data may go once it exceeds what is outstanding (the flight and limited
    # transmit's segments), not before duplicate number outstanding - max(flight / 2, 2) + 1.
    peer, flight, limited, una = _fast_recovery(dut, rounds=0)
    first_release, outstanding = _first_release(dut, peer, flight, limited, una)
    quiet_until = outstanding - max(len(flight) // 2, 2)
    assert first_release > quiet_until, (
        f"a flight of {len(flight)} and {len(limited)} limited transmit segments: new data went on duplicate ACK "
        f"{first_release}, not before {quiet_until + 1} with ssthresh at most max(FlightSize / 2, 2*SMSS)")


@rfc("RFC5681-4.3-4")
def test_a_lost_fast_retransmission_lowers_the_window_twice(dut: DUT) -> None:
    peer, _conn = _sender(dut)
    flight = _grow(peer, 2)  # lost, all of it: the peer's RCV.NXT stays at its start
    una = flight[0][TCP].seq
    for _ in range(TCP_DUPACK_THRESHOLD):
        peer.send_ack(ack=una)
    peer.expect(seq=una, data=lambda d: len(d) > 0, within=1.0, update=False)  # the fast retransmission: lost too
    dut.wait(0.1)
    peer.take_all()  # what limited transmit sent: lost as well
    after = Rounds(peer, within=2 * TCP_INITIAL_RTO + 3.0)  # from the timeout's retransmission on
    sizes = []
    for _ in range(5):
        if not after.burst:
            break
        sizes.append(len(after.burst))
        after.next()
    # Fast retransmit set ssthresh to about half the flight; losing the retransmission "should be
    # taken as two indications of congestion and, therefore, cwnd (and ssthresh) MUST be lowered
    # twice": slow start after the timeout ends at about a quarter of the flight, not half.
    quarter, half = max(len(flight) // 4, 2), len(flight) // 2
    assert len(sizes) >= 4, f"the rounds after the timeout went {sizes}: too few to see where slow start ends"
    assert sizes[3] <= quarter + 1, (
        f"a {len(flight)}-segment flight, its fast retransmission lost, and the rounds after the timeout went "
        f"{sizes}: slow start went on towards {half} (half the flight) instead of ending near {quarter}")


@rfc("RFC5681-3.2-13")
def test_the_ack_ending_fast_recovery_deflates_the_window(dut: DUT) -> None:
    peer, flight, limited, una = _fast_recovery(dut)
    for _ in range(TCP_DUPACK_THRESHOLD + 1, len(flight) + len(limited)):
        peer.send_ack(ack=una)
    _let_answer(dut)  # what the inflated window let go must not be taken for the burst below
    released = [s for s in peer.take_all() if len(payload(s))]
    peer.send_ack(ack=_last_end([*flight, *limited, *released], una))  # all of it: recovery is over
    burst = _burst(peer)
    assert len(burst) <= max(len(flight) // 2, 2) + 1, (
        f"after the ACK ending fast recovery of a {len(flight)}-segment flight the DUT sent {len(burst)} "
        "segments at once: cwnd was not set back to ssthresh")


@rfc("RFC5681-3.2-3",
     quote="The fast retransmit algorithm uses the arrival of 3 duplicate ACKs (as defined in section 2, "
           "without any intervening ACKs which move SND.UNA) as an indication that a segment has been lost.")
def test_three_duplicates_after_an_ack_of_many_segments_trigger_a_fast_retransmit(dut: DUT) -> None:
    # One ACK covers more than four segments at once (a receiver acknowledging every few segments,
    # or ACKs lost on the way), then three duplicates say the next segment is lost. RFC 6582 4.1's
    # heuristic, which reads such a jump as duplicates "not indicative of a lost segment", is only
    # for duplicates that do not cover more than recover (3.2 (2)); these cover new data.
    peer, _conn = _sender(dut, rtt=HANDSHAKE_RTT)
    flight = _grow(peer, 1)  # the second round, not yet received: the peer's RCV.NXT is at its start
    # Five segments acknowledged at once, and at least three left out beyond them (a DUT counting
    # duplicates without SACK, as Linux does, believes no more duplicates than segments out).
    assert len(flight) >= 8, f"slow start's second round was {len(flight)} segments: too few for an ACK of five"
    lost = flight[5][TCP].seq
    peer.send_ack(ack=lost)  # the round's first five segments, in one ACK
    for _ in range(TCP_DUPACK_THRESHOLD):
        peer.send_ack(ack=lost)
    resent = peer.expect(seq=lost, data=lambda d: len(d) > 0, within=2.0, update=False)
    assert resent.time - peer.last_sent < HANDSHAKE_RTT, (
        "after an ACK of many segments the third duplicate ACK drew no fast retransmit: the segment came again "
        f"{resent.time - peer.last_sent:.3f} s later, when the retransmission timer ran out")


@rfc("RFC5681-3.2-3",
     quote="The fast retransmit algorithm uses the arrival of 3 duplicate ACKs (as defined in section 2, "
           "without any intervening ACKs which move SND.UNA) as an indication that a segment has been lost.")
def test_after_fast_recovery_ends_a_new_loss_gets_its_own_fast_retransmit(dut: DUT) -> None:
    peer, flight, limited, una = _fast_recovery(dut)
    high = _last_end([*flight, *limited], una)
    released: list[Packet] = []
    duplicates = TCP_DUPACK_THRESHOLD
    for _ in range(2 * (len(flight) + len(limited))):  # step 4 inflates cwnd until new data goes
        # Each duplicate ACK reflects "the additional segment that has left the network" (3.2 step
        # 4): never more of them than segments sent after the lost one. More would be reordering
        # to the DUT (Linux then raises its duplicate threshold, and the new loss below rightly
        # waits for the timer: a linux soak run beside two busy loops). A DUT that paces its
        # segments sends the one a duplicate released after the barrier's reply; then only wait.
        if duplicates < len(flight) - 1 + len(limited) + len(released):
            released += _released_by_a_duplicate(dut, peer, una, high)
            duplicates += 1
        else:
            dut.wait(QUIET)
            released += [s for s in peer.take_all() if len(payload(s)) and not seq_lt(s[TCP].seq, high)]
        if len(released) >= 2:
            break
    assert len(released) >= 2, (f"{len(released)} new segments went while duplicate ACKs inflated the window "
                                "(positive control: step 4)")
    # The ACK of everything up to recover and of the first segment sent in recovery: a full
    # acknowledgment (RFC 6582 3.2 (3)) that ends fast recovery. The second segment sent in
    # recovery is still out, neither lost nor late: nothing is retransmitted for it now.
    second = released[1][TCP].seq
    peer.send_ack(ack=second)
    peer.expect_none(seq=second, data=lambda d: len(d) > 0, since=peer.last_sent, within=0.2)
    # Then it turns out lost: three duplicate ACKs, after the ACK that moved SND.UNA past
    # recover, are a new loss (positive control, and a new fast retransmit, RFC 6582 3.2 (2)).
    for _ in range(TCP_DUPACK_THRESHOLD):
        peer.send_ack(ack=second)
    resent = peer.expect(seq=second, data=lambda d: len(d) > 0, within=2.0, update=False)
    assert resent.time - peer.last_sent < HANDSHAKE_RTT, (
        "three duplicate ACKs after fast recovery ended drew no fast retransmit: the segment came again "
        f"{resent.time - peer.last_sent:.3f} s later, when the retransmission timer ran out")


# The second duplicate ACK repeats the first's SACK block (nothing new: RFC 5681 3.2 step 1 "MUST
# NOT send new data"), or SACKs data the DUT never sent (no information about its data either), or
# extends the block over the next segment (new SACK information: RFC 3042 2 "SHOULD send a segment
# of previously unsent data in response to each of the first two duplicate ACKs").
@pytest.mark.parametrize("second", ["same-block", "beyond-snd-max", "new-block"])
@rfc("RFC5681-3.2-6", "RFC3042-2-3")
def test_with_sack_a_duplicate_ack_releases_new_data_only_with_new_sack_blocks(dut: DUT, second: str) -> None:
    _on_new_connections(lambda port: _second_sack_duplicate(dut, port, second),
                        "in 3 attempts the DUT retransmitted the first segment before the duplicate ACK could "
                        "release new data (its loss recovery started first on this loaded machine): limited "
                        "transmit could not be watched")


# A DUT that paces its segments can let new data the first duplicate ACK released trail the
# first such segment: Linux, with SACK, sent a second one 3-5 ms after it (the SACKed segment
# counted as delivered, so its congestion window grew by one) and a soak's tester, quick to send
# the second duplicate, took it for that one's answer. Such segments are collected for this long
# before the second duplicate goes.
TRAILING_S: Final = 0.015


def _second_sack_duplicate(dut: DUT, port: int, second: str) -> bool:
    """One connection's try; False when the DUT's loss recovery began before the second duplicate
    ACK could be told apart from it."""
    # The handshake's RTT holds RACK's reordering window (RFC 8985) open past the first
    # duplicate's trailing segments: with no such RTT Linux resent the first segment 5 ms after
    # that duplicate.
    peer = _sack_sender(dut, port, rtt=HANDSHAKE_RTT)
    burst = _burst(peer)
    if second == "new-block" and len(burst) < 3:
        pytest.skip(f"the DUT's first flight was {len(burst)} segments: too few to SACK two beyond a hole")
    una, nxt = burst[0][TCP].seq, peer.rcv_nxt
    block = [("NOP", None), ("NOP", None), ("SAck", (burst[1][TCP].seq, seq_end(burst[1])))]
    peer.send_ack(ack=una, options=block)  # new SACK information: limited transmit (positive control)
    first = peer.expect(seq=lambda s: s in (nxt, una), data=lambda d: len(d) > 0, within=0.5)
    released = [first, *_trailing_new_data(peer, first)]
    if first[TCP].seq == una or any(payload(s) and s[TCP].seq == una for s in peer.take_all()):
        # The first segment went again: the DUT's loss recovery began (its retransmission timer,
        # or RACK's reordering window, ran out while a loaded tester collected the burst), and
        # in recovery a duplicate may release new data (RFC 6675 5): nothing to watch here.
        return False
    high = seq_end(released[-1])
    if second == "new-block":
        block = [("NOP", None), ("NOP", None), ("SAck", (burst[1][TCP].seq, seq_end(burst[2])))]
        peer.send_ack(ack=una, options=block)  # one segment more SACKed: new information
        # Or the first segment again: RACK's reordering window (RFC 8985) ran out while a loaded
        # tester was slow to send this duplicate (50 ms after the first: linux), and in the loss
        # recovery that began a duplicate may bring a retransmission first (RFC 6675 5).
        new = peer.expect(seq=lambda s: s in (high, una), data=lambda d: len(d) > 0, within=0.5)
        return bool(new[TCP].seq == high)
    if second == "beyond-snd-max":  # a segment's worth, 1000 octets beyond the last one sent
        beyond = seq_add(high, 1000)
        block = [("NOP", None), ("NOP", None), ("SAck", (beyond, seq_add(beyond, MSS)))]
    sent = peer.dut.now()
    peer.send_ack(ack=una, options=block)  # the same block again, or a bogus one: nothing new
    # What the duplicate releases comes before the reply to a barrier probe sent behind it (an
    # in-order DUT). A segment after that is a timer's, no answer to this ACK: a tail-loss probe
    # (RFC 8985 7) came within 0.3 s once a loaded tester was slow to send the duplicate (linux).
    answered = peer.dut.barrier()
    window = 0.3 if answered is None else max(0.0, answered - sent)
    peer.expect_none(seq=lambda s: not seq_lt(s, high), data=lambda d: len(d) > 0, within=window, since=sent)
    return True


def _trailing_new_data(peer: TCPPeer, first: Packet) -> list[Packet]:
    """New data after ``first`` that comes within ``TRAILING_S`` of the one before it."""
    trailing: list[Packet] = []
    while True:
        try:
            trailing.append(peer.expect(seq=seq_end((trailing or [first])[-1]), data=lambda d: len(d) > 0,
                                        within=TRAILING_S, update=False))
        except AssertionError:
            return trailing


@rfc("RFC3042-2-1", "RFC5681-3.2-4")
def test_with_sack_a_hole_filled_after_snd_una_moved_is_new_information(dut: DUT) -> None:
    _on_new_connections(lambda port: _hole_below_a_known_block(dut, port),
                        "in 3 attempts the DUT retransmitted the hole before the duplicate ACK could release "
                        "new data (its loss recovery started on the SACK blocks alone, RACK's reordering "
                        "window, RFC 8985)")


def _hole_below_a_known_block(dut: DUT, port: int) -> bool:
    """The first segment arrives, the second is missing, the third is SACKed; then the second's
    own arrival is reported, merged with the third: new SACK information on a duplicate ACK, so
    limited transmit sends (RFC 5681 3.2 step 1). False when the DUT's loss recovery began first."""
    peer = _sack_sender(dut, port, rtt=HANDSHAKE_RTT)
    burst = _burst(peer)
    if len(burst) < 4:
        pytest.skip(f"the DUT's first flight was {len(burst)} segments: too few for a hole after the first")
    una = burst[1][TCP].seq
    s2, e3 = burst[2][TCP].seq, seq_end(burst[3])
    peer.send_ack(ack=una, options=[("NOP", None), ("NOP", None), ("SAck", (burst[3][TCP].seq, e3))])
    _let_answer(dut)  # the ACK moved SND.UNA: slow start may send; none of it is limited transmit
    sent = [s for s in peer.take_all() if len(payload(s))]
    if any(s[TCP].seq == una for s in sent):
        return False
    high = _last_end([*burst, *sent], una)
    peer.send_ack(ack=una, options=[("NOP", None), ("NOP", None), ("SAck", (s2, e3))])  # the 2nd arrived too
    new = peer.expect(seq=lambda s: s == una or not seq_lt(s, high), data=lambda d: len(d) > 0, within=0.5)
    return new[TCP].seq != una


# Two duplicate ACKs with new SACK information, the second one's block grown on both sides of the
# first's ("merged") or apart from it ("apart"); then a segment carrying data repeats what they
# said. RFC 5681 2: an ACK with data is a duplicate only as one with "previously unknown SACK
# information": the sender remembers what both reported (RFC 2018 5, "SHOULD record"), so this one
# is no duplicate, and no fast retransmit may follow it (three true duplicates do).
@pytest.mark.parametrize("blocks", ["merged", "apart"])
@rfc("RFC5681-3.2-3", "RFC2018-5-1")
def test_with_sack_a_data_segment_repeating_known_blocks_is_no_duplicate(dut: DUT, blocks: str) -> None:
    _on_new_connections(lambda port: _known_blocks_repeated(dut, port, blocks),
                        "in 3 attempts the DUT's loss recovery did not follow the duplicate ACKs: it "
                        "retransmitted the first segment before the third one, or not within 1 s of a true "
                        "third one (recovery started on the SACK blocks alone, or held back by RACK's "
                        "reordering window, RFC 8985): which ACK it counted cannot be told")


def _known_blocks_repeated(dut: DUT, port: int, blocks: str) -> bool:
    """One connection's try; False when the DUT's loss recovery began before the third duplicate."""
    peer = _sack_sender(dut, port)
    burst = _burst(peer)
    if len(burst) < 4:
        pytest.skip(f"the DUT's first flight was {len(burst)} segments: too few for SACK blocks around a hole")
    una = burst[0][TCP].seq
    s1, s2, s3 = (seg[TCP].seq for seg in burst[1:4])
    e1, e2, e3 = (seq_end(seg) for seg in burst[1:4])
    first, second = ((s2, e2), (s1, e3)) if blocks == "merged" else ((s3, e3), (s1, e1))
    repeated = second if blocks == "merged" else first
    for left, right in (first, second):
        peer.send_ack(ack=una, options=[("NOP", None), ("NOP", None), ("SAck", (left, right))])
    # Long enough for a loss recovery the blocks alone start to show (RACK's reordering timer, RFC
    # 8985 6.2, runs a fraction of the round trip), so that it is not blamed on the segment below.
    dut.wait(2 * QUIET)
    sent = [s for s in peer.take_all() if len(payload(s))]
    if any(s[TCP].seq == una for s in sent):
        return False
    peer.send_data(b"news?", ack=una, options=[("NOP", None), ("NOP", None), ("SAck", repeated)])
    _let_answer(dut)
    sent += [s for s in peer.take_all() if len(payload(s))]
    assert not any(s[TCP].seq == una for s in sent), (
        "a data segment repeating SACK blocks the DUT had already been told of was taken for a third duplicate "
        "ACK: a fast retransmit followed it")
    # Positive control: a third true duplicate, SACKing all the DUT sent after the lost segment. A
    # DUT that does not retransmit on it either (Linux once, under load: RACK's reordering window,
    # RFC 8985 6.2, widened by the blocks it was told twice) makes this connection's silence above
    # mean nothing: try again.
    high = _last_end([*burst, *sent], una)
    peer.send_ack(ack=una, options=[("NOP", None), ("NOP", None), ("SAck", (s1, high))])
    try:
        peer.expect(seq=una, data=lambda d: len(d) > 0, within=1.0, update=False)
    except ExpectationFailed:
        return False
    return True


@rfc("RFC3042-2-2", "RFC5681-3.2-5")
def test_limited_transmit_leaves_the_window_as_it_was(dut: DUT) -> None:
    peer, _conn = _sender(dut, rtt=HANDSHAKE_RTT)
    flight = _burst(peer, update=False)  # the initial window, left unacknowledged
    una = flight[0][TCP].seq
    for _ in range(TCP_DUPACK_THRESHOLD - 1):
        peer.send_ack(ack=una)  # two duplicate ACKs: limited transmit may send two new segments
    limited = _burst(peer, within=0.5, update=False)
    if not limited:
        pytest.skip("the DUT sent nothing on the first two duplicate ACKs: it does not use limited "
                    "transmit (RFC 5681 3.2 step 1 is a SHOULD), so there is no window it could change")
    peer.rcv_nxt = _last_end([*flight, *limited], una)
    peer.send_ack()  # one ACK of everything: slow start adds at most one SMSS
    burst = _burst(peer, update=False)
    # "The congestion window (cwnd) MUST NOT be changed when these new segments are transmitted":
    # the window is still the first flight's, plus the ACK's growth (one SMSS; two where a DUT
    # counts bytes with L = 2, RFC 3465). Grown by the limited transmit segments it would be
    # larger by their number.
    limit = len(flight) + 2
    assert len(burst) <= limit, (
        f"a first flight of {len(flight)} segments and {len(limited)} sent by limited transmit, then after an ACK of "
        f"all of them a burst of {len(burst)} (at most {limit}): the window grew with the limited transmit segments")


@rfc("RFC5681-4.1-1")
def test_after_an_idle_period_the_window_restarts_at_most_at_the_initial_window(dut: DUT) -> None:
    peer, conn = established(dut, PORT, mss=MSS, window=65535)
    assert dut.tcp_send(conn, bytes(20 * MSS)) > 0
    growing = Rounds(peer)
    for _ in range(3):  # slow start well past the initial window
        growing.next()
    peer.send_ack()
    dut.wait(3 * TCP_INITIAL_RTO)  # idle for longer than the retransmission timeout
    assert dut.tcp_send(conn, bytes(20 * MSS)) > 0
    restart = _burst(peer)
    assert len(restart) <= 4, f"after an idle period the DUT sent {len(restart)} segments at once (RW <= IW = 4)"


@rfc("RFC5681-4.2-11")
def test_no_more_than_one_ack_per_segment(dut: DUT) -> None:
    peer, _conn = established(dut, PORT)
    count = 6
    for n in range(count):
        peer.send_data(b"%02d" % n * 50)
    acks = []
    while True:
        try:
            acks.append(peer.expect("A", data=b"", within=1.0))
        except AssertionError:
            break
    assert 1 <= len(acks) <= count, f"{count} segments drew {len(acks)} ACKs"
    assert option(acks[-1], "SAck") is None
