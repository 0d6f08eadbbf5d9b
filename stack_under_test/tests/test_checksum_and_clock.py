"""RFC 1071 checksum arithmetic and the VirtualClock's timer ordering."""

from __future__ import annotations

import struct

import pytest

from stack_under_test import clock as clock_module
from stack_under_test.clock import MonotonicClock, VirtualClock
from stack_under_test.wire.checksum import checksum, incremental_update, ones_sum, pseudo_header_sum, verify


def _reference_sum(data: bytes) -> int:
    """RFC 1071 section 4.1's loop, transliterated: add 16-bit words, fold the carries."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def test_rfc1071_example_sums_to_ddf2() -> None:
    # RFC 1071 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (ones'-complement).
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert ones_sum(data) == 0xDDF2
    assert checksum(data) == 0x220D


@pytest.mark.parametrize("data", [b"", b"\x01", b"\xff", b"\x01\x02\x03", bytes(range(255)), b"\xff\xff" * 10, b"\x00" * 7])
def test_sum_matches_the_reference_loop_for_odd_and_even_lengths(data: bytes) -> None:
    assert ones_sum(data) == _reference_sum(data) or (ones_sum(data), _reference_sum(data)) == (0xFFFF, 0xFFFF)


def test_odd_length_pads_with_a_zero_octet_at_the_end() -> None:
    assert ones_sum(b"\xab") == 0xAB00


def test_a_message_with_its_checksum_verifies() -> None:
    data = bytes(range(1, 41))
    csum = checksum(data)
    assert verify(data + struct.pack("!H", csum))
    assert not verify(data + struct.pack("!H", csum ^ 1))


def test_incremental_update_equals_full_recomputation() -> None:
    # RFC 1624 eqn. 3 on an ICMP type change 8 -> 0 (the echo reply case).
    msg = bytearray(struct.pack("!BBHHH", 8, 0, 0, 0x1234, 7) + b"payload!")
    old = checksum(msg)
    msg[0] = 0
    assert incremental_update(old, 0x0800, 0x0000) == checksum(msg)


def test_pseudo_header_sum_is_the_same_for_the_ipv6_form() -> None:
    src, dst = bytes(range(16)), bytes(range(16, 32))
    v6_form = src + dst + struct.pack("!I3xB", 1000, 17)
    assert pseudo_header_sum(src, dst, 17, 1000) == ones_sum(v6_form)
    big = src + dst + struct.pack("!I3xB", 70000, 17)
    assert pseudo_header_sum(src, dst, 17, 70000) == ones_sum(big)


# ---- VirtualClock ------------------------------------------------------------------------------
def test_timers_fire_by_deadline_then_in_scheduling_order() -> None:
    clock, fired = VirtualClock(), []
    clock.schedule(20, lambda: fired.append("b20"))
    clock.schedule(10, lambda: fired.append("a10"))
    clock.schedule(20, lambda: fired.append("c20"))
    clock.schedule(10, lambda: fired.append("d10"))
    clock.advance(19)
    assert fired == ["a10", "d10"]
    clock.advance(1)
    assert fired == ["a10", "d10", "b20", "c20"]
    assert clock.now_ms == 20


def test_a_timer_fires_at_its_own_deadline_not_at_the_target_time() -> None:
    clock, seen = VirtualClock(), []
    clock.schedule(5, lambda: seen.append(clock.now_ms))
    clock.advance(100)
    assert seen == [5] and clock.now_ms == 100


def test_cancelled_timers_do_not_fire_and_leave_no_deadline() -> None:
    clock, fired = VirtualClock(), []
    timer = clock.schedule(10, lambda: fired.append(1))
    timer.cancel()
    timer.cancel()  # idempotent
    assert clock.next_deadline_ms() is None
    clock.advance(50)
    assert fired == [] and not timer.pending


def test_advance_fires_timers_scheduled_by_timers_within_the_window() -> None:
    clock, fired = VirtualClock(), []

    def first() -> None:
        fired.append(("first", clock.now_ms))
        clock.schedule(5, lambda: fired.append(("second", clock.now_ms)))
        clock.schedule(50, lambda: fired.append(("late", clock.now_ms)))

    clock.schedule(10, first)
    clock.advance(20)
    assert fired == [("first", 10), ("second", 15)]
    assert clock.next_deadline_ms() == 60


def test_zero_delay_timer_fires_on_advance_zero_and_next_deadline_reports_it() -> None:
    clock, fired = VirtualClock(start_ms=7), []
    clock.schedule(0, lambda: fired.append(clock.now_ms))
    assert clock.next_deadline_ms() == 7
    clock.advance(0)
    assert fired == [7]


def test_advance_to_next_jumps_to_the_next_deadline() -> None:
    clock, fired = VirtualClock(), []
    clock.schedule(30, lambda: fired.append(clock.now_ms))
    assert clock.advance_to_next() and fired == [30] and clock.now_ms == 30
    assert not clock.advance_to_next()


def test_monotonic_clock_at_a_rate_runs_timers_that_much_sooner(monkeypatch: pytest.MonkeyPatch) -> None:
    wall = [100.0]
    monkeypatch.setattr(clock_module.time, "monotonic", lambda: wall[0])
    clock = MonotonicClock(rate=2.0)
    fired: list[int] = []
    clock.schedule(1000, lambda: fired.append(clock.now_ms))
    assert clock.seconds_until_next() == 0.5  # 1 s of the stack's time is half a second of wall time
    wall[0] += 0.25
    assert clock.now_ms == 500 and clock.run_due() == 0
    wall[0] += 0.25
    assert clock.run_due() == 1 and fired == [1000]
    with pytest.raises(ValueError, match="above 0"):
        MonotonicClock(rate=0)
