"""The shared Reassembler and the fragmenters (network/fragmentation.py), without a stack.

Time is a VirtualClock; the boundary idiom is gVisor's: advance(TIMEOUT - 1) still pending,
advance(1) expired.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from stack_under_test import Drop, VirtualClock
from stack_under_test.network.fragmentation import (
    FRAGMENT_OVERHEAD,
    REASSEMBLY_OVERHEAD,
    Reassembled,
    Reassembler,
    copied_options,
    fragment_ipv4,
    fragment_ipv6,
)
from stack_under_test.wire.ipv4 import FLAG_MF, FLAG_RESERVED, IPv4Header

TIMEOUT = 30_000
KEY = ("src", "dst", 17, 1)
DATA = bytes(range(256)) * 4  # 1,024 octets


class Expired:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any, bytes | None]] = []

    def __call__(self, key: Any, first: Any, head: bytes | None) -> None:
        self.calls.append((key, first, head))


def make(**kwargs: Any) -> tuple[VirtualClock, Reassembler, Expired]:
    clock = VirtualClock()
    expired = Expired()
    timeout = kwargs.pop("timeout", TIMEOUT)
    return clock, Reassembler(clock, lambda: timeout, on_timeout=expired, **kwargs), expired


def pieces(data: bytes, size: int) -> list[tuple[int, bytes, bool]]:
    """(offset, chunk, more) cuts of ``data`` every ``size`` octets."""
    return [(o, data[o : o + size], o + size < len(data)) for o in range(0, len(data), size)]


def feed(r: Reassembler, cuts: list[tuple[int, bytes, bool]], key: Any = KEY) -> list[Any]:
    return [r.add(key, off, chunk, more, first="first" if off == 0 else None) for off, chunk, more in cuts]


@pytest.mark.parametrize("order", ["in-order", "reversed", "shuffled"])
def test_fragments_in_any_order_give_back_the_datagram(order: str) -> None:
    _, r, _ = make()
    cuts = pieces(DATA, 64)
    if order == "reversed":
        cuts.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(cuts)
    results = feed(r, cuts)
    assert all(v is None for v in results[:-1])
    done = results[-1]
    assert isinstance(done, Reassembled) and done.payload == DATA and done.first == "first"
    assert len(r) == 0 and r.queued_bytes == 0 and r.counters["completed"] == 1


def test_exact_duplicates_are_dropped_alone_and_the_datagram_still_completes() -> None:
    _, r, _ = make()
    cuts = pieces(DATA, 128)
    assert feed(r, cuts[:3]) == [None, None, None]
    assert r.add(KEY, cuts[1][0], cuts[1][1], True) is Drop.FRAGMENT_DUPLICATE
    results = feed(r, cuts[3:])
    assert isinstance(results[-1], Reassembled) and results[-1].payload == DATA


@pytest.mark.parametrize(
    ("offset", "length"),
    [(64, 64), (0, 8), (120, 16), (8, 8), (0, 256)],
    ids=["starts-inside", "same-start-shorter", "straddles-end", "inside", "covers"],
)
def test_any_overlap_discards_the_whole_datagram_and_its_later_fragments(offset: int, length: int) -> None:
    clock, r, expired = make()
    assert r.add(KEY, 0, DATA[:128], True, first="first") is None
    assert r.add(KEY, offset, DATA[offset : offset + length], True) is Drop.FRAGMENT_OVERLAP
    # RFC 5722: fragments already queued are gone, and so are those not yet received.
    assert r.queued_bytes == REASSEMBLY_OVERHEAD and r.pending_keys() == set()
    assert r.add(KEY, 128, DATA[128:], False) is Drop.FRAGMENT_OF_DISCARDED_DATAGRAM
    assert r.add(KEY, 0, DATA[:128], True) is Drop.FRAGMENT_OF_DISCARDED_DATAGRAM
    # The memory of the overlap ends with the datagram's lifetime, silently.
    clock.advance(TIMEOUT)
    assert expired.calls == [] and len(r) == 0 and r.queued_bytes == 0
    assert isinstance(feed(r, pieces(DATA, 512))[-1], Reassembled)


def test_fragments_that_disagree_on_the_end_discard_the_datagram() -> None:
    _, r, _ = make()
    assert r.add(KEY, 64, DATA[64:128], False) is None  # ends at 128
    assert r.add(KEY, 128, DATA[128:192], True) is Drop.FRAGMENT_INCONSISTENT_LENGTH
    assert r.add(KEY, 0, DATA[:64], True) is Drop.FRAGMENT_OF_DISCARDED_DATAGRAM
    _, r, _ = make()
    assert r.add(KEY, 128, DATA[128:192], True) is None
    assert r.add(KEY, 64, DATA[64:128], False) is Drop.FRAGMENT_INCONSISTENT_LENGTH  # ends before data held


def test_empty_and_oversized_fragments_are_dropped_alone() -> None:
    _, r, _ = make(max_payload=65_535)
    assert r.add(KEY, 0, b"", True) is Drop.FRAGMENT_EMPTY
    assert r.add(KEY, 65_528, bytes(16), False) is Drop.FRAGMENT_DATAGRAM_TOO_LONG
    assert r.add(KEY, 65_528, bytes(7), False) is None  # ends at 65,535 exactly
    assert len(r) == 1


def test_timeout_boundary_reports_fragment_zero_only_when_it_arrived() -> None:
    clock, r, expired = make()
    assert r.add("with-zero", 0, DATA[:64], True, first="ctx") is None
    assert r.add("without-zero", 64, DATA[64:128], True) is None
    clock.advance(TIMEOUT - 1)
    assert r.pending_keys() == {"with-zero", "without-zero"} and expired.calls == []
    clock.advance(1)
    assert r.pending_keys() == set() and r.queued_bytes == 0
    assert expired.calls == [("with-zero", "ctx", DATA[:64]), ("without-zero", None, None)]
    assert r.counters["timed_out"] == 2


def test_a_changed_timeout_applies_to_datagrams_started_after_it() -> None:
    clock = VirtualClock()
    timeout = [TIMEOUT]
    expired = Expired()
    r = Reassembler(clock, lambda: timeout[0], on_timeout=expired)
    r.add("old", 0, DATA[:8], True, first=1)
    timeout[0] = 2_000
    r.add("new", 0, DATA[:8], True, first=2)
    clock.advance(1_999)
    assert expired.calls == []
    clock.advance(1)
    assert [c[0] for c in expired.calls] == ["new"]
    clock.advance(TIMEOUT - 2_000 - 1)
    assert [c[0] for c in expired.calls] == ["new"]
    clock.advance(1)
    assert [c[0] for c in expired.calls] == ["new", "old"]


def test_one_clock_timer_serves_every_datagram_and_the_deadline_heap_stays_bounded() -> None:
    clock, r, _ = make()
    for i in range(1_000):
        r.add(i, 0, DATA[:8], True)
        assert isinstance(r.add(i, 8, DATA[8:16], False), Reassembled)
    assert clock.pending_count() <= 1
    assert len(r._deadlines) <= 64


def test_memory_above_the_high_threshold_evicts_the_oldest_until_under_the_low() -> None:
    cost = REASSEMBLY_OVERHEAD + FRAGMENT_OVERHEAD + 1_000 + 125  # the data and its bitmap of 8-octet blocks
    clock, r, expired = make(high_thresh=10 * cost, low_thresh=6 * cost)
    for i in range(10):
        assert r.add(i, 0, bytes(1_000), True) is None
    assert r.queued_bytes == 10 * cost and r.counters["evicted"] == 0
    assert r.add(10, 0, bytes(1_000), True) is None  # crosses high: 0..4 go, oldest first
    assert r.pending_keys() == set(range(5, 11)) and r.counters["evicted"] == 5
    assert r.queued_bytes <= 6 * cost and r.peak_queued_bytes == 11 * cost
    clock.advance(TIMEOUT)
    assert [c[0] for c in expired.calls] == list(range(5, 11))  # evicted ones never time out


def test_a_fragment_that_cannot_fit_under_the_thresholds_is_dropped() -> None:
    _, r, _ = make(high_thresh=2_000, low_thresh=1_000)
    assert r.add(KEY, 0, bytes(1_500), True) is Drop.FRAGMENT_MEMORY_EXCEEDED
    assert len(r) == 0 and r.queued_bytes == 0


def test_the_fragment_cap_discards_the_datagram() -> None:
    _, r, _ = make(max_fragments=4)
    assert feed(r, pieces(DATA[:64], 8)[:4]) == [None] * 4
    assert r.add(KEY, 32, DATA[32:40], True) is Drop.FRAGMENT_TOO_MANY
    assert len(r) == 0 and r.queued_bytes == 0


def test_65000_octets_in_8_octet_fragments_in_random_order() -> None:
    _, r, _ = make(max_fragments=8_192)
    data = random.Random(3).randbytes(65_000)
    cuts = pieces(data, 8)
    random.Random(4).shuffle(cuts)
    results = feed(r, cuts)
    assert isinstance(results[-1], Reassembled) and results[-1].payload == data
    assert all(v is None for v in results[:-1])


# ---- fragmenters ---------------------------------------------------------------------------------

RECORD_ROUTE = bytes([7, 7, 4]) + bytes(4)  # copied flag clear (RFC 791 3.1)
SECURITY = bytes([130, 11]) + bytes(9)  # copied flag set
LSRR = bytes([131, 7, 4]) + bytes(4)  # copied flag set
SRC, DST = bytes((198, 51, 100, 2)), bytes((198, 51, 100, 1))


def test_copied_options_keeps_only_options_with_the_copied_flag() -> None:
    options = bytes([1]) + RECORD_ROUTE + SECURITY + LSRR + bytes([0])
    options += bytes(-len(options) % 4)
    kept = copied_options(options)
    assert kept == SECURITY + LSRR + bytes(-len(SECURITY + LSRR) % 4)


def test_ipv4_fragments_fit_the_mtu_carry_copied_options_and_reassemble() -> None:
    options = RECORD_ROUTE + SECURITY + LSRR
    options += bytes(-len(options) % 4)
    payload = random.Random(5).randbytes(3_000)
    packets = fragment_ipv4(SRC, DST, 17, payload, 0x4242, 64, 576, options=options)
    assert isinstance(packets, list) and len(packets) > 1
    _, r, _ = make()
    result: Any = None
    for i, p in enumerate(packets):
        assert len(p) <= 576
        ihl = (p[0] & 0x0F) * 4
        assert int.from_bytes(p[2:4], "big") == len(p)
        assert sum(int.from_bytes(p[j : j + 2], "big") for j in range(0, ihl, 2)) % 0xFFFF == 0  # checksum
        flags_frag = int.from_bytes(p[6:8], "big")
        more, offset = bool(flags_frag & 0x2000), (flags_frag & 0x1FFF) * 8
        assert p[20:ihl] == (options if i == 0 else copied_options(options))
        if more:
            assert (len(p) - ihl) % 8 == 0
        result = r.add(KEY, offset, p[ihl:], more)
    assert isinstance(result, Reassembled) and result.payload == payload


def test_ipv4_pieces_at_the_minimum_mtu_behind_the_longest_options_carry_8_octets() -> None:
    # RFC 791 3.2: "the minimum fragment is 8 octets" behind a 60-octet header, at an MTU of 68.
    options = bytes([1] * 39 + [0])  # copied flag clear: only the first piece carries them
    packets = fragment_ipv4(SRC, DST, 17, bytes(24), 1, 64, 68, options=options)
    assert [len(p) for p in packets] == [68, 36]


def test_ipv4_fragments_keep_the_reserved_flag_bit() -> None:
    # RFC 1812 5.2.5: "If a router fragments a packet, it MUST copy these bits into each fragment."
    packets = fragment_ipv4(SRC, DST, 17, bytes(1000), 7, 64, 576, flags_frag=FLAG_RESERVED)
    assert len(packets) == 2 and all(p[6] & 0x80 for p in packets)


def test_ipv6_fragments_fit_the_mtu_and_reassemble() -> None:
    fixed = bytes([0x60]) + bytes(5) + bytes([17, 64]) + bytes(32)
    payload = random.Random(6).randbytes(4_000)
    packets = fragment_ipv6(fixed, b"", 17, payload, 0xDEADBEEF, 1280)
    _, r, _ = make()
    result: Any = None
    for p in packets:
        assert len(p) <= 1280 and p[6] == 44 and int.from_bytes(p[4:6], "big") == len(p) - 40
        assert p[40] == 17 and int.from_bytes(p[44:48], "big") == 0xDEADBEEF
        off_flags = int.from_bytes(p[42:44], "big")
        result = r.add(KEY, off_flags & 0xFFF8, p[48:], bool(off_flags & 1))
    assert isinstance(result, Reassembled) and result.payload == payload


def test_a_fragment_cut_further_keeps_its_offset_and_its_more_fragments_flag() -> None:
    # RFC 791 3.2: the pieces of a non-last fragment at offset 100 (8-octet units) all carry MF,
    # and their offsets count from the original datagram's start.
    packets = fragment_ipv4(SRC, DST, 17, bytes(1000), 7, 64, 576, flags_frag=FLAG_MF | 100)
    assert isinstance(packets, list) and len(packets) == 2
    headers = [IPv4Header.parse(p) for p in packets]
    assert all(isinstance(h, IPv4Header) for h in headers)
    assert [(h.fragment_offset, h.more_fragments) for h in headers if isinstance(h, IPv4Header)] == [
        (100, True), (100 + 552 // 8, True),
    ]
