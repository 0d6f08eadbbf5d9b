"""IPv6 Fragment header processing and source fragmentation through the whole stack (RFC 8200 4.5).

Also RFC 5722 (overlaps), RFC 6946 (atomic fragments), RFC 7112 (first fragment's header chain),
RFC 6980 (fragmented NDP), RFC 7739 / RFC 8021 on send.
"""

from __future__ import annotations

import random
from ipaddress import IPv6Address

import pytest

from stack_under_test import Drop
from stack_under_test.network.fragmentation import Reassembled, Reassembler
from stack_under_test.tests._ipv6_bench import DUT, ICMPV6, TESTER, TESTER_MAC, Bench, Sent, udp_packet
from stack_under_test.wire import icmpv6
from stack_under_test.wire.icmpv6 import EchoReply, EchoRequest, ICMPv6Error
from stack_under_test.wire.ipv6 import build_packet, solicited_node
from stack_under_test.wire.ipv6_ext import FragmentHeader, option, options_header
from stack_under_test.wire.ndp import NeighborSolicit

TIMEOUT = 60_000  # RFC 8200 4.5
DATA = bytes(range(256)) * 12  # 3,072 octets: the reply is fragmented too


def frag(body: bytes, offset: int, length: int, more: bool, ident: int = 0xBEEF, nh: int = ICMPV6,
         src: bytes = TESTER, dst: bytes = DUT) -> bytes:
    """A fragment packet carrying ``body[offset:offset + length]`` (body: the fragmentable part)."""
    return build_packet(src, dst, 44, FragmentHeader(nh, offset, more, ident).encode() + body[offset : offset + length])


def cut(body: bytes, size: int, ident: int = 0xBEEF, nh: int = ICMPV6) -> list[bytes]:
    return [frag(body, o, size, o + size < len(body), ident, nh) for o in range(0, len(body), size)]


def echo(data: bytes = DATA) -> bytes:
    return icmpv6.encode(EchoRequest(0x5C, 1, data), TESTER, DUT)


def reassemble_sent(sent: list[Sent]) -> bytes:
    r = Reassembler(Bench().clock, lambda: TIMEOUT)
    result = None
    for s in sent:
        assert s.ip.next_header == 44 and len(s.payload) + 40 <= 1500
        fh = FragmentHeader.parse(memoryview(s.payload))
        assert isinstance(fh, FragmentHeader)
        result = r.add(fh.ident, fh.offset, s.payload[8:], fh.more)
    assert isinstance(result, Reassembled)
    return result.payload


def echo_reply_data(bench: Bench) -> bytes:
    body = reassemble_sent(bench.sent())
    msg = icmpv6.parse(memoryview(body), DUT, TESTER)
    assert isinstance(msg, EchoReply), msg
    return msg.data


@pytest.mark.parametrize("order", ["in-order", "reversed", "shuffled"])
def test_fragmented_echo_request_is_answered(order: str) -> None:
    bench = Bench()
    frames = cut(echo(), 1024)
    if order == "reversed":
        frames.reverse()
    elif order == "shuffled":
        random.Random(4).shuffle(frames)
    assert [bench.inject(f) for f in frames] == [None] * len(frames)
    assert echo_reply_data(bench) == DATA


def test_duplicates_are_tolerated() -> None:
    bench = Bench()
    frames = cut(echo(), 1024)
    assert bench.inject(frames[1]) is None
    assert bench.inject(frames[1]) is Drop.FRAGMENT_DUPLICATE
    assert all(bench.inject(f) is None for f in (frames[0], frames[2], frames[3]))
    assert echo_reply_data(bench) == DATA


def test_overlapping_fragments_discard_the_datagram_and_its_later_fragments() -> None:
    bench = Bench()
    body = echo(bytes(120))  # 128 octets
    assert bench.inject(frag(body, 0, 72, True)) is None
    assert bench.inject(frag(body, 64, 64, False)) is Drop.FRAGMENT_OVERLAP
    assert bench.inject(frag(body, 72, 56, False)) is Drop.FRAGMENT_OF_DISCARDED_DATAGRAM
    bench.clock.advance(TIMEOUT + 1)
    assert bench.sent() == []  # RFC 5722: silently; no Time Exceeded either


