"""stack/ratelimit.TokenBucket in virtual time, and the ICMPv4 error rate limit it enforces."""

from __future__ import annotations

import pytest

from stack_under_test import Drop, StackError, VirtualClock
from stack_under_test.stack.ratelimit import TokenBucket
from stack_under_test.tests._ipv4_bench import echo_request, eth, ipv4, make_bench, udp


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = VirtualClock()
    bucket = TokenBucket(clock, per_second=10, burst=3)
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]
    clock.advance(99)
    assert not bucket.allow()  # 0.99 of a token
    clock.advance(1)
    assert bucket.allow() and not bucket.allow()
    clock.advance(10_000)
    assert sum(bucket.allow() for _ in range(10)) == 3  # refilled only up to the burst


def test_zero_rate_is_unlimited() -> None:
    bucket = TokenBucket(VirtualClock(), per_second=0, burst=0)
    assert all(bucket.allow() for _ in range(10_000))


def test_icmp_errors_are_limited_by_default_like_linux() -> None:
    bench = make_bench()
    closed = [eth(ipv4(udp(5000, 9, b"x"), 17, ident=i)) for i in range(60)]
    for frame in closed:
        assert bench.inject(frame) is Drop.UDP_NO_LISTENER
    assert len(bench.sent()) == 50  # the default burst (Linux icmp_msgs_burst)
    assert bench.nic_stats.tx_drops[Drop.ICMPV4_ERROR_RATE_LIMITED] == 10
    bench.clock.advance(5)  # 1000/s: five more tokens in 5 ms
    for frame in closed[:10]:
        bench.inject(frame)
    assert len(bench.sent()) == 5


def test_rate_limit_is_configurable_and_zero_means_unlimited() -> None:
    bench = make_bench()
    bench.stack.set_icmp_rate_limit(4, 0, 0)
    for i in range(200):
        bench.inject(eth(ipv4(udp(5000, 9, b"x"), 17, ident=i)))
    assert len(bench.sent()) == 200
    bench.stack.set_icmp_rate_limit(4, 1, 1)
    for i in range(3):
        bench.inject(eth(ipv4(udp(5000, 9, b"x"), 17, ident=i)))
    assert len(bench.sent()) == 1
    with pytest.raises(StackError):
        bench.stack.set_icmp_rate_limit(5, 1, 1)


def test_echo_replies_are_not_rate_limited() -> None:
    bench = make_bench()
    bench.stack.set_icmp_rate_limit(4, 1, 1)
    for seq in range(100):
        assert bench.inject(eth(ipv4(echo_request(seq=seq)))) is None
    assert len(bench.sent()) == 100
