"""ICMPv6 errors we originate (RFC 4443 §2.4): size cap, rate limit in virtual time, when not to
send, source address; and errors we receive (unknown types passed up, checksum)."""

from __future__ import annotations

import pytest

from stack_under_test.drops import Drop
from stack_under_test.network.ipv6.icmp import may_send_error
from stack_under_test.tests._ipv6_bench import (
    DUT,
    DUT_LL,
    ICMPV6,
    TESTER,
    TESTER_LL,
    Bench,
    icmp_packet,
    udp_packet,
)
from stack_under_test.wire import icmpv6
from stack_under_test.wire.icmpv6 import EchoRequest, ICMPv6Error, UnknownICMPv6
from stack_under_test.wire.ipv6 import build_packet
from stack_under_test.wire.ipv6_ext import option, options_header

DEST_UNREACHABLE = 1
MCAST_MAC = bytes.fromhex("333300000001")


def closed_port(src: bytes = TESTER, dst: bytes = DUT, data: bytes = b"x", sport: int = 5000) -> bytes:
    return udp_packet(src, dst, sport, 9, data)


def errors_sent(bench: Bench) -> list[ICMPv6Error]:
    out = []
    for sent in bench.sent():
        assert isinstance(sent.message, ICMPv6Error), sent.message
        out.append(sent.message)
    return out


# ---- size ------------------------------------------------------------------------------------------


def test_a_small_invoking_packet_is_quoted_whole() -> None:
    bench = Bench()
    packet = closed_port(data=b"small")
    assert bench.inject(packet) is Drop.UDP_NO_LISTENER
    (error,) = errors_sent(bench)
    assert (error.type, error.code, error.invoking) == (DEST_UNREACHABLE, 4, packet)


@pytest.mark.parametrize("data_len", [1184, 1185, 1400, 1452])
def test_the_error_never_exceeds_1280_octets_and_quotes_as_much_as_fits(data_len: int) -> None:
    bench = Bench()
    packet = closed_port(data=bytes(data_len))
    bench.inject(packet)
    (sent,) = bench.sent()
    total = 40 + len(sent.payload)
    assert total == min(1280, 40 + 8 + len(packet))
    assert isinstance(sent.message, ICMPv6Error)
    assert sent.message.invoking == packet[: 1280 - 48]


# ---- rate limit -------------------------------------------------------------------------------------


def test_errors_are_limited_by_a_token_bucket_in_virtual_time() -> None:
    bench = Bench()
    bench.stack.set_icmp_rate_limit(6, 10, 5)  # 10 per second, bursts of 5
    for port in range(8):
        bench.inject(closed_port(sport=6000 + port))
    assert len(errors_sent(bench)) == 5
    assert bench.nic_stats.tx_drops[Drop.ICMPV6_ERROR_RATE_LIMITED] == 3
    bench.clock.advance(99)  # 0.99 token
    bench.inject(closed_port())
    assert errors_sent(bench) == []
    bench.clock.advance(1)  # now 1 token
    bench.inject(closed_port())
    assert len(errors_sent(bench)) == 1
    bench.clock.advance(10_000)  # refills to the burst, not beyond
    for port in range(8):
        bench.inject(closed_port(sport=7000 + port))
    assert len(errors_sent(bench)) == 5


def test_a_rate_of_zero_means_unlimited() -> None:
    bench = Bench()
    bench.stack.set_icmp_rate_limit(6, 0, 0)
    for port in range(200):
        bench.inject(closed_port(sport=1000 + port))
    assert len(errors_sent(bench)) == 200


def test_the_default_limit_is_a_burst_of_50_at_1000_per_second() -> None:
    bench = Bench()
    for port in range(60):
        bench.inject(closed_port(sport=1000 + port))
    assert len(errors_sent(bench)) == 50
    bench.clock.advance(5)
    for port in range(10):
        bench.inject(closed_port(sport=2000 + port))
    assert len(errors_sent(bench)) == 5


def test_echo_replies_are_not_rate_limited() -> None:
    bench = Bench()
    bench.stack.set_icmp_rate_limit(6, 1, 1)
    for seq in range(20):
        assert bench.inject(icmp_packet(TESTER, DUT, EchoRequest(1, seq, b""))) is None
    assert len(bench.sent()) == 20


def test_the_ipv4_limit_does_not_spend_ipv6_tokens() -> None:
    bench = Bench()
    bench.stack.set_icmp_rate_limit(4, 1, 1)
    for port in range(5):
        bench.inject(closed_port(sport=3000 + port))
    assert len(errors_sent(bench)) == 5


# ---- when not to send (RFC 4443 §2.4(e)) ------------------------------------------------------------


