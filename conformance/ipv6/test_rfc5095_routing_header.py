"""RFC 5095 §3 and RFC 8200 §4.4: Routing headers the DUT does not implement.

Type 0 is deprecated (RFC 5095) and must be handled as an unrecognized Routing Type; 253 and
254 are the RFC 4727 experimental types, which no stack implements. With Segments Left > 0 the
packet draws Parameter Problem code 0 pointing at the Routing Type octet; with Segments Left 0
the header is skipped and the packet processed.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.packet import Packet

from harness import DUT, MUST, MUST_NOT, l3_bytes, rfc
from harness.rfc import ICMPv6ParamProblem as PPCode

SILENCE_S = 1.0
TYPES = [0, 253, 254]
RH0_TEXT = (
    "An IPv6 node that receives a packet with a destination address assigned to it and that "
    "contains an RH0 extension header MUST NOT execute the algorithm specified in the latter part "
    "of Section 4.4 of [RFC2460] for RH0. Instead, such packets MUST be processed according to the "
    "behaviour specified in Section 4.4 of [RFC2460] for a datagram that includes an unrecognised "
    "Routing Type value"
)
UNRECOGNIZED_SEGMENTS_LEFT = (
    "If Segments Left is non-zero, the node must discard the packet and send an ICMP Parameter "
    "Problem, Code 0, message to the packet's Source Address, pointing to the unrecognized Routing Type."
)
UNRECOGNIZED_ZERO = (
    "If Segments Left is zero, the node must ignore the Routing header and proceed to process the "
    "next header in the packet, whose type is identified by the Next Header field in the Routing header."
)


def _packet(dut: DUT, rtype: int, segleft: int, ident: int, hbh: bool = False) -> Packet:
    # One more address to visit: the other node on the link.
    rh = IPv6ExtHdrRouting(type=rtype, segleft=segleft, addresses=[str(dut.info.other_ipv6)])
    echo = ICMPv6EchoRequest(id=ident, seq=1, data=b"routing header")
    return dut.ipv6() / (IPv6ExtHdrHopByHop() / rh if hbh else rh) / echo


def _expect_pp(dut: DUT, sent: Packet, pointer: int) -> None:
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem(code=PPCode.ERRONEOUS_HEADER))
    assert error[ICMPv6ParamProblem].ptr == pointer, (
        f"pointer {error[ICMPv6ParamProblem].ptr}, not the Routing Type at {pointer}"
    )
    assert l3_bytes(error)[48:] == l3_bytes(sent), "the quote is not the invoking packet"


def _expect_reply(dut: DUT, ident: int) -> None:
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ident, seq=1))


@pytest.mark.parametrize("hbh", [False, True], ids=["routing", "hbh/routing"])
@rfc(5095, "3", MUST, RH0_TEXT + ", namely: " + UNRECOGNIZED_SEGMENTS_LEFT)
def test_type_0_routing_header_with_segments_left_draws_parameter_problem(dut: DUT, hbh: bool) -> None:
    sent = _packet(dut, 0, 1, 0x5095, hbh=hbh)
    dut.send(sent)
    _expect_pp(dut, sent, pointer=(48 if hbh else 40) + 2)


@pytest.mark.parametrize("rtype", [253, 254])
@rfc(8200, "4.4", MUST,
     "If, while processing a received packet, a node encounters a Routing header with an "
     "unrecognized Routing Type value, the required behavior of the node depends on the value of "
     "the Segments Left field, as follows: " + UNRECOGNIZED_SEGMENTS_LEFT)
def test_unrecognized_routing_type_with_segments_left_draws_parameter_problem(dut: DUT, rtype: int) -> None:
    sent = _packet(dut, rtype, 1, 0x5096)
    dut.send(sent)
    _expect_pp(dut, sent, pointer=42)


@pytest.mark.parametrize("rtype", TYPES)
@rfc(8200, "4.4", MUST, UNRECOGNIZED_ZERO)
def test_routing_header_with_segments_left_zero_is_skipped(dut: DUT, rtype: int) -> None:
    dut.send(_packet(dut, rtype, 0, 0x5097))
    _expect_reply(dut, 0x5097)


@rfc(5095, "3", MUST_NOT, RH0_TEXT + ".")
def test_type_0_routing_header_is_not_executed(dut: DUT) -> None:
    # Executing RH0 would swap in the listed address and send the packet on to it. Forwarding
    # is on, so only RFC 5095 stands between the packet and the other node.
    dut.set_forwarding(6, True)
    dut.send(_packet(dut, 0, 1, 0x5098))
    dut.expect(ICMPv6ParamProblem(code=PPCode.ERRONEOUS_HEADER))
    dut.expect_none(IPv6(dst=str(dut.info.other_ipv6)), within=SILENCE_S, barrier=True)
