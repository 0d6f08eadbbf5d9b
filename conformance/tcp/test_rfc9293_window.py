"""RFC 9293 3.8.6 and 3.8.6.1: sending within the peer's window, zero-window probing and its
back-off, a window held closed indefinitely, a shrinking window, and the DUT's own window."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import TCP
from scapy.packet import Packet

from harness import DUT, MUST, SHOULD, ExpectationFailed, TCPConn, described, rfc
from harness.rfc import TCP_MIN_RTO, TIMER_EARLY, timer_doubled, timer_fired_on_time
from harness.tcp_peer import (
    TCPPeer,
    established,
    opened_by_dut,
    payload,
    seq_add,
    seq_diff,
    seq_lt,
    skip_unless_tiny_rtt_sample,
)
from harness.tcp_states import SEND_WINDOW_UPDATE
from harness.time_budget import require_dut_time

PORT: Final = 8000
DATA: Final = bytes(i % 256 for i in range(20_000))
# Where the tester's window updates must reach the DUT before its retransmission timer runs out,
# the peer's handshake ACK waits this long: the timer then runs about three times it (RFC 6298
# 2.2), not Linux's 200-ms floor, however loaded the tester.
HANDSHAKE_RTT: Final = 0.5


def _sender(dut: DUT, window: int, **peer: object) -> tuple[TCPPeer, TCPConn]:
    tester, conn = established(dut, PORT, window=window, **peer)  # type: ignore[arg-type]
    assert dut.tcp_send(conn, DATA) > 0
    return tester, conn


def _probes(peer: TCPPeer, count: int, within: float) -> list[Packet]:
    """The next ``count`` segments of the connection, each checked to be a probe, none data. RFC
    9293 3.8.6.1: the sender "must regularly transmit at least one octet of new data (if
    available), or retransmit": one octet at SND.NXT, or a segment below it (Linux sends an empty
    one at SND.UNA-1). An empty segment at SND.NXT would be no probe: acceptable to a receiver
    with a zero window, it draws no ACK, and the window's reopening could go unreported."""
    una = peer.rcv_nxt
    out = []
    for _ in range(count):
        seg = peer.expect(within=within, update=False)
        size, at = len(payload(seg)), seg[TCP].seq
        assert (size == 1 and at == una) or (size <= 1 and seq_lt(at, una)), (
            f"into a zero window the DUT sent {size} octets at {seq_diff(at, una):+d} from SND.NXT")
        assert "F" not in seg.sprintf("%TCP.flags%"), "a probe carries a FIN, yet the application did not close"
        out.append(seg)
    return out


@rfc("RFC5681-2-1", "RFC7323-2.4-4")
def test_data_stays_within_the_offered_window(dut: DUT) -> None:
    peer, _conn = _sender(dut, 1000)
    start = peer.rcv_nxt
    while True:
        try:
            peer.expect(data=lambda d: len(d) > 0, within=0.3)  # new data moves RCV.NXT, resends do not
        except AssertionError:
            break
    sent = seq_diff(peer.rcv_nxt, start)
    assert 0 < sent <= 1000, f"{sent} octets were sent into a 1000-octet window"


@described(9293, "3.10.7.4", MUST, SEND_WINDOW_UPDATE)
def test_window_update_releases_more_data(dut: DUT) -> None:
    peer, _conn = _sender(dut, 1000, mss=500)
    peer.receive(1000, ack=False)
    peer.window = 1500
    peer.send_ack()  # acknowledges the 1000 octets and offers 1500 more
    assert len(peer.receive(1500, ack=False)) == 1500
    edge = peer.rcv_nxt  # and no further than the new window (resends of what was sent may come)
    peer.expect_none(seq=lambda s: not seq_lt(s, edge), data=lambda d: len(d) > 0, within=0.3)