def test_atomic_fragment_is_processed_on_its_own() -> None:
    bench = Bench()
    body = echo(b"atomic")
    # A queue with the same identification exists: RFC 6946 4 says never to merge with it.
    assert bench.inject(frag(echo(DATA), 1024, 1024, True)) is None
    assert bench.inject(frag(body, 0, len(body), False)) is None
    reply = bench.only_sent()
    assert isinstance(reply.message, EchoReply) and reply.message.data == b"atomic"
    assert reply.ip.next_header == ICMPV6  # and we never send atomic fragments (RFC 8021)


def test_first_fragment_without_the_upper_layer_header_gets_parameter_problem_code_3() -> None:
    bench = Bench()
    dest_opts = options_header(17, option(1, bytes(12)))  # 16 octets of Destination Options, then UDP
    body = dest_opts + udp_packet(TESTER, DUT, 1, 7, DATA)[40:]
    assert bench.inject(frag(body, 0, 8, True, nh=60)) is Drop.IPV6_FIRST_FRAGMENT_INCOMPLETE_CHAIN
    err = bench.only_sent().message
    assert isinstance(err, ICMPv6Error) and (err.type, err.code, err.param) == (4, 3, 0)
    assert bench.inject(frag(body, 0, 16, True, nh=60, ident=2)) is Drop.IPV6_FIRST_FRAGMENT_INCOMPLETE_CHAIN
    assert len(bench.sent()) == 1  # the UDP header is part of the chain (RFC 7112 5)
    # The whole chain present, even with little data after it: queued.
    assert bench.inject(frag(body, 0, 24, True, nh=60, ident=3)) is None
    assert bench.sent() == []
    # An ICMPv6 first fragment without its ICMPv6 header is answered too (Linux is_ineligible()
    # treats a fragment with no ICMPv6 header as eligible).
    short = options_header(ICMPV6, option(1, bytes(12))) + echo()
    assert bench.inject(frag(short, 0, 16, True, nh=60, ident=4)) is Drop.IPV6_FIRST_FRAGMENT_INCOMPLETE_CHAIN
    err = bench.only_sent().message
    assert isinstance(err, ICMPv6Error) and (err.type, err.code, err.param) == (4, 3, 0)


def test_non_last_fragment_not_a_multiple_of_8_gets_parameter_problem_at_payload_length() -> None:
    bench = Bench()
    assert bench.inject(frag(echo(), 0, 100, True)) is Drop.IPV6_FRAGMENT_LENGTH_NOT_MULTIPLE_OF_8
    err = bench.only_sent().message
    assert isinstance(err, ICMPv6Error) and (err.type, err.code, err.param) == (4, 0, 4)


def test_fragment_beyond_65535_gets_parameter_problem_at_the_fragment_offset() -> None:
    bench = Bench()
    body = bytes(65_600)
    assert bench.inject(frag(body, 65_528, 16, False)) is Drop.IPV6_FRAGMENT_BEYOND_MAX
    err = bench.only_sent().message
    assert isinstance(err, ICMPv6Error) and (err.type, err.code, err.param) == (4, 0, 42)
    assert bench.inject(frag(body, 65_528, 7, False)) is None  # ends at 65,535 exactly


def test_missing_last_fragment_times_out_with_time_exceeded_quoting_the_first() -> None:
    bench = Bench()
    first = frag(echo(), 0, 1024, True)
    assert bench.inject(first) is None
    bench.clock.advance(TIMEOUT - 1)
    assert bench.sent() == []
    bench.clock.advance(1)
    sent = bench.only_sent()
    err = sent.message
    assert isinstance(err, ICMPv6Error) and (err.type, err.code) == (3, 1)
    assert sent.ip.dst.packed == TESTER
    assert err.invoking == first[: len(err.invoking)] and len(err.invoking) >= 48 + 8


def test_missing_first_fragment_times_out_silently() -> None:
    bench = Bench()
    assert bench.inject(frag(echo(), 1024, 1024, True)) is None
    bench.clock.advance(TIMEOUT)
    assert bench.sent() == []


def test_set_timer_changes_the_reassembly_timeout() -> None:
    bench = Bench()
    bench.stack.set_timer("ipv6_reassembly_timeout", 2_000)
    assert bench.inject(frag(echo(), 0, 1024, True)) is None
    bench.clock.advance(1_999)
    assert bench.sent() == []
    bench.clock.advance(1)
    assert isinstance(bench.only_sent().message, ICMPv6Error)


