"""Totality over option bytes: any options, any use, forwarding and source routes on or off -> one
verdict per frame, one counted drop per refused frame, never an exception."""

from __future__ import annotations

import random

from stack_under_test.tests._ipv4_bench import OTHER_MAC, echo_request, eth, ipv4, make_bench, udp
from stack_under_test.tests.test_ipv4_forwarding import router

_KINDS = (0, 1, 7, 68, 131, 137, 148, 0x88)
_DESTINATIONS = (
    bytes((198, 51, 100, 1)), bytes((203, 0, 113, 5)), bytes((198, 51, 100, 255)), bytes((10, 0, 0, 1)),
    bytes((224, 0, 0, 1)),
)


def _options(r: random.Random) -> bytes:
    if r.random() < 0.3:
        return bytes(r.randrange(256) for _ in range(r.choice((4, 8, 12, 40))))
    opts = bytearray()
    while len(opts) < r.randrange(0, 41):
        kind = r.choice(_KINDS)
        if kind in (0, 1):
            opts.append(kind)
            continue
        length = r.randrange(0, 16)
        opts += bytes((kind, length)) + bytes(r.randrange(256) for _ in range(max(0, length - 2)))
    opts = opts[:40]
    return bytes(opts) + bytes(-len(opts) % 4)


def test_random_options_always_get_exactly_one_verdict() -> None:
    r = random.Random(3)
    for n in range(1500):
        bench = router(redirects=r.random() < 0.5) if n % 2 else make_bench()
        stack = bench.stack
        stack.set_accept_source_route(r.random() < 0.7)
        stack.set_echo_ignore_broadcasts(r.random() < 0.5)
        stack.add_static_neighbor("eth0", "198.51.100.3", OTHER_MAC)
        dst = r.choice(_DESTINATIONS)
        payload = echo_request(data=bytes(r.randrange(0, 1500))) if r.random() < 0.5 else udp(1, 2, b"x", dst=dst)
        frame = eth(ipv4(payload, 1 if payload[0] == 8 else 17, dst=dst, ttl=r.choice((0, 1, 2, 64)),
                         options=_options(r), flags_frag=r.choice((0, 0x4000, 0x2000, 0x2001, 1))))
        verdict = bench.inject(frame)
        assert sum(stack.stats.drops.values()) == (verdict is not None), frame.hex()
        assert stack.stats.rx_frames == 1
