"""RFC 4443 §2.4 and §3, RFC 8201 §5.2: an ICMPv6 error about a datagram a UDP socket sent is
passed to that socket (the "upper-layer process that originated the packet"), whatever its type.

Each test makes the DUT send a real datagram, then answers it with an ICMPv6 error quoting it, as
a router or the destination would; ``udp_errors`` shows what the socket was told. The quoted
datagram names the process (RFC 4443 §2.4 (d): "the upper-layer protocol type is extracted from
the original packet (contained in the body of the ICMPv6 error message) and used to select the
appropriate upper-layer process").
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPv6,
)
from scapy.packet import Packet, Raw

from harness import DUT, ICMPReport, l3_bytes, rfc
from harness.rfc import IPV6_MIN_MTU
from harness.socket_errors import assert_socket_told, socket_reports

PORT: Final = 5026  # the DUT's socket
TESTER_PORT: Final = 40026
SIZE: Final = 1400  # a datagram that fits the 1500-octet link whole, for the Packet Too Big tests


def _datagram_sent(dut: DUT, data: bytes = b"to be refused") -> bytes:
    """Make the DUT's socket send a datagram to the tester; return it from its IPv6 header on,
    cut to what an ICMPv6 error can quote (RFC 4443 §2.4 (c): "as much of invoking packet as
    possible without the ICMPv6 packet exceeding the minimum IPv6 MTU")."""
    dut.udp_send(PORT, data, str(dut.info.tester_ipv6), TESTER_PORT)
    frame = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), UDP(sport=PORT, dport=TESTER_PORT))
    return l3_bytes(frame)[: IPV6_MIN_MTU - 48]


def _error(dut: DUT, icmp: Packet, quoted: bytes) -> Packet:
    """The ICMPv6 error from the tester (the destination or a router on its way) about ``quoted``."""
    return dut.ipv6() / icmp / Raw(quoted)



def _assert_told(dut: DUT, icmp_type: int, code: int) -> ICMPReport:
    return assert_socket_told(dut, PORT, 6, icmp_type, code, str(dut.info.tester_ipv6), TESTER_PORT)


# RFC 4443 §3.1 codes 0-6; 7 (error in Source Routing Header) belongs to RFC 6554.
@pytest.mark.parametrize("code", range(7), ids=["no-route", "prohibited", "beyond-scope", "address", "port",
                                                "policy", "reject-route"])
@rfc("RFC4443-3.1-6")
def test_destination_unreachable_reaches_the_socket(dut: DUT, code: int) -> None:
    dut.udp_bind(PORT, 6)
    quoted = _datagram_sent(dut)
    dut.send(_error(dut, ICMPv6DestUnreach(code=code), quoted))
    _assert_told(dut, 1, code)


@rfc("RFC4443-3.2-2")
def test_packet_too_big_reaches_the_socket_with_its_mtu(dut: DUT) -> None:
    dut.udp_bind(PORT, 6)
    quoted = _datagram_sent(dut, bytes(SIZE))
    dut.send(_error(dut, ICMPv6PacketTooBig(mtu=1301), quoted))  # odd: the MTU to the last bit
    report = _assert_told(dut, 2, 0)
    assert report.info == 1301, f"the socket was told of an MTU of {report.info}, the Packet Too Big said 1301"


@pytest.mark.parametrize("code", [0, 1], ids=["hop-limit", "reassembly"])
@rfc("RFC4443-3.3-2")
def test_time_exceeded_reaches_the_socket(dut: DUT, code: int) -> None:
    dut.udp_bind(PORT, 6)
    quoted = _datagram_sent(dut)
    dut.send(_error(dut, ICMPv6TimeExceeded(code=code), quoted))
    _assert_told(dut, 3, code)


# Each code with a pointer at the field it would name in the quoted datagram: the Payload Length
# (octet 4), the Next Header (6), the first octet after the IPv6 header (40).
@pytest.mark.parametrize("code,pointer", [(0, 4), (1, 6), (2, 40)],
                         ids=["header-field", "next-header", "option"])
@rfc("RFC4443-3.4-2")
def test_parameter_problem_reaches_the_socket_with_its_pointer(dut: DUT, code: int, pointer: int) -> None:
    dut.udp_bind(PORT, 6)
    quoted = _datagram_sent(dut)
    dut.send(_error(dut, ICMPv6ParamProblem(code=code, ptr=pointer), quoted))
    report = _assert_told(dut, 4, code)
    assert report.info == pointer, f"the socket was told of pointer {report.info}, the error pointed at {pointer}"


# Types 5-99 and 102-126 are unassigned error types (RFC 4443 §2.1: "error messages have message
# types from 0 to 127"); the body follows the common error format, the invoking packet after four
# octets. 127, the last error type, is the one next to the informational range.
@pytest.mark.parametrize("icmp_type", [5, 126, 127])
@rfc("RFC4443-2.4-2")
def test_error_of_unknown_type_reaches_the_socket(dut: DUT, icmp_type: int) -> None:
    dut.udp_bind(PORT, 6)
    quoted = _datagram_sent(dut)
    dut.send(_error(dut, ICMPv6DestUnreach(type=icmp_type, code=0), quoted))
    _assert_told(dut, icmp_type, 0)


@rfc("RFC8201-5.2-9")
def test_packet_too_big_tells_the_socket_of_the_lower_path_mtu(dut: DUT) -> None:
    dut.udp_bind(PORT, 6)
    quoted = _datagram_sent(dut, bytes(SIZE))
    dut.send(_error(dut, ICMPv6PacketTooBig(mtu=1280), quoted))
    report = _assert_told(dut, 2, 0)
    assert report.info == 1280, f"the path MTU fell to 1280, the socket was told {report.info}"


@rfc("RFC8201-5.2-12")
def test_second_packet_too_big_with_the_same_mtu_is_still_reported(dut: DUT) -> None:
    # Both datagrams leave whole before either error comes back (as when a window of them is in
    # flight); the second error lowers nothing, yet its datagram was dropped too.
    dut.udp_bind(PORT, 6)
    first = _datagram_sent(dut, bytes(SIZE))
    second = _datagram_sent(dut, bytes(SIZE - 1))
    dut.send(_error(dut, ICMPv6PacketTooBig(mtu=1300), first))
    dut.send(_error(dut, ICMPv6PacketTooBig(mtu=1300), second))
    reports = socket_reports(dut, PORT, 2)
    assert [(r.type, r.info) for r in reports] == [(2, 1300), (2, 1300)], (
        f"two Packet Too Big messages, each about a dropped datagram; the socket was told {reports}")
