"""Extension headers through the stack (RFC 8200 §4, RFC 5095): what is accepted, what is
answered with Parameter Problem (type 4) and at which pointer, and what is dropped silently."""

from __future__ import annotations

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._ipv6_bench import ALL_NODES, DUT, ICMPV6, TESTER, Bench, icmp_packet
from stack_under_test.wire import ipv6_ext
from stack_under_test.wire.icmpv6 import EchoReply, EchoRequest, ICMPv6Error
from stack_under_test.wire.ipv6 import build_packet
from stack_under_test.wire.ipv6_ext import option, options_header, pad, routing_header
from stack_under_test.wire.numbers import (
    PROTO_DEST_OPTS,
    PROTO_HOP_BY_HOP,
    PROTO_NO_NEXT_HEADER,
    PROTO_ROUTING,
)

PARAMETER_PROBLEM = 4
MCAST_MAC_ALL_NODES = bytes.fromhex("333300000001")
ECHO = EchoRequest(0x77, 1, b"payload")


def echo_with(ext: bytes, first: int, dst: bytes = DUT) -> bytes:
    return icmp_packet(TESTER, dst, ECHO, ext=ext, first=first)


def assert_param_problem(bench: Bench, code: int, pointer: int, invoking: bytes) -> None:
    sent = bench.only_sent()
    assert isinstance(sent.message, ICMPv6Error), sent.message
    assert (sent.message.type, sent.message.code, sent.message.pointer) == (PARAMETER_PROBLEM, code, pointer)
    assert sent.message.invoking == invoking  # the whole (small) invoking packet is quoted
    assert (sent.ip.src.packed, sent.ip.dst.packed) == (DUT, TESTER)


def assert_echo_reply(bench: Bench) -> None:
    sent = bench.only_sent()
    assert sent.message == EchoReply(ECHO.ident, ECHO.seq, ECHO.data)


# ---- Hop-by-Hop placement ------------------------------------------------------------------------


def test_hop_by_hop_first_is_processed_and_the_packet_delivered() -> None:
    bench = Bench()
    assert bench.inject(echo_with(options_header(ICMPV6, pad(6)), PROTO_HOP_BY_HOP)) is None
    assert_echo_reply(bench)


@pytest.mark.parametrize(
    ("before", "first"),
    [
        pytest.param(options_header(PROTO_HOP_BY_HOP, pad(6)), PROTO_DEST_OPTS, id="after-destopts"),
        pytest.param(routing_header(PROTO_HOP_BY_HOP, 0, 0), PROTO_ROUTING, id="after-routing"),
    ],
)
def test_hop_by_hop_not_first_is_parameter_problem_code_1_at_the_naming_next_header(before: bytes, first: int) -> None:
    bench = Bench()
    packet = echo_with(before + options_header(ICMPV6, pad(6)), first)
    assert bench.inject(packet) is Drop.IPV6_HOP_BY_HOP_NOT_FIRST
    # The Next Header field that named the misplaced header is the first octet of the header at 40.
    assert_param_problem(bench, 1, 40, packet)


def test_hop_by_hop_named_by_the_fixed_header_twice_points_at_offset_40() -> None:
    bench = Bench()
    packet = echo_with(options_header(PROTO_HOP_BY_HOP, pad(6)) + options_header(ICMPV6, pad(6)), PROTO_HOP_BY_HOP)
    assert bench.inject(packet) is Drop.IPV6_HOP_BY_HOP_NOT_FIRST
    assert_param_problem(bench, 1, 40, packet)


# ---- Destination Options, Routing, No Next Header, unknown Next Header ------------------------------


def test_destination_options_with_padding_are_processed() -> None:
    bench = Bench()
    ext = options_header(ICMPV6, option(0, b"") + pad(5))
    assert bench.inject(echo_with(ext, PROTO_DEST_OPTS)) is None
    assert_echo_reply(bench)


@pytest.mark.parametrize("routing_type", [0, 2, 3, 4, 253, 254])
def test_routing_header_with_segments_left_zero_is_skipped(routing_type: int) -> None:
    bench = Bench()
    assert bench.inject(echo_with(routing_header(ICMPV6, routing_type, 0), PROTO_ROUTING)) is None
    assert_echo_reply(bench)


@pytest.mark.parametrize(("routing_type", "segments_left"), [(0, 1), (0, 255), (2, 1), (253, 2), (254, 1)])
def test_routing_header_with_segments_left_is_parameter_problem_code_0_at_routing_type(
    routing_type: int, segments_left: int
) -> None:
    bench = Bench()
    packet = echo_with(routing_header(ICMPV6, routing_type, segments_left, bytes(4) + bytes(16)), PROTO_ROUTING)
    assert bench.inject(packet) is Drop.IPV6_ROUTING_TYPE_UNRECOGNIZED
    assert_param_problem(bench, 0, 42, packet)


