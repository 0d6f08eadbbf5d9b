"""RFC 6093 and RFC 9293 3.8.5: the urgent mechanism, as far as a receiver shows it through the
data it delivers. An application reading without SO_OOBINLINE (as the DUT verbs do on Linux)
may see the last urgent octet taken out of band (RFC 6093 3.4); either way every other octet
arrives in order, and the urgent pointer marks the octet after the urgent data."""

from __future__ import annotations

from typing import Final

from scapy.layers.inet import TCP

from harness import DUT, MUST, described, rfc
from harness.tcp_peer import established

PORT: Final = 8700


def _read_all(dut: DUT, conn: object, octets: int) -> bytes:
    got = b""
    while len(got) < octets and (more := dut.tcp_recv(conn, within=1.0)):  # type: ignore[arg-type]
        got += more
    return got


@rfc("RFC9293-3.8.5-2")
def test_urgent_data_is_acknowledged_and_the_rest_delivered(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send("PAU", b"normal!", urgptr=7)
    peer.expect("A", ack=peer.snd_nxt)
    peer.send_data(b" and after")
    got = _read_all(dut, conn, 17)
    assert got in (b"normal! and after", b"normal and after"), f"delivered {got!r}"


@rfc("RFC9293-3.8.5-4")
def test_urgent_pointer_marks_the_octet_after_the_urgent_data(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send("PAU", b"abcXdef", urgptr=4)  # urgent data "abcX": the pointer is at "d"
    got = _read_all(dut, conn, 7)
    # Delivered inline ("abcXdef"), or X taken out of band; never "d", the octet after the urgent data.
    assert got in (b"abcXdef", b"abcdef"), f"delivered {got!r}"


@rfc("RFC9293-3.8.5-3")
def test_urgent_pointer_beyond_the_segment_is_accepted(dut: DUT) -> None:
    peer, conn = established(dut, PORT)
    peer.send("PAU", b"urgent, and more to come", urgptr=3000)  # the urgent data goes on past this segment
    peer.expect("A", ack=peer.snd_nxt)
    peer.send("PAU", b" still urgent", urgptr=3000 - 24)
    peer.expect("A", ack=peer.snd_nxt)
    got = _read_all(dut, conn, 37)
    assert got == b"urgent, and more to come still urgent", f"delivered {got!r}"



@described(9293, "3.9.1.2", MUST,
           "If the URGENT flag is set, segments sent to the destination TCP peer will have the urgent pointer "
           "set.")
def test_data_sent_without_urgency_carries_no_urg(dut: DUT) -> None:
    # The DUT verbs' SEND never sets the URGENT flag: no segment may then signal urgent data (a
    # receiver reading out of band would lose an octet to it, RFC 6093 3.4).
    peer, conn = established(dut, PORT)
    for text in (b"plain", b" data"):
        assert dut.tcp_send(conn, text) == len(text)
        seg = peer.expect(data=text, within=2.0)
        peer.send_ack()
        assert "U" not in str(seg[TCP].flags), f"a segment of ordinary data carries URG (urgent pointer {seg[TCP].urgptr})"
