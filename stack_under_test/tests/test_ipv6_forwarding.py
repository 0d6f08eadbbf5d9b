"""IPv6 forwarding (stack.set_forwarding(6, True)): hop limit, scope, MTU, no route, resolution
failure, and what a router leaves alone."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from stack_under_test import ChannelEndpoint
from stack_under_test.drops import Drop
from stack_under_test.tests._ipv6_bench import (
    DUT,
    DUT_LL,
    ICMPV6,
    OTHER,
    OTHER_MAC,
    TESTER,
    TESTER_LL,
    TESTER_MAC,
    Bench,
    parse_sent,
    udp_packet,
)
from stack_under_test.wire import icmpv6
from stack_under_test.wire.icmpv6 import EchoRequest, ICMPv6Error
from stack_under_test.wire.ipv6 import build_header
from stack_under_test.wire.ipv6_ext import option, options_header, pad
from stack_under_test.wire.ndp import NeighborSolicit
from stack_under_test.wire.numbers import PROTO_HOP_BY_HOP

REMOTE = IPv6Address("2001:db8:2::5").packed
FAR = IPv6Address("2001:db8:9::9").packed
OTHER_LL = IPv6Address("fe80::ff:fe00:3").packed
ETH1_MAC = bytes.fromhex("020000000011")
HOST_B = IPv6Address("2001:db8:3::2").packed
HOST_B_MAC = bytes.fromhex("020000000012")

DEST_UNREACHABLE, PACKET_TOO_BIG, TIME_EXCEEDED, PARAMETER_PROBLEM = 1, 2, 3, 4


def router(*, route_mtu: int | None = None) -> Bench:
    bench = Bench()
    bench.stack.set_forwarding(6, True)
    bench.stack.add_static_neighbor("eth0", "2001:db8:1::3", OTHER_MAC)
    bench.stack.add_route("2001:db8:2::/64", "eth0", gateway="2001:db8:1::3", mtu=route_mtu)
    return bench


def packet(src: bytes = TESTER, dst: bytes = REMOTE, hop_limit: int = 64, size: int = 32, flow: int = 0x12345) -> bytes:
    data = bytes(range(256)) * (size // 256 + 1)
    body = udp_packet(src, dst, 1000, 2000, data[:size])[40:]
    return build_header(src, dst, 17, len(body), hop_limit, 0x20, flow) + body


def only_error(bench: Bench) -> ICMPv6Error:
    sent = bench.only_sent()
    assert isinstance(sent.message, ICMPv6Error), sent.message
    assert (sent.ip.src.packed, sent.ip.dst.packed, sent.eth_dst) == (DUT, TESTER, TESTER_MAC)
    return sent.message


def test_without_forwarding_a_packet_not_for_us_is_dropped() -> None:
    bench = router()
    bench.stack.set_forwarding(6, False)
    assert bench.inject(packet()) is Drop.IPV6_NOT_FOR_US
    assert bench.sent() == []


def test_a_packet_is_forwarded_back_out_of_the_same_link_with_the_hop_limit_decremented() -> None:
    bench = router()
    original = packet(hop_limit=64)
    assert bench.inject(original) is None
    sent = bench.only_sent()
    assert (sent.eth_dst, sent.eth_src) == (OTHER_MAC, bytes.fromhex("020000000001"))
    forwarded = sent.ip.encode() + sent.payload
    # Only the Hop Limit changed: Traffic Class, Flow Label (RFC 6437 §2) and payload are intact.
    assert forwarded == original[:7] + bytes([63]) + original[8:]
    assert bench.nic_stats.events["ipv6_forwarded"] == 1


def test_an_on_link_destination_is_forwarded_straight_to_it() -> None:
    bench = router()
    assert bench.inject(packet(dst=OTHER)) is None
    _redirect, sent = bench.sent()  # redirect.py: the tester is told to send to OTHER directly
    assert (sent.eth_dst, sent.ip.dst.packed, sent.ip.hop_limit) == (OTHER_MAC, OTHER, 63)


@pytest.mark.parametrize("hop_limit", [0, 1])
def test_hop_limit_running_out_is_time_exceeded_code_0(hop_limit: int) -> None:
    bench = router()
    original = packet(hop_limit=hop_limit)
    assert bench.inject(original) is Drop.IPV6_HOP_LIMIT_EXCEEDED
    error = only_error(bench)
    assert (error.type, error.code, error.invoking) == (TIME_EXCEEDED, 0, original)


def test_hop_limit_2_is_forwarded_with_1() -> None:
    bench = router()
    assert bench.inject(packet(hop_limit=2)) is None
    assert bench.only_sent().ip.hop_limit == 1


def test_no_route_is_destination_unreachable_code_0() -> None:
    bench = router()
    original = packet(dst=FAR)
    assert bench.inject(original) is Drop.IPV6_FORWARD_NO_ROUTE
    error = only_error(bench)
    assert (error.type, error.code, error.invoking) == (DEST_UNREACHABLE, 0, original)


def test_no_route_wins_over_an_expired_hop_limit_like_linux() -> None:
    bench = router()
    assert bench.inject(packet(dst=FAR, hop_limit=1)) is Drop.IPV6_FORWARD_NO_ROUTE
    assert only_error(bench).code == 0


def test_a_packet_over_the_route_mtu_is_packet_too_big_and_never_fragmented() -> None:
    bench = router(route_mtu=1400)
    original = packet(size=1400 - 48 + 1)  # 1401 octets
    assert bench.inject(original) is Drop.IPV6_FORWARD_TOO_BIG
    error = only_error(bench)
    assert (error.type, error.code, error.mtu) == (PACKET_TOO_BIG, 0, 1400)
    assert error.invoking == original[:1232]


def test_a_packet_exactly_at_the_route_mtu_is_forwarded() -> None:
    bench = router(route_mtu=1400)
    assert bench.inject(packet(size=1400 - 48)) is None
    assert bench.only_sent().eth_dst == OTHER_MAC


def test_a_packet_over_the_link_mtu_is_packet_too_big_with_the_link_mtu() -> None:
    bench = router()
    bench.stack.set_link_mtu("eth0", 1300)
    assert bench.inject(packet(size=1300 - 48 + 1)) is Drop.IPV6_FORWARD_TOO_BIG
    assert only_error(bench).mtu == 1300


def test_the_unspecified_source_is_never_forwarded() -> None:
    bench = router()
    assert bench.inject(packet(src=bytes(16))) is Drop.IPV6_UNSPECIFIED_SOURCE_FORWARD
    assert bench.sent() == []


def test_a_link_layer_multicast_frame_is_not_forwarded() -> None:
    bench = router()
    assert bench.inject(packet(), eth_dst=bytes.fromhex("333300000001")) is Drop.IPV6_NOT_FOR_US
    assert bench.sent() == []


def test_a_link_local_destination_stays_on_its_link() -> None:
    bench = router()
    bench.stack.add_static_neighbor("eth0", "fe80::ff:fe00:3", OTHER_MAC)
    assert bench.inject(packet(src=TESTER_LL, dst=OTHER_LL)) is None
    _redirect, sent = bench.sent()
    assert (sent.eth_dst, sent.ip.dst.packed) == (OTHER_MAC, OTHER_LL)


def test_a_link_local_source_is_forwarded_on_its_own_link() -> None:
    bench = router()
    assert bench.inject(packet(src=TESTER_LL)) is None
    assert bench.only_sent().eth_dst == OTHER_MAC


def two_links() -> tuple[Bench, ChannelEndpoint]:
    bench = router()
    link1 = bench.bench.add_nic("eth1", ETH1_MAC)  # usable at once, as the bench's eth0
    bench.stack.add_address("eth1", "2001:db8:3::1/64")
    bench.stack.add_static_neighbor("eth1", "2001:db8:3::2", HOST_B_MAC)
    link1.drain()
    return bench, link1


def test_a_packet_is_forwarded_to_another_link() -> None:
    bench, link1 = two_links()
    assert bench.inject(packet(dst=HOST_B)) is None
    (frame,) = link1.drain()
    sent = parse_sent(frame)
    assert (sent.eth_dst, sent.ip.dst.packed, sent.ip.hop_limit) == (HOST_B_MAC, HOST_B, 63)
    assert bench.sent() == []


def test_a_link_local_source_is_not_forwarded_to_another_link() -> None:
    bench, link1 = two_links()
    original = packet(src=TESTER_LL, dst=HOST_B)
    assert bench.inject(original) is Drop.IPV6_FORWARD_BEYOND_SCOPE
    assert link1.drain() == []
    sent = bench.only_sent()
    assert isinstance(sent.message, ICMPv6Error)
    assert (sent.message.type, sent.message.code, sent.message.invoking) == (DEST_UNREACHABLE, 2, original)
    assert (sent.ip.dst.packed, sent.ip.src.packed) == (TESTER_LL, DUT_LL)


def test_our_address_on_another_nic_is_delivered_not_forwarded() -> None:
    bench, link1 = two_links()
    bench.stack.udp_bind("::", 2000)
    assert bench.inject(packet(dst=IPv6Address("2001:db8:3::1").packed)) is None
    assert link1.drain() == [] and bench.sent() == []


def test_errors_about_a_forwarded_packet_leave_by_the_route_to_its_source() -> None:
    bench, link1 = two_links()
    bench.stack.set_forwarding(6, True)
    link1.inject_inbound(ETH1_MAC + HOST_B_MAC + b"\x86\xdd" + packet(src=HOST_B, dst=FAR))
    (frame,) = link1.drain()
    sent = parse_sent(frame)
    assert isinstance(sent.message, ICMPv6Error)
    assert (sent.message.type, sent.message.code) == (DEST_UNREACHABLE, 0)
    assert (sent.ip.src.packed, sent.ip.dst.packed) == (IPv6Address("2001:db8:3::1").packed, HOST_B)


def test_resolution_failure_of_the_next_hop_is_destination_unreachable_code_3() -> None:
    bench = Bench()
    bench.stack.set_forwarding(6, True)
    bench.stack.add_route("2001:db8:2::/64", "eth0", gateway="2001:db8:1::7")  # never answers
    original = packet()
    assert bench.inject(original) is None
    solicitations = bench.sent()
    assert solicitations and all(isinstance(s.message, NeighborSolicit) for s in solicitations)
    bench.clock.advance(3_000)  # MAX_MULTICAST_SOLICIT (3) x RETRANS_TIMER (1 s)
    errors = [s.message for s in bench.sent() if isinstance(s.message, ICMPv6Error)]
    assert len(errors) == 1
    assert (errors[0].type, errors[0].code, errors[0].invoking) == (DEST_UNREACHABLE, 3, original[:7] + b"\x3f" + original[8:])


def test_hop_by_hop_options_are_checked_by_a_router() -> None:
    bench = router()
    hbh = options_header(17, option(0xBE, b""))
    body = udp_packet(TESTER, REMOTE, 1, 2, b"x")[40:]
    original = build_header(TESTER, REMOTE, PROTO_HOP_BY_HOP, len(hbh) + len(body)) + hbh + body
    assert bench.inject(original) is Drop.IPV6_UNRECOGNIZED_OPTION
    error = only_error(bench)
    assert (error.type, error.code, error.pointer) == (PARAMETER_PROBLEM, 2, 42)


def test_destination_options_are_not_a_routers_business() -> None:
    bench = router()
    dest = options_header(17, option(0x7E, b"") + pad(4))  # 01: the destination discards it
    body = udp_packet(TESTER, REMOTE, 1, 2, b"x")[40:]
    original = build_header(TESTER, REMOTE, 60, len(dest) + len(body)) + dest + body
    assert bench.inject(original) is None
    assert bench.only_sent().eth_dst == OTHER_MAC


def test_a_multicast_destination_we_did_not_join_is_not_forwarded() -> None:
    bench = router()
    group = IPv6Address("ff0e::1234").packed
    assert bench.inject(packet(dst=group), eth_dst=bytes.fromhex("333300001234")) is Drop.IPV6_NOT_FOR_US
    assert bench.sent() == []


def test_icmpv6_to_a_remote_host_is_forwarded_too() -> None:
    bench = router()
    message = icmpv6.encode(EchoRequest(1, 1, b"ping"), TESTER, REMOTE)
    assert bench.inject(build_header(TESTER, REMOTE, ICMPV6, len(message)) + message) is None
    assert bench.only_sent().eth_dst == OTHER_MAC
