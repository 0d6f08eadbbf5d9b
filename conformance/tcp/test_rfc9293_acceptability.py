"""RFC 9293 3.10.7.4, Table 6: the four acceptability tests of an incoming segment, each row
with segments just inside and just outside the receive window, and what the DUT does with
an unacceptable one: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, and the segment dropped.

The DUT's receive window is read from its last segment (``peer.dut_window``); a zero window
is made by sending data its application does not read."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import TCP

from harness import DUT, MUST, TCPConn, described, rfc
from harness.tcp_peer import TCPPeer, established, payload, seq_add
from harness.tcp_states import UNACCEPTABLE_SEGMENT_IS_ACKED

PORT: Final = 7300
SILENCE: Final = 0.5
# A small receive buffer, so the DUT's window closes after a few segments.
SMALL_RCVBUF: Final = {"rcvbuf": 4096}
UNACCEPTABLE: Final = ("If an incoming segment is not acceptable, an acknowledgment should be sent in reply "
                       "(unless the RST bit is set, if so drop the segment and return): "
                       "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> o After sending the acknowledgment, drop the "
                       "unacceptable segment and return.")


def _close_receive_window(peer: TCPPeer) -> bytes:
    """Send data the DUT's application does not read until the DUT offers a zero window."""
    sent = bytearray()
    for i in range(200):
        if peer.dut_window == 0:
            return bytes(sent)
        chunk = bytes([65 + i % 26]) * min(peer.mss, peer.dut_window)
        peer.send_data(chunk)
        sent += chunk
        peer.expect("A", ack=peer.snd_nxt, within=2.0)
    raise AssertionError(f"the DUT still offers a {peer.dut_window}-octet window after {len(sent)} unread octets")


def _expect_challenge(peer: TCPPeer) -> None:
    """The DUT's reply to an unacceptable segment: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, no data.

    A zero-window probe sent meanwhile may carry a new octet at SND.NXT (RFC 9293 3.8.6.1 lets
    it; Linux sends SND.UNA-1 instead), and SND.NXT is then past it: our stack's probe came
    between the peer's last look and its unacceptable segment (a tap soak beside two busy loops)."""
    nxt = peer.rcv_nxt
    deadline = peer.dut.now() + 1.0
    while True:
        seg = peer.expect("A", ack=peer.snd_nxt, within=max(0.0, deadline - peer.dut.now()), update=False)
        data = payload(seg)
        if not data:
            assert seg[TCP].seq == nxt, (
                f"the ACK answering an unacceptable segment carries SEQ {seg[TCP].seq}, not SND.NXT {nxt}")
            return
        if seg[TCP].seq == nxt and len(data) == 1:
            nxt = seq_add(nxt, 1)


def _window_blocked(dut: DUT) -> tuple[TCPPeer, TCPConn]:
    """A connection whose peer offers a zero window while the DUT's application has data queued."""
    peer, conn = established(dut, PORT, window=0, listen_options=SMALL_RCVBUF)
    queued = dut.now()
    assert dut.tcp_send(conn, b"queued while the peer's window is closed") > 0
    # Timed from the SEND: a zero-window probe of one octet, due a retransmission timeout later
    # (RFC 9293 3.8.6.1), is no data sent into the closed window however late the tester looks.
    peer.expect_none(data=lambda d: len(d) > 0, since=queued, within=0.1)
    return peer, conn


def _expect_no_release(peer: TCPPeer) -> None:
    """No data the window update just sent would release: the DUT's zero-window probes carry
    one octet at most (RFC 9293 3.8.6.1), and those still come while the window stays closed."""
    peer.expect_none(data=lambda d: len(d) > 1, since=peer.last_sent, within=0.1)


def _window_opened(peer: TCPPeer) -> None:
    """The DUT sends (the rest of) its queued data at once: it took the window update."""
    peer.expect(data=lambda d: len(d) > 0, within=SILENCE)


