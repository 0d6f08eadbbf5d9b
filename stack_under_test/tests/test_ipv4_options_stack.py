"""IPv4 options through the stack: echo replies carry RR/TS processed (RFC 1122 3.2.2.6), malformed
options earn a Parameter Problem naming the octet (RFC 1122 3.2.2.5), source-route policy."""

from __future__ import annotations

import struct

import pytest

from stack_under_test import Drop
from stack_under_test.buffer import PacketBuffer
from stack_under_test.network.ipv4 import options as ipv4_options_layer
from stack_under_test.tests._ipv4_bench import (
    BROADCAST_MAC,
    DUT,
    OTHER,
    OTHER_MAC,
    SUBNET_BROADCAST,
    TESTER,
    echo_request,
    eth,
    ipv4,
    make_bench,
    parse_out,
)
from stack_under_test.wire.ipv4 import IPv4Header
from stack_under_test.wire.ipv4_options import ParamProblem, Processed

RR_EMPTY = bytes((7, 11, 4)) + bytes(8) + b"\x00"  # room for two addresses, then EOL padding


def test_echo_reply_carries_record_route_with_our_address() -> None:
    bench = make_bench()
    assert bench.inject(eth(ipv4(echo_request(data=b"rr"), options=RR_EMPTY))) is None
    out = parse_out(bench.one())
    assert out.header[0] == 0x48 and out.src == DUT and out.dst == TESTER
    assert out.header[20:32] == bytes((7, 11, 8)) + DUT + bytes(4) + b"\x00"
    assert out.payload[0] == 0 and out.payload[8:] == b"rr"


def test_echo_reply_timestamps_are_milliseconds_of_the_virtual_clock() -> None:
    bench = make_bench()
    bench.clock.advance(86_400_000 + 12_345)  # one virtual day and 12.345 s past midnight UT
    opts = bytes((68, 12, 5, 0x01)) + bytes(8)  # flag 1: address and timestamp
    bench.inject(eth(ipv4(echo_request(), options=opts)))
    out = parse_out(bench.one())
    assert out.header[20:32] == bytes((68, 12, 13, 0x01)) + DUT + struct.pack("!I", 12_345)


def test_echo_reply_drops_unknown_options() -> None:
    bench = make_bench()
    bench.inject(eth(ipv4(echo_request(data=b"x"), options=b"\x88\x04\x12\x34")))
    out = parse_out(bench.one())
    assert out.header[0] == 0x45 and out.payload[8:] == b"x"


def test_echo_with_only_nops_is_answered_without_options() -> None:
    bench = make_bench()
    bench.inject(eth(ipv4(echo_request(), options=b"\x01\x01\x01\x00")))
    assert parse_out(bench.one()).header[0] == 0x45


@pytest.mark.parametrize(
    ("opts", "pointer"),
    [
        (bytes((7, 11, 3)) + bytes(8) + b"\x00", 22),
        (bytes((68, 8, 9, 0xF0)) + bytes(4), 23),
        (bytes((7, 7, 4)) + bytes(4) + bytes((7, 7, 4)) + bytes(4) + b"\x00\x00", 27),
        (b"\x07\x09\x04\x00", 20),
    ],
    ids=["rr-pointer", "ts-overflow", "rr-duplicate", "length-past-header"],
)
def test_malformed_option_is_dropped_with_a_parameter_problem(opts: bytes, pointer: int) -> None:
    bench = make_bench()
    assert bench.inject(eth(ipv4(echo_request(), options=opts))) is Drop.IPV4_BAD_OPTIONS
    out = parse_out(bench.one())
    assert out.proto == 1 and out.payload[0] == 12 and out.payload[1] == 0 and out.payload[4] == pointer
    assert out.payload[8:28] == ipv4(echo_request(), options=opts)[:20]  # the invoking header is quoted


def test_malformed_option_to_broadcast_is_dropped_silently() -> None:
    bench = make_bench()
    frame = eth(ipv4(echo_request(), dst=SUBNET_BROADCAST, options=b"\x07\x09\x04\x00"), dst=BROADCAST_MAC)
    assert bench.inject(frame) is Drop.IPV4_BAD_OPTIONS
    assert bench.sent() == []