def test_routing_header_after_destination_options_points_at_its_own_routing_type() -> None:
    bench = Bench()
    packet = echo_with(options_header(PROTO_ROUTING, pad(6)) + routing_header(ICMPV6, 0, 1), PROTO_DEST_OPTS)
    assert bench.inject(packet) is Drop.IPV6_ROUTING_TYPE_UNRECOGNIZED
    assert_param_problem(bench, 0, 50, packet)


@pytest.mark.parametrize(
    ("ext", "first"),
    [
        pytest.param(b"", PROTO_NO_NEXT_HEADER, id="fixed-header"),
        pytest.param(options_header(PROTO_NO_NEXT_HEADER, pad(6)), PROTO_DEST_OPTS, id="after-destopts"),
        pytest.param(options_header(PROTO_NO_NEXT_HEADER, pad(6)), PROTO_HOP_BY_HOP, id="after-hbh"),
    ],
)
def test_no_next_header_is_accepted_silently(ext: bytes, first: int) -> None:
    bench = Bench()
    # RFC 8200 §4.7: octets after a header whose Next Header is 59 "must be ignored".
    assert bench.inject(build_packet(TESTER, DUT, first, ext + b"trailing junk")) is None
    assert bench.sent() == []
    assert bench.nic_stats.rx_accepted == 1


@pytest.mark.parametrize(
    ("ext", "first", "pointer"),
    [
        pytest.param(b"", 253, 6, id="fixed-header"),
        pytest.param(options_header(253, pad(6)), PROTO_DEST_OPTS, 40, id="after-destopts"),
        pytest.param(options_header(PROTO_DEST_OPTS, pad(6)) + options_header(253, pad(6)), PROTO_HOP_BY_HOP, 48, id="after-two"),
    ],
)
def test_unknown_next_header_is_parameter_problem_code_1_at_its_field(ext: bytes, first: int, pointer: int) -> None:
    bench = Bench()
    packet = build_packet(TESTER, DUT, first, ext + bytes(8))
    assert bench.inject(packet) is Drop.IPV6_UNKNOWN_NEXT_HEADER
    assert_param_problem(bench, 1, pointer, packet)


# ---- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [PROTO_HOP_BY_HOP, PROTO_DEST_OPTS])
def test_unknown_option_00_is_skipped(header: int) -> None:
    bench = Bench()
    assert bench.inject(echo_with(options_header(ICMPV6, option(0x1E, b"ab")), header)) is None
    assert_echo_reply(bench)


@pytest.mark.parametrize("header", [PROTO_HOP_BY_HOP, PROTO_DEST_OPTS])
@pytest.mark.parametrize("multicast", [False, True], ids=["unicast", "multicast"])
def test_unknown_option_01_is_discarded_silently(header: int, multicast: bool) -> None:
    bench = Bench()
    dst, mac = (ALL_NODES, MCAST_MAC_ALL_NODES) if multicast else (DUT, None)
    packet = echo_with(options_header(ICMPV6, option(0x7E, b"ab")), header, dst)
    kwargs = {"eth_dst": mac} if mac else {}
    assert bench.inject(packet, **kwargs) is Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD
    assert bench.sent() == []


@pytest.mark.parametrize("header", [PROTO_HOP_BY_HOP, PROTO_DEST_OPTS])
def test_unknown_option_10_is_parameter_problem_code_2_at_the_option_type(header: int) -> None:
    bench = Bench()
    packet = echo_with(options_header(ICMPV6, pad(2) + option(0xBE, b"ab")), header)
    assert bench.inject(packet) is Drop.IPV6_UNRECOGNIZED_OPTION
    assert_param_problem(bench, 2, 44, packet)  # 40 + 2 (header) + 2 (PadN)


def test_unknown_option_10_to_multicast_is_answered_from_a_unicast_address() -> None:
    bench = Bench()
    packet = echo_with(options_header(ICMPV6, option(0x8F, b"")), PROTO_DEST_OPTS, ALL_NODES)
    assert bench.inject(packet, eth_dst=MCAST_MAC_ALL_NODES) is Drop.IPV6_UNRECOGNIZED_OPTION
    sent = bench.only_sent()
    assert isinstance(sent.message, ICMPv6Error)
    assert (sent.message.type, sent.message.code, sent.message.pointer) == (4, 2, 42)
    assert sent.ip.src.packed == DUT


def test_unknown_option_11_is_answered_for_unicast_only() -> None:
    bench = Bench()
    packet = echo_with(options_header(ICMPV6, option(0xC7, b"x")), PROTO_DEST_OPTS)
    assert bench.inject(packet) is Drop.IPV6_UNRECOGNIZED_OPTION
    assert_param_problem(bench, 2, 42, packet)
    mcast = echo_with(options_header(ICMPV6, option(0xC7, b"x")), PROTO_DEST_OPTS, ALL_NODES)
    assert bench.inject(mcast, eth_dst=MCAST_MAC_ALL_NODES) is Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD
    assert bench.sent() == []


