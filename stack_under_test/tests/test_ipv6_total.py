"""Every IPv6 frame gets exactly one verdict and never an exception (DESIGN rule 2)."""

from __future__ import annotations

from ipaddress import IPv6Address

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stack_under_test.drops import Drop
from stack_under_test.tests._ipv6_bench import (
    DUT,
    DUT_MAC,
    TESTER,
    TESTER_MAC,
    Bench,
    icmp_packet,
    udp_packet,
)
from stack_under_test.wire.icmpv6 import EchoRequest, ICMPv6Error
from stack_under_test.wire.ipv6 import build_packet, solicited_node
from stack_under_test.wire.ipv6_ext import FragmentHeader, option, options_header, routing_header
from stack_under_test.wire.ndp import NeighborAdvert, NeighborSolicit, source_link_option, target_link_option

SEEDS = [
    icmp_packet(TESTER, DUT, EchoRequest(1, 2, b"abcdef")),
    icmp_packet(TESTER, solicited_node(DUT), NeighborSolicit(IPv6Address(DUT), source_link_option(TESTER_MAC)), hop_limit=255),
    icmp_packet(TESTER, DUT, NeighborAdvert(IPv6Address(TESTER), False, True, True, target_link_option(TESTER_MAC)), hop_limit=255),
    icmp_packet(TESTER, DUT, ICMPv6Error(1, 4, 0, udp_packet(DUT, TESTER, 1, 2, b"x"))),
    udp_packet(TESTER, DUT, 1000, 7, b"payload"),
    build_packet(
        TESTER,
        DUT,
        0,
        options_header(60, option(5, b"\0\0")) + options_header(43, option(0x1E, b"ab")) + routing_header(44, 0, 0)
        + FragmentHeader(58, 0, True, 9).encode() + bytes(16),
    ),
]


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for i in draw(st.lists(st.integers(0, len(raw) - 1), max_size=4)):
        raw[i] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(raw)))
    return bytes(raw[:cut])


_BENCH = Bench()
_BENCH.stack.udp_bind("::", 7)


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet=st.binary(max_size=200) | frames())
def test_every_ipv6_frame_gets_exactly_one_verdict(packet: bytes) -> None:
    stats = _BENCH.stack.stats
    before_rx, before_drops = stats.rx_frames, sum(stats.drops.values())
    verdict = _BENCH.link.inject_inbound(DUT_MAC + TESTER_MAC + b"\x86\xdd" + packet)
    assert verdict is None or isinstance(verdict, Drop)
    assert stats.rx_frames == before_rx + 1
    assert sum(stats.drops.values()) - before_drops == (verdict is not None)
    for frame in _BENCH.link.drain():
        if frame[20] == 58 and frame[54] < 128:  # an ICMPv6 error of ours fits the minimum MTU
            assert len(frame) <= 14 + 1280


# A router with a route back onto the link: mutated packets to other destinations exercise the
# forwarding path (hop limit, scope, MTU, Redirect) and the jumbo / chain-limit checks.
REMOTE = IPv6Address("2001:db8:2::5").packed
FORWARD_SEEDS = [
    udp_packet(TESTER, REMOTE, 1000, 7, b"forward me"),
    udp_packet(TESTER, IPv6Address("2001:db8:1::3").packed, 1000, 7, b"on-link"),
    build_packet(TESTER, REMOTE, 0, options_header(17, option(0xC2, b"\x00\x01\x11\x70")) + bytes(16)),
    build_packet(TESTER, DUT, 0, options_header(58, option(0xC2, b"\x00\x01\x11\x70")) + bytes(16)),
]
_ROUTER = Bench()
_ROUTER.stack.set_forwarding(6, True)
_ROUTER.stack.add_static_neighbor("eth0", "2001:db8:1::3", bytes.fromhex("020000000003"))
_ROUTER.stack.add_route("2001:db8:2::/64", "eth0", gateway="fe80::ff:fe00:3", mtu=1280)


@st.composite
def forward_frames(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(FORWARD_SEEDS)))
    for i in draw(st.lists(st.integers(0, len(raw) - 1), max_size=4)):
        raw[i] = draw(st.integers(0, 255))
    return bytes(raw[: draw(st.integers(0, len(raw)))])


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet=forward_frames())
def test_every_frame_to_a_router_gets_exactly_one_verdict(packet: bytes) -> None:
    stats = _ROUTER.stack.stats
    before_rx, before_drops = stats.rx_frames, sum(stats.drops.values())
    verdict = _ROUTER.link.inject_inbound(DUT_MAC + TESTER_MAC + b"\x86\xdd" + packet)
    assert verdict is None or isinstance(verdict, Drop)
    assert stats.rx_frames == before_rx + 1
    assert sum(stats.drops.values()) - before_drops == (verdict is not None)
    for frame in _ROUTER.link.drain():
        assert len(frame) <= 14 + 1500
        if frame[20] == 58 and (frame[54] < 128 or frame[54] == 137):  # errors and redirects
            assert len(frame) <= 14 + 1280
    _ROUTER.clock.advance(1000)  # neighbor timers and rate limits move on