@pytest.mark.parametrize(
    "src",
    [
        pytest.param(bytes(16), id="unspecified"),
        pytest.param(bytes.fromhex("ff020000000000000000000000000001"), id="multicast"),
        pytest.param(bytes(15) + b"\x01", id="loopback"),
        pytest.param(bytes(10) + b"\xff\xff" + bytes([198, 51, 100, 2]), id="v4mapped"),
    ],
)
def test_no_error_to_a_source_that_is_not_a_unique_unicast_address(src: bytes) -> None:
    invoking = memoryview(closed_port(src=src))
    assert not may_send_error(invoking, to_multicast=False, link_multicast=False)
    assert not may_send_error(invoking, to_multicast=True, link_multicast=False)


def test_an_ordinary_source_may_get_an_error() -> None:
    assert may_send_error(memoryview(closed_port()), to_multicast=False, link_multicast=False)


def test_no_port_unreachable_about_a_link_layer_multicast_frame() -> None:
    bench = Bench()
    assert bench.inject(closed_port(), eth_dst=MCAST_MAC) is Drop.UDP_NO_LISTENER
    assert bench.sent() == []


def test_parameter_problem_code_2_is_sent_for_a_link_layer_multicast_frame() -> None:
    bench = Bench()
    ext = options_header(ICMPV6, option(0x9A, b""))
    packet = icmp_packet(TESTER, DUT, EchoRequest(1, 1), ext=ext, first=60)
    assert bench.inject(packet, eth_dst=MCAST_MAC) is Drop.IPV6_UNRECOGNIZED_OPTION
    (error,) = errors_sent(bench)
    assert (error.type, error.code, error.pointer) == (4, 2, 42)


def test_parameter_problem_code_2_for_an_11_option_is_not_sent_for_a_link_layer_multicast_frame() -> None:
    bench = Bench()
    ext = options_header(ICMPV6, option(0xDA, b""))
    packet = icmp_packet(TESTER, DUT, EchoRequest(1, 1), ext=ext, first=60)
    assert bench.inject(packet, eth_dst=MCAST_MAC) is Drop.IPV6_UNRECOGNIZED_OPTION
    assert bench.sent() == []


@pytest.mark.parametrize("icmp_type", [1, 2, 3, 4, 100, 127, 137])
def test_no_error_about_an_icmpv6_error_or_redirect(icmp_type: int) -> None:
    bench = Bench()
    message = icmpv6.encode(UnknownICMPv6(icmp_type, 0, bytes(8)), TESTER, DUT)
    # An unknown Next Header would normally be answered; the ICMPv6 error behind it stops it.
    packet = build_packet(TESTER, DUT, 60, options_header(ICMPV6, option(0xBE)) + message)
    assert bench.inject(packet) is Drop.IPV6_UNRECOGNIZED_OPTION
    assert bench.sent() == []


def test_an_informational_message_may_be_answered_with_an_error() -> None:
    bench = Bench()
    message = icmpv6.encode(UnknownICMPv6(200, 0, bytes(8)), TESTER, DUT)
    packet = build_packet(TESTER, DUT, 60, options_header(ICMPV6, option(0xBE)) + message)
    assert bench.inject(packet) is Drop.IPV6_UNRECOGNIZED_OPTION
    assert len(errors_sent(bench)) == 1


def test_the_error_comes_from_the_address_the_packet_was_sent_to() -> None:
    bench = Bench()
    bench.inject(closed_port(src=TESTER_LL, dst=DUT_LL))
    (sent,) = bench.sent()
    assert (sent.ip.src.packed, sent.ip.dst.packed) == (DUT_LL, TESTER_LL)


# ---- errors we receive --------------------------------------------------------------------------


def test_an_unknown_error_type_is_passed_to_the_socket_that_sent_the_packet() -> None:
    bench = Bench()
    sock = bench.stack.udp_bind("::", 5353)
    sock.sendto(b"query", "2001:db8:1::2", 53)
    (ours,) = bench.sent()
    quoted = ours.ip.encode() + ours.payload
    error = icmpv6.encode(ICMPv6Error(100, 7, 0, quoted), TESTER, DUT)
    assert bench.inject(build_packet(TESTER, DUT, ICMPV6, error)) is None
    assert [(e.family, e.type, e.code) for e in sock.errors] == [(6, 100, 7)]


def test_an_unknown_informational_type_is_discarded_silently() -> None:
    bench = Bench()
    message = icmpv6.encode(UnknownICMPv6(201, 0, b"abcd"), TESTER, DUT)
    assert bench.inject(build_packet(TESTER, DUT, ICMPV6, message)) is Drop.ICMPV6_UNKNOWN_INFORMATIONAL
    assert bench.sent() == []


def test_an_error_with_a_bad_checksum_is_dropped() -> None:
    bench = Bench()
    sock = bench.stack.udp_bind("::", 5353)
    sock.sendto(b"query", "2001:db8:1::2", 53)
    (ours,) = bench.sent()
    error = bytearray(icmpv6.encode(ICMPv6Error(1, 4, 0, ours.ip.encode() + ours.payload), TESTER, DUT))
    error[2] ^= 0x01
    assert bench.inject(build_packet(TESTER, DUT, ICMPV6, bytes(error))) is Drop.ICMPV6_BAD_CHECKSUM
    assert list(sock.errors) == []