# ---- row 1: zero-length segment, zero receive window ------------------------------------------
@described(9293, "3.10.7.4", MUST, "0 | 0 | SEG.SEQ = RCV.NXT")
def test_empty_segment_at_rcv_nxt_is_acceptable_when_the_window_is_zero(dut: DUT) -> None:
    peer, _conn = _window_blocked(dut)
    peer.window = 0
    _close_receive_window(peer)
    peer.take_all()  # zero-window probes meanwhile: acknowledged with the window update below
    peer.window = 65535
    peer.send_ack()  # SEG.SEQ = RCV.NXT, zero length: acceptable; it opens the peer's window
    _window_opened(peer)


@described(9293, "3.10.7.4", MUST, UNACCEPTABLE_SEGMENT_IS_ACKED)
def test_empty_segment_past_rcv_nxt_is_unacceptable_when_the_window_is_zero(dut: DUT) -> None:
    peer, _conn = _window_blocked(dut)
    peer.window = 0
    _close_receive_window(peer)
    peer.take_all()
    peer.window = 65535
    peer.send_ack(seq=seq_add(peer.snd_nxt, 1))
    _expect_challenge(peer)
    _expect_no_release(peer)  # the window update was dropped


@described(9293, "3.10.7.4", MUST, "0 | 0 | SEG.SEQ = RCV.NXT")
def test_ack_of_the_duts_fin_at_rcv_nxt_is_acceptable_when_the_window_is_zero(dut: DUT) -> None:
    # Out of ESTABLISHED, so no fast path of the DUT's may take the ACK before the table does.
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    _close_receive_window(peer)
    dut.tcp_shutdown(conn)
    peer.expect("FA", within=1.0)
    peer.send_ack()  # SEG.SEQ = RCV.NXT, zero length, zero window: acceptable; it acknowledges the FIN
    # Acceptable and empty: no <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> for an unacceptable segment, nor
    # anything else after the FIN. A copy of the FIN itself its retransmission timer sent while a
    # loaded tester was late to acknowledge it is no answer to this ACK (taken or not, the state
    # below tells).
    peer.expect_none(seq=peer.rcv_nxt, since=peer.last_sent, within=SILENCE)
    assert dut.tcp_state(conn) == "FIN-WAIT-2", "the ACK of the DUT's FIN was not taken"


# ---- row 2: zero-length segment, open receive window --------------------------------------------
@described(9293, "3.4", MUST, "0 | >0 | RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND")
def test_empty_segment_at_rcv_nxt_is_acceptable(dut: DUT) -> None:
    peer, _conn = _window_blocked(dut)
    peer.window = 65535
    peer.send_ack()
    _window_opened(peer)


@described(9293, "3.4", MUST, "0 | >0 | RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND")
def test_empty_segment_at_the_last_octet_of_the_window_is_acceptable(dut: DUT) -> None:
    peer, _conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    peer.send_ack(seq=seq_add(peer.snd_nxt, peer.dut_window - 1), advance=False)
    peer.expect_none(since=peer.last_sent, within=SILENCE)  # acceptable and empty: nothing to acknowledge
    # Positive control, one octet past the window edge (the edge itself has a test of its own).
    peer.send_ack(seq=seq_add(peer.snd_nxt, peer.dut_window + 1), advance=False)
    _expect_challenge(peer)


@pytest.mark.parametrize("where", ["below-rcv-nxt", "at-right-edge"])
@described(9293, "3.10.7.4", MUST, UNACCEPTABLE_SEGMENT_IS_ACKED)
def test_empty_segment_outside_the_window_draws_an_ack(dut: DUT, where: str) -> None:
    peer, _conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    offset = -1 if where == "below-rcv-nxt" else peer.dut_window
    peer.send_ack(seq=seq_add(peer.snd_nxt, offset), advance=False)
    _expect_challenge(peer)