# Much data waiting, or a single octet: then the probe is all of it, and still no FIN.
@pytest.mark.parametrize("size", [pytest.param(len(DATA), id="bulk"), pytest.param(1, id="one-octet")])
@rfc("RFC9293-3.8.6.1-1")
def test_zero_window_is_probed(dut: DUT, size: int) -> None:
    peer, conn = established(dut, PORT, window=0)
    assert dut.tcp_send(conn, DATA[:size]) == size
    _probes(peer, 1, within=5.0)


@rfc("RFC9293-3.8.6.1-1")
def test_a_fin_waiting_behind_a_zero_window_is_probed(dut: DUT) -> None:
    # Nothing but the FIN of a CLOSE is queued, and the window is zero. The FIN takes a sequence
    # number as an octet of data does: it may go as the probe itself (a zero window cannot take
    # it, so the receiver answers with an ACK, RFC 9293 3.10.7.4), or the DUT probes below
    # SND.NXT; an empty segment at SND.NXT would draw no answer.
    peer, conn = established(dut, PORT, window=0)
    una = peer.rcv_nxt
    dut.tcp_close(conn)
    probe = peer.expect(within=5.0, update=False)
    size, at = len(payload(probe)), probe[TCP].seq
    fin = "F" in probe.sprintf("%TCP.flags%")
    assert (fin and size == 0 and at == una) or (size <= 1 and seq_lt(at, una)), (
        f"with only a FIN queued behind a zero window the DUT sent {size} octets at {seq_diff(at, una):+d} "
        f"from SND.NXT{' with FIN' if fin else ' without FIN'}")
    peer.window = 65535
    peer.send_ack()  # the answer opens the window: the FIN goes (positive control)
    peer.expect("FA", seq=una, within=2.0)


@described(9293, "3.10.7.4", MUST, SEND_WINDOW_UPDATE)
def test_window_updates_after_a_probe_resend_nothing(dut: DUT) -> None:
    # The window opens after a probe: the data goes on. A second window update before any of it is
    # acknowledged only moves the window's edge further: nothing already sent goes again.
    peer, _conn = _sender(dut, 0, mss=500, rtt=HANDSHAKE_RTT)
    (probe,) = _probes(peer, 1, within=5.0)
    una = peer.rcv_nxt
    peer.window = 1000
    peer.send_ack()  # the probe's octet not taken: the window opens at SND.UNA
    first = peer.expect(seq=una, data=lambda d: len(d) > 0, within=5.0)
    peer.receive(1000 - seq_diff(peer.rcv_nxt, una), ack=False)
    high = peer.rcv_nxt
    # The data stays unacknowledged, so the DUT's retransmission timer may run out and send it again
    # (RFC 6298 5.4) while a loaded tester is late: no resend of the update's. That timer started
    # with the first data sent (5.1: the probe's octet, or the first segment after the window
    # opened), and its RTO, rounded up to 1 s (2.4) and three times the handshake's RTT sample by
    # 2.2 for a DUT with a lower floor, cannot run out within a second: only copies from the
    # update's sending until then count.
    started = min(float(seg.time) for seg in (probe, first) if payload(seg))
    timer_may_run = started + TCP_MIN_RTO - TIMER_EARLY
    peer.window = 2000
    peer.send_ack(ack=una)  # a larger window, the same acknowledgment
    update = peer.last_sent
    if dut.barrier() is None:
        dut.wait(0.3)
    after = [seg for seg in peer.take_all() if len(payload(seg))]
    copies = [seg for seg in after if seq_lt(seg[TCP].seq, high)]
    again = [seg for seg in copies if update <= float(seg.time) < timer_may_run]
    assert not again, (f"a window update sent {len(again)} segments of data already sent again, from "
                       f"{seq_diff(again[0][TCP].seq, high):+d} octets before the highest sent, "
                       f"{float(again[0].time) - update:.3f} s after the update")
    if copies and update >= timer_may_run:
        pytest.skip(f"the tester sent the window update {update - started:.3f} s after the DUT first sent the "
                    "data, when its retransmission timer (at least 1 s, RFC 6298 2.4) may have run out: a loaded "
                    f"tester; the DUT's {len(copies)} copies of that data cannot be told from resends the update caused")
    assert any(not seq_lt(seg[TCP].seq, high) for seg in after), "the larger window released no data (positive control)"


