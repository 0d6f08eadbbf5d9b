"""The IPv6 receive path (RFC 8200 §3-4) through the channel link: verdicts and ICMPv6 answers."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._ipv6_bench import (
    ALL_NODES,
    DUT,
    DUT_LL,
    DUT_MAC,
    ICMPV6,
    TESTER,
    TESTER_MAC,
    UDP,
    Bench,
    icmp_packet,
    udp_packet,
)
from stack_under_test.wire.icmpv6 import EchoReply, EchoRequest, ICMPv6Error
from stack_under_test.wire.ipv6 import build_packet, solicited_node
from stack_under_test.wire.ipv6_ext import FragmentHeader, option, options_header

ECHO = EchoRequest(0x77, 1, b"ping")
MCAST_MAC_ALL_NODES = bytes.fromhex("333300000001")


def test_link_local_and_groups_are_configured_when_the_nic_is_enabled() -> None:
    bench = Bench()
    assert "fe80::ff:fe00:1/64" in bench.stack.addresses("eth0")
    nic = bench.stack.nic("eth0")
    assert nic.in_group(ALL_NODES)
    assert nic.in_group(solicited_node(DUT))
    assert nic.in_group(solicited_node(DUT_LL))


def test_removing_an_address_leaves_its_solicited_node_group() -> None:
    bench = Bench()
    bench.stack.add_address("eth0", "2001:db8:2::77/64")
    group = solicited_node(IPv6Address("2001:db8:2::77").packed)
    assert bench.stack.nic("eth0").in_group(group)
    bench.stack.remove_address("eth0", "2001:db8:2::77/64")
    assert not bench.stack.nic("eth0").in_group(group)


@pytest.mark.parametrize("length", [0, 1, 20, 39])
def test_truncated_header_is_dropped(length: int) -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(TESTER, DUT, ECHO)[:length]) is Drop.IPV6_TRUNCATED
    assert bench.sent() == []


def test_bad_version_is_dropped() -> None:
    bench = Bench()
    packet = bytearray(icmp_packet(TESTER, DUT, ECHO))
    packet[0] = 0x45
    assert bench.inject(bytes(packet)) is Drop.IPV6_BAD_VERSION


def test_payload_length_longer_than_the_frame_is_dropped() -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(TESTER, DUT, ECHO)[:-1]) is Drop.IPV6_PAYLOAD_LENGTH_EXCEEDS_FRAME
    assert bench.stack.stats.drops[Drop.IPV6_PAYLOAD_LENGTH_EXCEEDS_FRAME] == 1
    assert bench.sent() == []


def test_octets_past_the_payload_length_are_trimmed() -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(TESTER, DUT, ECHO) + b"trailing junk") is None
    reply = bench.only_sent()
    assert reply.message == EchoReply(ECHO.ident, ECHO.seq, ECHO.data)


def test_multicast_source_is_dropped() -> None:
    bench = Bench()
    src = IPv6Address("ff02::9").packed
    assert bench.inject(icmp_packet(src, DUT, ECHO)) is Drop.IPV6_MULTICAST_SOURCE
    assert bench.sent() == []


def test_loopback_source_is_dropped() -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(IPv6Address("::1").packed, DUT, ECHO)) is Drop.IPV6_LOOPBACK_ADDRESS


def test_destination_not_ours_is_dropped() -> None:
    bench = Bench()
    other = IPv6Address("2001:db8:1::99").packed
    assert bench.inject(icmp_packet(TESTER, other, ECHO)) is Drop.IPV6_NOT_FOR_US
    assert bench.sent() == []


def test_group_not_joined_is_dropped_and_joined_group_is_accepted() -> None:
    bench = Bench()
    group = IPv6Address("ff02::1:3").packed
    mac = b"\x33\x33" + group[12:]
    assert bench.inject(icmp_packet(TESTER, group, ECHO), eth_dst=mac) is Drop.IPV6_NOT_FOR_US
    bench.stack.join_group("eth0", "ff02::1:3")
    assert bench.inject(icmp_packet(TESTER, group, ECHO), eth_dst=mac) is None
    assert isinstance(bench.only_sent().message, EchoReply)


def test_solicited_node_group_of_our_address_is_accepted() -> None:
    bench = Bench()
    group = solicited_node(DUT)
    assert bench.inject(icmp_packet(TESTER, group, ECHO), eth_dst=b"\x33\x33" + group[12:]) is None


def test_unknown_next_header_is_answered_with_parameter_problem_code_1_at_offset_6() -> None:
    bench = Bench()
    packet = build_packet(TESTER, DUT, 253, b"experimental payload")
    assert bench.inject(packet) is Drop.IPV6_UNKNOWN_NEXT_HEADER
    error = bench.only_sent()
    assert (error.ip.src.packed, error.ip.dst.packed, error.ip.hop_limit) == (DUT, TESTER, 64)
    assert error.eth_dst == TESTER_MAC
    assert error.message == ICMPv6Error(4, 1, 6, packet)


def test_unknown_next_header_after_extension_headers_points_at_the_last_next_header_field() -> None:
    bench = Bench()
    ext = options_header(60, b"") + options_header(253, b"")  # Hop-by-Hop, then Destination Options
    packet = build_packet(TESTER, DUT, 0, ext + b"x" * 8)
    assert bench.inject(packet) is Drop.IPV6_UNKNOWN_NEXT_HEADER
    error = bench.only_sent()
    assert isinstance(error.message, ICMPv6Error)
    assert (error.message.type, error.message.code, error.message.pointer) == (4, 1, 48)


def test_hop_by_hop_after_another_header_is_parameter_problem_code_1() -> None:
    bench = Bench()
    ext = options_header(0, b"") + options_header(ICMPV6, b"")
    packet = icmp_packet(TESTER, DUT, ECHO, ext=ext, first=60)
    assert bench.inject(packet) is Drop.IPV6_HOP_BY_HOP_NOT_FIRST
    error = bench.only_sent().message
    assert isinstance(error, ICMPv6Error)
    assert (error.code, error.pointer) == (1, 40)


def test_unrecognized_option_10_is_answered_even_to_multicast() -> None:
    bench = Bench()
    ext = options_header(ICMPV6, option(0x9E, b"ab"))
    packet = icmp_packet(TESTER, ALL_NODES, ECHO, ext=ext, first=60)
    assert bench.inject(packet, eth_dst=MCAST_MAC_ALL_NODES) is Drop.IPV6_UNRECOGNIZED_OPTION
    error = bench.only_sent()
    assert error.ip.src.packed == DUT  # never the multicast destination (RFC 4291 §2.7)
    assert isinstance(error.message, ICMPv6Error)
    assert (error.message.code, error.message.pointer) == (2, 42)


def test_unrecognized_option_11_to_multicast_is_silently_dropped() -> None:
    bench = Bench()
    ext = options_header(ICMPV6, option(0xDE, b"ab"))
    packet = icmp_packet(TESTER, ALL_NODES, ECHO, ext=ext, first=60)
    assert bench.inject(packet, eth_dst=MCAST_MAC_ALL_NODES) is Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD
    assert bench.sent() == []


def test_a_first_fragment_is_held_for_reassembly() -> None:
    bench = Bench()
    frag = FragmentHeader(ICMPV6, 0, True, 1).encode()
    packet = build_packet(TESTER, DUT, 44, frag + bytes(16))
    assert bench.inject(packet) is None  # network/ipv6/reassembly.py; see test_fragmentation_ipv6.py
    assert bench.sent() == []


def test_no_next_header_is_consumed_silently() -> None:
    bench = Bench()
    assert bench.inject(build_packet(TESTER, DUT, 59, b"ignored octets")) is None
    assert bench.sent() == []


def test_udp_to_a_closed_port_is_answered_with_port_unreachable() -> None:
    bench = Bench()
    packet = udp_packet(TESTER, DUT, 40000, 9, b"anyone?")
    assert bench.inject(packet) is Drop.UDP_NO_LISTENER
    error = bench.only_sent()
    assert error.message == ICMPv6Error(1, 4, 0, packet)
    assert (error.ip.src.packed, error.ip.dst.packed) == (DUT, TESTER)


def test_udp_to_a_closed_port_at_a_multicast_address_gets_no_error() -> None:
    bench = Bench()
    packet = udp_packet(TESTER, ALL_NODES, 40000, 9, b"anyone?")
    assert bench.inject(packet, eth_dst=MCAST_MAC_ALL_NODES) is Drop.UDP_NO_LISTENER
    assert bench.sent() == []


def test_udp_is_delivered_to_a_socket_bound_to_the_wildcard() -> None:
    bench = Bench()
    sock = bench.stack.udp_bind("::", 7)
    assert bench.inject(udp_packet(TESTER, DUT, 40000, 7, b"hello")) is None
    assert sock.recv() == (b"hello", "2001:db8:1::2", 40000)


def test_udp_send_goes_out_with_hop_limit_64_and_a_valid_checksum() -> None:
    bench = Bench()
    sock = bench.stack.udp_bind("::", 7)
    sock.sendto(b"data", "2001:db8:1::2", 9)
    frame = bench.only_sent()
    assert (frame.ip.src.packed, frame.ip.dst.packed, frame.ip.hop_limit, frame.ip.next_header) == (
        DUT,
        TESTER,
        64,
        UDP,
    )
    assert frame.eth_dst == TESTER_MAC and frame.eth_src == DUT_MAC
    assert frame.payload == udp_packet(DUT, TESTER, 7, 9, b"data")[40:]


def test_quoted_packet_is_limited_to_the_minimum_mtu() -> None:
    bench = Bench()
    packet = udp_packet(TESTER, DUT, 40000, 9, bytes(1400))
    assert bench.inject(packet) is Drop.UDP_NO_LISTENER
    error = bench.only_sent()
    assert 40 + len(error.payload) == 1280
    assert isinstance(error.message, ICMPv6Error)
    assert error.message.invoking == packet[: 1280 - 48]


def test_every_verdict_is_counted_once() -> None:
    bench = Bench()
    frames = [
        icmp_packet(TESTER, DUT, ECHO),
        build_packet(TESTER, DUT, 253, b""),
        icmp_packet(TESTER, DUT, ECHO)[:30],
    ]
    verdicts = [bench.inject(f) for f in frames]
    stats = bench.stack.stats
    assert stats.rx_frames == 3
    assert sum(stats.drops.values()) == sum(v is not None for v in verdicts) == 2


def test_checksum_field_of_the_error_is_valid() -> None:
    # The parser in the bench verifies checksums; double-check the field is not zero.
    bench = Bench()
    bench.inject(build_packet(TESTER, DUT, 253, b""))
    error = bench.only_sent()
    assert struct.unpack_from("!H", error.payload, 2)[0] != 0
