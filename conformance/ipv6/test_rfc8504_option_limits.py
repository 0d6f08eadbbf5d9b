"""RFC 8504 §5.3: the limits a host may place on the options it processes, which must be
configurable, and what it does with a packet beyond them (a silent discard).

The limits are set with the IPv6 options named after Linux's sysctls (``max_dst_opts_number``,
``max_hbh_opts_number``: the most non-padding options in one header, a negative value also
disallowing unknown options; ``max_dst_opts_length``, ``max_hbh_length``: the longest header in
octets). Unknown options are of the RFC 4727 experimental types, 0x1E (action 00: skip) and
0x9E (action 10: Parameter Problem); every discard is shown beside a packet still answered.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrHopByHop,
    PadN,
)
from scapy.packet import Packet

from harness import DUT, ExpectationFailed, Unsupported, rfc

SILENCE_S: Final = 1.0
HEADERS: Final = {"hbh": IPv6ExtHdrHopByHop, "dest": IPv6ExtHdrDestOpt}
COUNT_OPTION: Final = {"hbh": "max_hbh_opts_number", "dest": "max_dst_opts_number"}
LENGTH_OPTION: Final = {"hbh": "max_hbh_length", "dest": "max_dst_opts_length"}
SKIP, DISCARD_PP = 0x1E, 0x9E
LONG_HEADER: Final = 1400  # octets: the longest options header an unfragmented echo leaves room for


def _echo(dut: DUT, header: str, options: list[Packet], ident: int) -> Packet:
    return dut.ipv6() / HEADERS[header](options=options) / ICMPv6EchoRequest(id=ident, seq=1, data=b"limits")


def _answered(dut: DUT, ident: int) -> None:
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ident, seq=1), within=SILENCE_S)


def _silently_discarded(dut: DUT, ident: int) -> None:
    dut.expect_none(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ident), within=SILENCE_S)
    dut.expect_none(ICMPv6ParamProblem, within=0.0)


def _long_options(total: int) -> list[Packet]:
    """Skip-class options filling an options header of ``total`` octets (no more than 8 of
    them, and no padding option longer than 7 octets, which some hosts refuse)."""
    left, out = total - 2, []
    while left:
        data = min(255, left - 2)
        out.append(HBHOptUnknown(otype=SKIP, optdata=b"\x00" * data))
        left -= 2 + data
    assert len(out) <= 8
    return out


# ---- unknown options (§5.3 paragraph 4) ---------------------------------------------------------------

@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8504-5.3-7")
def test_unknown_options_are_accepted_by_default_and_can_be_disallowed(dut: DUT, header: str) -> None:
    unknown = [HBHOptUnknown(otype=SKIP, optdata=b"\x00\x00\x00\x00")]
    dut.send(_echo(dut, header, unknown, 0x8501))
    _answered(dut, 0x8501)  # the default: processed per RFC 8200 (action 00, skipped)
    dut.set_ipv6_option(COUNT_OPTION[header], -8)  # Linux: negative disallows unknown options
    dut.send(_echo(dut, header, unknown, 0x8502))
    _silently_discarded(dut, 0x8502)
    dut.send(_echo(dut, header, [PadN(optdata=b"\x00\x00\x00\x00")], 0x8503))  # control
    _answered(dut, 0x8503)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8504-5.3-8")
def test_disallowed_unknown_option_discards_the_packet_silently(dut: DUT, header: str) -> None:
    # Action 10 would draw a Parameter Problem under RFC 8200; disallowed, the packet goes silently.
    dut.set_ipv6_option(COUNT_OPTION[header], -8)
    unknown = [PadN(optdata=b"\x00\x00"), HBHOptUnknown(otype=DISCARD_PP, optdata=b"\x00\x00")]
    dut.send(_echo(dut, header, unknown, 0x8511))
    _silently_discarded(dut, 0x8511)
    dut.send(_echo(dut, header, [PadN(optdata=b"\x00\x00\x00\x00")], 0x8512))
    _answered(dut, 0x8512)


# ---- padding (§5.3 paragraph 3) ----------------------------------------------------------------------------

@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8504-5.3-5")
def test_padn_longer_than_7_octets_is_processed_or_silently_discarded(dut: DUT, header: str) -> None:
    # A host that limits PadN to fewer than 8 octets (a MAY) discards this packet, silently; one
    # that does not answers it. Either way no Parameter Problem. A PadN of 10 octets (8 of data),
    # then 4 more to end the header on 16; the control right behind it: frames are handled in
    # order, so once its reply is here any answer to the first would be here too.
    options = [PadN(optdata=bytes(8)), PadN(optdata=bytes(2))]
    dut.send(_echo(dut, header, options, 0x8531), _echo(dut, header, [PadN(optdata=bytes(4))], 0x8532))
    _answered(dut, 0x8532)
    dut.expect_none(ICMPv6ParamProblem, within=0.0)


# ---- how many options (§5.3 paragraph 5) ------------------------------------------------------------------

@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8504-5.3-10", quote="If this feature is supported, the maximum number SHOULD be configurable,")
def test_maximum_number_of_options_is_configurable(dut: DUT, header: str) -> None:
    dut.set_ipv6_option(COUNT_OPTION[header], 4)
    dut.send(_echo(dut, header, [HBHOptUnknown(otype=SKIP, optdata=b"")] * 5, 0x8521))
    _silently_discarded(dut, 0x8521)
    dut.send(_echo(dut, header, [HBHOptUnknown(otype=SKIP, optdata=b"")] * 4, 0x8522))
    _answered(dut, 0x8522)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8504-5.3-10", quote="and the default value SHOULD be set to 8.")
def test_maximum_number_of_options_is_8_by_default(dut: DUT, header: str) -> None:
    # Left at its default: nine options are one too many, eight are not. The packets are taken in
    # order, so once the second is answered the first had its chance. The limit exists only "if
    # this feature is supported": a DUT that cannot set it (Unsupported) is not held to its default.
    nine, eight = ([HBHOptUnknown(otype=SKIP, optdata=b"")] * n for n in (9, 8))
    dut.send(_echo(dut, header, nine, 0x8523), _echo(dut, header, eight, 0x8524))
    _answered(dut, 0x8524)
    try:
        dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x8523, seq=1), within=0.0)
        nine_answered = True
    except ExpectationFailed:
        nine_answered = False
    try:
        dut.set_ipv6_option(COUNT_OPTION[header], 8)
    except Unsupported as why:
        pytest.skip(f"the DUT has no settable limit on the number of options ({why})")
    assert not nine_answered, "a header of nine non-padding options was processed at the default limit"


# ---- how long a header (§5.3 paragraph 6) -------------------------------------------------------------------

@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8504-5.3-13")
def test_long_options_header_is_accepted_by_default_and_the_limit_is_configurable(dut: DUT, header: str) -> None:
    dut.send(_echo(dut, header, _long_options(LONG_HEADER), 0x8531))
    _answered(dut, 0x8531)  # the default: "to accept options of any length"
    dut.set_ipv6_option(LENGTH_OPTION[header], 1024)
    dut.send(_echo(dut, header, _long_options(LONG_HEADER), 0x8532))
    _silently_discarded(dut, 0x8532)


@pytest.mark.parametrize("header", list(HEADERS))
@rfc("RFC8504-5.3-14")
def test_options_header_over_the_length_limit_is_silently_discarded(dut: DUT, header: str) -> None:
    dut.set_ipv6_option(LENGTH_OPTION[header], 64)
    dut.send(_echo(dut, header, _long_options(72), 0x8541))
    _silently_discarded(dut, 0x8541)
    dut.send(_echo(dut, header, _long_options(64), 0x8542))  # at the limit: still processed
    _answered(dut, 0x8542)