@rfc("RFC9293-3.8.6.1-4")
def test_first_probe_waits_a_retransmission_timeout(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT, window=0)
    synack = peer.connect()
    skip_unless_tiny_rtt_sample(peer, synack)
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    start = dut.now()
    dut.tcp_send(conn, DATA)
    # The DUT took the data in between (a loaded tester may be slow to send the call or to see its
    # answer): its wait began then, so the probe is held to the wait nearest the RTO they allow.
    taken = dut.now()
    # Halfway, an ACK that leaves the window zero: the zero window has existed since the start all
    # the same, so the probe is due an RTO after the start, not after this ACK.
    dut.wait(TCP_MIN_RTO / 2)
    peer.send_ack()
    (probe,) = _probes(peer, 1, within=5.0)
    assert probe.time - start >= TCP_MIN_RTO - 0.01, (
        f"the first probe came {probe.time - start:.3f} s after the window closed, under the 1 s minimum RTO")
    waited = min(max(TCP_MIN_RTO, float(probe.time) - taken), float(probe.time) - start)
    assert timer_fired_on_time(waited, TCP_MIN_RTO), (
        f"the first probe came {waited:.3f} s after the window closed: not when a zero window had "
        "existed for the retransmission timeout (1 s after an RTT sample of the handshake's)")


@rfc("RFC9293-3.8.6.1-5")
def test_probe_intervals_grow_exponentially(dut: DUT) -> None:
    peer, _conn = _sender(dut, 0)
    probes = _probes(peer, 3, within=20.0)
    before, after = probes[1].time - probes[0].time, probes[2].time - probes[1].time
    assert timer_doubled(before, after), f"probe intervals {before:.3f} s then {after:.3f} s"


@rfc("RFC9293-3.8.6.1-3")
def test_answered_probes_keep_the_connection_open(dut: DUT) -> None:
    peer, conn = _sender(dut, 0)
    # The probes back off exponentially from the retransmission timeout, which a slow handshake
    # on a loaded machine may already have raised to 3 s (RFC 6298 2.2-2.3): the fourth comes
    # 24 s after the third, and an RTO may grow to 60 s and more (RFC 6298 2.5).
    for _ in range(4):
        _probes(peer, 1, within=65.0)
        peer.send_ack()  # still zero
    assert dut.tcp_state(conn) == "ESTABLISHED"
    peer.window = 65535
    peer.send_ack()
    peer.expect(data=lambda d: len(d) > 1, within=1.0)


@described(9293, "3.8.6.1", MUST,
           "When the receiving TCP peer has a zero window and a segment arrives, it must still send an "
           "acknowledgment showing its next expected sequence number and current window (zero).")
def test_probe_into_the_duts_zero_window_is_acknowledged_with_window_zero(dut: DUT) -> None:
    peer, _conn = established(dut, PORT, listen_options={"rcvbuf": 4096})
    while peer.dut_window > 0:
        peer.send_data(bytes(min(peer.mss, peer.dut_window)))
        peer.expect("A", ack=peer.snd_nxt)
    peer.send_data(b"p", advance=False)
    peer.expect("A", ack=peer.snd_nxt, window=0)


@rfc("RFC9293-3.8.6-1")
def test_right_edge_of_the_duts_window_never_moves_left(dut: DUT) -> None:
    peer, _conn = established(dut, PORT, listen_options={"rcvbuf": 8192})
    edge = seq_add(peer.snd_nxt, peer.dut_window)
    for _ in range(30):
        if peer.dut_window == 0:
            break
        peer.send_data(bytes(min(peer.mss, peer.dut_window)))
        ack = peer.expect("A", ack=peer.snd_nxt)
        new_edge = seq_add(ack[TCP].ack, peer.dut_window)
        assert not seq_lt(new_edge, edge), f"the right window edge moved {seq_diff(new_edge, edge)} octets left"
        edge = new_edge


