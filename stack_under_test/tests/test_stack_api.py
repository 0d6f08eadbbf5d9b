"""The public control surface: clear StackErrors, addresses(), routes, timers, groups."""

from __future__ import annotations

import pytest

from stack_under_test import ChannelEndpoint, Drop, StackError
from stack_under_test.testing import Bench
from stack_under_test.tests._ipv4_bench import make_bench


def test_addresses_lists_interface_strings() -> None:
    bench = make_bench()
    bench.stack.add_address("eth0", "203.0.113.7/24")
    assert bench.stack.addresses("eth0") == ["198.51.100.1/24", "203.0.113.7/24"]
    bench.stack.remove_address("eth0", "203.0.113.7/24")
    assert bench.stack.addresses("eth0") == ["198.51.100.1/24"]


def test_removing_the_address_removes_its_on_link_route() -> None:
    bench = make_bench()
    nic = bench.stack.nic("eth0")
    assert bench.stack.find_route(bytes((198, 51, 100, 2))) is not None
    bench.stack.remove_address("eth0", "198.51.100.1/24")
    assert bench.stack.find_route(bytes((198, 51, 100, 2))) is None
    assert not nic.is_local(bytes((198, 51, 100, 1)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.add_address("eth9", "198.51.100.5/24"), "no NIC named 'eth9'"),
        (lambda s: s.add_address("eth0", "198.51.100.999/24"), "not an interface address"),
        (lambda s: s.add_address("eth0", "198.51.100.1/24"), "already assigned"),
        (lambda s: s.add_address("eth0", "224.0.0.5/24"), "cannot be assigned"),
        (lambda s: s.remove_address("eth0", "198.51.100.77/24"), "is not assigned"),
        (lambda s: s.add_static_neighbor("eth0", "198.51.100.9", b"\x02"), "6 octets"),
        (lambda s: s.add_static_neighbor("eth0", "nope", b"\x02" * 6), "not an IP address"),
        (lambda s: s.add_route("0.0.0.0/0", "eth0", gateway="2001:db8::1"), "same family"),
        (lambda s: s.add_route("bogus", "eth0"), "not a network"),
        (lambda s: s.set_forwarding(5, True), "4 or 6"),
        (lambda s: s.join_group("eth0", "198.51.100.2"), "not a multicast"),
        (lambda s: s.leave_group("eth0", "224.1.1.1"), "has not joined"),
        (lambda s: s.set_timer("bogus_timeout", 5), "unknown timer"),
        (lambda s: s.set_timer("ipv4_reassembly_timeout", 0), "must be positive"),
        (lambda s: s.create_nic("eth0", ChannelEndpoint(mac=b"\x02" * 6)), "already exists"),
    ],
)
def test_bad_control_calls_raise_clear_stack_errors(call, message: str) -> None:  # type: ignore[no-untyped-def]
    bench = make_bench()
    with pytest.raises(StackError, match=message):
        call(bench.stack)


def test_set_timer_changes_the_value_the_protocols_read() -> None:
    bench = make_bench()
    bench.stack.set_timer("ipv4_reassembly_timeout", 2000)
    assert bench.stack.timers_ms["ipv4_reassembly_timeout"] == 2000


def test_ipv6_disabled_stack_refuses_ipv6_addresses() -> None:
    stack = Bench(ipv6=False).stack
    with pytest.raises(StackError, match="IPv6 is not enabled"):
        stack.add_address("eth0", "2001:db8:1::1/64")


def test_unattached_channel_reports_a_drop() -> None:
    assert ChannelEndpoint(mac=b"\x02" * 6).inject_inbound(b"x" * 60) is Drop.LINK_NOT_ATTACHED


def test_longest_prefix_match_prefers_the_more_specific_route() -> None:
    bench = make_bench()
    bench.stack.add_static_neighbor("eth0", "198.51.100.3", b"\x02\0\0\0\0\x03")
    bench.stack.add_route("0.0.0.0/0", "eth0", gateway="198.51.100.2")
    bench.stack.add_route("203.0.113.0/25", "eth0", gateway="198.51.100.3")
    low = bench.stack.find_route(bytes((203, 0, 113, 5)))
    high = bench.stack.find_route(bytes((203, 0, 113, 200)))
    assert low is not None and low.next_hop == bytes((198, 51, 100, 3))
    assert high is not None and high.next_hop == bytes((198, 51, 100, 2))
    bench.stack.remove_route("203.0.113.0/25", "eth0", gateway="198.51.100.3")
    again = bench.stack.find_route(bytes((203, 0, 113, 5)))
    assert again is not None and again.next_hop == bytes((198, 51, 100, 2))


def test_outbound_queue_overflow_is_a_counted_tx_drop() -> None:
    stack = Bench(ipv6=False, outbound_limit=1).stack
    sock = stack.udp_bind("0.0.0.0", 7)
    sock.sendto(b"a", "198.51.100.2", 9)
    sock.sendto(b"b", "198.51.100.2", 9)
    assert stack.stats.tx_frames == 1 and stack.stats.tx_drops[Drop.OUTBOUND_QUEUE_FULL] == 1
