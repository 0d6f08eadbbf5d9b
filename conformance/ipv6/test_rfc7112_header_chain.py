"""RFC 8200 §4.5 and RFC 7112 §5: the first fragment must carry the whole header chain.

The datagram is a Destination Options header (8 octets) followed by an echo request. A first
fragment of 8 octets holds the Destination Options header but not the ICMPv6 header after it.
"""

from __future__ import annotations

from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrDestOpt,
)
from scapy.packet import Packet

from harness import DUT, fragments6, l3_bytes, rfc
from harness.rfc import ICMPv6ParamProblem as PPCode

SILENCE_S = 1.0
DATA = bytes(range(120))  # fragmentable part: 8 (DestOpt) + 8 (echo header) + 120 = 136 octets


def _datagram(dut: DUT, ident: int) -> Packet:
    return dut.ipv6() / IPv6ExtHdrDestOpt() / ICMPv6EchoRequest(id=ident, seq=1, data=DATA)


@rfc("RFC8200-4.5-14", "RFC7112-5-2", "RFC7112-5-6", "RFC7112-5-7")
def test_first_fragment_without_the_upper_layer_header_draws_parameter_problem_code_3(dut: DUT) -> None:
    first, rest = fragments6(_datagram(dut, 0x7112), [(0, 8), (8, 128)], ident=0x7112)
    dut.send(first)
    error = dut.expect(
        IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem(code=PPCode.INCOMPLETE_HEADER_CHAIN)
    )
    assert error[ICMPv6ParamProblem].ptr == 0
    assert l3_bytes(error)[48:] == l3_bytes(first), "the quote is not the invoking fragment"
    dut.send(rest)  # the first fragment was discarded: nothing to complete
    dut.expect_none(ICMPv6EchoReply(id=0x7112), within=SILENCE_S, barrier=True)


@rfc("RFC8200-4.5-14")
def test_first_fragment_with_the_whole_header_chain_is_reassembled(dut: DUT) -> None:
    # The positive twin: 16 octets hold the Destination Options and the ICMPv6 header.
    dut.send(*fragments6(_datagram(dut, 0x7113), [(0, 16), (16, 120)], ident=0x7113))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x7113, seq=1))
    assert bytes(reply[ICMPv6EchoReply].data) == DATA
    dut.expect_none(ICMPv6ParamProblem, within=0.01)
