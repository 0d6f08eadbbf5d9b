"""RFC 8200 §4: a Next Header value the destination does not recognize.

The pointer of the Parameter Problem names the octet of the Next Header field that held the
unrecognized value: 6 in the fixed header, or the first octet of the last extension header.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import (
    ICMPv6ParamProblem,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrHopByHop,
)
from scapy.packet import Packet, Raw

from harness import DUT, expect_param_problem, l3_bytes, rfc
from harness.rfc import ICMPv6ParamProblem as PPCode

UNASSIGNED = 253  # RFC 3692 experimentation value: no stack implements it as a protocol
BODY = Raw(b"unknown next header " * 3)

# Pointer to the Next Header field that holds UNASSIGNED, per header chain after IPv6;
# "fixed-empty": a Payload Length of 0, the fixed header alone (nothing follows it to process).
CHAINS = {"fixed": 6, "fixed-empty": 6, "dest": 40, "hbh/dest": 48}


def _packet(dut: DUT, chain: str) -> Packet:
    if chain == "fixed":
        return dut.ipv6(nh=UNASSIGNED) / BODY
    if chain == "fixed-empty":
        return dut.ipv6(nh=UNASSIGNED)
    dest: Packet = IPv6ExtHdrDestOpt(nh=UNASSIGNED) / BODY
    return dut.ipv6() / (dest if chain == "dest" else IPv6ExtHdrHopByHop() / dest)


@pytest.mark.parametrize("chain", list(CHAINS))
@rfc("RFC8200-4-7")
def test_unrecognized_next_header_draws_parameter_problem_pointing_at_it(dut: DUT, chain: str) -> None:
    dut.send(_packet(dut, chain))
    error = expect_param_problem(dut, PPCode.UNRECOGNIZED_NEXT_HEADER, src=str(dut.info.dut_ipv6.ip))
    assert error[ICMPv6ParamProblem].ptr == CHAINS[chain]


@rfc("RFC8200-4-8")
def test_hop_by_hop_after_another_extension_header_draws_parameter_problem(dut: DUT) -> None:
    # Next Header 0 in a Destination Options header: Hop-by-Hop is only valid right after IPv6.
    dut.send(dut.ipv6() / IPv6ExtHdrDestOpt(nh=0) / IPv6ExtHdrHopByHop(nh=59))
    error = expect_param_problem(dut, PPCode.UNRECOGNIZED_NEXT_HEADER, src=str(dut.info.dut_ipv6.ip))
    assert error[ICMPv6ParamProblem].ptr == 40


@pytest.mark.parametrize("chain", list(CHAINS))
@rfc("RFC4443-2.4-4")
def test_parameter_problem_quotes_the_whole_invoking_packet(dut: DUT, chain: str) -> None:
    sent = _packet(dut, chain)
    dut.send(sent)
    error = expect_param_problem(dut, PPCode.UNRECOGNIZED_NEXT_HEADER, src=str(dut.info.dut_ipv6.ip))
    # Sliced from the wire bytes after the 40-octet IPv6 and 8-octet ICMPv6 headers.
    assert l3_bytes(error)[48:] == l3_bytes(sent), "the quote differs from the packet that was sent"