def test_router_alert_in_hop_by_hop_is_accepted() -> None:
    bench = Bench()
    ext = options_header(ICMPV6, option(ipv6_ext.OPT_ROUTER_ALERT, b"\x00\x00"))
    assert bench.inject(echo_with(ext, PROTO_HOP_BY_HOP)) is None
    assert_echo_reply(bench)


def test_router_alert_with_a_bad_length_is_dropped() -> None:
    bench = Bench()
    ext = options_header(ICMPV6, option(ipv6_ext.OPT_ROUTER_ALERT, b"\x00\x00\x00"))
    assert bench.inject(echo_with(ext, PROTO_HOP_BY_HOP)) is Drop.IPV6_OPTION_TRUNCATED
    assert bench.sent() == []


def test_eight_options_are_processed_and_a_ninth_is_dropped() -> None:
    bench = Bench()
    eight = options_header(ICMPV6, option(0x1E) * 8)
    assert bench.inject(echo_with(eight, PROTO_DEST_OPTS)) is None
    assert_echo_reply(bench)
    nine = options_header(ICMPV6, option(0x1E) * 9)
    assert bench.inject(echo_with(nine, PROTO_DEST_OPTS)) is Drop.IPV6_TOO_MANY_OPTIONS
    assert bench.sent() == []
    assert bench.nic_stats.drops[Drop.IPV6_TOO_MANY_OPTIONS] == 1


# ---- chain limits --------------------------------------------------------------------------------


def destopts_chain(count: int, last_next: int = ICMPV6) -> bytes:
    return b"".join(options_header(PROTO_DEST_OPTS if i < count - 1 else last_next, pad(6)) for i in range(count))


def test_a_chain_at_the_header_count_limit_is_walked() -> None:
    bench = Bench()
    assert bench.inject(echo_with(destopts_chain(ipv6_ext.MAX_EXT_HEADERS), PROTO_DEST_OPTS)) is None
    assert_echo_reply(bench)


def test_a_chain_over_the_header_count_limit_is_dropped_and_counted() -> None:
    bench = Bench()
    packet = echo_with(destopts_chain(ipv6_ext.MAX_EXT_HEADERS + 1), PROTO_DEST_OPTS)
    assert bench.inject(packet) is Drop.IPV6_TOO_MANY_EXT_HEADERS
    assert bench.sent() == []
    assert bench.nic_stats.drops[Drop.IPV6_TOO_MANY_EXT_HEADERS] == 1


def big_destopts(next_header: int, length: int) -> bytes:
    """One Destination Options header of ``length`` octets (a multiple of 8) of skip-class unknown
    options (type 0x1E; PadN is limited to 7 octets, RFC 8504 5.3), 257 octets each but the last."""
    sizes = [min(257, length - 2 - i) for i in range(0, length - 2, 257)]
    body = b"".join(option(0x1E, bytes(n - 2)) if n >= 2 else pad(n) for n in sizes)
    return bytes([next_header, length // 8 - 1]) + body


def test_a_chain_at_the_total_length_limit_is_walked() -> None:
    ext = big_destopts(ICMPV6, ipv6_ext.MAX_EXT_CHAIN_LEN)
    packet = memoryview(echo_with(ext, PROTO_DEST_OPTS))
    chain = ipv6_ext.walk(packet)
    assert isinstance(chain, ipv6_ext.ExtChain)
    assert chain.upper_offset == 40 + ipv6_ext.MAX_EXT_CHAIN_LEN


def test_a_chain_over_the_total_length_limit_is_dropped_and_counted() -> None:
    bench = Bench()
    ext = big_destopts(PROTO_DEST_OPTS, 1024) + big_destopts(ICMPV6, 1032)
    assert bench.inject(echo_with(ext, PROTO_DEST_OPTS)) is Drop.IPV6_EXT_CHAIN_TOO_LONG
    assert bench.sent() == []
    assert bench.nic_stats.drops[Drop.IPV6_EXT_CHAIN_TOO_LONG] == 1


def test_forwarders_walk_only_the_hop_by_hop_header() -> None:
    # A Destination Options header with an 01 option is the destination's business.
    ext = options_header(PROTO_DEST_OPTS, pad(6)) + options_header(ICMPV6, option(0x7E))
    packet = memoryview(echo_with(ext, PROTO_HOP_BY_HOP))
    chain = ipv6_ext.walk(packet, hop_by_hop_only=True)
    assert isinstance(chain, ipv6_ext.ExtChain)
    assert (chain.upper_proto, chain.upper_offset) == (PROTO_DEST_OPTS, 48)
    assert ipv6_ext.walk(packet) is Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD
