"""RFC 7323 section 2: the Window Scale option, negotiated in the SYNs and applied to every
later window field in both directions (an optional feature: a DUT that never offers it skips
the tests that need it, and the offer itself is a SHOULD)."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import TCP

from harness import DUT, rfc
from harness.tcp_peer import TCPPeer, established, option, seq_diff

PORT: Final = 8200
DATA: Final = bytes(i % 256 for i in range(40_000))


def _require_scaling(peer: TCPPeer) -> None:
    if not peer.ws_ok:
        pytest.skip("the DUT did not answer the peer's Window Scale option with its own (RFC 7323 window "
                    "scaling is optional); nothing to check")


@rfc("RFC7323-2.3-1", "RFC7323-2.3-6", "RFC7323-2.2-6")
def test_syn_ack_answers_a_window_scale_offer(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT, wscale=7)
    synack = peer.connect()
    shift = option(synack, "WScale")
    assert shift is not None, "the SYN-ACK carries no Window Scale option"
    assert 0 <= shift <= 14, f"the DUT offers shift {shift}; the largest allowed is 14"


@rfc("RFC7323-2.2-3")
def test_syn_ack_carries_no_window_scale_unless_offered(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT)
    synack = peer.connect()
    assert option(synack, "WScale") is None, "a Window Scale option answers a SYN that had none"


@rfc("RFC7323-2.2-8")
def test_window_of_the_syn_is_taken_unscaled(dut: DUT) -> None:
    peer, conn = established(dut, PORT, wscale=4, window=1000)  # the SYN says 1000 and means 1000
    _require_scaling(peer)
    # The peer's handshake ACK already carried 1000 >> 4, so the window is 62 << 4 = 992 octets.
    assert dut.tcp_send(conn, DATA) > 0
    start = peer.rcv_nxt
    while True:
        try:
            peer.expect(data=lambda d: len(d) > 0, within=0.3)
        except AssertionError:
            break
    sent = seq_diff(peer.rcv_nxt, start)
    assert 0 < sent <= 1000, f"{sent} octets went into a window of 1000 octets"


@pytest.mark.parametrize("shift", [3, 0])
@rfc("RFC7323-2.3-4", "RFC7323-2.3-3")
def test_window_field_is_shifted_by_the_peers_scale(dut: DUT, shift: int) -> None:
    # The field carries 150 << (3 - shift): 1200 octets either way (shift 0: the field as it is).
    peer, conn = established(dut, PORT, wscale=shift, window=1200)
    _require_scaling(peer)
    assert dut.tcp_send(conn, DATA) > 0
    start = peer.rcv_nxt
    while True:
        try:
            peer.expect(data=lambda d: len(d) > 0, within=0.3)
        except AssertionError:
            break
    sent = seq_diff(peer.rcv_nxt, start)
    field = 1200 >> shift
    least = field if shift else 0  # with a shift, more than the bare field shows it was scaled
    assert least < sent <= 1200, f"{sent} octets went into a window field of {field} scaled by 2^{shift}"


@rfc("RFC7323-2.3-7")
def test_shift_above_14_is_taken_as_14(dut: DUT) -> None:
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT, wscale=15, window=1)
    peer.connect()
    _require_scaling(peer)
    peer.syn_options = type(peer.syn_options)(peer.syn_options.mss, 14, False, None)  # as the DUT must read it
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    peer.window = 1 << 14  # the field carries 1: 16384 octets at shift 14, 32768 at shift 15
    peer.send_ack()
    assert dut.tcp_send(conn, DATA) > 0
    acked = biggest = 0
    for _ in range(40):  # acknowledge (keeping the field at 1) until the window, not cwnd, limits
        got = 0
        start = peer.rcv_nxt
        while True:
            try:
                peer.expect(data=lambda d: len(d) > 0, within=0.3)
            except AssertionError:
                break
        got = seq_diff(peer.rcv_nxt, start)
        if got == 0:
            break
        acked += got
        biggest = max(biggest, got)
        assert got <= 16384, f"{got} octets in flight under a window field of 1 with shift 15 (taken as 14: 16384)"
        peer.send_ack()
    assert acked > 0
    # Not less than 14 either: at shift 13 the window would be 8192 octets.
    assert biggest > 8192, f"never more than {biggest} octets in flight: the shift was taken as less than 14"


@rfc("RFC7323-2.3-5", "RFC7323-2.3-2", quote="SEG.WND = RCV.WND >> Rcv.Wind.Shift")
def test_duts_window_field_is_scaled_down_by_its_shift(dut: DUT) -> None:
    peer, conn = established(dut, PORT, wscale=0, listen_options={"rcvbuf": 65536})
    _require_scaling(peer)
    shift = peer.dut_syn.wscale or 0
    start = peer.snd_nxt
    peer.send_data(bytes(1000))
    ack = peer.expect("A", ack=peer.snd_nxt)
    window = ack[TCP].window << shift
    # Scaled back up, the window plus what is already acknowledged never falls short of the 1000 octets
    # taken, and fits the receive buffer the DUT's application asked for (Linux doubles it).
    assert window <= 4 * 65536, f"the window field {ack[TCP].window} << {shift} offers {window} octets"
    assert seq_diff(peer.snd_nxt, start) == 1000 and dut.tcp_recv(conn) == bytes(1000)
