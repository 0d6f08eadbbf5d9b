"""wire/ndp.py: Router Solicitation/Advertisement, Redirect and the option accessors
(RFC 4861 §4, RFC 4191 §2.3, RFC 7527), all total over bytes."""

from __future__ import annotations

import random
import struct
from ipaddress import IPv6Address

import pytest

from stack_under_test.drops import Drop
from stack_under_test.wire import icmpv6
from stack_under_test.wire.ndp import (
    PREF_HIGH,
    PREF_LOW,
    PREF_MEDIUM,
    NDPOption,
    NDPOptions,
    NeighborAdvert,
    NeighborSolicit,
    PrefixInfo,
    Redirect,
    RouteInfo,
    RouterAdvert,
    RouterSolicit,
    mtu_option,
    nonce_option,
    options_of,
    parse_message,
    redirected_header_option,
    source_link_option,
)
from stack_under_test.wire.numbers import ICMPv6Type, NDPOptionType

MAC = b"\x02\x00\x00\x00\x00\x02"
SRC = IPv6Address("fe80::2").packed
DST = IPv6Address("ff02::1").packed


def roundtrip(msg: object) -> object:
    raw = icmpv6.encode(msg, SRC, DST)  # type: ignore[arg-type]
    return icmpv6.parse(memoryview(raw), SRC, DST)


def test_router_solicit_roundtrip() -> None:
    rs = RouterSolicit(source_link_option(MAC))
    assert roundtrip(rs) == rs
    assert RouterSolicit.parse(memoryview(bytes(3))) is Drop.NDP_TRUNCATED


def test_router_advert_roundtrip_with_options() -> None:
    pio = PrefixInfo(64, True, True, 7200, 3600, IPv6Address("2001:db8:1::"))
    rio = RouteInfo(48, PREF_HIGH, 600, IPv6Address("2001:db8:2::"))
    ra = RouterAdvert(64, True, False, PREF_LOW, 1800, 30000, 1000, options_of(pio.option(), rio.option(), mtu_option(1400)))
    back = roundtrip(ra)
    assert back == ra
    assert isinstance(back, RouterAdvert)
    assert back.options.prefix_infos() == [pio]
    assert back.options.route_infos() == [rio]
    assert back.options.mtu() == 1400
    assert RouterAdvert.parse(memoryview(bytes(11))) is Drop.NDP_TRUNCATED


def test_router_advert_reserved_preference_is_medium() -> None:
    body = bytearray(RouterAdvert(router_lifetime_s=10).encode())
    body[1] = 0b10 << 3  # RFC 4191 §2.2: reserved (10) is treated as (00)
    ra = RouterAdvert.parse(memoryview(bytes(body)))
    assert isinstance(ra, RouterAdvert) and ra.preference == PREF_MEDIUM


def test_redirect_roundtrip_and_length() -> None:
    rd = Redirect(IPv6Address("fe80::1"), IPv6Address("2001:db8:2::9"), options_of(redirected_header_option(bytes(40))))
    back = roundtrip(rd)
    assert back == rd
    assert isinstance(back, Redirect)
    redirected = back.options.find(NDPOptionType.REDIRECTED_HEADER)
    assert redirected is not None and redirected.data == bytes(46)  # 6 reserved octets, the packet
    assert Redirect.parse(memoryview(bytes(35))) is Drop.NDP_TRUNCATED


def test_bad_code_is_dropped_for_every_ndp_type() -> None:
    for msg in (RouterSolicit(), RouterAdvert(), Redirect(IPv6Address("fe80::1"), IPv6Address("fe80::1"))):
        raw = bytearray(icmpv6.encode(msg, SRC, DST))
        raw[1] = 1
        raw[2:4] = b"\0\0"
        raw[2:4] = struct.pack("!H", icmpv6.icmpv6_checksum(SRC, DST, raw))
        assert icmpv6.parse(memoryview(bytes(raw)), SRC, DST) is Drop.NDP_BAD_CODE


def test_zero_length_option_drops_every_message() -> None:
    for t in (133, 134, 135, 136, 137):
        fixed = {133: 4, 134: 12, 135: 20, 136: 20, 137: 36}[t]
        assert parse_message(t, memoryview(bytes(fixed) + bytes([1, 0, 0, 0, 0, 0, 0, 0]))) is Drop.NDP_ZERO_LENGTH_OPTION


@pytest.mark.parametrize(
    ("length", "prefix_len", "ok"),
    [
        (1, 0, True),
        (2, 0, True),
        (3, 0, True),
        (1, 1, False),  # prefix_len > 0 needs Length 2 or 3
        (2, 64, True),
        (2, 65, False),  # prefix_len > 64 needs Length 3
        (3, 128, True),
        (3, 129, False),
        (4, 48, False),
    ],
)
def test_route_info_length_rules(length: int, prefix_len: int, ok: bool) -> None:
    data = struct.pack("!BBI", prefix_len, 0, 100) + bytes(8 * length - 8)
    opts = NDPOptions((NDPOption(NDPOptionType.ROUTE_INFORMATION, data),))
    assert len(opts.route_infos()) == (1 if ok else 0)


def test_route_info_reserved_preference_is_ignored_and_host_bits_masked() -> None:
    data = struct.pack("!BBI", 16, 0b10 << 3, 100) + bytes(8)
    assert NDPOptions((NDPOption(24, data),)).route_infos() == []
    data = struct.pack("!BBI", 16, 0b11 << 3, 100) + IPv6Address("2001:db8:ffff::").packed[:8]
    (info,) = NDPOptions((NDPOption(24, data),)).route_infos()
    assert info == RouteInfo(16, PREF_LOW, 100, IPv6Address("2001::"))


def test_prefix_info_bad_length_or_prefix_len_is_left_out_alone() -> None:
    assert PrefixInfo.parse(bytes(22)) is Drop.NDP_BAD_PREFIX_OPTION
    bad = PrefixInfo(129, False, False, 0, 0, IPv6Address("::")).option()
    assert PrefixInfo.parse(bad.data) is Drop.NDP_BAD_PREFIX_OPTION
    good = PrefixInfo(64, True, True, 600, 300, IPv6Address("2001:db8::"))
    assert NDPOptions((NDPOption(3, bytes(22)), bad, good.option())).prefix_infos() == [good]


def test_mtu_option_and_nonce() -> None:
    assert NDPOptions().mtu() is None
    assert NDPOptions((NDPOption(5, bytes(14)),)).mtu() is Drop.NDP_BAD_MTU_OPTION
    opts = options_of(nonce_option(b"abcdef"), source_link_option(MAC))
    back = NDPOptions.parse(memoryview(opts.encode()))
    assert isinstance(back, NDPOptions)
    assert back.nonce() == b"abcdef"
    assert NDPOptions().nonce() is None


def test_parsers_are_total_over_random_bytes() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        t = rng.choice([133, 134, 135, 136, 137])
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
        msg = parse_message(t, memoryview(body))
        if isinstance(msg, Drop):
            continue
        assert isinstance(msg, (RouterSolicit, RouterAdvert, NeighborSolicit, NeighborAdvert, Redirect))
        msg.options.prefix_infos()
        msg.options.route_infos()
        msg.options.mtu()
        msg.options.nonce()
        assert ICMPv6Type(t) == msg.TYPE
