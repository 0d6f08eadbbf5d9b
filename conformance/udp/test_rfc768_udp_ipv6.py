"""RFC 768 over IPv6: delivery to a bound port, and the header of a datagram the DUT sends."""

from __future__ import annotations

from ipaddress import IPv6Address

from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Raw

from harness import DUT, MUST, described, rfc

PORT = 7681  # bound on the DUT by each test, closed again at its end
TESTER_PORT = 40768


@rfc("RFC768-UserInterface-1",
     quote="receive operations on the receive ports that return the data octets and an indication of source "
           "port and source address")
def test_datagram_to_a_bound_port_is_delivered_with_its_source(dut: DUT) -> None:
    dut.udp_bind(PORT, 6)
    try:
        dut.send(dut.ipv6() / UDP(sport=TESTER_PORT, dport=PORT) / Raw(b"hello over ipv6"))
        got = dut.udp_recv(PORT)
        assert got is not None, "the datagram was not delivered to the bound socket"
        data, source, sport = got
        assert data == b"hello over ipv6"
        assert IPv6Address(source) == IPv6Address(dut.info.tester_ipv6)
        assert sport == TESTER_PORT
    finally:
        dut.udp_close(PORT)


@described(768, "Fields", MUST,
           "Length is the length in octets of this user datagram including this header and the data.")
def test_sent_datagram_length_counts_header_and_data(dut: DUT) -> None:
    data = b"x" * 37
    dut.udp_bind(PORT, 6)
    try:
        dut.udp_send(PORT, data, str(dut.info.tester_ipv6), TESTER_PORT)
        dgram = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), UDP(dport=TESTER_PORT))
        assert dgram[UDP].len == 8 + len(data)
        assert dgram[IPv6].plen == 8 + len(data)  # RFC 8200 §3: no extension headers here
        assert bytes(dgram[UDP].payload)[: len(data)] == data
    finally:
        dut.udp_close(PORT)


@described(768, "Fields", MUST,
           "Source Port is an optional field, when meaningful, it indicates the port of the sending process, "
           "and may be assumed to be the port to which a reply should be addressed in the absence of any "
           "other information.")
def test_sent_datagram_source_port_is_the_bound_port(dut: DUT) -> None:
    dut.udp_bind(PORT, 6)
    try:
        dut.udp_send(PORT, b"from the bound port", str(dut.info.tester_ipv6), TESTER_PORT)
        dgram = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), UDP(dport=TESTER_PORT))
        assert dgram[UDP].sport == PORT
    finally:
        dut.udp_close(PORT)
