"""Path MTU discovery for IPv6 (RFC 8201): Packet Too Big updates a per-destination cache that
never goes below 1280, never grows from a PTB, expires after ipv6_pmtu_expiry, and is validated."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from stack_under_test.drops import Drop
from stack_under_test.network.ipv6 import pmtu
from stack_under_test.network.ipv6.endpoint import IPv6Endpoint
from stack_under_test.tests._ipv6_bench import DUT, ICMPV6, OTHER, TESTER, Bench, icmp_packet
from stack_under_test.wire import icmpv6
from stack_under_test.wire.icmpv6 import EchoRequest, ICMPv6Error
from stack_under_test.wire.ipv6 import build_packet

PACKET_TOO_BIG = 2
REMOTE = IPv6Address("2001:db8:2::5").packed
TEN_MINUTES_MS = 600_000


def endpoint(bench: Bench) -> IPv6Endpoint:
    ep = bench.stack.nic("eth0").ip[6]
    assert isinstance(ep, IPv6Endpoint)
    return ep


def our_datagram(bench: Bench, dst: str = "2001:db8:1::2") -> bytes:
    sock = bench.stack.udp_bind("::", 0)
    sock.sendto(b"d" * 100, dst, 53)
    (sent,) = bench.sent()
    return sent.ip.encode() + sent.payload


def ptb(mtu: int, quoted: bytes, src: bytes = TESTER) -> bytes:
    return build_packet(src, DUT, ICMPV6, icmpv6.encode(ICMPv6Error(PACKET_TOO_BIG, 0, mtu, quoted), src, DUT))


def test_the_path_mtu_starts_at_the_link_mtu() -> None:
    assert endpoint(Bench()).path_mtu(TESTER) == 1500


def test_packet_too_big_lowers_the_path_mtu_of_the_quoted_destination_only() -> None:
    bench = Bench()
    assert bench.inject(ptb(1400, our_datagram(bench))) is None
    ep = endpoint(bench)
    assert ep.path_mtu(TESTER) == 1400
    assert ep.path_mtu(OTHER) == 1500
    assert bench.nic_stats.events["icmpv6_pmtu_learned"] == 1


@pytest.mark.parametrize("mtu", [0, 68, 576, 1279])
def test_packet_too_big_below_1280_is_discarded(mtu: int) -> None:
    bench = Bench()
    assert bench.inject(ptb(mtu, our_datagram(bench))) is Drop.ICMPV6_PTB_BELOW_MINIMUM_MTU
    assert endpoint(bench).path_mtu(TESTER) == 1500


def test_packet_too_big_of_exactly_1280_is_applied() -> None:
    bench = Bench()
    assert bench.inject(ptb(1280, our_datagram(bench))) is None
    assert endpoint(bench).path_mtu(TESTER) == 1280


def test_the_cache_itself_never_goes_below_1280() -> None:
    cache = endpoint(Bench()).protocol.pmtu
    assert cache.update(TESTER, 500, 1500)
    assert cache.get(TESTER) == 1280


def test_packet_too_big_never_raises_the_estimate() -> None:
    bench = Bench()
    quoted = our_datagram(bench)
    bench.inject(ptb(1300, quoted))
    bench.inject(ptb(1450, quoted))
    bench.inject(ptb(9000, quoted))
    assert endpoint(bench).path_mtu(TESTER) == 1300
    bench.inject(ptb(1290, quoted))
    assert endpoint(bench).path_mtu(TESTER) == 1290


def test_packet_too_big_quoting_a_packet_we_did_not_send_is_dropped() -> None:
    bench = Bench()
    forged = build_packet(OTHER, TESTER, 17, bytes(108))  # source is not ours
    assert bench.inject(ptb(1280, forged)) is Drop.ICMPV6_PTB_NOT_OURS
    assert endpoint(bench).path_mtu(TESTER) == 1500
    assert bench.inject(ptb(1280, forged[:20])) is Drop.ICMPV6_PTB_NOT_OURS


def test_packet_too_big_about_our_echo_reply_is_accepted() -> None:
    bench = Bench()
    bench.inject(icmp_packet(TESTER, DUT, EchoRequest(1, 1, bytes(1300))))
    (reply,) = bench.sent()
    quoted = (reply.ip.encode() + reply.payload)[:1232]
    assert bench.inject(ptb(1280, quoted)) is None
    assert endpoint(bench).path_mtu(TESTER) == 1280


def test_the_learned_path_mtu_expires_after_ten_minutes_by_default() -> None:
    bench = Bench()
    bench.inject(ptb(1280, our_datagram(bench)))
    bench.clock.advance(TEN_MINUTES_MS - 1)
    assert endpoint(bench).path_mtu(TESTER) == 1280
    bench.clock.advance(1)
    assert endpoint(bench).path_mtu(TESTER) == 1500


def test_the_expiry_follows_set_timer() -> None:
    bench = Bench()
    bench.stack.set_timer(pmtu.TIMER_NAME, 5_000)
    bench.inject(ptb(1280, our_datagram(bench)))
    bench.clock.advance(4_999)
    assert endpoint(bench).path_mtu(TESTER) == 1280
    bench.clock.advance(1)
    assert endpoint(bench).path_mtu(TESTER) == 1500


def test_a_route_mtu_caps_the_path_mtu() -> None:
    bench = Bench()
    bench.stack.add_route("2001:db8:2::/64", "eth0", gateway="2001:db8:1::3", mtu=1400)
    ep = endpoint(bench)
    assert ep.path_mtu(REMOTE) == 1400
    assert ep.path_mtu(TESTER) == 1500


def test_sends_use_the_path_mtu() -> None:
    bench = Bench()
    bench.inject(ptb(1280, our_datagram(bench)))
    sock = bench.stack.udp_bind("::", 0)
    sock.sendto(bytes(1280 - 48), "2001:db8:1::2", 53)  # exactly 1280 octets
    (sent,) = bench.sent()
    assert 40 + len(sent.payload) == 1280


def test_the_cache_is_bounded() -> None:
    bench = Bench()
    cache = endpoint(bench).protocol.pmtu
    for i in range(pmtu.MAX_ENTRIES + 10):
        dst = IPv6Address(int(IPv6Address("2001:db8:9::")) + i).packed
        assert cache.update(dst, 1300, 1500)
    assert len(cache) == pmtu.MAX_ENTRIES