@rfc("RFC9293-3.8.6-2", "RFC7323-2.4-1", "RFC9293-3.8.6-3")
def test_shrunk_window_stops_new_data_and_the_connection_survives(dut: DUT) -> None:
    peer, conn = _sender(dut, 2000, mss=500)  # 2000 octets: within any initial window for SMSS 500
    peer.receive(2000, ack=False)
    end = peer.rcv_nxt
    peer.window = 500
    peer.send_ack(ack=seq_add(end, -1500))  # right edge: from SND.UNA+2000 back to (SND.UNA+500)+500
    peer.expect_none(seq=lambda s: not seq_lt(s, end), data=lambda d: len(d) > 0, within=0.5)
    peer.window = 65535
    peer.send_ack(ack=end)
    peer.expect(seq=end, data=lambda d: len(d) > 0, within=1.0)
    assert dut.tcp_state(conn) == "ESTABLISHED"


@rfc("RFC9293-3.1-1")
def test_window_above_32767_is_an_unsigned_number(dut: DUT) -> None:
    peer, _conn = _sender(dut, 0xC000)  # negative as a signed 16-bit number
    peer.expect(data=lambda d: len(d) > 0, within=1.0)


@rfc("RFC9293-3.8.6-5")
def test_a_window_shrunk_to_zero_is_probed(dut: DUT) -> None:
    peer, conn = _sender(dut, 2000, mss=500)
    peer.receive(2000, ack=False)  # the window's worth arrived; none of it acknowledged yet
    end = peer.rcv_nxt
    una = seq_add(end, -2000)
    peer.window = 0
    peer.send_ack(ack=una)  # the right edge moves from SND.UNA+2000 back to SND.UNA: shrunk to zero
    probe = peer.expect(within=2 * TCP_MIN_RTO + 1.0, update=False)  # a probe, or the flight again
    assert seq_lt(probe[TCP].seq, end), f"a segment at {seq_diff(probe[TCP].seq, una):+d} into a zero window"
    peer.window = 65535
    peer.send_ack(ack=end)  # the window opens and all of it is acknowledged: the data goes on
    peer.expect(seq=end, data=lambda d: len(d) > 0, within=3.0)
    assert dut.tcp_state(conn) == "ESTABLISHED"


@rfc("RFC9293-3.8.6.2.1-1")
def test_the_sender_avoids_silly_window_segments(dut: DUT) -> None:
    peer, conn = established(dut, PORT, mss=1000, window=8000)
    assert dut.tcp_send(conn, DATA[:3000]) == 3000
    peer.receive(3000)  # every octet acknowledged, window 8000: Max(SND.WND) is 8000
    # New data only: a loaded tester's late ACK can draw a retransmission of these 3000 octets.
    new = peer.rcv_nxt
    # A window of 100 octets: not a full segment, not half the largest window. It comes on the
    # second of two octets of data, so it has a newer SEG.SEQ than SND.WL1 and the update is taken
    # (Linux ignores a smaller window on a segment that repeats SND.WL1, tcp_may_update_window()),
    # and the DUT's ACK of that octet shows the window taken in before the SEND below (a verb on
    # the control channel can overtake a frame still queued for the DUT).
    peer.send_data(b"w")
    peer.window = 100
    peer.send_data(b"x")
    peer.expect("A", ack=peer.snd_nxt, within=1.0)
    queued = dut.now()
    assert dut.tcp_send(conn, DATA[:5000]) == 5000
    # RFC 9293 3.8.6.2.1: send "if at least a fraction Fs of the maximum window can be sent", with
    # Fs "1/2", or "a maximum-sized segment", or after "the override timeout"; it "should be in
    # the range 0.1 - 1.0 seconds": nothing of 100 octets before 0.1 s after the SEND (timed from
    # before the call: a tester late to watch may see the data the timeout let go as queued).
    peer.expect_none(seq=new, data=lambda d: len(d) > 0, since=queued, within=0.09)
    # (4) "or if the override timeout occurs": then the data goes, as much as the window takes
    # (positive control); a sliver of it would be the silly window itself.
    override = peer.expect(seq=new, data=lambda d: len(d) > 0, within=2.0)
    assert len(payload(override)) == 100, (
        f"when the override timeout ran out the DUT sent {len(payload(override))} octets into a usable window of 100")


