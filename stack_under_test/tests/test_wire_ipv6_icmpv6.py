"""ICMPv6 and NDP wire formats: round trips, truncation at every length, bad checksums/options."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

import pytest

from stack_under_test.drops import Drop
from stack_under_test.wire import icmpv6
from stack_under_test.wire.icmpv6 import EchoReply, EchoRequest, ICMPv6Error, UnknownICMPv6
from stack_under_test.wire.ndp import (
    NDPOption,
    NDPOptions,
    NeighborAdvert,
    NeighborSolicit,
    source_link_option,
    target_link_option,
)
from stack_under_test.wire.numbers import ICMPv6Type, NDPOptionType

SRC = IPv6Address("fe80::2").packed
DST = IPv6Address("fe80::1").packed
MAC = bytes.fromhex("020000000002")


def roundtrip(message: icmpv6.ICMPv6Message) -> object:
    return icmpv6.parse(memoryview(icmpv6.encode(message, SRC, DST)), SRC, DST)


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(EchoRequest(0x1234, 7, b"hello"), id="echo-request"),
        pytest.param(EchoReply(1, 2), id="echo-reply"),
        pytest.param(ICMPv6Error(ICMPv6Type.DEST_UNREACHABLE, 4, 0, b"q" * 48), id="dest-unreach"),
        pytest.param(ICMPv6Error(ICMPv6Type.PACKET_TOO_BIG, 0, 1280, b"q"), id="ptb"),
        pytest.param(ICMPv6Error(ICMPv6Type.TIME_EXCEEDED, 1, 0, b""), id="time-exceeded"),
        pytest.param(ICMPv6Error(ICMPv6Type.PARAMETER_PROBLEM, 1, 6, b"q" * 40), id="param-problem"),
        pytest.param(NeighborSolicit(IPv6Address("fe80::1"), source_link_option(MAC)), id="ns"),
        pytest.param(NeighborSolicit(IPv6Address("2001:db8::1")), id="ns/no-options"),
        pytest.param(
            NeighborAdvert(IPv6Address("fe80::1"), False, True, True, target_link_option(MAC)), id="na"
        ),
        pytest.param(NeighborAdvert(IPv6Address("fe80::1"), router=True), id="na/router"),
        pytest.param(UnknownICMPv6(200, 3, b"abcd"), id="unknown"),
    ],
)
def test_messages_round_trip(message: icmpv6.ICMPv6Message) -> None:
    assert roundtrip(message) == message


def test_checksum_matches_a_known_frame() -> None:
    # Reference value computed by an independent dissector for the same message (kept as a constant: the stack's
    # tests never import the test tool).
    raw = icmpv6.encode(
        EchoRequest(1, 2, b"hi"), IPv6Address("2001:db8:1::2").packed, IPv6Address("2001:db8:1::1").packed
    )
    assert raw.hex() == "8000bbd7000100026869"


def test_bad_checksum_is_dropped() -> None:
    raw = bytearray(icmpv6.encode(EchoRequest(1, 2, b"x"), SRC, DST))
    raw[-1] ^= 0x01
    assert icmpv6.parse(memoryview(raw), SRC, DST) is Drop.ICMPV6_BAD_CHECKSUM


def test_checksum_depends_on_pseudo_header() -> None:
    raw = icmpv6.encode(EchoRequest(1, 2, b"x"), SRC, DST)
    assert icmpv6.parse(memoryview(raw), SRC, IPv6Address("fe80::3").packed) is Drop.ICMPV6_BAD_CHECKSUM


def with_checksum(raw: bytes) -> memoryview:
    buf = bytearray(raw)
    if len(buf) >= 4:
        buf[2:4] = b"\0\0"
        struct.pack_into("!H", buf, 2, icmpv6.icmpv6_checksum(SRC, DST, buf))
    return memoryview(bytes(buf))


@pytest.mark.parametrize(
    ("message", "min_len", "drop"),
    [
        pytest.param(EchoRequest(1, 2, b"data"), 8, Drop.ICMPV6_TRUNCATED, id="echo"),
        pytest.param(ICMPv6Error(ICMPv6Type.PARAMETER_PROBLEM, 0, 1, b"x"), 8, Drop.ICMPV6_TRUNCATED, id="error"),
        pytest.param(NeighborSolicit(IPv6Address("fe80::9")), 24, Drop.NDP_TRUNCATED, id="ns"),
        pytest.param(NeighborAdvert(IPv6Address("fe80::9")), 24, Drop.NDP_TRUNCATED, id="na"),
    ],
)
def test_truncated_at_every_length(message: icmpv6.ICMPv6Message, min_len: int, drop: Drop) -> None:
    full = icmpv6.encode(message, SRC, DST)
    for cut in range(min_len):
        expected = Drop.ICMPV6_TRUNCATED if cut < 4 else drop
        assert icmpv6.parse(with_checksum(full[:cut]), SRC, DST) is expected, cut


def test_ndp_code_must_be_zero() -> None:
    raw = bytearray(icmpv6.encode(NeighborSolicit(IPv6Address("fe80::1")), SRC, DST))
    raw[1] = 1
    assert icmpv6.parse(with_checksum(bytes(raw)), SRC, DST) is Drop.NDP_BAD_CODE


@pytest.mark.parametrize("cls", [NeighborSolicit, NeighborAdvert])
def test_multicast_target_is_dropped(cls: type[NeighborSolicit] | type[NeighborAdvert]) -> None:
    raw = icmpv6.encode(cls(IPv6Address("ff02::1")), SRC, DST)
    assert icmpv6.parse(memoryview(raw), SRC, DST) is Drop.NDP_MULTICAST_TARGET


def test_zero_length_option_is_dropped() -> None:
    body = bytes(4) + IPv6Address("fe80::1").packed + bytes([1, 0]) + MAC
    assert NeighborSolicit.parse(memoryview(body)) is Drop.NDP_ZERO_LENGTH_OPTION


def test_zero_length_option_after_a_good_one_is_dropped() -> None:
    body = bytes(4) + IPv6Address("fe80::1").packed + bytes([1, 1]) + MAC + bytes([14, 0, 0, 0, 0, 0, 0, 0])
    assert NeighborAdvert.parse(memoryview(body)) is Drop.NDP_ZERO_LENGTH_OPTION


@pytest.mark.parametrize("options", [bytes([1]), bytes([1, 1]) + MAC[:5], bytes([1, 2]) + bytes(8)])
def test_option_running_past_message_is_dropped(options: bytes) -> None:
    body = bytes(4) + IPv6Address("fe80::1").packed + options
    assert NeighborSolicit.parse(memoryview(body)) is Drop.NDP_OPTION_TRUNCATED


def test_link_address_option_lookup() -> None:
    options = NDPOptions((NDPOption(14, bytes(6)), NDPOption(NDPOptionType.SOURCE_LINK_ADDRESS, MAC)))
    assert options.link_address(NDPOptionType.SOURCE_LINK_ADDRESS) == MAC
    assert options.link_address(NDPOptionType.TARGET_LINK_ADDRESS) is None
    bad = NDPOptions((NDPOption(NDPOptionType.SOURCE_LINK_ADDRESS, bytes(14)),))
    assert bad.link_address(NDPOptionType.SOURCE_LINK_ADDRESS) is Drop.NDP_BAD_LINK_LAYER_OPTION


def test_option_encoding_pads_to_eight_octets() -> None:
    assert source_link_option(MAC).encode() == bytes([1, 1]) + MAC
    assert NDPOption(14, b"abc").encode() == bytes([14, 1]) + b"abc" + bytes(3)


def test_na_flags_encode_at_the_top_of_the_first_octet() -> None:
    body = NeighborAdvert(IPv6Address("fe80::1"), router=True, solicited=True, override=True).encode()
    assert body[:4] == bytes([0xE0, 0, 0, 0])


def test_parse_is_total_over_arbitrary_bytes() -> None:
    seeds = [
        icmpv6.encode(NeighborSolicit(IPv6Address("fe80::1"), source_link_option(MAC)), SRC, DST),
        icmpv6.encode(EchoRequest(1, 1, b"abc"), SRC, DST),
    ]
    for seed in seeds:
        for pos in range(len(seed)):
            for value in (0, 1, 3, 0x80, 0x87, 0xFF):
                raw = bytearray(seed)
                raw[pos] = value
                for cut in (len(raw), len(raw) - 1, 5):
                    icmpv6.parse(with_checksum(bytes(raw[:cut])), SRC, DST)
