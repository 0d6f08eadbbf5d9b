"""RFC 768 (UDP) over IPv4: delivery, the Length field, and the checksum's special values."""

from __future__ import annotations

import socket
import struct
from typing import Any, Final

import pytest
from scapy.layers.inet import IP, UDP
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, MUST, described, rfc

PORT: Final = 5001  # the DUT's socket
TESTER_PORT: Final = 40000
SILENCE_S: Final = 1.0


def _udp(dut: DUT, data: bytes, **udp_fields: Any) -> Packet:
    return dut.ipv4() / UDP(sport=TESTER_PORT, dport=PORT, **udp_fields) / Raw(data)


def _udp_bytes(dut: DUT, data: bytes) -> bytes:
    """A UDP header + data with a correct checksum for tester -> DUT."""
    return bytes(_udp(dut, data)[UDP])


def _expect_delivered(dut: DUT, data: bytes) -> None:
    got = dut.udp_recv(PORT, within=2.0)
    assert got is not None, f"the DUT's socket received nothing; expected {data!r}"
    assert got[0] == data


@rfc("RFC768-UserInterface-1",
     quote="A user interface should allow the creation of new receive ports, receive operations on the "
           "receive ports that return the data octets and an indication of source port and source address")
def test_datagram_is_delivered_with_data_and_source(dut: DUT) -> None:
    dut.udp_bind(PORT)
    dut.send(_udp(dut, b"hello, port 5001"))
    got = dut.udp_recv(PORT, within=2.0)
    assert got == (b"hello, port 5001", str(dut.info.tester_ipv4), TESTER_PORT)


@described(768, "Fields", MUST,
           "An all zero transmitted checksum value means that the transmitter generated no checksum")
def test_zero_checksum_datagram_is_accepted(dut: DUT) -> None:
    dut.udp_bind(PORT)
    dut.send(_udp(dut, b"no checksum", chksum=0))
    _expect_delivered(dut, b"no checksum")


@described(768, "Fields", MUST,
           "Length is the length in octets of this user datagram including this header and the data.")
def test_udp_length_beyond_ip_payload_is_discarded(dut: DUT) -> None:
    dut.udp_bind(PORT)
    # The UDP Length claims 10 octets the IP datagram does not carry. No checksum, so the
    # length is the only defect.
    dut.send(_udp(dut, b"truncated", chksum=0, len=8 + len(b"truncated") + 10))
    assert dut.udp_recv(PORT, within=SILENCE_S) is None, "a truncated datagram was delivered"
    dut.send(_udp(dut, b"control", chksum=0))
    _expect_delivered(dut, b"control")


@described(768, "Fields", MUST,
           "Length is the length in octets of this user datagram including this header and the data.")
def test_octets_beyond_udp_length_are_not_delivered(dut: DUT) -> None:
    dut.udp_bind(PORT)
    # The IP payload carries 7 octets after the UDP datagram; the checksum covers only the
    # datagram, so a receiver that reads past the UDP Length also fails the checksum.
    dut.send(dut.ipv4(proto=17) / Raw(_udp_bytes(dut, b"exact data") + b"trailer"))
    _expect_delivered(dut, b"exact data")


def _data_with_zero_checksum(src: str, dst: str, sport: int, dport: int) -> bytes:
    """Two data octets that make the UDP checksum compute to zero for these addresses/ports."""
    length = 8 + 2
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, length)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    # With the data word w the sum is s + w; w = ~s makes it 0xFFFF, whose complement is 0.
    word = checksum(pseudo + header + b"\x00\x00")
    data = struct.pack("!H", word)
    assert checksum(pseudo + header + data) == 0
    return data


@described(768, "Fields", MUST,
           "If the computed checksum is zero, it is transmitted as all ones (the equivalent in one's "
           "complement arithmetic).")
def test_computed_zero_checksum_is_sent_as_all_ones(dut: DUT) -> None:
    dut_ip, tester_ip = str(dut.info.dut_ipv4.ip), str(dut.info.tester_ipv4)
    data = _data_with_zero_checksum(dut_ip, tester_ip, PORT, TESTER_PORT)
    dut.udp_bind(PORT)
    dut.udp_send(PORT, data, tester_ip, TESTER_PORT)
    sent = dut.expect(IP(src=dut_ip, dst=tester_ip) / UDP(sport=PORT, dport=TESTER_PORT))
    assert bytes(sent[UDP].payload)[:2] == data
    assert sent[UDP].chksum == 0xFFFF, f"checksum field 0x{sent[UDP].chksum:04x}"


@described(791, "3.1", MUST, "This field allows the length of a datagram to be up to 65,535 octets.")
def test_datagram_too_long_for_ipv4_is_refused_not_sent(dut: DUT) -> None:
    # 65,508 octets of data: with the UDP header (8) and the IPv4 header (20), one octet more than
    # the Total Length can say, so no datagram (and no fragments of one) may leave.
    tester = str(dut.info.tester_ipv4)
    dut.udp_bind(PORT)
    # In-process and tap backends raise ValueError; the Linux agent's sendmsg(2) fails (EMSGSIZE)
    # and the harness raises AgentFailed, a RuntimeError.
    with pytest.raises((ValueError, RuntimeError)):
        dut.udp_sendmsg(PORT, bytes(65508), tester, TESTER_PORT)
    dut.udp_sendmsg(PORT, b"control", tester, TESTER_PORT)  # control: the socket still sends
    dut.expect(IP(dst=tester), UDP(sport=PORT), Raw(load=b"control"))
    dut.expect_none(IP(dst=tester, proto=17, flags="MF"), within=0)
