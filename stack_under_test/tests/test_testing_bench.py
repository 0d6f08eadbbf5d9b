"""stack_under_test.testing: the bench's checks read the stack's real state, and each can fail."""

from __future__ import annotations

import struct

import pytest

from stack_under_test import Drop
from stack_under_test.testing import DUT4, DUT_MAC, TESTER4, TESTER_MAC, Bench, InvariantError, reassemblers
from stack_under_test.wire.ipv4 import FLAG_MF, encode_header

HIGH, LOW = 20_000, 15_000


def first_fragment(ident: int, size: int = 256) -> bytes:
    """Fragment zero of a datagram that never completes (MF set)."""
    header = encode_header(TESTER4, DUT4, 17, size, ident, flags_frag=FLAG_MF)
    return DUT_MAC + TESTER_MAC + b"\x08\x00" + header + bytes(size)


def flood(bench: Bench, count: int = 200) -> None:
    for ident in range(count):
        verdict, _ = bench.inject(first_fragment(ident))
        assert verdict in (None, Drop.FRAGMENT_MEMORY_EXCEEDED)


def test_a_fresh_bench_has_the_test_link_addresses_and_passes_its_checks() -> None:
    bench = Bench()
    assert bench.nic.is_local(DUT4) and bench.link.mac == DUT_MAC
    assert set(reassemblers(bench.stack)) == {4, 6}
    bench.check_invariants()


def test_reassembly_memory_is_read_from_the_stack_and_stays_within_the_high_threshold() -> None:
    bench = Bench(reassembly_high_thresh=HIGH, reassembly_low_thresh=LOW)
    flood(bench)
    reassembler = reassemblers(bench.stack)[4]
    assert LOW // 2 < reassembler.queued_bytes <= HIGH  # the check has real octets to look at
    assert reassembler.counters["evicted"] > 0  # and the flood went past the threshold
    bench.check_invariants()


def test_a_reassembler_that_stops_evicting_is_caught() -> None:
    bench = Bench(reassembly_high_thresh=HIGH, reassembly_low_thresh=LOW)
    reassembler = reassemblers(bench.stack)[4]
    reassembler._evict = lambda: None  # type: ignore[method-assign]  # the bound no longer holds
    flood(bench)
    assert reassembler.queued_bytes > HIGH
    with pytest.raises(InvariantError, match=r"IPv4 reassembly holds \d+ octets, above its high threshold 20000"):
        bench.check_invariants()


def test_reassembly_accounting_that_drifts_from_what_is_held_is_caught() -> None:
    bench = Bench()
    flood(bench, count=3)
    reassemblers(bench.stack)[4].queued_bytes -= 1
    with pytest.raises(InvariantError, match="IPv4 reassembly counts"):
        bench.check_invariants()


class _DeliversTwice:
    """A link dispatcher that hands every frame to the NIC twice: two verdicts for one frame."""

    def __init__(self, bench: Bench) -> None:
        self.nic = bench.nic

    def deliver(self, frame: bytes) -> Drop | None:
        self.nic.deliver(frame)
        return self.nic.deliver(frame)


def test_a_frame_counted_twice_is_caught() -> None:
    bench = Bench()
    bad = DUT_MAC + TESTER_MAC + b"\x08\x00" + struct.pack("!B", 0x65) + bytes(30)  # version 6: a drop
    assert bench.inject(bad) == (Drop.IPV4_BAD_VERSION, [])
    bench.link.attach(_DeliversTwice(bench))
    with pytest.raises(InvariantError, match="rx_frames went from 1 to 3"):
        bench.inject(bad)
