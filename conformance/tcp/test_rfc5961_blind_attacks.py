"""RFC 5961: blind reset (RST bit, 3.2), blind reset with the SYN bit (4.2), blind data
injection (5.2, a MAY) and challenge ACK throttling (7).

A challenge ACK is <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. Each test provokes at most one,
since section 7 lets a DUT throttle them (Linux allows one per connection per 500 ms)."""

from __future__ import annotations

from typing import Final

import pytest

from harness import DUT, MUST, TCPState, described, rfc
from harness.tcp_peer import TCPPeer, established, opened_by_dut, seq_add
from harness.tcp_states import connection_in

PORT: Final = 7500
SILENCE: Final = 1.0
SMALL_RCVBUF: Final = {"rcvbuf": 4096}  # a window known exactly (it fits the 16-bit field)
FAMILIES: Final = [pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")]


def _expect_challenge_ack(peer: TCPPeer) -> None:
    peer.expect("A", seq=peer.rcv_nxt, ack=peer.snd_nxt, data=b"", within=1.0)


def _still_open(dut: DUT, peer: TCPPeer, conn: object) -> None:
    """Positive control after a segment that must change nothing: data still flows."""
    peer.send_data(b"still here")
    assert dut.tcp_recv(conn, within=1.0) == b"still here"  # type: ignore[arg-type]


@pytest.mark.parametrize("family", FAMILIES)
@rfc("RFC5961-3.2-2", "RFC9293-3.10.7.4-4")
def test_rst_exactly_at_rcv_nxt_resets(dut: DUT, family: int) -> None:
    peer, conn = established(dut, PORT, family)  # type: ignore[arg-type]
    peer.send_rst()
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "CLOSED"


@pytest.mark.parametrize("where", ["rcv-nxt+1", "last-in-window"])
@rfc("RFC5961-3.2-3", "RFC9293-3.10.7.4-5", "RFC9293-3.10.7.4-6", "RFC5961-3.2-4",
     quote="If the RST bit is set and the sequence number does not exactly match the next expected sequence "
           "value, yet is within the current receive window (RCV.NXT < SEG.SEQ < RCV.NXT+RCV.WND), TCP MUST "
           "send an acknowledgment (challenge ACK): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>")
def test_rst_inside_the_window_draws_a_challenge_ack(dut: DUT, where: str) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    offset = 1 if where == "rcv-nxt+1" else peer.dut_window - 1
    peer.send_rst(seq=seq_add(peer.snd_nxt, offset))
    _expect_challenge_ack(peer)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    _still_open(dut, peer, conn)


@pytest.mark.parametrize("where", ["rcv-nxt-1", "right-edge", "half-space-away"])
@rfc("RFC5961-3.2-5", "RFC5961-3.2-1")
def test_rst_outside_the_window_is_silently_discarded(dut: DUT, where: str) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    offset = {"rcv-nxt-1": -1, "right-edge": peer.dut_window + 1, "half-space-away": 2**31}[where]
    peer.send_rst(seq=seq_add(peer.snd_nxt, offset))
    peer.expect_none(within=SILENCE)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    _still_open(dut, peer, conn)


@described(5961, "3.2", MUST,
           "If this RST happens to be a genuine one, the other end would send an RST with an exact sequence "
           "number match that would cause the connection to be dropped.")
def test_rst_answering_the_challenge_ack_resets(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    peer.send_rst(seq=seq_add(peer.snd_nxt, 10))
    challenge = peer.expect("A", data=b"")
    peer.send_rst(seq=challenge.ack)  # "derived from the acknowledgment number of the incoming ACK"
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "CLOSED"


@pytest.mark.parametrize("where", ["at-rcv-nxt", "in-window", "below-window", "at-irs"])
@rfc("RFC5961-4.2-2", "RFC9293-3.10.7.4-7", "RFC9293-3.10.7.4-8", "RFC5961-4.2-1", "RFC5961-4.2-3",
     quote="If the SYN bit is set, irrespective of the sequence number, TCP MUST send an ACK (also referred "
           "to as challenge ACK) to the remote peer: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>")
def test_syn_on_an_established_connection_draws_a_challenge_ack(dut: DUT, where: str) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    # "at-irs": the peer's first SYN again, as a delayed duplicate would arrive.
    offset = {"at-rcv-nxt": 0, "in-window": 100, "below-window": -5000, "at-irs": -1}[where]
    peer.send("S", seq=seq_add(peer.snd_nxt, offset), advance=False)
    _expect_challenge_ack(peer)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    _still_open(dut, peer, conn)


@pytest.mark.parametrize("state", ["CLOSE-WAIT", "FIN-WAIT-2"])
@rfc("RFC5961-4.2-2")
def test_syn_in_another_synchronized_state_draws_a_challenge_ack(dut: DUT, state: TCPState) -> None:
    peer, conn = connection_in(dut, state, PORT)
    peer.send("S", seq=peer.snd_nxt, advance=False)
    _expect_challenge_ack(peer)
    assert dut.tcp_state(conn) == state


@pytest.mark.parametrize("offset", [pytest.param(100_000, id="above-rcv-nxt"), pytest.param(0, id="at-rcv-nxt")])
@rfc("RFC5961-4.2-2")
def test_syn_in_time_wait_of_a_connection_the_dut_opened_draws_a_challenge_ack(dut: DUT, offset: int) -> None:
    # The DUT's port is an ephemeral one nothing listens on, so a SYN cannot reopen the
    # connection from TIME-WAIT (RFC 9293 3.6.1 MAY-2 needs a new connection to hand it to).
    peer, conn = opened_by_dut(dut, PORT)
    dut.tcp_shutdown(conn)
    peer.expect("FA")
    peer.send_fin()
    peer.expect("A", ack=peer.snd_nxt)
    dut.wait(0.05)
    assert dut.tcp_state(conn) == "TIME-WAIT"
    peer.send("S", seq=seq_add(peer.snd_nxt, offset), advance=False)
    _expect_challenge_ack(peer)
    assert dut.tcp_state(conn) == "TIME-WAIT"


@rfc("RFC5961-4.2-4",
     quote="This RST will confirm that the remote peer has indeed closed the previous connection.")
def test_rst_answering_a_syn_challenge_terminates_the_connection(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    restarted = TCPPeer(dut, dut_port=PORT, port=peer.port, isn=peer.snd_nxt + 50_000)  # the peer rebooted
    restarted.send_syn()
    challenge = restarted.expect("A", data=b"", update=False)
    restarted.send_rst(seq=challenge.ack)
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "CLOSED"


@rfc("RFC5961-5.2-1", "RFC9293-3.10.7.4-9", "RFC9293-3.10.7.4-10", "RFC9293-3.10.7.4-11", "RFC5961-5.2-2", "RFC5961-5.2-3",
     quote="The ACK value is considered acceptable only if it is in the range of ((SND.UNA - MAX.SND.WND) <= "
           "SEG.ACK <= SND.NXT).")
def test_data_acknowledging_far_before_snd_una_is_discarded(dut: DUT) -> None:
    peer, conn = established(dut, PORT, window=8192)  # MAX.SND.WND: the largest window the peer offered
    old_ack = seq_add(peer.rcv_nxt, -(8192 + 1000))
    peer.send_data(b"injected", ack=old_ack, advance=False)
    _expect_challenge_ack(peer)
    peer.send_data(b"genuine")  # positive control at the same sequence number
    assert dut.tcp_recv(conn) == b"genuine"


@rfc("RFC5961-7-2")
def test_challenge_acks_are_throttled(dut: DUT) -> None:
    peer, conn = established(dut, PORT, listen_options=SMALL_RCVBUF)
    burst = 50
    for i in range(burst):
        peer.send_rst(seq=seq_add(peer.snd_nxt, 1 + i))
    _expect_challenge_ack(peer)  # the first one is answered
    answered = 1
    while answered < burst:
        try:
            peer.expect("A", data=b"", within=0.2)
        except AssertionError:
            break
        answered += 1
    assert answered < burst, f"{burst} RSTs inside the window drew {answered} challenge ACKs: no throttling"
    assert dut.tcp_state(conn) == "ESTABLISHED"