def test_fragmented_neighbor_solicitation_is_ignored() -> None:
    bench = Bench()
    ns = icmpv6.encode(NeighborSolicit(IPv6Address(DUT)), TESTER, solicited_node(DUT))
    atomic = build_packet(TESTER, solicited_node(DUT), 44, FragmentHeader(ICMPV6, 0, False, 9).encode() + ns, 255)
    assert bench.inject(atomic, eth_dst=bytes.fromhex("3333ff000001")) is Drop.NDP_FRAGMENTED
    assert bench.sent() == []


def test_nested_fragment_header_is_dropped() -> None:
    bench = Bench()
    inner = FragmentHeader(ICMPV6, 0, False, 2).encode() + echo(b"x")
    assert bench.inject(frag(inner, 0, len(inner), False, nh=44)) is Drop.IPV6_FRAGMENT_NESTED


def test_reassembled_udp_reaches_the_socket() -> None:
    bench = Bench()
    sock = bench.stack.udp_bind("::", 7)
    data = random.Random(2).randbytes(4_000)
    body = udp_packet(TESTER, DUT, 1234, 7, data)[40:]
    frames = cut(body, 1232, nh=17)
    random.Random(3).shuffle(frames)
    assert all(bench.inject(f) is None for f in frames)
    assert sock.recv() == (data, "2001:db8:1::2", 1234)


def test_udp_send_larger_than_the_mtu_uses_a_fragment_header_with_random_ids() -> None:
    bench = Bench()
    sock = bench.stack.udp_bind("::", 7)
    data = random.Random(5).randbytes(3_000)
    sock.sendto(data, "2001:db8:1::2", 9)
    sent = bench.sent()
    assert len(sent) == 3 and all(s.eth_dst == TESTER_MAC for s in sent)
    body = reassemble_sent(sent)
    assert body[8:] == data
    ids = {FragmentHeader.parse(memoryview(s.payload)).ident for s in sent}  # type: ignore[union-attr]
    sock.sendto(data, "2001:db8:1::2", 9)
    ids2 = {FragmentHeader.parse(memoryview(s.payload)).ident for s in bench.sent()}  # type: ignore[union-attr]
    assert len(ids) == len(ids2) == 1 and ids != ids2 and ids2 != {next(iter(ids)) + 1}  # RFC 7739
    sock.sendto(b"small", "2001:db8:1::2", 9)
    assert bench.only_sent().ip.next_header == 17  # RFC 8021: no atomic fragments


def test_route_mtu_is_the_path_mtu_for_fragmentation() -> None:
    bench = Bench()
    bench.stack.add_route("2001:db8:2::/64", "eth0", gateway="2001:db8:1::2", mtu=1280)
    sock = bench.stack.udp_bind("::", 7)
    sock.sendto(bytes(2_000), "2001:db8:2::9", 9)
    sent = bench.sent()
    assert len(sent) == 2 and all(len(s.payload) + 40 <= 1280 for s in sent)


def test_reassembled_packet_beyond_65535_with_its_unfragmentable_part_is_dropped() -> None:
    bench = Bench()
    dest_opts = options_header(44, option(0x1E, bytes(12)))  # 16 octets, then the Fragment header
    body = echo(bytes(65_520 - 8))  # 65,520 octets after it: offset + length stay within 65,535
    frames = []
    for o in range(0, len(body), 1232):
        chunk = body[o : o + 1232]
        fh = FragmentHeader(ICMPV6, o, o + 1232 < len(body), 0x99).encode()
        frames.append(build_packet(TESTER, DUT, 60, dest_opts + fh + chunk))
    verdicts = [bench.inject(f) for f in frames]
    assert verdicts[:-1] == [None] * (len(frames) - 1)
    assert verdicts[-1] is Drop.FRAGMENT_REASSEMBLED_TOO_LONG  # Payload Length 16 + 65,520 > 65,535 (RFC 8200 4.5)
    assert bench.sent() == []


def test_dont_fragment_refuses_a_packet_over_the_path_mtu_instead_of_fragmenting_it() -> None:
    bench = Bench()
    route = bench.stack.find_route(TESTER)
    assert route is not None
    assert route.endpoint.write_packet(route, 253, bytes(1460), dont_fragment=True) is None
    assert len(bench.sent()) == 1
    assert route.endpoint.write_packet(route, 253, bytes(1461), dont_fragment=True) is Drop.PACKET_TOO_BIG
    assert bench.sent() == [] and bench.stack.stats.tx_drops[Drop.PACKET_TOO_BIG] == 1
