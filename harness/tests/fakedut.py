"""A FrameDUT over a scripted fake link with virtual time, for testing the base class."""

from __future__ import annotations

import heapq
import itertools

from harness.backends.base import TEST_LINK, FrameDUT
from harness.capture import Capture


class FakeDUT(FrameDUT):
    """Frames the "DUT" will emit are scheduled at virtual times; ``respond`` maps a sent frame
    to frames emitted at once (like the in-process stack answering synchronously)."""

    def __init__(self, capture: Capture | None = None) -> None:
        super().__init__("fake", TEST_LINK, capture)
        self.clock_s = 0.0
        self.sent: list[bytes] = []
        self.respond = lambda frame: []  # type: ignore[var-annotated]
        self._queue: list[tuple[float, int, bytes]] = []
        self._seq = itertools.count()

    def emit_at(self, t: float, frame: bytes) -> None:
        heapq.heappush(self._queue, (t, next(self._seq), frame))

    def _transmit(self, frame: bytes) -> None:
        self.sent.append(frame)
        for reply in self.respond(frame):
            self.emit_at(self.clock_s, bytes(reply))

    def _receive(self, deadline: float) -> bytes | None:
        if self._queue and self._queue[0][0] <= max(deadline, self.clock_s):
            t, _, frame = heapq.heappop(self._queue)
            self.clock_s = max(self.clock_s, t)
            return frame
        self.clock_s = max(self.clock_s, deadline)
        return None

    def _now(self) -> float:
        return self.clock_s