@rfc("RFC9293-3.8.6-4")
def test_data_beyond_a_shrunk_window_does_not_time_the_connection_out(dut: DUT) -> None:
    # R2 is "at least 100 seconds" (RFC 9293 3.8.3); Linux's default gives up after about 15
    # minutes, our stack after about 20. The peer answers for 40 minutes: past any R2 a DUT would
    # count here.
    watch = 2400.0
    require_dut_time(dut, watch)
    peer, conn = _sender(dut, 2000, mss=500)
    peer.receive(2000, ack=False)
    end = peer.rcv_nxt
    una = seq_add(end, -2000)
    peer.window = 0
    peer.send_ack(ack=una)  # the window shrinks to zero: all 2000 octets lie beyond its right edge
    # The peer answers whatever the DUT sends (probes, or the data again) with the same zero
    # window; the data beyond the edge stays unacknowledged.
    deadline = dut.now() + watch
    answered = 0
    while dut.now() < deadline:
        try:
            peer.expect(within=max(0.0, deadline - dut.now()), update=False)
        except ExpectationFailed:
            break
        peer.send_ack(ack=una)
        answered += 1
    assert answered >= 3, f"the DUT sent only {answered} segments into a zero window in {watch:g} s"
    assert dut.tcp_state(conn) == "ESTABLISHED", "the connection timed out with its data beyond a shrunk window"
    peer.window = 65535
    peer.send_ack(ack=end)  # positive control: the window opens and the data goes on
    peer.expect(seq=end, data=lambda d: len(d) > 0, within=3.0)


@rfc("RFC7323-2.3-5")
def test_the_whole_scaled_window_the_dut_offers_is_taken(dut: DUT) -> None:
    # The window field is the window shifted right by the DUT's own scale: scaled back up it is
    # what the DUT will take. An unshifted field would offer 2^shift times more than it holds.
    peer, _conn = established(dut, PORT, wscale=0)
    if not peer.ws_ok or not peer.dut_syn.wscale:
        pytest.skip("the DUT scales no window (RFC 7323 window scaling is optional, and a shift of 0 scales nothing)")
    peer.send_data(b"w")
    peer.expect("A", ack=peer.snd_nxt)  # a segment whose window field is scaled
    offered = peer.dut_window
    start = peer.snd_nxt
    while seq_diff(peer.snd_nxt, start) < offered:
        peer.send_data(bytes(min(peer.mss, offered - seq_diff(peer.snd_nxt, start))))
    end = peer.snd_nxt
    try:
        peer.expect("A", ack=end, within=2.0)
    except AssertionError:
        raise AssertionError(f"the DUT offered {offered} octets (its window field << {peer.dut_syn.wscale}) "
                             "but did not acknowledge them all") from None


