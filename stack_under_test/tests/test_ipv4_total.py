"""Totality of the IPv4-side receive path: any bytes in, exactly one verdict and one count out."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stack_under_test.tests._ipv4_bench import arp, echo_request, eth, ipv4, make_bench, udp

VALID = [
    eth(ipv4(echo_request())),
    eth(ipv4(udp(1, 7, b"data"), proto=17)),
    eth(ipv4(b"x" * 12, proto=253, options=b"\x07\x07\x04" + bytes(5))),
    eth(arp(1, bytes.fromhex("020000000003"), bytes((198, 51, 100, 3)), bytes(6), bytes((198, 51, 100, 1))), 0x0806),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(VALID)))
    for i in draw(st.lists(st.integers(12, len(raw) - 1), max_size=4)):
        raw[i] = draw(st.integers(0, 255))
    return bytes(raw[: draw(st.integers(0, len(raw) + 4))])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(frame=st.binary(max_size=200) | mutated())
def test_every_frame_gets_exactly_one_verdict(frame: bytes) -> None:
    bench = make_bench()
    bench.stack.udp_bind("0.0.0.0", 7)
    verdict = bench.inject(frame)
    stats = bench.stack.stats
    assert stats.rx_frames == 1
    assert sum(stats.drops.values()) == (verdict is not None)
    assert stats.rx_accepted == (verdict is None)
    bench.clock.advance(60_000)  # timers armed by the frame must not raise either
