"""ICMPv6 (RFC 4443) through the channel link: echo, silent discards, and when errors are not sent."""

from __future__ import annotations

from ipaddress import IPv6Address

from stack_under_test.drops import Drop
from stack_under_test.tests._ipv6_bench import (
    ALL_NODES,
    DUT,
    DUT_LL,
    ICMPV6,
    TESTER,
    TESTER_LL,
    TESTER_MAC,
    UNSPECIFIED,
    Bench,
    icmp_packet,
)
from stack_under_test.wire import icmpv6
from stack_under_test.wire.icmpv6 import EchoReply, EchoRequest, ICMPv6Error, UnknownICMPv6
from stack_under_test.wire.ipv6 import build_packet
from stack_under_test.wire.ipv6_ext import option, options_header

MCAST_MAC_ALL_NODES = bytes.fromhex("333300000001")


def test_echo_request_is_answered_with_identifier_sequence_and_data_intact() -> None:
    bench = Bench()
    data = bytes(range(256)) * 4
    assert bench.inject(icmp_packet(TESTER, DUT, EchoRequest(0xBEEF, 0x1234, data))) is None
    reply = bench.only_sent()
    assert reply.message == EchoReply(0xBEEF, 0x1234, data)
    assert (reply.ip.src.packed, reply.ip.dst.packed, reply.ip.hop_limit) == (DUT, TESTER, 64)
    assert reply.eth_dst == TESTER_MAC
    assert bench.nic_stats.events["icmpv6_echo_reply_sent"] == 1


def test_echo_reply_keeps_the_dscp_but_not_the_ecn_field() -> None:
    bench = Bench()
    raw = icmpv6.encode(EchoRequest(1, 1, b""), TESTER, DUT)
    # DSCP 46 with CE: the reply keeps the DSCP, like Linux, and is Not-ECT (RFC 3168 5.2).
    assert bench.inject(build_packet(TESTER, DUT, ICMPV6, raw, traffic_class=0xBB)) is None
    assert bench.only_sent().ip.traffic_class == 0xB8


def test_echo_request_to_link_local_is_answered_from_link_local() -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(TESTER_LL, DUT_LL, EchoRequest(1, 2, b"x"))) is None
    reply = bench.only_sent()
    assert (reply.ip.src.packed, reply.ip.dst.packed) == (DUT_LL, TESTER_LL)


def test_echo_request_to_all_nodes_is_answered_from_a_unicast_address() -> None:
    bench = Bench()
    packet = icmp_packet(TESTER, ALL_NODES, EchoRequest(5, 6, b"multi"))
    assert bench.inject(packet, eth_dst=MCAST_MAC_ALL_NODES) is None
    reply = bench.only_sent()
    assert reply.ip.src.packed == DUT
    assert reply.message == EchoReply(5, 6, b"multi")


def test_echo_request_to_all_nodes_from_link_local_is_answered_from_link_local() -> None:
    bench = Bench()
    packet = icmp_packet(TESTER_LL, ALL_NODES, EchoRequest(5, 6, b"multi"))
    assert bench.inject(packet, eth_dst=MCAST_MAC_ALL_NODES) is None
    assert bench.only_sent().ip.src.packed == DUT_LL


def test_bad_checksum_is_dropped_without_reply() -> None:
    bench = Bench()
    packet = bytearray(icmp_packet(TESTER, DUT, EchoRequest(1, 1, b"abc")))
    packet[-1] ^= 0xFF
    assert bench.inject(bytes(packet)) is Drop.ICMPV6_BAD_CHECKSUM
    assert bench.sent() == []


def test_truncated_echo_is_dropped() -> None:
    bench = Bench()
    raw = icmpv6.encode(EchoRequest(1, 1), TESTER, DUT)[:6]
    # Recompute the checksum for the short message so only the length is wrong.
    fixed = bytearray(raw)
    fixed[2:4] = b"\0\0"
    fixed[2:4] = icmpv6.icmpv6_checksum(TESTER, DUT, fixed).to_bytes(2, "big")
    assert bench.inject(build_packet(TESTER, DUT, ICMPV6, bytes(fixed))) is Drop.ICMPV6_TRUNCATED


