"""RFC 9293 3.1-3.4 and 3.10.7.4 (seventh and eighth steps): the checksum both ways, reserved
bits, options the DUT does not know or that are misaligned or malformed, sequence numbers
across the 2^32 wrap, out-of-order data and a FIN beyond a hole."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet, Raw

from harness import DUT, MUST, TCPConn, described, rfc
from harness.tcp_peer import TCPPeer, established, option, payload, seq_add, seq_diff

PORT: Final = 8900
FAMILIES: Final = [pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")]


def _checksum_ok(seg: Packet) -> bool:
    """Recompute the TCP checksum with Scapy and compare it with the one the DUT sent."""
    l3 = seg[IP] if IP in seg else seg[IPv6]
    fresh = l3.__class__(bytes(l3))
    fresh[TCP].chksum = None
    return bool(l3.__class__(bytes(fresh))[TCP].chksum == seg[TCP].chksum)


@pytest.mark.parametrize("family", FAMILIES)
@rfc("RFC9293-3.1-3", quote="The TCP checksum is never optional.")
def test_duts_segments_carry_a_correct_checksum(dut: DUT, family: int) -> None:
    dut.tcp_listen(PORT, family)  # type: ignore[arg-type]
    peer = TCPPeer(dut, family, dut_port=PORT)  # type: ignore[arg-type]
    synack = peer.connect()
    conn = dut.tcp_accept(PORT, family)  # type: ignore[arg-type]
    assert conn is not None
    sent = [synack]
    for text in (b"checksummed data", b"more", b"and a third one", b"4"):  # sums of both parities
        dut.tcp_send(conn, text)
        sent.append(peer.expect(data=text))
        peer.send_data(text[:1])
        sent.append(peer.expect("A", ack=peer.snd_nxt))
    for seg in sent:
        assert _checksum_ok(seg), f"a {seg.sprintf('%TCP.flags%')} segment with a wrong TCP checksum"


@pytest.mark.parametrize("family", FAMILIES)
@rfc("RFC9293-3.1-3", quote="The TCP checksum is never optional.")
def test_segment_with_a_bad_checksum_is_dropped(dut: DUT, family: int) -> None:
    peer, conn = established(dut, PORT, family)  # type: ignore[arg-type]
    bad = peer.segment("PA", b"corrupted")
    bad[TCP].chksum = 0xBAD0 if bad[TCP].chksum != 0xBAD0 else 0xBAD1
    peer.send_segment(bad, advance=False)
    assert dut.tcp_recv(conn, within=0.5) is None, "a segment with a wrong checksum was delivered"
    peer.send_data(b"corrupted")  # positive control: the same segment, checksummed
    assert dut.tcp_recv(conn) == b"corrupted"


@described(9293, "3.1", MUST,
           "A set of control bits reserved for future use. Must be zero in generated segments and must be "
           "ignored in received segments if the corresponding future features are not implemented by the "
           "sending or receiving host.")
def test_reserved_bits_are_zero_and_ignored(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_data(b"reserved bits set", reserved=0b0111)
    assert dut.tcp_recv(conn) == b"reserved bits set"
    ack = peer.expect("A", ack=peer.snd_nxt)
    assert ack[TCP].reserved == 0, f"the DUT sets reserved bits {ack[TCP].reserved:#05b}"


@rfc("RFC9293-3.1-7")
def test_unknown_option_is_ignored(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_data(b"with an unknown option", options=[(253, b"\x12\x34"), ("NOP", None), ("NOP", None)])
    assert dut.tcp_recv(conn) == b"with an unknown option"


def _accepted_with(dut: DUT, options: list[tuple[object, object]], **peer: object) -> tuple[TCPPeer, TCPConn]:
    """A connection the peer opened with a SYN carrying ``options`` exactly."""
    dut.tcp_listen(PORT)
    tester = TCPPeer(dut, dut_port=PORT, **peer)  # type: ignore[arg-type]
    tester.send("S", seq=tester.iss, options=options)
    tester.expect("SA", ack=tester.snd_nxt)
    tester.send_ack()
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    return tester, conn


# Unknown options (kind 253, RFC 4727's experiment) of the sizes of the options a DUT does know,
# after the real ones, so that a DUT taking one for a known option would let it count.
@pytest.mark.parametrize("size", [pytest.param(4, id="mss-sized"), pytest.param(3, id="window-scale-sized"),
                                  pytest.param(2, id="sack-permitted-sized")])
@rfc("RFC9293-3.1-7")
def test_unknown_option_on_a_syn_is_ignored(dut: DUT, size: int) -> None:
    unknown = (253, {4: b"\x05\xdc", 3: b"\x07", 2: b""}[size])
    peer, conn = _accepted_with(dut, [("MSS", 536), unknown, ("NOP", None), ("NOP", None)][:4 if size < 4 else 2],
                                window=1000)
    if size == 2:  # no SACK was permitted, so no SACK option (RFC 2018 4)
        peer.send_data(b"above a hole", seq=seq_add(peer.snd_nxt, 100), advance=False)
        dup = peer.expect("A", ack=peer.snd_nxt)
        assert option(dup, "SAck") is None, "SACK blocks after a SYN with an unknown 2-octet option"
        return
    dut.tcp_send(conn, bytes(4000))
    start, sizes = peer.rcv_nxt, []
    while True:  # everything the DUT sends before the peer acknowledges anything
        try:
            sizes.append(len(payload(peer.expect(data=lambda d: len(d) > 0, within=0.5))))
        except AssertionError:
            break
    assert sizes and max(sizes) <= 536, f"segments of {sizes} octets with MSS 536"
    sent = seq_diff(peer.rcv_nxt, start)
    assert sent <= 1000, f"{sent} octets into the peer's unscaled 1000-octet window"


@rfc("RFC9293-3.1-6")
def test_options_on_a_data_segment_are_accepted(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send_data(b"options on data", options=[("NOP", None), ("NOP", None), ("NOP", None), ("EOL", None)])
    assert dut.tcp_recv(conn) == b"options on data"
    peer.expect("A", ack=peer.snd_nxt)


# MSS 300, below the 536 a DUT assumes without the option (RFC 9293 3.7.1), so a DUT that
# missed the option would send larger segments.
def _first_data_segment(dut: DUT, peer: TCPPeer) -> Packet:
    """After the peer's SYN to the listening DUT: complete the handshake, have the DUT send 3000
    octets, and return its first data segment (whose size shows the MSS it took)."""
    peer.expect("SA")
    peer.send_ack()
    conn = dut.tcp_accept(PORT)
    assert conn is not None
    dut.tcp_send(conn, bytes(3000))
    return peer.expect(data=lambda d: len(d) > 0)


@pytest.mark.parametrize("options", [
    pytest.param([("NOP", None), ("MSS", 300), ("NOP", None), ("NOP", None), ("NOP", None)], id="misaligned"),
    pytest.param([("SAckOK", b""), ("NOP", None), ("NOP", None), ("MSS", 300)], id="after-sack-permitted"),
    pytest.param([("NOP", None), ("NOP", None), ("Timestamp", (1, 0)), ("MSS", 300)], id="after-timestamps"),
    pytest.param([(253, b"\x12\x34"), ("MSS", 300)], id="after-an-unknown-option"),
])
@rfc("RFC9293-3.2-1", "RFC9293-3.1-5")
def test_mss_option_anywhere_in_the_syn_is_honoured(dut: DUT, options: list[tuple[str, object]]) -> None:
    dut.tcp_listen(PORT)
    # The peer sends Timestamps on its later segments once its SYN offered them (RFC 7323 3.2).
    peer = TCPPeer(dut, dut_port=PORT, mss=None, timestamps=any(name == "Timestamp" for name, _ in options))
    peer.send("S", seq=peer.iss, options=options)
    seg = _first_data_segment(dut, peer)
    assert len(payload(seg)) <= 300, f"a {len(payload(seg))}-octet segment despite the MSS 300 in {options}"


@described(9293, "3.2", MUST, "This option code indicates the end of the option list.")
def test_nothing_after_the_end_of_option_list_is_read(dut: DUT) -> None:
    # MSS 300, EOL, then octets that read as options would give MSS 1460 (the padding after an
    # EOL should be zeros, MUST-69; this sender's is not): the list ended at the EOL.
    dut.tcp_listen(PORT)
    peer = TCPPeer(dut, dut_port=PORT, mss=None)
    options = b"\x02\x04\x01\x2c" + b"\x00\x02" + b"\x02\x04\x05\xb4" + b"\x00\x00"
    header = TCP(sport=peer.port, dport=PORT, flags="S", seq=peer.iss, window=peer.window, dataofs=8, options=[])
    peer.send_segment(peer.ip() / header / Raw(options), advance=False)  # the Raw is the header's options
    peer.snd_nxt = seq_add(peer.iss, 1)
    seg = _first_data_segment(dut, peer)
    assert len(payload(seg)) <= 300, f"a {len(payload(seg))}-octet segment: an option after EOL was read"


@pytest.mark.parametrize("options", [
    pytest.param(b"\xfd\x00\x01\x01", id="length-zero"),
    pytest.param(b"\xfd\x01\x01\x01", id="length-one"),
    pytest.param(b"\x01\x01\xfd\x09", id="length-past-the-header"),
    pytest.param(b"\x01\x01\x01\xfd", id="no-room-for-a-length"),
    pytest.param(b"\x05\x03\x00\x01", id="sack-of-length-three"),  # RFC 2018 3: SACK is 8n+2 octets
])
@rfc("RFC9293-3.1-9")
def test_illegal_option_length_is_handled(dut: DUT, options: bytes) -> None:
    peer, conn = established(dut, PORT)
    # A header of 24 octets (Data Offset 6) whose four option octets are malformed.
    header = TCP(sport=peer.port, dport=peer.dut_port, flags="PA", seq=peer.snd_nxt, ack=peer.rcv_nxt,
                 window=peer.window, dataofs=6, options=[])
    peer.send_segment(peer.ip() / header / Raw(options + b"illegal option"), advance=False)
    dut.wait(0.3)
    if dut.tcp_state(conn) == "ESTABLISHED":  # dropped or taken, the connection carries on
        peer.send_data(b"next")
        got = dut.tcp_recv(conn)
        assert (got is not None and got.endswith(b"next")) or got == b"illegal option", f"delivered {got!r}"
    else:  # the suggested procedure: the connection was reset
        assert dut.tcp_state(conn) == "CLOSED"


@described(9293, "3.4", MUST,
           "Since the space is finite, all arithmetic dealing with sequence numbers must be performed modulo "
           "2^32.")
def test_data_across_the_sequence_number_wrap_is_delivered(dut: DUT) -> None:
    peer, conn = established(dut, PORT, isn=2**32 - 8)  # the peer's data wraps after 7 octets
    peer.send_data(b"across the wrap of 2^32")
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn) == b"across the wrap of 2^32"
    peer.send_data(b" and beyond")
    assert dut.tcp_recv(conn) == b" and beyond"


@rfc("RFC9293-3.10.7.4-3")
def test_out_of_order_segments_are_delivered_in_order(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    base = peer.snd_nxt
    # Held apart (the upper piece first), then the start, then the piece that joins the rest.
    for offset, chunk in ((15, b" part"), (5, b"2nd: "), (0, b"1st: "), (10, b"third")):
        peer.send_data(chunk, seq=seq_add(base, offset), advance=False)
    peer.snd_nxt = seq_add(base, 20)
    peer.expect("A", ack=peer.snd_nxt)
    got = b""
    while len(got) < 20 and (more := dut.tcp_recv(conn, within=1.0)):
        got += more
    assert got == b"1st: 2nd: third part"


@described(9293, "3.10.7.4", MUST,
           "In the following it is assumed that the segment is the idealized segment that begins at RCV.NXT "
           "and does not exceed the window.")
def test_fin_beyond_a_hole_is_not_processed_before_the_hole(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    base = peer.snd_nxt
    peer.send("FA", seq=seq_add(base, 5), advance=False)  # the FIN comes before the data it follows
    dut.wait(0.2)
    assert dut.tcp_state(conn) == "ESTABLISHED", "a FIN was processed before the data in front of it"
    assert dut.tcp_recv(conn, within=0.2) is None, "the end of the stream came before its data"
    peer.send("FA", b"first")  # the hole and the FIN again, in order
    assert dut.tcp_recv(conn) == b"first"
    assert dut.tcp_recv(conn) == b""


@rfc("RFC9293-3.10.7.4-3")
def test_fin_beyond_a_hole_is_held_until_the_hole_fills(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    base = peer.snd_nxt
    peer.send("FA", seq=seq_add(base, 5), advance=False)
    dut.wait(0.2)
    peer.send_data(b"first")  # fills the hole; the held FIN follows without being sent again
    peer.snd_nxt = seq_add(base, 6)
    peer.expect("A", ack=peer.snd_nxt)
    assert dut.tcp_recv(conn) == b"first"
    assert dut.tcp_recv(conn) == b""
    assert dut.tcp_state(conn) == "CLOSE-WAIT"


@rfc("RFC9293-3.10.7.4-9", quote="if the ACK bit is off, drop the segment and return")
def test_data_without_the_ack_bit_is_dropped(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    # In the window, at RCV.NXT, its acknowledgment field acceptable, but the ACK bit off.
    peer.send("P", b"nope", ack=peer.rcv_nxt, advance=False)
    peer.send_data(b"yes!")  # the same sequence numbers with ACK: this one counts
    peer.expect("A", ack=peer.snd_nxt, within=2.0)
    assert dut.tcp_recv(conn) == b"yes!", "the segment without the ACK bit was taken"
