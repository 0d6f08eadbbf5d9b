"""RFC 1122 §4.1.3 (UDP for hosts, IPv4): checksums, Port Unreachable, addresses."""

from __future__ import annotations

import socket
import struct
from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP, UDPerror
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, MUST, described, rfc

PORT: Final = 5002  # the DUT's socket
CLOSED_PORT: Final = 33435  # nothing listens here
TESTER_PORT: Final = 40000
SILENCE_S: Final = 1.0


def _udp(dut: DUT, data: bytes, dport: int = PORT, **ip_fields: object) -> Packet:
    return dut.ipv4(**ip_fields) / UDP(sport=TESTER_PORT, dport=dport) / Raw(data)


def _expect_delivered(dut: DUT, data: bytes) -> None:
    got = dut.udp_recv(PORT, within=2.0)
    assert got is not None, f"the DUT's socket received nothing; expected {data!r}"
    assert got[0] == data


def _pseudo_header_sum_ok(pkt: Packet) -> bool:
    ip = pkt[IP]
    datagram = bytes(ip)[ip.ihl * 4 : ip.len]
    pseudo = socket.inet_aton(ip.src) + socket.inet_aton(ip.dst) + struct.pack("!BBH", 0, 17, len(datagram))
    return checksum(pseudo + datagram) == 0


@rfc("RFC1122-4.1.3.4-2", "RFC1122-4.1.3.4-1", quote="but it MUST default to checksumming on.")
def test_sent_datagram_carries_a_valid_checksum(dut: DUT) -> None:
    dut.udp_bind(PORT)
    dut.udp_send(PORT, b"checksummed by default", str(dut.info.tester_ipv4), TESTER_PORT)
    sent = dut.expect(UDP(sport=PORT, dport=TESTER_PORT))
    assert sent[UDP].chksum != 0, "the DUT sent no checksum"
    assert _pseudo_header_sum_ok(sent), f"checksum 0x{sent[UDP].chksum:04x} does not verify"


@rfc("RFC1122-4.1.3.4-3", "RFC1122-4.1.3.4-1")
def test_bad_checksum_datagram_is_silently_discarded(dut: DUT) -> None:
    dut.udp_bind(PORT)
    bad = _udp(dut, b"damaged in flight")
    bad[UDP].chksum = UDP(bytes(bad[UDP])).chksum ^ 0x1234  # non-zero and wrong
    dut.send(bad)
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)  # "silently": no error either
    assert dut.udp_recv(PORT, within=0.1) is None, "a datagram with a bad checksum was delivered"
    dut.send(_udp(dut, b"control"))
    _expect_delivered(dut, b"control")


@rfc("RFC1122-4.1.3.1-1", "RFC1122-3.4-5")
def test_datagram_to_closed_port_draws_port_unreachable(dut: DUT) -> None:
    dut.send(_udp(dut, b"closed?", dport=CLOSED_PORT))
    error = dut.expect(ICMP(type=3, code=3))
    assert error[IP].src == str(dut.info.dut_ipv4.ip)
    assert error[IP].dst == str(dut.info.tester_ipv4)


@rfc("RFC1122-4.1.3.1-1")
def test_port_the_application_closed_draws_port_unreachable_again(dut: DUT) -> None:
    # The socket must go with the close: a stack that kept it bound would queue the datagram
    # where RFC 1122 4.1.3.1 asks for a Port Unreachable ("no pending LISTEN call").
    dut.udp_bind(PORT)
    dut.send(_udp(dut, b"open"))
    _expect_delivered(dut, b"open")
    dut.udp_close(PORT)
    dut.send(_udp(dut, b"closed now"))
    error = dut.expect(ICMP(type=3, code=3))
    assert error[UDPerror].dport == PORT, f"the error quotes port {error[UDPerror].dport}"


@rfc("RFC1122-4.1.3.6-1")
def test_sent_datagram_source_is_the_hosts_address(dut: DUT) -> None:
    dut.udp_bind(PORT)
    dut.udp_send(PORT, b"from me", str(dut.info.tester_ipv4), TESTER_PORT)
    sent = dut.expect(UDP(sport=PORT, dport=TESTER_PORT))
    assert sent[IP].src == str(dut.info.dut_ipv4.ip)


@pytest.mark.parametrize(
    "source",
    ["255.255.255.255", "198.51.100.255", "224.0.0.1", "239.255.1.2", "127.0.0.1"],
    # 239.255.1.2: near the top of the group range (RFC 1112 4: "host group addresses range from
    # 224.0.0.0 to 239.255.255.255"); 127.0.0.1: RFC 1122 3.2.1.3 (g) "MUST NOT appear outside a host".
    ids=["limited-bcast", "subnet-bcast", "multicast", "multicast-top", "loopback"],
)
@described(1122, "4.1.3.6", MUST,
           "A UDP datagram received with an invalid IP source address (e.g., a broadcast or multicast "
           "address) must be discarded by UDP or by the IP layer")
def test_datagram_from_invalid_source_is_not_delivered(dut: DUT, source: str) -> None:
    dut.udp_bind(PORT)
    dut.send(_udp(dut, b"spoofed", src=source))
    assert dut.udp_recv(PORT, within=SILENCE_S) is None, f"a datagram from {source} was delivered"
    dut.send(_udp(dut, b"control"))
    _expect_delivered(dut, b"control")
