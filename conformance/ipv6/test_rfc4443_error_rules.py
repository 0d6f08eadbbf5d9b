"""RFC 4443 §2.2 and §2.4: more rules on originating ICMPv6 errors.

The error-drawing probe is a Destination Options header with an unknown 10xxxxxx option (type
0x9E), which draws Parameter Problem code 2 whatever the packet carries and wherever it is sent
(RFC 8200 §4.2). The option sits right after the header's first two octets: pointer 42.
"""

from __future__ import annotations

from ipaddress import IPv6Address

from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6EchoRequest,
    ICMPv6ND_Redirect,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrDestOpt,
)
from scapy.packet import Packet

from harness import DUT, MUST, MUST_NOT, l3_bytes, multicast_mac, rfc
from harness.rfc import IPV6_MIN_MTU
from harness.rfc import ICMPv6ParamProblem as PPCode

SILENCE_S = 1.0
ALL_NODES = "ff02::1"


def _dest_opts() -> Packet:
    return IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x9E, optdata=b"\x00\x00\x00\x00")])


def _expect_pp(dut: DUT) -> Packet:
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem(code=PPCode.UNRECOGNIZED_OPTION))
    assert error[ICMPv6ParamProblem].ptr == 42
    return error


@rfc(4443, "2.4", MUST_NOT,
     "(e) An ICMPv6 error message MUST NOT be originated as a result of receiving the following: ... "
     "(e.2) An ICMPv6 redirect message [IPv6-DISC].")
def test_no_error_is_sent_about_a_redirect(dut: DUT) -> None:
    redirect = ICMPv6ND_Redirect(tgt=str(dut.info.other_ipv6), dst="2001:db8:2::5")
    dut.send(dut.ipv6(hlim=255) / _dest_opts() / redirect)
    dut.expect_none(ICMPv6ParamProblem, within=SILENCE_S)
    # Control: the same header in front of an echo request draws the error.
    dut.send(dut.ipv6() / _dest_opts() / ICMPv6EchoRequest(id=0x4441, seq=1))
    _expect_pp(dut)


@rfc(4443, "2.2", MUST,
     "(b) If the message is a response to a message sent to any other address, such as - a multicast "
     "group address, ... the Source Address of the ICMPv6 packet MUST be a unicast address belonging to "
     "the node.")
def test_error_about_a_packet_to_a_multicast_group_comes_from_a_unicast_address(dut: DUT) -> None:
    dut.send(
        dut.ether(dst=multicast_mac(ALL_NODES))
        / IPv6(src=str(dut.info.tester_ipv6), dst=ALL_NODES)
        / _dest_opts()
        / ICMPv6EchoRequest(id=0x4442, seq=1)
    )
    error = _expect_pp(dut)
    own = {IPv6Address(dut.info.dut_ipv6.ip), IPv6Address(dut.info.dut_ipv6_ll)}
    assert IPv6Address(error[IPv6].src) in own, f"error from {error[IPv6].src}, not one of {sorted(map(str, own))}"


@rfc(4443, "2.4", MUST,
     "(c) Every ICMPv6 error message (type < 128) MUST include as much of the IPv6 offending "
     "(invoking) packet (the packet that caused the error) as possible without making the error "
     "message packet exceed the minimum IPv6 MTU [IPv6].")
def test_parameter_problem_about_a_large_packet_is_cut_at_1280_octets(dut: DUT) -> None:
    sent = dut.ipv6() / _dest_opts() / ICMPv6EchoRequest(id=0x4443, seq=1, data=bytes(1400))
    dut.send(sent)
    error = _expect_pp(dut)
    assert len(l3_bytes(error)) == IPV6_MIN_MTU, f"the error is {len(l3_bytes(error))} octets long"
    assert l3_bytes(error)[48:] == l3_bytes(sent)[: IPV6_MIN_MTU - 48], "the quote is not the packet's start"
