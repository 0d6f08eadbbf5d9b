"""RFC 5095 §3 and RFC 8200 §4.4: Routing headers the DUT does not implement.

Type 0 is deprecated (RFC 5095) and must be handled as an unrecognized Routing Type; 253 and
254 are the RFC 4727 experimental types, which no stack implements. With Segments Left > 0 the
packet draws Parameter Problem code 0 pointing at the Routing Type octet; with Segments Left 0
the header is skipped and the packet processed.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.packet import Packet

from harness import DUT, expect_echo_reply6, expect_param_problem, l3_bytes, rfc
from harness.features import has_feature
from harness.rfc import ICMPv6ParamProblem as PPCode

SILENCE_S = 1.0
TYPES = [0, 253, 254]


def _packet(dut: DUT, rtype: int, segleft: int, ident: int, hbh: bool = False) -> Packet:
    # One more address to visit: the other node on the link.
    rh = IPv6ExtHdrRouting(type=rtype, segleft=segleft, addresses=[str(dut.info.other_ipv6)])
    echo = ICMPv6EchoRequest(id=ident, seq=1, data=b"routing header")
    return dut.ipv6() / (IPv6ExtHdrHopByHop() / rh if hbh else rh) / echo


@pytest.mark.parametrize("hbh", [False, True], ids=["routing", "hbh/routing"])
@rfc("RFC5095-3-2", "RFC5095-3-1",
     quote="If Segments Left is non-zero, the node must discard the packet and send an ICMP Parameter "
           "Problem, Code 0, message to the packet's Source Address, pointing to the unrecognized Routing "
           "Type.")
def test_type_0_routing_header_with_segments_left_draws_parameter_problem(dut: DUT, hbh: bool) -> None:
    sent = _packet(dut, 0, 1, 0x5095, hbh=hbh)
    dut.send(sent)
    expect_param_problem(dut, PPCode.ERRONEOUS_HEADER, pointer=(48 if hbh else 40) + 2, quote=l3_bytes(sent))


@pytest.mark.parametrize("rtype", [253, 254])
@rfc("RFC8200-4.4-2")
def test_unrecognized_routing_type_with_segments_left_draws_parameter_problem(dut: DUT, rtype: int) -> None:
    sent = _packet(dut, rtype, 1, 0x5096)
    dut.send(sent)
    expect_param_problem(dut, PPCode.ERRONEOUS_HEADER, pointer=42, quote=l3_bytes(sent))


@pytest.mark.parametrize("rtype", TYPES)
@rfc("RFC8200-4.4-1")
def test_routing_header_with_segments_left_zero_is_skipped(dut: DUT, rtype: int) -> None:
    dut.send(_packet(dut, rtype, 0, 0x5097))
    expect_echo_reply6(dut, 0x5097)


@rfc("RFC5095-3-1")
def test_type_0_routing_header_is_not_executed(dut: DUT) -> None:
    # Executing RH0 would swap in the listed address and send the packet on to it. Forwarding
    # is on where the DUT can forward, so only RFC 5095 stands between the packet and the other node.
    if has_feature(dut, "ipv6-forwarding"):
        dut.set_forwarding(6, True)
    dut.send(_packet(dut, 0, 1, 0x5098))
    dut.expect(ICMPv6ParamProblem(code=PPCode.ERRONEOUS_HEADER))
    dut.expect_none(IPv6(dst=str(dut.info.other_ipv6)), within=SILENCE_S, barrier=True)


@rfc("RFC8200-4.4-2")
def test_routing_header_that_ends_the_packet_exactly_draws_parameter_problem(dut: DUT) -> None:
    # The header's last octet is the packet's last octet (No Next Header after it): a header that
    # exactly fills what the Payload Length leaves is whole, not truncated, and is processed.
    rh = IPv6ExtHdrRouting(nh=59, type=253, segleft=1, addresses=[str(dut.info.other_ipv6)])
    sent = dut.ipv6() / rh
    dut.send(sent)
    expect_param_problem(dut, PPCode.ERRONEOUS_HEADER, pointer=42, quote=l3_bytes(sent))
