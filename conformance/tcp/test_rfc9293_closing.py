"""RFC 9293 3.6, 3.6.1, 3.10.4 and 3.10.7.4 (eighth step): closing a connection from either
side, simultaneously, half-closed, and the TIME-WAIT state."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import TCP

from harness import DUT, MUST, TCPError, described, rfc
from harness.rfc import TCP_MSL
from harness.tcp_peer import TCPPeer, established, payload, seq_add, seq_diff
from harness.tcp_states import connection_in
from harness.time_budget import require_dut_time

PORT: Final = 7600
SILENCE: Final = 1.0



@described(9293, "3.10.4", MUST,
           "Queue this until all preceding SENDs have been segmentized, then form a FIN segment and send it. "
           "In any case, enter FIN-WAIT-1 state.")
def test_close_sends_fin_after_the_queued_data(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    data = bytes(range(256)) * 8
    assert dut.tcp_send(conn, data) == len(data)
    dut.tcp_shutdown(conn)
    got = peer.receive(len(data))
    assert got == data
    if not peer.fin_received:  # the FIN may ride on the last data segment
        peer.expect("FA", within=1.0)
    assert peer.fin_received and peer.rcv_nxt == seq_add(peer.irs or 0, 1 + len(data) + 1), \
        "the FIN does not follow the last octet"
    assert dut.tcp_state(conn) in ("FIN-WAIT-1", "FIN-WAIT-2")


@described(9293, "3.10.4", MUST,
           "Queue this until all preceding SENDs have been segmentized, then form a FIN segment and send it. "
           "In any case, enter FIN-WAIT-1 state.")
def test_close_with_more_queued_than_the_window_sends_the_fin_after_the_last_octet(dut: DUT) -> None:
    # More than the initial window: most of the data still waits in the DUT when the CLOSE comes,
    # and goes out segment by segment as ACKs open the window; only the last may carry the FIN.
    peer, conn = established(dut, PORT, mss=536)
    data = bytes(i % 251 for i in range(20_000))
    assert dut.tcp_send(conn, data) == len(data)
    dut.tcp_shutdown(conn)
    early_fins = []
    while len(peer.received) < len(data):
        seg = peer.expect(within=5.0)
        end = seq_diff(seq_add(seg[TCP].seq, len(payload(seg))), seq_add(peer.irs or 0, 1))
        if "F" in str(seg[TCP].flags) and end < len(data):
            early_fins.append(end)
        peer.send_ack()
    assert not early_fins, f"a FIN came after octet {early_fins[0]} of {len(data)}, before the rest of the data"
    assert bytes(peer.received) == data
    if not peer.fin_received:
        peer.expect("FA", within=2.0)


@described(9293, "3.10.7.4", MUST,
           "In addition to the processing for the ESTABLISHED state, if the FIN segment is now acknowledged, "
           "then enter FIN-WAIT-2 and continue processing in that state.")
def test_acknowledged_fin_moves_to_fin_wait_2(dut: DUT) -> None:
    peer, conn = connection_in(dut, "FIN-WAIT-1", PORT)
    peer.send_ack()
    dut.wait(0.05)
    assert dut.tcp_state(conn) == "FIN-WAIT-2"


@described(9293, "3.10.7.4", MUST,
           "FIN-WAIT-2 STATE + Enter the TIME-WAIT state. Start the time-wait timer, turn off the other "
           "timers.")
def test_fin_in_fin_wait_2_is_acknowledged_and_enters_time_wait(dut: DUT) -> None:
    peer, conn = connection_in(dut, "FIN-WAIT-2", PORT)
    peer.send_fin()
    peer.expect("A", ack=peer.snd_nxt, seq=peer.rcv_nxt)
    assert dut.tcp_state(conn) == "TIME-WAIT"


@described(9293, "3.10.7.4", MUST,
           "If the FIN bit is set, signal the user \"connection closing\" and return any pending RECEIVEs "
           "with same message, advance RCV.NXT over the FIN, and send an acknowledgment for the FIN.")
def test_fin_from_the_peer_is_acknowledged_and_ends_the_stream(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_fin()
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn) == b""
    assert dut.tcp_state(conn) == "CLOSE-WAIT"


@described(9293, "3.10.7.4", MUST,
           "Note that FIN implies PUSH for any segment text not yet delivered to the user.")
def test_data_on_a_fin_is_delivered_before_the_end_of_the_stream(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send("FA", b"the last octets")
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn) == b"the last octets"
    assert dut.tcp_recv(conn) == b""


@described(9293, "3.10.4", MUST,
           "CLOSE-WAIT STATE * Queue this request until all preceding SENDs have been segmentized; then send "
           "a FIN segment, enter LAST-ACK state.")
def test_close_in_close_wait_sends_fin_and_the_ack_ends_the_connection(dut: DUT) -> None:
    peer, conn = connection_in(dut, "CLOSE-WAIT", PORT)
    dut.tcp_send(conn, b"reply after the peer's FIN")
    dut.tcp_close(conn)
    assert peer.receive(26) == b"reply after the peer's FIN"
    peer.expect("FA")
    assert dut.tcp_state(conn) == "LAST-ACK"
    peer.send_ack()
    dut.wait(0.05)
    assert dut.tcp_state(conn) == "CLOSED"


@described(9293, "3.6", MUST,
           "A simultaneous CLOSE by users at both ends of a connection causes FIN segments to be exchanged "
           "(Figure 13). When all segments preceding the FINs have been processed and acknowledged, each TCP "
           "peer can ACK the FIN it has received.")
def test_simultaneous_close_passes_through_closing_to_time_wait(dut: DUT) -> None:
    peer, conn = connection_in(dut, "CLOSING", PORT)
    peer.send_ack()  # now the peer acknowledges the DUT's FIN too
    dut.wait(0.05)
    assert dut.tcp_state(conn) == "TIME-WAIT"


@described(9293, "3.10.7.4", MUST,
           "The only thing that can arrive in this state is a retransmission of the remote FIN. Acknowledge "
           "it, and restart the 2 MSL timeout.")
def test_retransmitted_fin_in_time_wait_is_acknowledged(dut: DUT) -> None:
    peer, conn = connection_in(dut, "TIME-WAIT", PORT)
    peer.send("FA", seq=seq_add(peer.snd_nxt, -1), advance=False)
    peer.expect("A", ack=peer.snd_nxt, seq=peer.rcv_nxt)
    assert dut.tcp_state(conn) == "TIME-WAIT"


@described(9293, "3.10.7.4", MUST,
           "The only thing that can arrive in this state is a retransmission of the remote FIN. Acknowledge "
           "it, and restart the 2 MSL timeout.")
def test_retransmitted_fin_in_time_wait_restarts_the_two_msl_timeout(dut: DUT) -> None:
    require_dut_time(dut, 3 * TCP_MSL + 30.0)
    peer, conn = connection_in(dut, "TIME-WAIT", PORT)
    dut.wait(TCP_MSL)  # half of TIME-WAIT has gone
    peer.send("FA", seq=seq_add(peer.snd_nxt, -1), advance=False)
    peer.expect("A", ack=peer.snd_nxt, seq=peer.rcv_nxt)
    dut.wait(2 * TCP_MSL - 1.0)  # MSL past the first 2 MSL, just short of 2 MSL after the FIN
    assert dut.tcp_state(conn) == "TIME-WAIT", "the retransmitted FIN did not restart the 2 MSL timeout"
    dut.wait(30.0)
    assert dut.tcp_state(conn) == "CLOSED", "TIME-WAIT outlived 2 x MSL after the retransmitted FIN by half a minute"


@described(9293, "3.10.7.4", MUST, "o TIME-WAIT STATE + Remain in the TIME-WAIT state. Restart the 2 MSL "
           "time-wait timeout.")
def test_fin_at_rcv_nxt_in_time_wait_restarts_the_two_msl_timeout(dut: DUT) -> None:
    # Not the peer's FIN again but one in the window (first step), so the eighth step processes it.
    require_dut_time(dut, 3 * TCP_MSL + 30.0)
    peer, conn = connection_in(dut, "TIME-WAIT", PORT)
    dut.wait(TCP_MSL)  # half of TIME-WAIT has gone
    peer.send("FA", advance=False)
    # "send an acknowledgment for the FIN": of RCV.NXT, or of RCV.NXT advanced over this FIN
    ack = peer.snd_nxt
    peer.expect("A", ack=lambda a: a in (ack, seq_add(ack, 1)), seq=peer.rcv_nxt)
    dut.wait(2 * TCP_MSL - 1.0)  # MSL past the first 2 MSL, just short of 2 MSL after the FIN
    assert dut.tcp_state(conn) == "TIME-WAIT", "the FIN did not restart the 2 MSL timeout"
    dut.wait(30.0)
    assert dut.tcp_state(conn) == "CLOSED", "TIME-WAIT outlived 2 x MSL after the FIN by half a minute"


@pytest.mark.parametrize("way", [pytest.param("shutdown", id="fins-cross"),
                                 pytest.param("close", id="closed-through-fin-wait-2")])
@rfc("RFC9293-3.6.1-3")
def test_time_wait_lasts_two_msl(dut: DUT, way: str) -> None:
    require_dut_time(dut, 2 * TCP_MSL)
    if way == "shutdown":
        _peer, conn = connection_in(dut, "TIME-WAIT", PORT)
    else:
        # The application closes for good and the peer's FIN comes in FIN-WAIT-2: a timer the DUT
        # may keep for a closed connection in FIN-WAIT-2 (Linux's tcp_fin_timeout) is one of "the
        # other timers" that entering TIME-WAIT turns off (3.10.7.4).
        peer, conn = established(dut, PORT)
        dut.tcp_close(conn)
        peer.expect("FA")
        peer.send_ack()
        peer.send_fin()
        peer.expect("A", ack=peer.snd_nxt)
        assert dut.tcp_state(conn) == "TIME-WAIT"
    dut.wait(2 * TCP_MSL - 1.0)
    assert dut.tcp_state(conn) == "TIME-WAIT", "TIME-WAIT ended before 2 x MSL (MSL = 2 minutes, 3.4.2)"
    dut.wait(30.0)
    assert dut.tcp_state(conn) == "CLOSED", "TIME-WAIT outlived 2 x MSL by half a minute"


@described(9293, "3.6", MUST,
           "RECEIVEs are allowed in this state. All segments preceding and including FIN will be "
           "retransmitted until acknowledged.")
def test_half_closed_connection_still_receives(dut: DUT) -> None:
    peer, conn = connection_in(dut, "FIN-WAIT-2", PORT)
    peer.send_data(b"the other direction is open")
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn) == b"the other direction is open"


@described(9293, "3.6.1", MUST,
           "Since the two directions of a TCP connection are closed independently, it is possible for a "
           "connection to be \"half closed\", i.e., closed in only one direction, and a host is permitted to "
           "continue sending data in the open direction on a half-closed connection.")
def test_connection_in_close_wait_still_sends(dut: DUT) -> None:
    peer, conn = connection_in(dut, "CLOSE-WAIT", PORT)
    assert dut.tcp_send(conn, b"still talking") == 13
    peer.expect(data=b"still talking")


@described(9293, "3.6", MUST,
           "All segments preceding and including FIN will be retransmitted until acknowledged.")
def test_unacknowledged_fin_is_retransmitted(dut: DUT) -> None:
    peer, _conn = connection_in(dut, "FIN-WAIT-1", PORT)
    fin_seq = seq_add(peer.rcv_nxt, -1)
    again = peer.expect("FA", seq=fin_seq, within=5.0)
    assert again.seq == fin_seq


@described(9293, "3.10.7.4", MUST,
           "CLOSE-WAIT STATE - CLOSING STATE - LAST-ACK STATE - TIME-WAIT STATE o This should not occur "
           "since a FIN has been received from the remote side. Ignore the segment text.")
def test_data_after_the_peers_fin_is_not_delivered(dut: DUT) -> None:
    peer, conn = connection_in(dut, "CLOSE-WAIT", PORT)
    peer.send_data(b"after my own FIN")
    assert dut.tcp_recv(conn, within=SILENCE) == b""


@rfc("RFC9293-3.6.1-2")
def test_close_with_unread_data_sends_rst(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_data(b"never read")
    peer.expect("A", ack=peer.snd_nxt)
    dut.tcp_close(conn)
    peer.expect("Ra", seq=peer.rcv_nxt)


@described(9293, "3.10.2", MUST,
           "FIN-WAIT-1 STATE FIN-WAIT-2 STATE CLOSING STATE LAST-ACK STATE TIME-WAIT STATE * Return \"error: "
           "connection closing\" and do not service request.")
def test_send_after_the_fin_is_refused_and_nothing_follows_the_fin(dut: DUT) -> None:
    peer, conn = connection_in(dut, "FIN-WAIT-2", PORT)
    with pytest.raises(TCPError):
        dut.tcp_send(conn, b"after my own FIN")
    peer.send_data(b"still open this way")  # positive control: the DUT still answers, with an ACK only
    peer.expect("A", ack=peer.snd_nxt, within=2.0)
    peer.expect_none(data=lambda d: len(d) > 0, within=0.3)


@rfc("RFC9293-3.6.1-2")
def test_data_arriving_after_close_draws_a_rst(dut: DUT) -> None:
    # "if new data is received after CLOSE is called, its TCP implementation SHOULD send a RST to
    # show that data was lost": here a CLOSE (not a half-close) with nothing unread, the FIN
    # acknowledged, then the peer's data.
    peer, conn = established(dut, PORT)
    dut.tcp_close(conn)
    peer.expect("FA", within=2.0)
    peer.send_ack()  # FIN-WAIT-2
    peer.send_data(b"nobody is left to read this")
    peer.expect("Ra", within=2.0)


@described(9293, "3.10.4", MUST,
           "Delete the TCB and return \"error: closing\" responses to any queued SENDs, or RECEIVEs.")
@pytest.mark.parametrize("call", ["close", "shutdown"])
def test_close_in_syn_sent_sends_no_fin(dut: DUT, call: str) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    peer = TCPPeer.for_connection(dut, conn)
    syn = peer.expect("S")
    (dut.tcp_close if call == "close" else dut.tcp_shutdown)(conn)
    peer.expect_none(flags="FA", within=SILENCE)
    assert dut.tcp_state(conn) == "CLOSED"
    if call == "shutdown":  # the application still holds the connection: a RECEIVE gets the error
        with pytest.raises(TCPError):
            dut.tcp_recv(conn, within=0.5)
    peer.send("SA", seq=peer.iss, ack=seq_add(syn.seq, 1))  # positive control: nothing left of it
    peer.expect("R")


@described(9293, "3.10.7.4", MUST,
           "FIN-WAIT-1 STATE + If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT, "
           "start the time-wait timer, turn off the other timers; otherwise, enter the CLOSING state.")
def test_fin_acknowledging_the_duts_fin_enters_time_wait_directly(dut: DUT) -> None:
    peer, conn = connection_in(dut, "FIN-WAIT-1", PORT)
    peer.send_fin()  # acknowledges the DUT's FIN (ack = RCV.NXT after it) and closes too
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_state(conn) == "TIME-WAIT"


@rfc("RFC9293-3.6.1-4",
     quote="(1) assigns its initial sequence number for the new connection to be larger than the largest "
           "sequence number it used on the previous connection incarnation")
def test_new_syn_in_time_wait_may_reopen_with_a_larger_isn(dut: DUT) -> None:
    old, _conn = connection_in(dut, "TIME-WAIT", PORT)
    new = TCPPeer(dut, dut_port=PORT, port=old.port, isn=seq_add(old.snd_nxt, 100_000))
    new.send_syn()
    answer = new.expect(within=1.0, update=False)
    if "S" not in answer[TCP].flags:
        pytest.skip("the DUT does not reopen a connection from TIME-WAIT (it answered "
                    f"{answer.sprintf('%TCP.flags%')}); MAY-2 is optional")
    assert (answer[TCP].seq - old.rcv_nxt) % 2**32 < 2**31, "the new ISS is not above the old connection's sequence numbers"


@rfc("RFC9293-3.6.1-5")
def test_timestamps_let_a_new_syn_reopen_a_connection_in_time_wait(dut: DUT) -> None:
    old, _conn = connection_in(dut, "TIME-WAIT", PORT, timestamps=True, ts_val=50_000)
    if not old.ts_ok:
        pytest.skip("the DUT did not answer the Timestamps option (RFC 7323 timestamps are optional)")
    # The new SYN's sequence number is not above the old connection's (RFC 9293's own MAY-2 test
    # would refuse it); its timestamp is newer, which RFC 6191's algorithm accepts.
    new = TCPPeer(dut, dut_port=PORT, port=old.port, isn=old.iss, timestamps=True,
                  ts_val=old.ts_val + 1000)
    new.send_syn()
    new.expect("SA", ack=seq_add(new.iss, 1), within=1.0)


@pytest.mark.parametrize("state", ["FIN-WAIT-1", "LAST-ACK"])
@rfc("RFC9293-3.8.3-5")
def test_the_fin_of_a_closed_connection_is_retransmitted_for_at_least_100_seconds(dut: DUT, state: str) -> None:
    # The application closed (and reads no more); the peer never acknowledges the DUT's FIN.
    require_dut_time(dut, 101.0)
    peer, conn = established(dut, PORT)
    if state == "LAST-ACK":
        peer.send_fin()
        peer.expect("A", ack=peer.snd_nxt)
    dut.tcp_close(conn)
    peer.expect("FA", within=2.0)
    dut.wait(100.0)
    assert dut.tcp_state(conn) == state, "the connection was given up within 100 s of its unacknowledged FIN"
