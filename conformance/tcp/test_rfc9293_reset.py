"""RFC 9293 3.5.2, 3.5.3, 3.10.5 and 3.10.7.4 (second step): RST processing in every
synchronized state, RSTs the DUT generates, and the ABORT call."""

from __future__ import annotations

from typing import Final

import pytest

from harness import DUT, MUST, TCPError, TCPState, described, rfc
from harness.tcp_peer import TCPPeer, established, seq_add
from harness.tcp_states import connection_in

PORT: Final = 7400
SILENCE: Final = 1.0


def _gone(peer: TCPPeer) -> None:
    """The DUT keeps no connection any more: a segment on it draws a RST <SEQ=SEG.ACK> (3.10.7.1)."""
    peer.send_data(b"anyone there?", advance=False)
    peer.expect("R", seq=peer.rcv_nxt)


@pytest.mark.parametrize("state", ["ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT"])
@described(9293, "3.10.7.4", MUST,
           "If the RST bit is set, then any outstanding RECEIVEs and SEND should receive \"reset\" "
           "responses. All segment queues should be flushed. Users should also receive an unsolicited "
           "general \"connection reset\" signal. Enter the CLOSED state, delete the TCB, and return.")
def test_rst_at_rcv_nxt_closes_the_connection(dut: DUT, state: TCPState) -> None:
    peer, conn = connection_in(dut, state, PORT)
    peer.send_rst()
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "CLOSED"
    _gone(peer)


@pytest.mark.parametrize("state", ["CLOSING", "LAST-ACK", "TIME-WAIT"])
@described(9293, "3.10.7.4", MUST,
           "If the RST bit is set, then enter the CLOSED state, delete the TCB, and return.")
def test_rst_at_rcv_nxt_ends_a_closing_connection(dut: DUT, state: TCPState) -> None:
    peer, conn = connection_in(dut, state, PORT)
    peer.send_rst()
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "CLOSED"
    _gone(peer)


@described(9293, "3.10.4", MUST, "Otherwise, return \"error: connection does not exist\".")
def test_close_of_a_connection_a_rst_ended_returns_an_error(dut: DUT) -> None:
    # CLOSE (the half-close, shutdown) on a connection in CLOSED, that the application still holds.
    peer, conn = established(dut, PORT)
    peer.send_rst()
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "CLOSED"
    with pytest.raises(TCPError):
        dut.tcp_shutdown(conn)


@rfc("RFC9293-3.6-1")
def test_the_application_learns_that_a_rst_aborted_the_connection(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_rst()
    with pytest.raises(TCPError) as failure:
        dut.tcp_recv(conn, within=1.0)
    assert failure.value.kind == "reset"


@rfc("RFC9293-3.6-1")
def test_the_application_learns_that_a_fin_closed_the_connection_normally(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_fin(b"last words")
    assert dut.tcp_recv(conn) == b"last words"
    assert dut.tcp_recv(conn) == b""  # the end of the stream, not an error


@rfc("RFC9293-3.5.3-1")
def test_rst_carrying_data_is_processed(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send("R", b"diagnostic: going away", advance=False)
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "CLOSED"


@pytest.mark.parametrize("state", ["ESTABLISHED", "CLOSE-WAIT", "FIN-WAIT-2"])
@described(9293, "3.10.5", MUST, "Send a reset segment: <SEQ=SND.NXT><CTL=RST>")
def test_abort_sends_a_rst_from_snd_nxt(dut: DUT, state: TCPState) -> None:
    peer, conn = connection_in(dut, state, PORT)
    dut.tcp_abort(conn)
    peer.expect("Ra", seq=peer.rcv_nxt, data=b"")
    assert dut.tcp_state(conn) == "CLOSED"


@described(9293, "3.10.5", MUST,
           "all segments queued for transmission (except for the RST formed above) or retransmission should "
           "be flushed. Delete the TCB, enter CLOSED state, and return.")
def test_abort_flushes_data_queued_for_transmission(dut: DUT) -> None:
    # The peer's closed window holds the data back. A 0.5-s handshake makes the DUT's
    # retransmission timeout, after which it may probe the window with an octet of the data
    # (RFC 9293 3.8.6.1), about 1.5 s (RFC 6298 2.2): longer than a loaded tester takes to ABORT.
    peer, conn = established(dut, PORT, window=0, rtt=0.5)
    assert dut.tcp_send(conn, b"never to be sent") > 0
    dut.tcp_abort(conn)
    peer.expect("Ra", seq=peer.rcv_nxt)
    peer.window = 65535
    peer.send_ack()  # the window opens: nothing may follow but a RST for a connection that is gone
    peer.expect_none(data=lambda d: len(d) > 0, within=SILENCE)
    peer.expect("R")


@described(9293, "3.10.5", MUST,
           "All queued SENDs and RECEIVEs should be given \"connection reset\" notification. Delete the TCB, "
           "enter CLOSED state, and return.")
def test_abort_in_syn_sent_sends_nothing(dut: DUT) -> None:
    conn = dut.tcp_connect(str(dut.info.tester_ipv4), PORT)
    peer = TCPPeer.for_connection(dut, conn)
    syn = peer.expect("S")
    dut.tcp_abort(conn)
    # From when the ABORT returned: a SYN the DUT's timer sent again before a loaded tester got to
    # the ABORT is no fault.
    peer.expect_none(since=dut.now(), within=SILENCE)
    assert dut.tcp_state(conn) == "CLOSED"
    peer.send("SA", seq=peer.iss, ack=seq_add(syn.seq, 1))  # positive control: the TCB is gone
    peer.expect("R", seq=seq_add(syn.seq, 1))


@pytest.mark.parametrize("state", ["LAST-ACK", "TIME-WAIT"])
@described(9293, "3.10.5", MUST, "Respond with \"ok\" and delete the TCB, enter CLOSED state, and return.")
def test_abort_of_a_closing_connection_sends_nothing(dut: DUT, state: TCPState) -> None:
    peer, conn = connection_in(dut, state, PORT)
    dut.tcp_abort(conn)
    peer.expect_none(flags="Ra", within=SILENCE)
    assert dut.tcp_state(conn) == "CLOSED"
    _gone(peer)  # positive control: the DUT does answer, and it has forgotten the connection


@described(9293, "3.5.2", MUST,
           "If the connection does not exist (CLOSED), then a reset is sent in response to any incoming "
           "segment except another reset.")
def test_segment_on_an_aborted_connection_draws_rst(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    dut.tcp_abort(conn)
    peer.expect("Ra")
    _gone(peer)


@described(9293, "3.5.2", MUST,
           "any unacceptable segment (out-of-window sequence number or unacceptable acknowledgment number) "
           "must be responded to with an empty acknowledgment segment (without any user data) containing the "
           "current send sequence number and an acknowledgment indicating the next sequence number expected "
           "to be received, and the connection remains in the same state.")
def test_ack_of_unsent_data_draws_an_empty_ack_and_is_dropped(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_data(b"acks the future", ack=seq_add(peer.rcv_nxt, 1000), advance=False)
    peer.expect("A", seq=peer.rcv_nxt, ack=peer.snd_nxt, data=b"")
    assert dut.tcp_state(conn) == "ESTABLISHED"
    peer.send_data(b"acks what was sent")  # positive control: the same data with a proper ACK
    assert dut.tcp_recv(conn) == b"acks what was sent"