@described(9293, "3.10.7.4", MUST, SEND_WINDOW_UPDATE)
def test_a_segment_older_than_the_last_window_update_does_not_change_the_window(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    base = peer.snd_nxt
    # Out of order, above a hole: SND.WL1 becomes its sequence number, SND.WND 5000.
    peer.send_data(b"later", seq=seq_add(base, 100), window=5000, advance=False)
    peer.expect("A", ack=base)
    # An ACK at RCV.NXT, below SND.WL1: older than that update, its window of 0 is not taken.
    peer.send_ack(seq=base, window=0)
    assert dut.tcp_send(conn, bytes(1000)) == 1000
    seg = peer.expect(data=lambda d: len(d) > 0, within=2.0)
    assert len(payload(seg)) > 1, "the DUT sent a window probe: it took the window of 0 from the older segment"


@described(9293, "3.10.7.4", SHOULD,
           "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be made to "
           "accept valid ACKs, URGs, and RSTs.")
def test_with_its_window_closed_the_dut_still_takes_the_ack_on_a_data_segment(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options={"rcvbuf": 8192})
    while peer.dut_window > 0:  # the application reads nothing: the DUT's window closes
        peer.send_data(bytes(min(peer.mss, peer.dut_window)))
        peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_send(conn, b"first") == 5
    peer.expect(data=b"first")
    # Text the closed window cannot take, carrying the ACK of "first": the ACK must count.
    peer.send_data(b"x", advance=False)
    peer.expect("A", ack=peer.snd_nxt, window=0, within=2.0)
    assert dut.tcp_send(conn, b"second") == 6
    # Nagle's algorithm holds "second" while "first" is unacknowledged, sends it at once if not.
    peer.expect(data=b"second", within=0.9)


@pytest.mark.parametrize("isn", [0x1000_0000, 0x9000_0000], ids=["isn-low", "isn-high"])
@described(9293, "3.8.6", MUST,
           "The window sent in each segment indicates the range of sequence numbers the sender of the window "
           "(the data receiver) is currently prepared to accept.")
def test_the_window_of_the_syn_ack_lets_the_duts_data_go(dut: DUT, isn: int) -> None:
    # The DUT opened the connection: the peer's SYN,ACK offers a window, whatever half of the
    # sequence space the peer's ISN lies in, and the DUT's data may use it at once.
    peer, conn = opened_by_dut(dut, PORT, isn=isn)
    assert dut.tcp_send(conn, b"right away") == 10
    peer.expect(data=b"right away", within=0.9)


@rfc("RFC9293-3.8.6-1")
def test_a_smaller_receive_buffer_does_not_move_the_offered_edge_left(dut: DUT) -> None:
    # The application shrinks its receive buffer after the DUT offered a window: the edge it
    # offered stays (the window shrinks only as data fills it).
    peer, conn = established(dut, PORT, listen_options={"rcvbuf": 32768})
    peer.send_data(b"a")
    peer.expect("A", ack=peer.snd_nxt)
    edge = seq_add(peer.snd_nxt, peer.dut_window)
    dut.tcp_set_option(conn, "rcvbuf", 4096)
    peer.send_data(b"b")
    peer.expect("A", ack=peer.snd_nxt, within=2.0)
    now = seq_add(peer.snd_nxt, peer.dut_window)
    assert not seq_lt(now, edge), f"the right edge moved {seq_diff(edge, now)} octets left"


@pytest.mark.parametrize("case", ["peer-without-window-scale", "dut-shift-0"])
@rfc("RFC9293-3.8.6-1", "RFC7323-2.3-2")
def test_the_edge_offered_in_the_syn_ack_does_not_move_left(dut: DUT, case: str) -> None:
    # The SYN,ACK's window is never scaled (RFC 7323 2.2); the windows after it are scaled by
    # Rcv.Wind.Shift, which RFC 7323 2.3 makes zero when the peer's SYN has no Window Scale option
    # and the shift R of the DUT's SYN,ACK otherwise (0 for a small buffer, as Linux and our stack
    # choose). Only with a non-zero shift may the edge retract, by less than the scale's
    # granularity (RFC 7323 2.4).
    if case == "peer-without-window-scale":
        dut.tcp_listen(PORT)
        peer = TCPPeer(dut, dut_port=PORT)
    else:
        dut.tcp_listen(PORT, options={"rcvbuf": 32768})
        peer = TCPPeer(dut, dut_port=PORT, wscale=7)
    synack = peer.connect()
    granularity = 1 << (peer.dut_syn.wscale or 0) if peer.ws_ok else 1
    edge = seq_add(synack[TCP].ack, synack[TCP].window - (granularity - 1))
    peer.send_data(b"a")
    peer.expect("A", ack=peer.snd_nxt)
    now = seq_add(peer.snd_nxt, peer.dut_window)
    assert not seq_lt(now, edge), (f"the right edge moved {seq_diff(edge, now) + granularity - 1} octets left "
                                   f"after the SYN,ACK (window scale granularity {granularity})")
