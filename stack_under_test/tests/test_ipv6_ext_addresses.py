"""Fixed-header address checks (RFC 4291 §2.5.3, §2.7, RFC 4038, RFC 4862 §5.4): silent, counted drops."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from stack_under_test.drops import Drop
from stack_under_test.stack.addresses import AddressState
from stack_under_test.tests._ipv6_bench import DUT, TESTER, Bench, icmp_packet
from stack_under_test.wire.icmpv6 import EchoReply, EchoRequest
from stack_under_test.wire.ipv6 import is_v4mapped

ECHO = EchoRequest(9, 9, b"addr")


def addr(text: str) -> bytes:
    return IPv6Address(text).packed


@pytest.mark.parametrize(
    ("src", "dst", "drop"),
    [
        pytest.param("::ffff:198.51.100.2", "2001:db8:1::1", Drop.IPV6_V4MAPPED_ADDRESS, id="v4mapped-src"),
        pytest.param("2001:db8:1::2", "::ffff:198.51.100.1", Drop.IPV6_V4MAPPED_ADDRESS, id="v4mapped-dst"),
        pytest.param("::1", "2001:db8:1::1", Drop.IPV6_LOOPBACK_ADDRESS, id="loopback-src"),
        pytest.param("2001:db8:1::2", "::1", Drop.IPV6_LOOPBACK_ADDRESS, id="loopback-dst"),
        pytest.param("ff02::1", "2001:db8:1::1", Drop.IPV6_MULTICAST_SOURCE, id="multicast-src"),
        pytest.param("2001:db8:1::2", "ff00::1", Drop.IPV6_MULTICAST_SCOPE_INVALID, id="scope-0"),
        pytest.param("2001:db8:1::2", "ff01::1", Drop.IPV6_MULTICAST_SCOPE_INVALID, id="interface-local"),
    ],
)
def test_addresses_that_never_come_from_a_link_are_dropped_silently(src: str, dst: str, drop: Drop) -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(addr(src), addr(dst), ECHO)) is drop
    assert bench.sent() == []
    assert bench.nic_stats.drops[drop] == 1


def test_the_same_echo_from_a_normal_source_is_answered() -> None:
    bench = Bench()
    assert bench.inject(icmp_packet(TESTER, DUT, ECHO)) is None
    assert bench.only_sent().message == EchoReply(9, 9, b"addr")


def test_addresses_next_to_the_v4mapped_prefix_are_not_v4mapped() -> None:
    assert is_v4mapped(addr("::ffff:1.2.3.4"))
    assert not is_v4mapped(addr("::fffe:1.2.3.4"))
    assert not is_v4mapped(addr("64:ff9b::1.2.3.4"))  # NAT64 (RFC 6052) is a real address
    assert not is_v4mapped(addr("::1.2.3.4"))


@pytest.mark.parametrize("forwarding", [False, True])
def test_packets_to_a_tentative_address_are_dropped_and_never_forwarded(forwarding: bool) -> None:
    bench = Bench()
    bench.stack.set_forwarding(6, forwarding)
    entry = bench.stack.nic("eth0").addresses.get(DUT)
    assert entry is not None
    entry.state = AddressState.TENTATIVE
    assert bench.inject(icmp_packet(TESTER, DUT, ECHO)) is Drop.IPV6_TENTATIVE_DESTINATION
    assert bench.sent() == []
    entry.state = AddressState.PREFERRED
    assert bench.inject(icmp_packet(TESTER, DUT, ECHO)) is None
    assert len(bench.sent()) == 1
