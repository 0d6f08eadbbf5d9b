"""One clock timer per connection, at the earliest of its deadlines (smoltcp's ``poll_at``).

A connection keeps every timer (retransmission, persist, delayed ACK, keep-alive, TIME-WAIT,
FIN-WAIT-2) as a deadline in ms, or None. After each event it calls ``ensure(earliest)``: the
clock timer is moved only when the earliest deadline comes sooner than the armed one, so the
per-ACK restart of the retransmission timer (RFC 6298 5.3) costs no clock operation. A timer that
fires early finds nothing due and is armed again for the real earliest deadline.
"""

from __future__ import annotations

from collections.abc import Callable

from stack_under_test.clock import Clock, Timer


class Deadlines:
    __slots__ = ("_callback", "_clock", "_timer")

    def __init__(self, clock: Clock, callback: Callable[[], None]) -> None:
        self._clock = clock
        self._callback = callback
        self._timer: Timer | None = None

    def ensure(self, earliest: int | None) -> None:
        """Make sure the callback runs no later than ``earliest`` (None: nothing is due)."""
        timer = self._timer
        if earliest is None:
            if timer is not None:
                timer.cancel()
                self._timer = None
            return
        if timer is not None:
            if timer.deadline_ms <= earliest and timer.pending:
                return
            timer.cancel()
        self._timer = self._clock.schedule(max(0, earliest - self._clock.now_ms), self._fire)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def armed_at(self) -> int | None:
        timer = self._timer
        return timer.deadline_ms if timer is not None and timer.pending else None

    def _fire(self) -> None:
        self._timer = None
        self._callback()
