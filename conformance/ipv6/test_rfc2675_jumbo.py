"""RFC 2675 §3: Jumbo Payload option errors on a link whose MTU is far below 65,535 octets.

Jumbograms are optional ("The Jumbo Payload option need not be implemented or understood by IPv6
nodes that do not support attachment to links with MTU greater than 65,575", RFC 2675 §1): the
tests of the option run on DUTs that declare "ipv6-jumbograms"; a node without it meets the
option as any unrecognized one of type 11xxxxxx (ipv6/test_rfc8200_options.py).

The option (type 0xC2) sits right after the Hop-by-Hop header's first two octets: Option Type
at offset 42, the Jumbo Payload Length at 44 (the 4n+2 alignment holds). Each error test ends
with a well-formed Hop-by-Hop echo the DUT answers. RFC 2675 §3 lists the errors as a table;
each test quotes its row.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    Jumbo,
    PadN,
)
from scapy.packet import Packet

from harness import DUT, SHOULD, described, expect_param_problem, l3_bytes, rfc
from harness.features import require_feature
from harness.rfc import ICMPv6ParamProblem as PPCode

SILENCE_S = 1.0


def _echo(ident: int) -> Packet:
    return ICMPv6EchoRequest(id=ident, seq=1, data=b"jumbo")


def _control(dut: DUT, ident: int) -> None:
    dut.send(dut.ipv6() / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\x00\x00\x00\x00")]) / _echo(ident))
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ident, seq=1))


@described(2675, "3", SHOULD,
           "error: IPv6 Payload Length != 0 and Jumbo Payload option present Code: 0 Pointer: Option Type "
           "field of the Jumbo Payload option")
def test_jumbo_option_with_nonzero_payload_length_draws_pointer_to_option_type(dut: DUT) -> None:
    require_feature(dut, "ipv6-jumbograms")
    sent = dut.ipv6() / IPv6ExtHdrHopByHop(options=[Jumbo(jumboplen=70000)]) / _echo(0x2675)
    dut.send(sent)  # Payload Length is the real (non-zero) length of what follows
    expect_param_problem(dut, PPCode.ERRONEOUS_HEADER, pointer=42, quote=bytes(sent[IPv6]))
    _control(dut, 0x2676)


@described(2675, "3", SHOULD,
           "error: Jumbo Payload option present and Jumbo Payload Length < 65,536 Code: 0 Pointer: "
           "high-order octet of the Jumbo Payload Length")
def test_jumbo_length_below_65536_draws_pointer_to_jumbo_length(dut: DUT) -> None:
    require_feature(dut, "ipv6-jumbograms")
    body = IPv6ExtHdrHopByHop(options=[Jumbo(jumboplen=0)]) / _echo(0x2677)
    body[Jumbo].jumboplen = len(body)  # the true length: well below 65,536
    sent = dut.ipv6(plen=0) / body
    dut.send(sent)
    expect_param_problem(dut, PPCode.ERRONEOUS_HEADER, pointer=44, quote=bytes(sent[IPv6]))
    _control(dut, 0x2678)


@described(2675, "3", SHOULD,
           "error: IPv6 Payload Length = 0 and IPv6 Next Header = Hop-by-Hop Options and Jumbo Payload "
           "option not present Code: 0 Pointer: high-order octet of the IPv6 Payload Length")
def test_zero_payload_length_without_jumbo_option_draws_pointer_to_payload_length(dut: DUT) -> None:
    # Every node: RFC 2675 3 asks the same answer of "a node that does not understand the Jumbo
    # Payload option" (code 0, pointer to the Payload Length), so this one runs on all DUTs.
    hbh = IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\x00\x00\x00\x00")])
    sent = dut.ipv6(plen=0) / hbh / _echo(0x2679)
    dut.send(sent)
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem(code=PPCode.ERRONEOUS_HEADER))
    assert error[ICMPv6ParamProblem].ptr == 4
    assert l3_bytes(error)[48:] == bytes(sent[IPv6]), "the quote is not the invoking packet"
    _control(dut, 0x267A)


@rfc("RFC2675-3-3")
def test_jumbo_option_with_a_fragment_header_draws_pointer_to_the_fragment_header(dut: DUT) -> None:
    require_feature(dut, "ipv6-jumbograms")
    # RFC 2675 §3: "error: Jumbo Payload option present and Fragment header present Code: 0
    # Pointer: high-order octet of the Fragment header". Payload Length 0 and a Jumbo Payload
    # Length of 65,536 or more: a jumbogram in every other respect; the Fragment header follows
    # the 8-octet Hop-by-Hop header, at offset 48.
    body = (IPv6ExtHdrHopByHop(options=[Jumbo(jumboplen=70000)]) / IPv6ExtHdrFragment(offset=0, m=1, id=0x2675)
            / _echo(0x2679))
    sent = dut.ipv6(plen=0) / body
    dut.send(sent)
    expect_param_problem(dut, PPCode.ERRONEOUS_HEADER, pointer=48)
    _control(dut, 0x267A)


# Jumbo Payload Lengths at the edge of the error row and one whose high-order octet alone is set:
# 65,535 is below 65,536; the others are not (the packet, far shorter than they say, is then
# discarded as truncated, but not with this row's error).
JUMBO_LENGTHS = {"65535": (65535, True), "65536": (65536, False), "16777216": (0x01000000, False)}


@pytest.mark.parametrize("length", list(JUMBO_LENGTHS))
@described(2675, "3", SHOULD,
           "error: Jumbo Payload option present and Jumbo Payload Length < 65,536 Code: 0 Pointer: "
           "high-order octet of the Jumbo Payload Length")
def test_jumbo_length_is_compared_with_65536_as_a_32_bit_number(dut: DUT, length: str) -> None:
    require_feature(dut, "ipv6-jumbograms")
    value, error = JUMBO_LENGTHS[length]
    sent = dut.ipv6(plen=0) / IPv6ExtHdrHopByHop(options=[Jumbo(jumboplen=value)]) / _echo(0x267B)
    dut.send(sent)
    if error:
        expect_param_problem(dut, PPCode.ERRONEOUS_HEADER, pointer=44, quote=bytes(sent[IPv6]))
    else:
        dut.expect_none(ICMPv6ParamProblem(ptr=44), within=SILENCE_S, barrier=True)
        # Far shorter than its Jumbo Payload Length says, the packet is truncated: its echo is
        # not answered either (RFC 8200 3, as a Payload Length beyond the frame).
        dut.expect_none(ICMPv6EchoReply(id=0x267B), within=0.0)
    _control(dut, 0x267C)


@described(2675, "3", SHOULD,
           "error: IPv6 Payload Length != 0 and Jumbo Payload option present Code: 0 Pointer: Option Type "
           "field of the Jumbo Payload option")
def test_jumbo_option_with_a_payload_length_of_256_draws_pointer_to_option_type(dut: DUT) -> None:
    # Payload Length 256 = 0x0100: its low-order octet is zero, the high-order one is not.
    require_feature(dut, "ipv6-jumbograms")
    body = IPv6ExtHdrHopByHop(options=[Jumbo(jumboplen=70000)]) / ICMPv6EchoRequest(id=0x267D, seq=1, data=bytes(240))
    assert len(body) == 256
    sent = dut.ipv6() / body
    dut.send(sent)
    expect_param_problem(dut, PPCode.ERRONEOUS_HEADER, pointer=42, quote=bytes(sent[IPv6]))
    _control(dut, 0x267E)
