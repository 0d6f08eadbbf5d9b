"""Property 4: the shared Reassembler (network/fragmentation.py) against a small reference model,
under the VirtualClock. Three datagrams with fixed contents are cut at any 8-octet boundaries and
fed in any order, duplicated, overlapping, with inconsistent last fragments, while virtual time
passes; the thresholds are tiny so memory pressure and eviction happen in short runs.

The model states the rules directly (RFC 815 holes as a dict of pieces, RFC 5722 overlaps poison
the whole datagram until its timeout, Linux-style eviction of the oldest datagrams first when the
queued octets pass the high threshold); the Reassembler must agree on every verdict and on what
is pending, must deliver exactly the original datagram, and must stay under its high threshold.
What a datagram costs is the Reassembler's own accounting (payload plus measured overheads), so
the model does not predict *when* eviction happens, only that it takes the oldest datagrams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fuzz import stats
from fuzz.profiles import budget
from stack_under_test.clock import VirtualClock
from stack_under_test.drops import Drop
from stack_under_test.network import fragmentation
from stack_under_test.network.fragmentation import Reassembled, Reassembler

TIMEOUT_MS = 1_000
# Three datagrams in progress exceed HIGH: eviction within a handful of steps.
_OVERHEAD = int(getattr(fragmentation, "REASSEMBLY_OVERHEAD", 640))
HIGH, LOW = 2 * _OVERHEAD + 600, _OVERHEAD + 300
MAX_FRAGMENTS = 6
# The original datagrams (fragmentable part) by key; lengths not all multiples of 8.
DATAGRAMS = {k: bytes((k * 41 + i) % 251 for i in range(n)) for k, n in {0: 64, 1: 300, 2: 21}.items()}


@dataclass
class ModelDatagram:
    seq: int
    deadline: int
    pieces: dict[int, bytes] = field(default_factory=dict)  # offset -> octets
    total: int | None = None
    poisoned: bool = False
    clean: bool = True  # every piece held was cut from the real datagram

    @property
    def max_end(self) -> int:
        return max((o + len(p) for o, p in self.pieces.items()), default=0)


class ReassemblyVsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        stats.count("reassembly")
        self.clock = VirtualClock()
        self.reasm = Reassembler(self.clock, lambda: TIMEOUT_MS, high_thresh=HIGH, low_thresh=LOW,
                                 max_fragments=MAX_FRAGMENTS, max_payload=4096)
        self.model: dict[int, ModelDatagram] = {}  # insertion order = age
        self.seq = 0
        self.evicted = 0

    # ---- the model ---------------------------------------------------------------------------
    def model_add(self, key: int, offset: int, data: bytes, more: bool, real: bool) -> Drop | bytes | None:
        end = offset + len(data)
        d = self.model.get(key)
        if d is None:
            self.seq += 1
            d = self.model[key] = ModelDatagram(self.seq, self.clock.now_ms + TIMEOUT_MS)
        if d.poisoned:
            return Drop.FRAGMENT_OF_DISCARDED_DATAGRAM
        for o, p in d.pieces.items():
            if o == offset and o + len(p) == end:
                return Drop.FRAGMENT_DUPLICATE
        if any(o < end and offset < o + len(p) for o, p in d.pieces.items()):
            return self.poison(d, Drop.FRAGMENT_OVERLAP)
        if not more:
            if end < d.max_end or (d.total is not None and d.total != end):
                return self.poison(d, Drop.FRAGMENT_INCONSISTENT_LENGTH)
            d.total = end
        elif d.total is not None and end > d.total:
            return self.poison(d, Drop.FRAGMENT_INCONSISTENT_LENGTH)
        if len(d.pieces) >= MAX_FRAGMENTS:
            del self.model[key]
            return Drop.FRAGMENT_TOO_MANY
        d.pieces[offset] = data
        d.clean = d.clean and real
        if d.total is not None and sum(map(len, d.pieces.values())) == d.total:
            del self.model[key]
            whole = b"".join(d.pieces[o] for o in sorted(d.pieces))
            # Any order of non-overlapping fragments of a datagram yields exactly that datagram.
            assert not d.clean or whole == DATAGRAMS[key], "the model itself is wrong"
            return whole
        return None

    @staticmethod
    def poison(d: ModelDatagram, reason: Drop) -> Drop:
        d.pieces.clear()
        d.poisoned = True
        return reason

    def held_keys(self) -> set[object]:
        """Every datagram the Reassembler still tracks, poisoned ones included."""
        table = getattr(self.reasm, "datagrams", None)
        return set(table) if table is not None else set(self.reasm.pending_keys())

    def sync_evictions(self) -> None:
        """Datagrams the Reassembler dropped under memory pressure must be the oldest ones."""
        held = self.held_keys()
        gone = [k for k in self.model if k not in held]
        assert gone == list(self.model)[: len(gone)], f"evicted {gone}, not the oldest of {list(self.model)}"
        assert not gone or self.reasm.counters["evicted"] > self.evicted, f"{gone} vanished without an eviction"
        self.evicted = self.reasm.counters["evicted"]
        for k in gone:
            del self.model[k]

    # ---- rules -------------------------------------------------------------------------------
    @rule(key=st.sampled_from(sorted(DATAGRAMS)), start=st.integers(0, 40), units=st.integers(1, 4) | st.integers(5, 40))
    def fragment(self, key: int, start: int, units: int) -> None:
        """A piece of the real datagram, cut at 8-octet boundaries (the last one may be short)."""
        datagram = DATAGRAMS[key]
        offset = min(start * 8, (len(datagram) - 1) // 8 * 8)
        end = min(offset + units * 8, len(datagram))
        self.check(key, offset, datagram[offset:end], end < len(datagram), real=True)

    @rule(key=st.sampled_from(sorted(DATAGRAMS)), start=st.integers(0, 8), units=st.integers(1, 3))
    def wrong_last_fragment(self, key: int, start: int, units: int) -> None:
        """A "last" fragment (M=0) that ends anywhere: inconsistent unless it ends where the datagram does."""
        offset = start * 8
        data = bytes(units * 8)
        self.check(key, offset, data, False, real=False)

    @rule(ms=st.sampled_from([1, TIMEOUT_MS - 1, TIMEOUT_MS, 10, 300]))
    def wait(self, ms: int) -> None:
        self.clock.advance(ms)
        now = self.clock.now_ms
        self.model = {k: d for k, d in self.model.items() if d.deadline > now}

    @precondition(lambda self: bool(self.model))
    @rule()
    def expire_all(self) -> None:
        self.wait(TIMEOUT_MS)
        assert not self.reasm.pending_keys()

    def check(self, key: int, offset: int, data: bytes, more: bool, real: bool) -> None:
        expected = self.model_add(key, offset, data, more, real)
        got = self.reasm.add(key, offset, data, more, first=("head", key))
        event(f"verdict: {type(got).__name__ if not isinstance(got, Drop) else got.name}")
        for what in ("evicted", "too_many_fragments"):
            if self.reasm.counters[what]:
                event(what)
        if isinstance(expected, bytes):
            assert isinstance(got, Reassembled), f"expected the datagram, got {got!r}"
            assert got.payload == expected
            assert got.first == ("head", key)
        elif expected is None and got is Drop.FRAGMENT_MEMORY_EXCEEDED:
            assert key not in self.held_keys(), "memory exceeded, yet the datagram is still held"
        else:
            assert got == expected, f"fragment {key}@{offset}+{len(data)} more={more}: {got!r} != model {expected!r}"
        self.sync_evictions()

    # ---- invariants --------------------------------------------------------------------------
    @invariant()
    def same_pending_datagrams(self) -> None:
        assert self.reasm.pending_keys() == {k for k, d in self.model.items() if not d.poisoned}

    @invariant()
    def memory_bounded_and_released(self) -> None:
        assert self.reasm.queued_bytes <= HIGH
        if not self.model:
            assert self.reasm.queued_bytes == 0, "nothing in reassembly, yet octets are charged"


ReassemblyVsModel.TestCase.settings = budget(100, stateful_step_count=40)
TestReassembly = ReassemblyVsModel.TestCase