def test_echo_request_from_unspecified_source_is_dropped() -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(UNSPECIFIED, DUT, EchoRequest(1, 1))) is Drop.ICMPV6_UNSPECIFIED_SOURCE
    assert bench.sent() == []


def test_unknown_informational_type_is_silently_discarded() -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(TESTER, DUT, UnknownICMPv6(200, 0, b"abcd"))) is Drop.ICMPV6_UNKNOWN_INFORMATIONAL
    assert bench.sent() == []


def test_unsolicited_echo_reply_is_dropped() -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(TESTER, DUT, EchoReply(1, 1))) is Drop.ICMPV6_ECHO_REPLY_UNSOLICITED


def test_router_solicitation_is_discarded_by_a_host() -> None:
    bench = Bench()
    packet = icmp_packet(TESTER_LL, IPv6Address("ff02::2").packed, UnknownICMPv6(133, 0, bytes(4)), hop_limit=255)
    assert bench.inject(packet, eth_dst=bytes.fromhex("333300000002")) is Drop.IPV6_NOT_FOR_US
    packet = icmp_packet(TESTER_LL, DUT_LL, UnknownICMPv6(133, 0, bytes(4)), hop_limit=255)
    assert bench.inject(packet) is Drop.NDP_ROUTER_SOLICIT_ON_HOST


def test_no_error_about_an_icmpv6_error() -> None:
    # An unrecognized option of type 10 asks for a Parameter Problem even to multicast, but the
    # packet carries an ICMPv6 error message: RFC 4443 §2.4(e.1) wins.
    bench = Bench()
    ext = options_header(ICMPV6, option(0x9E, b"ab"))
    error = ICMPv6Error(1, 4, 0, bytes(48))
    assert bench.inject(icmp_packet(TESTER, DUT, error, ext=ext, first=60)) is Drop.IPV6_UNRECOGNIZED_OPTION
    assert bench.sent() == []
    assert bench.nic_stats.events["icmpv6_error_suppressed"] == 1


def test_no_error_about_a_redirect() -> None:
    bench = Bench()
    ext = options_header(ICMPV6, option(0x9E, b"ab"))
    redirect = UnknownICMPv6(137, 0, bytes(36))
    assert bench.inject(icmp_packet(TESTER, DUT, redirect, ext=ext, first=60)) is Drop.IPV6_UNRECOGNIZED_OPTION
    assert bench.sent() == []


def test_no_error_to_the_unspecified_source() -> None:
    bench = Bench()
    assert bench.inject(build_packet(UNSPECIFIED, DUT, 253, b"")) is Drop.IPV6_UNKNOWN_NEXT_HEADER
    assert bench.sent() == []


def test_no_error_about_a_packet_to_a_multicast_address() -> None:
    bench = Bench()
    packet = build_packet(TESTER, ALL_NODES, 253, b"")
    assert bench.inject(packet, eth_dst=MCAST_MAC_ALL_NODES) is Drop.IPV6_UNKNOWN_NEXT_HEADER
    assert bench.sent() == []


def test_no_error_about_a_link_layer_multicast_frame() -> None:
    bench = Bench()
    packet = build_packet(TESTER, DUT, 253, b"")
    assert bench.inject(packet, eth_dst=MCAST_MAC_ALL_NODES) is Drop.IPV6_UNKNOWN_NEXT_HEADER
    assert bench.sent() == []


def test_error_about_our_udp_datagram_reaches_the_socket() -> None:
    bench = Bench()
    sock = bench.stack.udp_bind("::", 5000)
    sock.sendto(b"hello", "2001:db8:1::2", 9)
    ours = bench.only_sent()
    quoted = ours.ip.encode() + ours.payload
    error = ICMPv6Error(1, 4, 0, quoted)
    assert bench.inject(icmp_packet(TESTER, DUT, error)) is None
    assert [(e.family, e.type, e.code) for e in sock.errors] == [(6, 1, 4)]


def test_error_quoting_someone_elses_packet_is_dropped() -> None:
    bench = Bench()
    quoted = build_packet(TESTER, IPv6Address("2001:db8:1::77").packed, 17, bytes(8))
    error = ICMPv6Error(1, 4, 0, quoted)
    assert bench.inject(icmp_packet(TESTER, DUT, error)) is Drop.ICMPV6_ERROR_NO_HANDLER
