"""RFC 9293 3.5 and 3.10.7.3/3.10.7.4: the three-way handshake from both sides, SYN-SENT and
SYN-RECEIVED processing, simultaneous open, and recovery from an old duplicate SYN."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import TCP

from harness import DUT, MUST, TCPConn, TCPError, described, rfc
from harness.tcp_peer import TCPPeer, payload, seq_add
from harness.tcp_states import SEND_WINDOW_UPDATE, UNACCEPTABLE_SEGMENT_IS_ACKED

PORT: Final = 7200
SILENCE: Final = 1.0
FAMILIES: Final = [pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")]


def _connect(dut: DUT, family: int = 4) -> tuple[TCPPeer, TCPConn, int]:
    """The DUT's active open to the peer: the peer (after the DUT's SYN), the connection, the ISS."""
    addr = str(dut.info.tester_ipv4 if family == 4 else dut.info.tester_ipv6)
    conn = dut.tcp_connect(addr, PORT)
    peer = TCPPeer.for_connection(dut, conn)
    syn = peer.expect("S")
    return peer, conn, syn[TCP].seq


@pytest.mark.parametrize("family", FAMILIES)
@described(9293, "3.10.7.3", MUST,
           "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to ESTABLISHED, form an "
           "ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> - and send it.")
def test_active_open_acknowledges_the_syn_ack_and_is_established(dut: DUT, family: int) -> None:
    peer, conn, iss = _connect(dut, family)
    peer.send("SA", seq=peer.iss)
    peer.expect("A", seq=seq_add(iss, 1), ack=seq_add(peer.iss, 1))
    assert dut.tcp_state(conn) == "ESTABLISHED"


@described(9293, "3.10.7.3", MUST,
           "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if so drop the "
           "segment and return) <SEQ=SEG.ACK><CTL=RST>")
@pytest.mark.parametrize("offset", [pytest.param(0, id="ack-iss"), pytest.param(2, id="ack-beyond-snd-nxt")])
def test_syn_ack_with_an_unacceptable_ack_draws_rst_in_syn_sent(dut: DUT, offset: int) -> None:
    peer, conn, iss = _connect(dut)
    bad_ack = seq_add(iss, offset)
    peer.send("SA", seq=peer.iss, ack=bad_ack)
    peer.expect("R", seq=bad_ack)
    assert dut.tcp_state(conn) == "SYN-SENT"


@described(9293, "3.10.7.3", MUST,
           "If the ACK was acceptable, then signal to the user \"error: connection reset\", drop the "
           "segment, enter CLOSED state, delete TCB, and return.")
def test_rst_acknowledging_the_syn_refuses_the_connection(dut: DUT) -> None:
    peer, conn, iss = _connect(dut)
    peer.send("RA", seq=0, ack=seq_add(iss, 1))
    with pytest.raises(TCPError) as failure:
        dut.tcp_recv(conn, within=1.0)
    assert failure.value.kind == "refused"
    assert dut.tcp_state(conn) == "CLOSED"


@rfc("RFC5961-3.2-6")
def test_rst_with_an_unacceptable_ack_is_dropped_in_syn_sent(dut: DUT) -> None:
    peer, conn, iss = _connect(dut)
    peer.send("RA", seq=0, ack=seq_add(iss, 5))
    peer.expect_none("R", within=SILENCE)
    assert dut.tcp_state(conn) == "SYN-SENT"
    peer.send("SA", seq=peer.iss, ack=seq_add(iss, 1))  # positive control: the open completes
    peer.expect("A", ack=seq_add(peer.iss, 1))
    assert dut.tcp_state(conn) == "ESTABLISHED"


@described(9293, "3.10.7.3", MUST,
           "If the ACK was acceptable, ... Otherwise (no ACK), drop the segment and return.")
def test_rst_without_ack_is_dropped_in_syn_sent(dut: DUT) -> None:
    peer, conn, _iss = _connect(dut)
    peer.send("R", seq=0, advance=False)
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "SYN-SENT"


@described(9293, "3.10.7.3", MUST,
           "Fifth, if neither of the SYN or RST bits is set, then drop the segment and return.")
def test_acceptable_ack_without_syn_is_dropped_in_syn_sent(dut: DUT) -> None:
    peer, conn, iss = _connect(dut)
    peer.send("A", seq=peer.iss, ack=seq_add(iss, 1), advance=False)
    peer.expect_none(flags="A", within=SILENCE)
    assert dut.tcp_state(conn) == "SYN-SENT"
    peer.send("SA", seq=peer.iss, ack=seq_add(iss, 1))  # positive control: a SYN-ACK is answered
    peer.expect("A", ack=seq_add(peer.iss, 1))


@rfc("RFC9293-3.5-1")
def test_simultaneous_open_answers_a_syn_with_syn_ack(dut: DUT) -> None:
    peer, conn, iss = _connect(dut)
    peer.send_syn()  # crossing SYNs: each side receives a SYN carrying no acknowledgment
    peer.expect("SA", seq=iss, ack=seq_add(peer.iss, 1))
    assert dut.tcp_state(conn) == "SYN-RECEIVED"
    peer.send("SA", seq=peer.iss, ack=seq_add(iss, 1), advance=False)  # figure 7, line 6
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "ESTABLISHED"


@described(9293, "3.10.4", MUST,
           "SYN-RECEIVED STATE * If no SENDs have been issued and there is no pending data to send, then form "
           "a FIN segment and send it, and enter FIN-WAIT-1 state; otherwise, queue for processing after "
           "entering ESTABLISHED state.")
def test_close_in_syn_received_sends_a_fin(dut: DUT) -> None:
    peer, conn, iss = _connect(dut)
    peer.send_syn()  # a simultaneous open leaves the DUT's application a connection in SYN-RECEIVED
    peer.expect("SA", seq=iss, ack=seq_add(peer.iss, 1))
    dut.tcp_shutdown(conn)
    peer.send("SA", seq=peer.iss, ack=seq_add(iss, 1), advance=False)
    # The FIN now or right after the handshake: at ISS+1, no data having been sent.
    peer.expect("FA", seq=seq_add(iss, 1), data=b"", within=2.0)


@described(9293, "3.10.7.4", MUST, SEND_WINDOW_UPDATE)
def test_window_update_after_a_simultaneous_open_releases_data(dut: DUT) -> None:
    peer, conn, iss = _connect(dut)
    peer.send_syn()
    peer.expect("SA", seq=iss, ack=seq_add(peer.iss, 1))
    # Figure 7, line 6, offering no window yet: the DUT's SND.WL1 becomes the SYN,ACK's sequence
    # number once its SYN is trimmed off (its text, had it any, would start at ISS+1 of the peer).
    peer.send("SA", seq=peer.iss, ack=seq_add(iss, 1), window=0, advance=False)
    dut.wait(0.1)
    assert dut.tcp_state(conn) == "ESTABLISHED"
    sending = dut.now()
    assert dut.tcp_send(conn, b"held back") > 0
    peer.expect_none(data=lambda d: len(d) > 0, since=sending, within=0.2)
    peer.send_ack(window=65535)  # SEG.SEQ = ISS+1 of the peer, after the SYN: a window update
    update = peer.last_sent
    data = peer.expect(data=lambda d: len(d) > 0, within=0.5)
    if float(data.time) < update:
        # 3.8.6.1: "The transmitting host SHOULD send the first zero-window probe when a zero
        # window has existed for the retransmission timeout period (SHLD-29)".
        pytest.skip(f"the DUT probed the zero window {data.time - sending:.2f} s after the SEND, before the "
                    f"tester's window update ({update - sending:.2f} s after it): a loaded tester; the data "
                    "went out on the DUT's persist timer, not on the update")
    assert payload(data) == b"held back", f"after the window update the DUT sent {payload(data)!r}"


@rfc("RFC9293-3.5-2")
def test_rst_in_syn_received_after_an_active_open_refuses_the_connection(dut: DUT) -> None:
    peer, conn, _iss = _connect(dut)
    peer.send_syn()
    peer.expect("SA", ack=seq_add(peer.iss, 1))
    peer.send_rst()
    with pytest.raises(TCPError) as failure:
        dut.tcp_recv(conn, within=1.0)
    assert failure.value.kind in ("refused", "reset")
    assert dut.tcp_state(conn) == "CLOSED"


@described(9293, "3.10.7.4", MUST,
           "If this connection was initiated with a passive OPEN (i.e., came from the LISTEN state), then "
           "return this connection to LISTEN state and return. The user need not be informed.")
def test_rst_in_syn_received_after_a_passive_open_returns_to_listen(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    dup = TCPPeer(dut, dut_port=PORT)
    dup.send_syn()  # figure 8: an old duplicate SYN
    dup.expect("SA")
    dup.send_rst()  # line 5: <SEQ=91><CTL=RST>, exactly RCV.NXT
    reset = dup.last_sent
    assert dut.tcp_accept(PORT, within=0.5) is None
    # Nothing left to retransmit: from the RST on (a SYN-ACK the DUT's timer sent again before a
    # loaded tester's RST came is no fault), to a second past now.
    dup.expect_none("SA", since=reset, within=dut.now() - reset + SILENCE)
    real = TCPPeer(dut, dut_port=PORT)  # lines 6-8: the listener takes the real SYN
    assert real.connect_accepted() is not None


@described(9293, "3.10.7.4", MUST,
           "If the connection was initiated with a passive OPEN, then return this connection to the LISTEN "
           "state and return.")
def test_syn_in_the_window_in_syn_received_after_a_passive_open_returns_to_listen(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_syn()
    synack = peer.expect("SA")
    # Fourth, check the SYN bit: a SYN inside the DUT's receive window, not the one it answered.
    peer.send("S", seq=seq_add(peer.iss, 100), advance=False)
    dut.wait(0.1)
    peer.take_all()  # whatever the DUT answered (Linux: a RST) before it went back to LISTEN
    # The handshake's last ACK finds no connection in SYN-RECEIVED: LISTEN resets it.
    peer.send_ack()
    peer.expect("R", seq=seq_add(synack[TCP].seq, 1), within=1.0)
    assert dut.tcp_accept(PORT, within=0.2) is None


@described(9293, "3.10.7.4", MUST, UNACCEPTABLE_SEGMENT_IS_ACKED)
def test_syn_below_the_window_in_syn_received_draws_an_ack_and_is_dropped(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_syn()
    synack = peer.expect("SA")
    # First, check sequence number: a SYN 1000 octets below RCV.NXT is not acceptable.
    peer.send("S", seq=seq_add(peer.iss, -1000), advance=False)
    peer.expect("A", seq=seq_add(synack[TCP].seq, 1), ack=peer.snd_nxt, data=b"", within=1.0)
    peer.send_ack()  # positive control: the connection is still there, in SYN-RECEIVED
    assert dut.tcp_accept(PORT, within=1.0) is not None


@described(9293, "3.10.7.4", MUST,
           "If the segment acknowledgment is not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> + "
           "and send it.")
def test_unacceptable_ack_in_syn_received_draws_rst(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_syn()
    synack = peer.expect("SA")
    bad = seq_add(synack[TCP].seq, 1000)
    peer.send_ack(ack=bad)
    peer.expect("R", seq=bad)
    assert dut.tcp_accept(PORT, within=0.2) is None
    peer.send_ack()  # positive control: the right ACK still completes this handshake
    assert dut.tcp_accept(PORT) is not None


@described(9293, "3.10.7.4", MUST,
           "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue processing")
def test_data_with_the_handshake_ack_is_delivered(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    peer.send_syn()
    peer.expect("SA")
    peer.send_data(b"data on the third segment")
    conn = dut.tcp_accept(PORT)
    assert conn is not None and dut.tcp_recv(conn) == b"data on the third segment"
    peer.expect("A", ack=peer.snd_nxt)


@rfc("RFC9293-3.4.1-1")
def test_initial_sequence_numbers_differ_between_connections(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    isns = set()
    for _ in range(4):
        peer = TCPPeer(dut, dut_port=PORT)
        peer.send_syn()
        isns.add(peer.expect("SA")[TCP].seq)
    assert len(isns) == 4, f"initial sequence numbers repeat: {sorted(isns)}"


@described(9293, "3.10.7.3", MUST,
           "If there are other controls or text in the segment, then continue processing at the sixth step "
           "under Section 3.10.7.4 where the URG bit is checked; otherwise, return.")
def test_data_on_the_syn_ack_is_delivered(dut: DUT) -> None:
    peer, conn, _iss = _connect(dut)
    peer.send("SA", b"text on the SYN-ACK", seq=peer.iss)
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn, within=1.0) == b"text on the SYN-ACK"
