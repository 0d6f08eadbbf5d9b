"""RFC 8200 §4.1, §4.3, §4.7: extension-header chains a destination must walk; RFC 8504 §5.3:
the limits a host may place on them.

Routing headers here have Segments Left 0 (skipped whatever their type, RFC 8200 §4.4), so
they only lengthen the chain. Negative tests are paired with a packet the DUT answers.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    PadN,
)
from scapy.packet import Packet, Raw

from harness import DUT, MAY, MUST, ExpectationFailed, described, l3_bytes, rfc
from harness.rfc import ICMPv6ParamProblem as PPCode

SILENCE_S = 1.0
HOP_BY_HOP, NO_NEXT_HEADER, UNASSIGNED_ROUTING_TYPE = 0, 59, 253


def _routing(nh: int | None = None) -> Packet:
    rh = IPv6ExtHdrRouting(type=UNASSIGNED_ROUTING_TYPE, segleft=0, addresses=[])
    if nh is not None:
        rh.nh = nh
    return rh


# Packets whose Hop-by-Hop header is not right after the IPv6 header, with the offset of the
# Next Header field that names it (the first octet of the header before it).
MISPLACED_HBH = {
    "hbh/hbh": (lambda: IPv6ExtHdrHopByHop(nh=HOP_BY_HOP) / IPv6ExtHdrHopByHop(nh=NO_NEXT_HEADER), 40),
    "routing/hbh": (lambda: _routing(nh=HOP_BY_HOP) / IPv6ExtHdrHopByHop(nh=NO_NEXT_HEADER), 40),
    "hbh/dest/hbh": (
        lambda: IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt(nh=HOP_BY_HOP) / IPv6ExtHdrHopByHop(nh=NO_NEXT_HEADER),
        48,
    ),
}

# RFC 8200 §4.1: "Each extension header should occur at most once, except for the Destination
# Options header, which should occur at most twice (once before a Routing header and once before
# the upper-layer header)." A source following that advice sends at most these, so whatever limit
# a host places on the number of headers it processes (RFC 8504 §5.3 allows one, without a number),
# such chains are inside it: the MUST of §4.1 applies to them, in any order.
CHAINS_WITHIN_LIMITS = {
    "dest/dest": lambda: IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt(),
    "dest/routing/dest": lambda: IPv6ExtHdrDestOpt() / _routing() / IPv6ExtHdrDestOpt(),
    "routing/dest/dest": lambda: _routing() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt(),
    "hbh/dest/routing/dest": lambda: IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / _routing() / IPv6ExtHdrDestOpt(),
}
# Chains with more headers than a source following §4.1 sends: a host may process them or refuse
# them (RFC 8504 §5.3), so they are tested as the MAY they are.
CHAINS_BEYOND_LIMITS = {
    "dest/dest/dest": lambda: IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt(),
    "hbh/routing/routing/dest": lambda: IPv6ExtHdrHopByHop() / _routing() / _routing() / IPv6ExtHdrDestOpt(),
    "dest*16": lambda: _many(IPv6ExtHdrDestOpt, 16),
    "dest*64": lambda: _many(IPv6ExtHdrDestOpt, 64),
}
CONTROL_ID = 0x8215


def _many(header: type[Packet], count: int) -> Packet:
    chain = header()
    for _ in range(count - 1):
        chain = chain / header()
    return chain


def _expect_reply(dut: DUT, ident: int) -> Packet:
    return dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ident, seq=1))


@pytest.mark.parametrize("chain", list(MISPLACED_HBH))
@rfc("RFC8200-4-8")
def test_hop_by_hop_not_first_draws_parameter_problem_at_the_naming_field(dut: DUT, chain: str) -> None:
    build, pointer = MISPLACED_HBH[chain]
    sent = dut.ipv6() / build()
    dut.send(sent)
    error = dut.expect(
        IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem(code=PPCode.UNRECOGNIZED_NEXT_HEADER)
    )
    assert error[ICMPv6ParamProblem].ptr == pointer
    assert l3_bytes(error)[48:] == l3_bytes(sent), "the quote is not the invoking packet"


@described(8200, "4.3", MUST,
           "The Hop-by-Hop Options header is used to carry optional information that may be examined and "
           "processed by every node along a packet's delivery path. The Hop-by-Hop Options header is "
           "identified by a Next Header value of 0 in the IPv6 header")
def test_hop_by_hop_right_after_the_ipv6_header_is_processed(dut: DUT) -> None:
    # The positive twin of the test above: in its one allowed place the header is fine.
    dut.send(dut.ipv6() / IPv6ExtHdrHopByHop() / ICMPv6EchoRequest(id=0x8211, seq=1))
    _expect_reply(dut, 0x8211)


@pytest.mark.parametrize("chain", list(CHAINS_WITHIN_LIMITS))
@rfc("RFC8200-4.1-4")
def test_extension_headers_in_any_order_and_number_are_processed(dut: DUT, chain: str) -> None:
    dut.send(dut.ipv6() / CHAINS_WITHIN_LIMITS[chain]() / ICMPv6EchoRequest(id=0x8212, seq=1, data=chain.encode()))
    reply = _expect_reply(dut, 0x8212)
    assert reply[ICMPv6EchoReply].data == chain.encode()


@pytest.mark.parametrize("chain", list(CHAINS_BEYOND_LIMITS))
@described(8504, "5.3", MAY,
     "Given that the only limit on the number and size of extension headers is the MTU, the "
     "processing of received packets could be considerable. It is also conceivable that a long "
     "chain of extension headers might be used as a form of denial-of-service attack. Accordingly, "
     "a host may place limits on the number and sizes of extension headers and options it is "
     "willing to process.")
def test_chains_beyond_the_recommended_number_are_processed_or_refused(dut: DUT, chain: str) -> None:
    # Either way is the host's choice; what it may not do is answer wrongly or stop answering.
    # The control goes out right behind the long chain: a DUT handles frames in order, so once
    # the control's reply is here, a reply to the chain would be here too.
    data = chain.encode()
    dut.send(dut.ipv6() / CHAINS_BEYOND_LIMITS[chain]() / ICMPv6EchoRequest(id=0x8212, seq=1, data=data),
             dut.ipv6() / ICMPv6EchoRequest(id=CONTROL_ID, seq=1, data=b"control"))
    _expect_reply(dut, CONTROL_ID)
    try:
        reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x8212, seq=1), within=0)
    except ExpectationFailed:
        return  # refused: a limit RFC 8504 §5.3 allows
    assert reply[ICMPv6EchoReply].data == data, "processed, but the echo reply does not carry the request's data"


@pytest.mark.parametrize("where", ["fixed", "dest"])
@rfc("RFC8200-4.7-1",
     quote="The value 59 in the Next Header field of an IPv6 header or any extension header indicates that "
           "there is nothing following that header. If the Payload Length field of the IPv6 header indicates "
           "the presence of octets past the end of a header whose Next Header field contains 59, those "
           "octets must be ignored")
def test_octets_after_no_next_header_are_ignored(dut: DUT, where: str) -> None:
    # What follows looks like an echo request; it must not be read as one, nor draw an error.
    trailer = Raw(bytes(ICMPv6EchoRequest(id=0x8213, seq=1)))
    if where == "fixed":
        dut.send(dut.ipv6(nh=NO_NEXT_HEADER) / trailer)
    else:
        dut.send(dut.ipv6() / IPv6ExtHdrDestOpt(nh=NO_NEXT_HEADER) / trailer)
    dut.expect_none(IPv6(dst=str(dut.info.tester_ipv6)), within=SILENCE_S, barrier=True)
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0x8214, seq=1))  # control
    _expect_reply(dut, 0x8214)


# ---- processing order (§4) and what a reply carries (§8.4) -------------------------------------------

def _unknown_option_header() -> Packet:
    # An option of the "10" class at offset 4 of the header: Parameter Problem code 2 there.
    return IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\x00\x00"), HBHOptUnknown(otype=0x9E, optdata=b"\x00\x00")])


def _bad_routing_header(dut: DUT) -> Packet:
    # An unrecognized Routing Type with Segments Left 1: Parameter Problem code 0 at its type.
    return IPv6ExtHdrRouting(type=UNASSIGNED_ROUTING_TYPE, segleft=1, addresses=[str(dut.info.other_ipv6)])


@pytest.mark.parametrize("first", ["destination-options", "routing"])
@rfc("RFC8200-4-6")
def test_extension_headers_are_processed_in_the_order_they_appear(dut: DUT, first: str) -> None:
    # Two headers that would each draw a Parameter Problem: the error is the first one's.
    echo = ICMPv6EchoRequest(id=0x8246, seq=1, data=b"order")
    if first == "destination-options":
        sent = dut.ipv6() / _unknown_option_header() / _bad_routing_header(dut) / echo
        code, pointer = PPCode.UNRECOGNIZED_OPTION, 40 + 6
    else:
        sent = dut.ipv6() / _bad_routing_header(dut) / _unknown_option_header() / echo
        code, pointer = PPCode.ERRONEOUS_HEADER, 40 + 2
    dut.send(sent)
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem, within=SILENCE_S)
    got = (error[ICMPv6ParamProblem].code, error[ICMPv6ParamProblem].ptr)
    assert got == (code, pointer), f"Parameter Problem code {got[0]} at {got[1]}, not the first header's ({code} at {pointer})"


@rfc("RFC8200-8.4-1")
def test_echo_reply_to_a_packet_with_a_routing_header_carries_none(dut: DUT) -> None:
    # Segments Left 0 (RFC 8200 §4.4: ignored), naming a further address a reversed header would use.
    rh = IPv6ExtHdrRouting(type=UNASSIGNED_ROUTING_TYPE, segleft=0, addresses=[str(dut.info.other_ipv6)])
    dut.send(dut.ipv6() / rh / ICMPv6EchoRequest(id=0x8247, seq=1, data=b"routed"))
    reply = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x8247), within=SILENCE_S)
    assert not reply.haslayer(IPv6ExtHdrRouting), "the reply carries a Routing header"
    assert l3_bytes(reply)[6] == 58, f"the reply's first Next Header is {l3_bytes(reply)[6]}, not ICMPv6"


# ---- chains cut short (RFC 4443 §3.4) ----------------------------------------------------------------

def _cut(dut: DUT, nh: int, header: bytes) -> bytes:
    """A frame whose IPv6 payload is ``header`` alone, an extension header cut short; the
    Payload Length says so (the frame carries nothing after it)."""
    ip = IPv6(src=str(dut.info.tester_ipv6), dst=str(dut.info.dut_ipv6.ip), nh=nh, plen=len(header))
    return bytes(dut.ether(type=0x86DD)) + bytes(ip) + header


# What the payload holds: an Echo Request would follow each header were it whole.
CUT_CHAINS = {
    # 4 of the Fragment header's 8 octets (Next Header ICMPv6, offset 0, M 0).
    "inside-fragment-header": (44, bytes([58, 0, 0, 0])),
    # 1 octet: the Destination Options header's Next Header field, without its Hdr Ext Len.
    "one-octet-of-destination-options": (60, bytes([58])),
    # A Destination Options header whose Hdr Ext Len (1: 16 octets) reaches past the 8 there.
    "destination-options-longer-than-the-packet": (60, bytes([58, 1, 1, 4, 0, 0, 0, 0])),
}


@pytest.mark.parametrize("cut", list(CUT_CHAINS))
@rfc("RFC4443-3.4-1",
     quote="If an IPv6 node processing a packet finds a problem with a field in the IPv6 header or extension "
           "headers such that it cannot complete processing the packet, it MUST discard the packet")
def test_packet_that_ends_inside_an_extension_header_is_discarded(dut: DUT, cut: str) -> None:
    # Discarded: at most the Parameter Problem the RFC asks for (a SHOULD) comes back before the
    # control's Echo Reply, and the DUT goes on answering.
    nh, header = CUT_CHAINS[cut]
    dut.send(_cut(dut, nh, header), dut.ipv6() / ICMPv6EchoRequest(id=0x8249, seq=1, data=b"control"))
    while True:
        got = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)))
        if got.haslayer(ICMPv6EchoReply) and got[ICMPv6EchoReply].id == 0x8249:
            return
        assert got.haslayer(ICMPv6ParamProblem), f"the DUT answered the cut packet with {got.summary()}"


# A header cut short after the one whose option draws the error: the DUT processes headers in
# order (RFC 8200 4), so it meets the unknown option first, and the header it never reaches
# does not make the packet's ICMPv6 type unreadable (it names no ICMPv6 header).
CUT_AFTER_THE_OPTION = {
    "one-octet-of-destination-options": (60, bytes([58])),
    "half-a-fragment-header": (44, bytes([17, 0, 0, 0])),
}


@pytest.mark.parametrize("cut", list(CUT_AFTER_THE_OPTION))
@rfc("RFC8200-4.2-2",
     quote="10 - discard the packet and, regardless of whether or not the packet's Destination Address was a "
           "multicast address, send an ICMP Parameter Problem, Code 2, message to the packet's Source "
           "Address, pointing to the unrecognized Option Type.")
def test_unknown_option_draws_parameter_problem_before_a_header_cut_short(dut: DUT, cut: str) -> None:
    nh, rest = CUT_AFTER_THE_OPTION[cut]
    header = bytes(_unknown_option_header())
    header = bytes([nh]) + header[1:]
    sent = _cut(dut, 60, header + rest)
    dut.send(sent)
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem(code=PPCode.UNRECOGNIZED_OPTION))
    assert error[ICMPv6ParamProblem].ptr == 40 + 6, f"pointer {error[ICMPv6ParamProblem].ptr}, not 46"
    assert l3_bytes(error)[48:] == sent[14:], "the quote is not the invoking packet"
