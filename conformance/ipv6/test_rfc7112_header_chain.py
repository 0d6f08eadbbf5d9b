"""RFC 8200 §4.5 and RFC 7112 §5: the first fragment must carry the whole header chain.

The datagram is a Destination Options header (8 octets) followed by an echo request. A first
fragment of 8 octets holds the Destination Options header but not the ICMPv6 header after it.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import TCP, UDP, UDPerror
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
)
from scapy.packet import Packet, Raw

from harness import DUT, fragments6, l3_bytes, rfc, with_icmpv6_checksum
from harness.rfc import ICMPv6ParamProblem as PPCode
from harness.rfc import ICMPv6Unreach

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


CLOSED_PORT = 33537  # nothing on the DUT listens here


@rfc("RFC8200-4.5-14")
def test_first_fragment_ending_exactly_with_the_udp_header_is_reassembled(dut: DUT) -> None:
    # The first fragment holds the 8-octet UDP header and nothing more: the whole chain through
    # the upper-layer header, so no Parameter Problem; reassembled, the datagram to a closed port
    # draws a Port Unreachable (RFC 4443 3.1).
    datagram = dut.ipv6() / UDP(sport=40071, dport=CLOSED_PORT) / Raw(bytes(56))
    dut.send(*fragments6(datagram, [(0, 8), (8, 56)], ident=0x7114))
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6DestUnreach(code=ICMPv6Unreach.PORT),
               UDPerror(sport=40071, dport=CLOSED_PORT))
    dut.expect_none(ICMPv6ParamProblem, within=0.01)


def _atomic(dut: DUT, upper: bytes, nh: int, ident: int) -> Packet:
    """An atomic fragment (offset 0, M 0) carrying ``upper``, however short."""
    return dut.ipv6() / IPv6ExtHdrFragment(nh=nh, offset=0, m=0, id=ident) / Raw(upper)


def _upper_header(dut: DUT, proto: str) -> bytes:
    """A TCP SYN (20 octets) or UDP header (8 octets) to a closed port, checksummed as sent."""
    segment = (TCP(sport=40072, dport=CLOSED_PORT, flags="S", seq=1) if proto == "tcp"
               else UDP(sport=40073, dport=CLOSED_PORT))
    return bytes(IPv6(src=str(dut.info.tester_ipv6), dst=str(dut.info.dut_ipv6.ip)) / segment)[40:]


UPPER = {"tcp": (6, 20), "udp": (17, 8)}


# Also the ICMPv6 header (RFC 4443 2.1: Type, Code, Checksum, 4 octets) and the header of a
# protocol the DUT does not know (253, RFC 3692), of which not even the first octet is there.
SHORT = {**UPPER, "icmpv6": (58, 4), "unknown": (253, 1)}


@pytest.mark.parametrize("proto", list(SHORT))
@rfc("RFC8200-4.5-14", "RFC7112-5-2", "RFC7112-5-6", "RFC7112-5-7")
def test_atomic_fragment_one_octet_short_of_the_upper_layer_header_draws_parameter_problem_code_3(
        dut: DUT, proto: str) -> None:
    # An atomic fragment is a first fragment too ("the one with a Fragment Offset of zero"): one
    # octet short of its upper-layer header, it does not hold the whole header chain.
    nh, length = SHORT[proto]
    upper = _upper_header(dut, proto) if proto in UPPER else bytes([128, 0, 0, 0])
    sent = _atomic(dut, upper[: length - 1], nh, 0x7115)
    dut.send(sent)
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)),
                       ICMPv6ParamProblem(code=PPCode.INCOMPLETE_HEADER_CHAIN))
    assert error[ICMPv6ParamProblem].ptr == 0
    assert l3_bytes(error)[48:] == l3_bytes(sent), "the quote is not the invoking fragment"


@pytest.mark.parametrize("proto", list(UPPER))
@rfc("RFC8200-4.5-7",
     quote="If the fragment is a whole datagram (that is, both the Fragment Offset field and the M flag are "
           "zero), then it does not need any further reassembly and should be processed as a fully "
           "reassembled packet")
def test_atomic_fragment_holding_exactly_the_upper_layer_header_is_processed(dut: DUT, proto: str) -> None:
    # The twin of the test above: the whole 20-octet TCP SYN or 8-octet UDP header, to a closed
    # port, draws the transport's answer (a RST, RFC 9293 3.10.7.1; a Port Unreachable) and no
    # Parameter Problem.
    nh, _ = UPPER[proto]
    dut.send(_atomic(dut, _upper_header(dut, proto), nh, 0x7116))
    if proto == "tcp":
        rst = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), TCP(sport=CLOSED_PORT, dport=40072))
        assert rst[TCP].flags.R, f"the answer to the SYN has flags {rst[TCP].flags}, not RST"
    else:
        dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6DestUnreach(code=ICMPv6Unreach.PORT),
                   UDPerror(sport=40073, dport=CLOSED_PORT))
    dut.expect_none(ICMPv6ParamProblem, within=0.01)


@pytest.mark.parametrize("nh", [58, 60], ids=["icmpv6", "destination-options"])
@rfc("RFC8200-4.5-14", "RFC7112-5-2", "RFC7112-5-6", "RFC7112-5-7")
def test_first_fragment_with_nothing_after_its_fragment_header_draws_parameter_problem_code_3(
        dut: DUT, nh: int) -> None:
    # Zero octets of fragmentable part (a multiple of 8, so no other error applies): the header
    # its Fragment header names, an ICMPv6 header or a Destination Options header, is missing.
    sent = dut.ipv6() / IPv6ExtHdrFragment(nh=nh, offset=0, m=1, id=0x7117)
    dut.send(sent)
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)),
                       ICMPv6ParamProblem(code=PPCode.INCOMPLETE_HEADER_CHAIN))
    assert error[ICMPv6ParamProblem].ptr == 0
    assert l3_bytes(error)[48:] == l3_bytes(sent), "the quote is not the invoking fragment"


@rfc("RFC8200-4.5-7",
     quote="If the fragment is a whole datagram (that is, both the Fragment Offset field and the M flag are "
           "zero), then it does not need any further reassembly and should be processed as a fully "
           "reassembled packet")
def test_atomic_fragment_holding_exactly_the_icmpv6_header_draws_no_parameter_problem(dut: DUT) -> None:
    # Type, Code and Checksum (RFC 4443 2.1) of an Echo Request and nothing more: the chain is
    # whole, so no code 3; the 4-octet message is too short to answer, so nothing comes back
    # before the control's Echo Reply.
    header = with_icmpv6_checksum(bytes([128, 0, 0, 0]), str(dut.info.tester_ipv6), str(dut.info.dut_ipv6.ip))
    dut.send(_atomic(dut, header, 58, 0x7118), dut.ipv6() / ICMPv6EchoRequest(id=0x7119, seq=1, data=b"control"))
    got = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)))
    assert got.haslayer(ICMPv6EchoReply) and got[ICMPv6EchoReply].id == 0x7119, (
        f"the DUT answered the atomic fragment with {got.summary()}")