def test_option_check_returns_the_problem_and_sends_nothing_itself() -> None:
    bench = make_bench()
    nic = bench.stack.nic("eth0")
    good = PacketBuffer(eth(ipv4(b"x" * 8, options=RR_EMPTY)), 14, nic)
    bad = PacketBuffer(eth(ipv4(b"x" * 8, options=b"\x07\x09\x04\x00")), 14, nic)
    checked = ipv4_options_layer.check(bench.stack, good, IPv4Header.read(good.data, 14))
    assert isinstance(checked, Processed) and checked.source_route == -1
    problem = ipv4_options_layer.check(bench.stack, bad, IPv4Header.read(bad.data, 14))
    assert problem == ParamProblem(20)  # RR longer than the options: Linux blames the type octet
    assert bench.sent() == []  # the caller answers with the Parameter Problem


# ---- source routes -------------------------------------------------------------------------------
def _lsrr(ptr: int, *hops: bytes) -> bytes:
    route = b"".join(hops)
    return bytes((131, 3 + len(route), ptr)) + route + b"\x00"


def test_source_routed_datagram_is_dropped_by_default_and_counted() -> None:
    bench = make_bench()
    frame = eth(ipv4(echo_request(), options=_lsrr(8, OTHER)))  # completed route ending at us
    assert bench.inject(frame) is Drop.IPV4_SOURCE_ROUTE_REJECTED
    assert bench.sent() == []  # silently, like Linux accept_source_route=0
    assert bench.nic_stats.drops[Drop.IPV4_SOURCE_ROUTE_REJECTED] == 1


def test_incomplete_source_route_refused_by_default_draws_source_route_failed() -> None:
    bench = make_bench()
    frame = eth(ipv4(echo_request(), options=_lsrr(4, OTHER)))  # OTHER is the hop after us
    assert bench.inject(frame) is Drop.IPV4_SOURCE_ROUTE_NOT_FOLLOWED
    error = parse_out(bench.one())
    # RFC 1122 3.3.5: Destination Unreachable, code 5 (Source Route Failed).
    assert (error.proto, error.payload[0], error.payload[1]) == (1, 3, 5)


def test_return_route_leaves_out_the_source_host_it_recorded() -> None:
    bench = make_bench()
    bench.stack.set_accept_source_route(True)
    bench.stack.add_static_neighbor("eth0", "198.51.100.3", bytes.fromhex("020000000003"))
    # RFC 1122 3.2.1.8 case (B): the tester recorded itself, then OTHER: {TESTER, OTHER >>}.
    frame = eth(ipv4(echo_request(), options=_lsrr(12, TESTER, OTHER)))
    assert bench.inject(frame) is None
    reply = parse_out(bench.one())
    assert reply.dst == OTHER  # the first hop back
    assert reply.header[20:27] == bytes((131, 7, 4)) + TESTER  # {TESTER}, not {TESTER, TESTER}


def test_accepted_completed_source_route_echo_reply_uses_the_reversed_route() -> None:
    bench = make_bench()
    bench.stack.set_accept_source_route(True)
    bench.stack.add_static_neighbor("eth0", "198.51.100.3", OTHER_MAC)
    # The tester sent via OTHER, which recorded itself: the route is completed (pointer > length).
    assert bench.inject(eth(ipv4(echo_request(), options=_lsrr(8, OTHER)))) is None
    frame = bench.one()
    out = parse_out(frame)
    assert frame[:6] == OTHER_MAC and out.dst == OTHER and out.src == DUT
    assert out.header[20:27] == bytes((131, 7, 4)) + TESTER


def test_accepted_incomplete_source_route_without_forwarding_fails() -> None:
    bench = make_bench()
    bench.stack.set_accept_source_route(True)
    frame = eth(ipv4(echo_request(), options=_lsrr(4, OTHER)))
    assert bench.inject(frame) is Drop.IPV4_SOURCE_ROUTE_FAILED
    out = parse_out(bench.one())
    assert out.payload[0] == 3 and out.payload[1] == 5  # Destination Unreachable, source route failed


def test_accepted_source_route_to_a_broadcast_is_dropped() -> None:
    bench = make_bench()
    bench.stack.set_accept_source_route(True)
    bench.stack.set_echo_ignore_broadcasts(False)
    frame = eth(ipv4(echo_request(), dst=SUBNET_BROADCAST, options=_lsrr(8, OTHER)), dst=BROADCAST_MAC)
    assert bench.inject(frame) is Drop.IPV4_SOURCE_ROUTE_FAILED
    assert bench.sent() == []
