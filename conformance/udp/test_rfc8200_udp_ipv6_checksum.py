"""RFC 8200 §8.1 (and RFC 1122 §4.1.3.4): the UDP checksum over IPv6 is mandatory.

Negative tests send the bad datagram and then the good one to the same bound socket, and
check that only the good one is delivered, so a DUT that delivers nothing cannot pass.
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness import DUT, rfc

PORT = 8201  # bound on the DUT by each test, closed again at its end
TESTER_PORT = 40820
SILENCE_S = 1.0
UDP_NEXT_HEADER = 17


def _sum16(data: bytes) -> int:
    """RFC 1071 one's complement sum, folded to 16 bits (the oracle's own copy)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _pseudo_header(src: str, dst: str, length: int) -> bytes:
    # RFC 8200 §8.1: source, destination, upper-layer packet length, zeros, next header.
    return IPv6Address(src).packed + IPv6Address(dst).packed + struct.pack("!I3xB", length, UDP_NEXT_HEADER)


def _checksum_holds(dgram: Packet) -> bool:
    ip, udp = dgram[IPv6], bytes(dgram[UDP])[: dgram[UDP].len]
    return _sum16(_pseudo_header(ip.src, ip.dst, len(udp)) + udp) == 0xFFFF


def _datagram(dut: DUT, data: bytes, chksum: int | None = None) -> Packet:
    return dut.ipv6() / UDP(sport=TESTER_PORT, dport=PORT, chksum=chksum) / Raw(data)


def _bad_then_good(dut: DUT, bad: Packet) -> None:
    dut.udp_bind(PORT, 6)
    try:
        dut.send(bad)
        dut.send(_datagram(dut, b"good"))
        got = dut.udp_recv(PORT)
        assert got is not None, "the valid datagram sent after the bad one was not delivered"
        assert got[0] == b"good", f"the bad datagram was delivered: {got[0]!r}"
        assert dut.udp_recv(PORT, within=SILENCE_S) is None, "a second datagram was delivered"
    finally:
        dut.udp_close(PORT)


@rfc("RFC8200-8.1-3")
def test_datagram_with_zero_checksum_is_discarded(dut: DUT) -> None:
    _bad_then_good(dut, _datagram(dut, b"zero", chksum=0))


@rfc("RFC1122-4.1.3.4-3")
def test_datagram_with_wrong_checksum_is_discarded(dut: DUT) -> None:
    right = Ether(bytes(_datagram(dut, b"wrong")))[UDP].chksum
    _bad_then_good(dut, _datagram(dut, b"wrong", chksum=(right ^ 0x1111) or 0x1111))


@rfc("RFC8200-8.1-2", "RFC8200-8.1-1")
def test_sent_datagram_carries_a_valid_checksum(dut: DUT) -> None:
    dut.udp_bind(PORT, 6)
    try:
        dut.udp_send(PORT, b"checksummed", str(dut.info.tester_ipv6), TESTER_PORT)
        dgram = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), UDP(dport=TESTER_PORT))
        assert dgram[UDP].chksum != 0, "checksum omitted (zero) over IPv6"
        assert _checksum_holds(dgram), f"checksum {dgram[UDP].chksum:#06x} does not verify"
    finally:
        dut.udp_close(PORT)


@rfc("RFC8200-8.1-2")
def test_sent_datagram_whose_checksum_computes_to_zero_carries_ffff(dut: DUT) -> None:
    # Choose the last two data octets so that the one's complement sum over pseudo-header,
    # header and data is 0xFFFF: the computed checksum (its complement) is then zero.
    src, dst = str(dut.info.dut_ipv6.ip), str(dut.info.tester_ipv6)
    head = b"zero-sum"
    length = 8 + len(head) + 2
    header = struct.pack("!HHHH", PORT, TESTER_PORT, length, 0)
    partial = _sum16(_pseudo_header(src, dst, length) + header + head)
    filler = (0xFFFF - partial) or 0xFFFF  # one's complement: adding this word sums to 0xFFFF
    data = head + struct.pack("!H", filler)
    assert _sum16(_pseudo_header(src, dst, length) + header + data) == 0xFFFF
    dut.udp_bind(PORT, 6)
    try:
        dut.udp_send(PORT, data, dst, TESTER_PORT)
        dgram = dut.expect(IPv6(dst=dst), UDP(dport=TESTER_PORT))
        assert IPv6Address(dgram[IPv6].src) == IPv6Address(src), "sent from another source: the premise fails"
        assert dgram[UDP].chksum == 0xFFFF
    finally:
        dut.udp_close(PORT)
