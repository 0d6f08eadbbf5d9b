"""Time for the stack: a Clock protocol, the VirtualClock tests drive, and a MonotonicClock.

The stack never reads the time itself; it asks its Clock. Timers fire in (deadline, scheduling
order), so same-instant timers run in the order they were armed (gVisor's faketime fires them in
Go map order, which makes tests flaky). MonotonicClock is the only place that calls ``time``; only
``__main__`` uses it.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol


class Timer:
    """Handle of one scheduled callback. ``cancel()`` is idempotent."""

    __slots__ = ("callback", "cancelled", "deadline_ms", "fired")

    def __init__(self, deadline_ms: int, callback: Callable[[], None]) -> None:
        self.deadline_ms = deadline_ms
        self.callback = callback
        self.cancelled = False
        self.fired = False

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def pending(self) -> bool:
        return not (self.cancelled or self.fired)


class Clock(Protocol):
    @property
    def now_ms(self) -> int: ...

    @property
    def utc_origin_ms(self) -> int | None:
        """Universal Time at ``now_ms == 0``, in ms since 1970-01-01 00:00 UT; None when the clock
        does not know it. Timestamps (RFC 791 options, RFC 792 Timestamp) count from midnight UT."""
        ...

    def schedule(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` once, ``delay_ms`` (>= 0) from now."""
        ...


class _TimerHeap:
    """Timers ordered by (deadline, sequence)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = 0

    def _push(self, timer: Timer) -> Timer:
        self._seq += 1
        heapq.heappush(self._heap, (timer.deadline_ms, self._seq, timer))
        return timer

    def next_deadline_ms(self) -> int | None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _pop_due(self, now_ms: int) -> Timer | None:
        deadline = self.next_deadline_ms()
        if deadline is None or deadline > now_ms:
            return None
        timer = heapq.heappop(self._heap)[2]
        timer.fired = True
        return timer

    def pending_count(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)


class VirtualClock(_TimerHeap):
    """A clock that only moves when told to: ``advance(ms)`` fires every timer that falls due."""

    def __init__(self, start_ms: int = 0, utc_origin_ms: int | None = 0) -> None:
        super().__init__()
        self.now_ms = start_ms
        # By default the clock's zero is taken for midnight UT (1970-01-01): tests see timestamps
        # that are the virtual time of day. A harness that compares with real time sets it.
        self.utc_origin_ms = utc_origin_ms

    def schedule(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        return self._push(Timer(self.now_ms + max(0, int(delay_ms)), callback))

    def advance(self, ms: int) -> None:
        """Move time forward by ``ms``, firing due timers at their own deadlines, in order.

        Timers armed by a firing timer also fire if they fall due before the target time.
        """
        target = self.now_ms + max(0, int(ms))
        while (timer := self._pop_due(target)) is not None:
            self.now_ms = timer.deadline_ms
            timer.callback()
        self.now_ms = target

    def advance_to_next(self) -> bool:
        """Jump to the next deadline and fire what is due there; False when nothing is pending."""
        deadline = self.next_deadline_ms()
        if deadline is None:
            return False
        self.advance(deadline - self.now_ms)
        return True


class MonotonicClock(_TimerHeap):
    """Wall time for a real interface. The poll loop calls ``run_due()`` after each wakeup.

    ``rate``: how many of the stack's seconds pass in one second of wall time. A test bench
    that reads the same scaled time (the tap backend) waits out the stack's timers that many
    times faster; 1 is real time."""

    def __init__(self, rate: float = 1.0) -> None:
        super().__init__()
        if not rate > 0:
            raise ValueError(f"a clock rate must be above 0, not {rate!r}")
        self.rate = float(rate)
        self._origin = time.monotonic()
        self.utc_origin_ms: int | None = time.time_ns() // 1_000_000

    @property
    def now_ms(self) -> int:
        return int((time.monotonic() - self._origin) * 1000 * self.rate)

    def schedule(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        return self._push(Timer(self.now_ms + max(0, int(delay_ms)), callback))

    def run_due(self) -> int:
        """Fire every timer whose deadline has passed; returns how many fired."""
        fired = 0
        while (timer := self._pop_due(self.now_ms)) is not None:
            timer.callback()
            fired += 1
        return fired

    def seconds_until_next(self) -> float | None:
        """Wall-clock seconds until the next timer falls due (None when none is pending)."""
        deadline = self.next_deadline_ms()
        return None if deadline is None else max(0.0, (deadline - self.now_ms) / 1000 / self.rate)
