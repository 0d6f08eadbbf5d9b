"""RFC 1122 §3.2.2 and §4.1.3.3 (ICMP errors for hosts, UDP): an ICMP error about a datagram a
UDP socket sent reaches that socket, whatever its type and code.

Each test makes the DUT send a real datagram, then answers it with an ICMP error quoting it, as
a router or the destination would; ``udp_errors`` shows what the socket was told.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, ICMPReport, rfc
from harness.socket_errors import assert_socket_told, socket_reports

PORT: Final = 5020  # the DUT's socket
TESTER_PORT: Final = 40020


def _datagram_sent(dut: DUT, data: bytes = b"to be refused") -> bytes:
    """Make the DUT's socket send a datagram to the tester; return it from its IP header on."""
    dut.udp_send(PORT, data, str(dut.info.tester_ipv4), TESTER_PORT)
    frame = dut.expect(IP(dst=str(dut.info.tester_ipv4)), UDP(sport=PORT, dport=TESTER_PORT))
    ip = frame[IP]
    return bytes(ip)[: ip.len]


def _error(dut: DUT, icmp: Packet, quoted: bytes) -> Packet:
    """The ICMP error from the tester (the destination or a router on its way) about ``quoted``."""
    return dut.ipv4() / icmp / Raw(quoted)



def _assert_told(dut: DUT, icmp_type: int, code: int) -> ICMPReport:
    return assert_socket_told(dut, PORT, 4, icmp_type, code, str(dut.info.tester_ipv4), TESTER_PORT)


# Fragmentation Needed (4) carries a Next-Hop MTU (RFC 1191 4); the others leave the field zero.
@pytest.mark.parametrize("code", [0, 1, 2, 3, 4, 5, 13],
                         ids=["net", "host", "protocol", "port", "frag-needed", "source-route-failed", "prohibited"])
@rfc("RFC1122-3.2.2.1-2", "RFC1122-4.1.3.3-1", "RFC1122-3.2.2.1-3")
def test_destination_unreachable_reaches_the_socket(dut: DUT, code: int) -> None:
    dut.udp_bind(PORT)
    quoted = _datagram_sent(dut)
    # An odd Next-Hop MTU, so that it must reach the socket to the last bit.
    dut.send(_error(dut, ICMP(type=3, code=code, nexthopmtu=1201 if code == 4 else 0), quoted))
    report = _assert_told(dut, 3, code)
    if code == 4:
        assert report.info == 1201, f"the socket was told of a Next-Hop MTU of {report.info}, the error said 1201"


@pytest.mark.parametrize("code", [0, 1], ids=["ttl", "reassembly"])
@rfc("RFC1122-3.2.2.4-1", "RFC1122-4.1.3.3-1")
def test_time_exceeded_reaches_the_socket(dut: DUT, code: int) -> None:
    dut.udp_bind(PORT)
    quoted = _datagram_sent(dut)
    dut.send(_error(dut, ICMP(type=11, code=code), quoted))
    _assert_told(dut, 11, code)


@rfc("RFC1122-3.2.2.5-2", "RFC1122-4.1.3.3-1")
def test_parameter_problem_reaches_the_socket(dut: DUT) -> None:
    dut.udp_bind(PORT)
    quoted = _datagram_sent(dut)
    dut.send(_error(dut, ICMP(type=12, code=0, ptr=9), quoted))  # the Protocol octet: odd, to the last bit
    report = _assert_told(dut, 12, 0)
    assert report.info == 9, f"the socket was told of pointer {report.info}, the error pointed at octet 9"


@rfc("RFC1122-4.1.3.3-1")
def test_every_error_reaches_the_socket_in_order(dut: DUT) -> None:
    dut.udp_bind(PORT)
    kinds = [(3, 1), (11, 0), (3, 3)]
    quoted = [_datagram_sent(dut, f"datagram {n}".encode()) for n in range(len(kinds))]
    for (icmp_type, code), quote in zip(kinds, quoted, strict=True):
        dut.send(_error(dut, ICMP(type=icmp_type, code=code), quote))
    reports = socket_reports(dut, PORT, len(kinds))
    assert [(r.type, r.code) for r in reports] == kinds, f"the socket was told {reports}, not of {kinds}"


@rfc("RFC1122-3.2.2-3")
def test_error_goes_to_the_protocol_named_in_the_quoted_header(dut: DUT) -> None:
    dut.udp_bind(PORT)
    quoted = _datagram_sent(dut)
    # The same datagram relabelled TCP (protocol 6): the error is TCP's business, not UDP's,
    # though the octets after the header still read as this socket's ports.
    as_tcp = bytearray(quoted)
    as_tcp[9] = 6
    ihl = (as_tcp[0] & 0x0F) * 4
    as_tcp[10:12] = bytes(2)
    as_tcp[10:12] = checksum(bytes(as_tcp[:ihl])).to_bytes(2, "big")
    dut.send(_error(dut, ICMP(type=3, code=3), bytes(as_tcp)))
    assert dut.udp_errors(PORT, within=1.0) == [], "UDP was told of an error about a TCP segment"
    # Positive control: the same error quoting the datagram as UDP reaches the socket.
    dut.send(_error(dut, ICMP(type=3, code=3), quoted))
    _assert_told(dut, 3, 3)


@rfc("RFC1122-4.1.3.3-1")
def test_error_about_another_port_is_not_told_to_the_socket(dut: DUT) -> None:
    dut.udp_bind(PORT)
    quoted = _datagram_sent(dut)
    # The same datagram as if sent from the next port, which no socket of the DUT holds: the error
    # is about no datagram of this socket's.
    other = bytearray(quoted)
    ihl = (other[0] & 0x0F) * 4
    other[ihl : ihl + 2] = (PORT + 1).to_bytes(2, "big")
    # Positive control, after it: the same error quoting the datagram as sent. Once an in-order
    # DUT has answered the barrier, both errors are taken in: the socket holds the second alone.
    dut.send(_error(dut, ICMP(type=3, code=3), bytes(other)), _error(dut, ICMP(type=3, code=3), quoted))
    if dut.barrier() is None:
        dut.wait(1.0)
    reports = dut.udp_errors(PORT, within=2.0)
    assert len(reports) == 1, f"the socket was told {reports}: not of the one error about its datagram alone"
    assert (reports[0].type, reports[0].code, reports[0].dport) == (3, 3, TESTER_PORT), f"the socket was told {reports}"


@rfc("RFC792-MessageFormats-1", quote="receivers should not use these fields (except to include them in the checksum)")
def test_error_with_a_non_zero_unused_field_is_processed(dut: DUT) -> None:
    dut.udp_bind(PORT)
    quoted = _datagram_sent(dut)
    # Time Exceeded: the 32 bits after the checksum are "unused"; here they are not zero.
    message = bytearray((11, 0, 0, 0)) + bytes.fromhex("deadbeef") + quoted
    message[2:4] = checksum(bytes(message)).to_bytes(2, "big")
    dut.send(dut.ipv4(proto=1) / Raw(bytes(message)))
    _assert_told(dut, 11, 0)
