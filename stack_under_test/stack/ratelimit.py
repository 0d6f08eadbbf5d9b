"""A token bucket on the stack's clock, for ICMP error rate limiting (ICMPv4 and ICMPv6).

RFC 1812 4.3.2.8: "a router SHOULD limit the rate at which it generates ICMP error messages";
RFC 4443 2.4(f): an IPv6 node "MUST limit the rate of ICMPv6 error messages it originates".
The shape is Linux's icmp_global_allow(): credit refills at ``per_second`` up to ``burst``
(net.ipv4.icmp_msgs_per_sec = 1000, net.ipv4.icmp_msgs_burst = 50) and each message spends one.
Time is the injected clock's int ms, so a test steps it with VirtualClock.advance().
"""

from __future__ import annotations

from stack_under_test.clock import Clock


class TokenBucket:
    """``allow()`` spends one token if there is one. ``per_second == 0`` means unlimited."""

    __slots__ = ("_clock", "_last_ms", "_tokens", "burst", "per_second")

    def __init__(self, clock: Clock, per_second: float, burst: int) -> None:
        self._clock = clock
        self.per_second = 0.0
        self.burst = 0
        self._tokens = 0.0
        self._last_ms = 0
        self.configure(per_second, burst)

    def configure(self, per_second: float, burst: int) -> None:
        """New rate and burst; the bucket starts full, so a burst is available at once."""
        if per_second < 0 or burst < 0:
            raise ValueError("rate and burst must not be negative")
        self.per_second = float(per_second)
        self.burst = int(burst)
        self._tokens = float(max(1, self.burst))
        self._last_ms = self._clock.now_ms

    def allow(self) -> bool:
        if self.per_second == 0:
            return True
        now = self._clock.now_ms
        elapsed = now - self._last_ms
        self._last_ms = now
        # A burst of 0 still lets one message through per 1/per_second (Linux clamps the same way).
        cap = float(max(1, self.burst))
        tokens = min(cap, self._tokens + elapsed * self.per_second / 1000.0)
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False