@described(9293, "3.10.7.4", MUST, UNACCEPTABLE_SEGMENT_IS_ACKED)
def test_window_update_outside_the_window_is_dropped(dut: DUT) -> None:
    peer, _conn = _window_blocked(dut)
    peer.window = 65535
    peer.send_ack(seq=seq_add(peer.snd_nxt, -1), advance=False)
    _expect_challenge(peer)
    _expect_no_release(peer)


# ---- row 3: data, zero receive window -----------------------------------------------------------
@described(9293, "3.10.7.4", MUST, ">0 | 0 | not acceptable")
def test_data_is_unacceptable_when_the_window_is_zero(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    filled = _close_receive_window(peer)
    peer.send_data(b"beyond a zero window", advance=False)
    _expect_challenge(peer)
    got = b""
    while (more := dut.tcp_recv(conn, within=0.5)) and len(got) < len(filled) + 20:
        got += more
    assert got == filled, "data sent into a zero window was delivered"


# ---- row 4: data, open receive window -----------------------------------------------------------
@described(9293, "3.4", MUST,
           "A segment is judged to occupy a portion of valid receive sequence space if RCV.NXT =< SEG.SEQ < "
           "RCV.NXT+RCV.WND or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND")
def test_one_octet_filling_a_one_octet_window_is_acceptable(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    filled = bytearray()
    while peer.dut_window > 1:  # unread data until exactly one octet of the window is left
        chunk = bytes([65 + len(filled) % 26]) * min(peer.mss, peer.dut_window - 1)
        peer.send_data(chunk)
        filled += chunk
        peer.expect("A", ack=peer.snd_nxt, within=2.0)
    assert peer.dut_window == 1, "the DUT closed the last octet of the window it had offered"
    # The DUT's CLOSE takes the connection out of ESTABLISHED (where header prediction could take
    # the segment before the table does); FIN-WAIT-1 and -2 still receive.
    dut.tcp_shutdown(conn)
    peer.expect("FA", within=1.0)
    peer.send_data(b"!")  # RCV.WND = 1: RCV.NXT =< SEG.SEQ < RCV.NXT+1
    peer.expect("A", ack=peer.snd_nxt, within=2.0)
    got = b""
    while len(got) < len(filled) + 1 and (more := dut.tcp_recv(conn, within=1.0)):
        got += more
    assert got == bytes(filled) + b"!"


@described(9293, "3.4", MUST,
           "A segment is judged to occupy a portion of valid receive sequence space if RCV.NXT =< SEG.SEQ < "
           "RCV.NXT+RCV.WND or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND")
def test_data_at_rcv_nxt_is_acceptable(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_data(b"in window")
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn) == b"in window"


@described(9293, "3.10.7.4", MUST,
           "If a segment's contents straddle the boundary between old and new, only the new parts are "
           "processed.")
@pytest.mark.parametrize("new", [b", then new", b"!"], ids=["several-new-octets", "last-octet-new"])
def test_data_straddling_rcv_nxt_is_acceptable_and_only_its_new_part_is_delivered(dut: DUT, new: bytes) -> None:
    peer, conn = established(dut, PORT)
    peer.send_data(b"old part")
    assert dut.tcp_recv(conn) == b"old part"
    # "last-octet-new": only SEG.SEQ+SEG.LEN-1 = RCV.NXT lies in the window.
    peer.send_data(b"old part" + new, seq=seq_add(peer.snd_nxt, -8), advance=True)
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn) == new


@described(9293, "3.4", MUST,
           "A segment is judged to occupy a portion of valid receive sequence space if RCV.NXT =< SEG.SEQ < "
           "RCV.NXT+RCV.WND or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND")
def test_data_from_below_rcv_nxt_to_the_right_window_edge_is_acceptable(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    filled = bytearray()
    while peer.dut_window > peer.mss - 8:  # until the rest of the window and 8 old octets fit one segment
        chunk = bytes([65 + len(filled) % 26]) * min(peer.mss, peer.dut_window - 100)
        peer.send_data(chunk)
        filled += chunk
        peer.expect("A", ack=peer.snd_nxt, within=2.0)
    window = peer.dut_window
    assert window > 0, "the DUT closed its window instead of leaving part of it open"
    # SEG.SEQ below RCV.NXT, SEG.SEQ+SEG.LEN-1 the last octet of the window.
    rest = bytes(97 + i % 26 for i in range(window))
    peer.send_data(bytes(filled[-8:]) + rest, seq=seq_add(peer.snd_nxt, -8), advance=True)
    peer.expect("A", ack=peer.snd_nxt)
    got = b""
    while len(got) < len(filled) + window and (more := dut.tcp_recv(conn, within=1.0)):
        got += more
    assert got == bytes(filled) + rest


@described(9293, "3.10.7.4", MUST, UNACCEPTABLE_SEGMENT_IS_ACKED)
def test_data_entirely_below_rcv_nxt_draws_an_ack_and_is_not_delivered_again(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_data(b"delivered once")
    assert dut.tcp_recv(conn) == b"delivered once"
    peer.expect("A", ack=peer.snd_nxt)
    peer.send_data(b"delivered once", seq=seq_add(peer.snd_nxt, -14), advance=False)
    _expect_challenge(peer)
    peer.send_data(b"next")  # positive control: the stream goes on right after the first copy
    assert dut.tcp_recv(conn) == b"next"


@described(9293, "3.10.7.4", MUST, UNACCEPTABLE_SEGMENT_IS_ACKED)
def test_data_starting_at_the_right_window_edge_draws_an_ack_and_is_dropped(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    peer.send_data(b"beyond the window", seq=seq_add(peer.snd_nxt, peer.dut_window), advance=False)
    _expect_challenge(peer)
    peer.send_data(b"in window")
    assert dut.tcp_recv(conn) == b"in window"
    assert dut.tcp_recv(conn, within=SILENCE) is None


@rfc("RFC9293-3.10.7.4-3", "RFC7323-2.4-2")
def test_data_ending_at_the_right_window_edge_is_acceptable_and_held(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    window, start = peer.dut_window, peer.snd_nxt
    tail = b"last octets of the window"
    peer.send_data(tail, seq=seq_add(start, window - len(tail)), advance=False)
    gap = bytes(64 + i % 26 for i in range(window - len(tail)))
    for offset in range(0, len(gap), peer.mss):
        peer.send_data(gap[offset:offset + peer.mss])
    peer.snd_nxt = seq_add(start, window)
    peer.expect("A", ack=peer.snd_nxt)  # the held tail is acknowledged with the gap
    got = b""
    while len(got) < window and (more := dut.tcp_recv(conn, within=1.0)):
        got += more
    assert got == gap + tail


@described(9293, "3.10.7.4", MUST,
           "One could tailor actual segments to fit this assumption by trimming off any portions that lie "
           "outside the window (including SYN and FIN) and only processing further if the segment then "
           "begins at RCV.NXT.")
def test_data_straddling_the_right_window_edge_is_acceptable(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    window, start = peer.dut_window, peer.snd_nxt
    inside = 700
    straddling = bytes(97 + i % 26 for i in range(inside + 300))  # 300 octets beyond the window
    peer.send_data(straddling, seq=seq_add(start, window - inside), advance=False)
    gap = bytes(65 + i % 26 for i in range(window - inside))
    for offset in range(0, len(gap), peer.mss):
        peer.send_data(gap[offset:offset + peer.mss])
    got = b""
    while len(got) < window and (more := dut.tcp_recv(conn, within=1.0)):
        got += more
    assert got[:window] == gap + straddling[:inside], "the in-window part of the straddling segment is missing"


@rfc("RFC9293-3.4-1")
def test_rst_at_rcv_nxt_is_processed_when_the_window_is_zero(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    _close_receive_window(peer)
    peer.send_rst()
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "CLOSED"
