"""Jumbo Payload option (RFC 2675) on a link that cannot carry jumbograms: RFC 2675 §3's error rules."""

from __future__ import annotations

import struct

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._ipv6_bench import DUT, ICMPV6, TESTER, Bench
from stack_under_test.wire import icmpv6
from stack_under_test.wire.icmpv6 import EchoRequest, ICMPv6Error
from stack_under_test.wire.ipv6 import build_header
from stack_under_test.wire.ipv6_ext import FragmentHeader, option, options_header, pad
from stack_under_test.wire.ipv6_options import OPT_JUMBO
from stack_under_test.wire.numbers import PROTO_DEST_OPTS, PROTO_FRAGMENT, PROTO_HOP_BY_HOP

ECHO = icmpv6.encode(EchoRequest(1, 1, b"jumbo?"), TESTER, DUT)


def jumbo(length: int) -> bytes:
    return option(OPT_JUMBO, struct.pack("!I", length))


def packet(payload_length: int | None, first: int, ext: bytes, body: bytes = ECHO) -> bytes:
    """Fixed header + ext + body; Payload Length as given (None = the true length)."""
    rest = ext + body
    length = len(rest) if payload_length is None else payload_length
    return build_header(TESTER, DUT, first, length) + rest


def assert_param_problem(bench: Bench, code: int, pointer: int) -> None:
    sent = bench.only_sent()
    assert isinstance(sent.message, ICMPv6Error), sent.message
    assert (sent.message.type, sent.message.code, sent.message.pointer) == (4, code, pointer)
    assert sent.ip.dst.packed == TESTER


def test_a_well_formed_jumbogram_is_dropped_silently_on_a_non_jumbo_link() -> None:
    bench = Bench()
    # The Jumbo option at offset 42 satisfies the 4n+2 alignment (RFC 2675 §2).
    frame = packet(0, PROTO_HOP_BY_HOP, options_header(ICMPV6, jumbo(70_000)))
    assert bench.inject(frame) is Drop.IPV6_JUMBOGRAM_NOT_SUPPORTED
    assert bench.sent() == []


@pytest.mark.parametrize("length", [0, 1280, 65535])
def test_jumbo_payload_length_below_65536_points_at_its_high_order_octet(length: int) -> None:
    bench = Bench()
    frame = packet(0, PROTO_HOP_BY_HOP, options_header(ICMPV6, jumbo(length)))
    assert bench.inject(frame) is Drop.IPV6_JUMBO_LENGTH_TOO_SMALL
    assert_param_problem(bench, 0, 44)


def test_jumbo_option_with_a_non_zero_payload_length_points_at_the_option_type() -> None:
    bench = Bench()
    frame = packet(None, PROTO_HOP_BY_HOP, options_header(ICMPV6, jumbo(70_000)))
    assert bench.inject(frame) is Drop.IPV6_JUMBO_WITH_PAYLOAD_LENGTH
    assert_param_problem(bench, 0, 42)


def test_zero_payload_length_with_hop_by_hop_and_no_jumbo_option_points_at_payload_length() -> None:
    bench = Bench()
    frame = packet(0, PROTO_HOP_BY_HOP, options_header(ICMPV6, pad(6)))
    assert bench.inject(frame) is Drop.IPV6_ZERO_PAYLOAD_LENGTH
    assert_param_problem(bench, 0, 4)


def test_zero_payload_length_without_hop_by_hop_is_an_empty_packet() -> None:
    bench = Bench()
    # Next Header 59 and no payload: a legitimate, empty packet.
    assert bench.inject(build_header(TESTER, DUT, 59, 0)) is None
    assert bench.sent() == []


def test_jumbo_option_with_a_fragment_header_points_at_the_fragment_header() -> None:
    bench = Bench()
    frag = FragmentHeader(ICMPV6, 0, True, 0x1234).encode()
    frame = packet(0, PROTO_HOP_BY_HOP, options_header(PROTO_FRAGMENT, jumbo(70_000)) + frag)
    assert bench.inject(frame) is Drop.IPV6_JUMBO_WITH_FRAGMENT
    assert_param_problem(bench, 0, 48)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(option(OPT_JUMBO, b"\x00\x01\x11\x70\x00"), id="length-5"),
        pytest.param(b"\x00" + jumbo(70_000), id="misaligned"),
    ],
)
def test_malformed_jumbo_option_is_dropped_silently(options: bytes) -> None:
    bench = Bench()
    frame = packet(0, PROTO_HOP_BY_HOP, options_header(ICMPV6, options))
    assert bench.inject(frame) is Drop.IPV6_JUMBO_BAD_OPTION
    assert bench.sent() == []


def test_jumbo_option_in_destination_options_is_an_unrecognized_11_option() -> None:
    bench = Bench()
    frame = packet(None, PROTO_DEST_OPTS, options_header(ICMPV6, jumbo(70_000)))
    assert bench.inject(frame) is Drop.IPV6_UNRECOGNIZED_OPTION
    assert_param_problem(bench, 2, 42)
