"""RFC 8200 §4.2 (and RFC 2711): options in Hop-by-Hop and Destination Options headers.

Unknown options use the RFC 4727 experimental option types, one per action class (the two
high-order bits): 0x1E (00), 0x5E (01), 0x9E (10), 0xDE (11). Each carries two octets of data
and follows a 4-octet PadN, so its Option Type octet is at offset 40 + 2 + 4 = 46. Every
negative test is paired with a packet the DUT does answer, so a silent DUT cannot pass.
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
    Pad1,
    PadN,
    RouterAlert,
)
from scapy.packet import Packet

from harness import DUT, expect_echo_reply6, l3_bytes, multicast_mac, rfc
from harness.rfc import IPV6_MIN_MTU
from harness.rfc import ICMPv6ParamProblem as PPCode

SILENCE_S = 1.0
ALL_NODES = "ff02::1"
HEADERS = {"hbh": IPv6ExtHdrHopByHop, "dest": IPv6ExtHdrDestOpt}
SKIP, DISCARD, DISCARD_PP, DISCARD_PP_UNICAST = 0x1E, 0x5E, 0x9E, 0xDE
OPTION_AT = 46  # IPv6 header (40) + Next Header and Hdr Ext Len (2) + PadN (4)


def _with_option(dut: DUT, header: str, otype: int, ident: int, dst: str | None = None) -> Packet:
    options = [PadN(optdata=b"\x00\x00"), HBHOptUnknown(otype=otype, optdata=b"\x00\x00")]
    echo = ICMPv6EchoRequest(id=ident, seq=1, data=b"options")
    if dst is None:
        return dut.ipv6() / HEADERS[header](options=options) / echo
    return (
        dut.ether(dst=multicast_mac(dst))
        / IPv6(src=str(dut.info.tester_ipv6), dst=dst)
        / HEADERS[header](options=options)
        / echo
    )


def _control(dut: DUT, ident: int) -> None:
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=ident, seq=1, data=b"control"))
    expect_echo_reply6(dut, ident)


def _expect_option_pp(dut: DUT, sent: Packet) -> Packet:
    error = dut.expect(
        IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem(code=PPCode.UNRECOGNIZED_OPTION)
    )
    assert error[ICMPv6ParamProblem].ptr == OPTION_AT, (
        f"pointer {error[ICMPv6ParamProblem].ptr}, not the Option Type at {OPTION_AT}"
    )
    quote = l3_bytes(error)[48:]
    assert quote == l3_bytes(sent)[: IPV6_MIN_MTU - 48], "the quote is not the invoking packet"
    return error


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8200-4.2-8",
     quote="Pad1 option (alignment requirement: none) ... The Pad1 option is used to insert 1 octet of "
           "padding into the Options area of a header. ... PadN option (alignment requirement: none) ... The "
           "PadN option is used to insert two or more octets of padding into the Options area of a header.")
def test_pad1_and_padn_are_skipped(dut: DUT, header: str) -> None:
    options = [Pad1(), Pad1(), PadN(optdata=b"\x00\x00")]  # 2 + 1 + 1 + 4 = 8 octets, no auto-padding
    dut.send(dut.ipv6() / HEADERS[header](options=options) / ICMPv6EchoRequest(id=0x8201, seq=1))
    expect_echo_reply6(dut, 0x8201)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8200-4.2-8",
     quote="Pad1 option (alignment requirement: none) ... The Pad1 option is used to insert 1 octet of "
           "padding into the Options area of a header.")
def test_option_right_after_a_single_pad1_is_read_at_the_next_octet(dut: DUT, header: str) -> None:
    # One Pad1, then an unrecognized option of type 10xxxxxx: it starts one octet after the Pad1
    # (offset 40 + 2 + 1 = 43), and the Parameter Problem points there. A second Pad1 ends the
    # header on 8 octets.
    options = [Pad1(), HBHOptUnknown(otype=DISCARD_PP, optdata=b"\x00\x00"), Pad1()]
    sent = dut.ipv6() / HEADERS[header](options=options) / ICMPv6EchoRequest(id=0x82F8, seq=1)
    assert len(l3_bytes(sent)) == 40 + 8 + 8
    dut.send(sent)
    error = dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem(code=PPCode.UNRECOGNIZED_OPTION))
    assert error[ICMPv6ParamProblem].ptr == 43, f"pointer {error[ICMPv6ParamProblem].ptr}, not the Option Type at 43"


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8200-4.2-8",
     quote="PadN option (alignment requirement: none) ... The PadN option is used to insert two or more "
           "octets of padding into the Options area of a header.")
def test_padn_of_seven_octets_is_skipped(dut: DUT, header: str) -> None:
    # 7 octets is the longest PadN every host must take: RFC 8504 5.3 lets a host refuse only a
    # PadN "that has a length greater than 7". A skip-class option of 7 octets before it (Linux
    # also refuses a run of padding options longer than 7 octets) ends the header on 16 octets.
    options = [HBHOptUnknown(otype=SKIP, optdata=bytes(5)), PadN(optdata=bytes(5))]
    dut.send(dut.ipv6() / HEADERS[header](options=options) / ICMPv6EchoRequest(id=0x82F7, seq=1))
    expect_echo_reply6(dut, 0x82F7)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8200-4.2-2", quote="00 - skip over this option and continue processing the header.")
def test_unknown_option_00_is_skipped(dut: DUT, header: str) -> None:
    dut.send(_with_option(dut, header, SKIP, 0x8202))
    expect_echo_reply6(dut, 0x8202)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8200-4.2-2", quote="01 - discard the packet.")
def test_unknown_option_01_discards_the_packet_silently(dut: DUT, header: str) -> None:
    dut.send(_with_option(dut, header, DISCARD, 0x8203))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    dut.expect_none(ICMPv6ParamProblem, within=0.01)
    _control(dut, 0x8204)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8200-4.2-2", "RFC4443-3.4-1",
     quote="10 - discard the packet and, regardless of whether or not the packet's Destination Address was a "
           "multicast address, send an ICMP Parameter Problem, Code 2, message to the packet's Source "
           "Address, pointing to the unrecognized Option Type.")
def test_unknown_option_10_draws_parameter_problem_code_2(dut: DUT, header: str) -> None:
    sent = _with_option(dut, header, DISCARD_PP, 0x8205)
    dut.send(sent)
    _expect_option_pp(dut, sent)
    dut.expect_none(ICMPv6EchoReply(id=0x8205), within=0.01)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8200-4.2-2",
     quote="10 - discard the packet and, regardless of whether or not the packet's Destination Address was a "
           "multicast address, send an ICMP Parameter Problem, Code 2, message to the packet's Source "
           "Address, pointing to the unrecognized Option Type.")
def test_unknown_option_10_to_a_multicast_address_draws_parameter_problem(dut: DUT, header: str) -> None:
    # RFC 4443 §2.4 (e.3) names this as one of the two exceptions to "no error about a packet
    # to a multicast address".
    sent = _with_option(dut, header, DISCARD_PP, 0x8206, dst=ALL_NODES)
    dut.send(sent)
    _expect_option_pp(dut, sent)
    dut.expect_none(ICMPv6EchoReply(id=0x8206), within=0.01)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8200-4.2-2",
     quote="11 - discard the packet and, only if the packet's Destination Address was not a multicast "
           "address, send an ICMP Parameter Problem, Code 2, message to the packet's Source Address, "
           "pointing to the unrecognized Option Type.")
def test_unknown_option_11_draws_parameter_problem_code_2(dut: DUT, header: str) -> None:
    sent = _with_option(dut, header, DISCARD_PP_UNICAST, 0x8207)
    dut.send(sent)
    _expect_option_pp(dut, sent)
    dut.expect_none(ICMPv6EchoReply(id=0x8207), within=0.01)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8200-4.2-2",
     quote="11 - discard the packet and, only if the packet's Destination Address was not a multicast "
           "address, send an ICMP Parameter Problem, Code 2, message to the packet's Source Address, "
           "pointing to the unrecognized Option Type.")
def test_unknown_option_11_to_a_multicast_address_draws_no_error(dut: DUT, header: str) -> None:
    dut.send(_with_option(dut, header, DISCARD_PP_UNICAST, 0x8208, dst=ALL_NODES))
    dut.expect_none(ICMPv6ParamProblem, within=SILENCE_S, barrier=True)
    dut.expect_none(ICMPv6EchoReply(id=0x8208), within=0.01)
    # Control: the same packet to the DUT's unicast address does draw the error.
    sent = _with_option(dut, header, DISCARD_PP_UNICAST, 0x8209)
    dut.send(sent)
    _expect_option_pp(dut, sent)


@rfc("RFC8200-4.2-1")
def test_options_are_processed_in_the_order_they_appear(dut: DUT) -> None:
    def packet(first: int, second: int, ident: int) -> Packet:
        options = [PadN(optdata=b"\x00\x00"), HBHOptUnknown(otype=first, optdata=b"\x00\x00"),
                   HBHOptUnknown(otype=second, optdata=b"\x00\x00"), PadN(optdata=b"\x00\x00")]
        return dut.ipv6() / IPv6ExtHdrDestOpt(options=options) / ICMPv6EchoRequest(id=ident, seq=1)

    # "Discard silently" first: the 10xxxxxx option after it is never reached, so no error.
    dut.send(packet(DISCARD, DISCARD_PP, 0x820A))
    dut.expect_none(ICMPv6ParamProblem, within=SILENCE_S, barrier=True)
    # The other way round the 10xxxxxx option is met first and draws the error, pointing at it.
    sent = packet(DISCARD_PP, DISCARD, 0x820B)
    dut.send(sent)
    _expect_option_pp(dut, sent)


@rfc("RFC2711-2.2-2")
def test_router_alert_option_does_not_stop_delivery(dut: DUT) -> None:
    # Router Alert (type 5, bits 00) with value 0 ("Datagram contains a Multicast Listener
    # Discovery message"), on an echo request to the DUT: recognized or not, the echo goes on.
    # RFC 2711 §2.1: nodes not recognizing the option "should skip over this option and continue
    # processing the header"; the DUT is the final destination here, which ignores it (§2.2).
    hbh = IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"")])
    dut.send(dut.ipv6() / hbh / ICMPv6EchoRequest(id=0x820C, seq=1))
    expect_echo_reply6(dut, 0x820C)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8504-5.3-10", "RFC8504-5.3-9")
def test_eight_options_in_one_header_are_processed(dut: DUT, header: str) -> None:
    # Inside the default limit: whether or not the host has one, eight options are processed.
    # Options of the "skip" class (00) with no data: harmless one by one, only their number counts.
    options = [HBHOptUnknown(otype=SKIP, optdata=b"")] * 8
    dut.send(dut.ipv6() / HEADERS[header](options=options) / ICMPv6EchoRequest(id=0x820D, seq=8))
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x820D, seq=8))


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8504-5.3-9", "RFC8504-5.3-11")
def test_nine_options_in_one_header_are_processed_or_silently_discarded(dut: DUT, header: str) -> None:
    # A host without the limit processes the packet; one with the default limit of 8 drops it,
    # silently. The control goes right behind it: frames are handled in order, so once the
    # control's reply is here, any answer to the nine-option packet would be here too.
    options = [HBHOptUnknown(otype=SKIP, optdata=b"")] * 9
    dut.send(dut.ipv6() / HEADERS[header](options=options) / ICMPv6EchoRequest(id=0x820D, seq=9),
             dut.ipv6() / ICMPv6EchoRequest(id=0x820E, seq=1, data=b"control"))
    expect_echo_reply6(dut, 0x820E)
    dut.expect_none(ICMPv6ParamProblem, within=0)


@rfc("RFC2711-2.2-3")
def test_router_alert_with_an_unassigned_value_is_ignored_and_the_header_processed_on(dut: DUT) -> None:
    # Value 3 is unassigned: ignored, the echo answered ...
    dut.send(dut.ipv6() / IPv6ExtHdrHopByHop(options=[RouterAlert(value=3), PadN(optdata=b"")])
             / ICMPv6EchoRequest(id=0x820F, seq=1))
    expect_echo_reply6(dut, 0x820F)
    # ... and the options after it still processed: an unknown option of the "10" class right
    # behind it (offset 40 + 2 + 4) draws its Parameter Problem.
    sent = (dut.ipv6() / IPv6ExtHdrHopByHop(options=[RouterAlert(value=3), HBHOptUnknown(otype=DISCARD_PP, optdata=b"\x00\x00")])
            / ICMPv6EchoRequest(id=0x8210, seq=1))
    dut.send(sent)
    _expect_option_pp(dut, sent)
