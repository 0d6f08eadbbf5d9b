"""A deliberately broken build of our stack, for the liveness test only: run as
``python -m fuzz.differential.tests.broken_stack ARGS`` in place of the tap backend's agent
(``python -m harness.backends.tap_agent ARGS``), it serves our stack the same way with
``NIC.deliver`` wrapped so that a frame carrying
- ``HANG`` wedges the process (it goes on running and never reads another frame or request),
- ``CRASH`` ends it,
- ``MUTE`` leaves the stack answering frames but its control agent answering no request,
- ``MISCOUNT`` leaves it answering everything but counting a frame it gave no verdict (its
  ``x-counters`` no longer add up).
Nothing in the product knows about it."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Final

from harness.backends import tap_agent
from harness.control.server import ControlServer
from stack_under_test.stack import nic

HANG: Final = b"wedge the stack"
CRASH: Final = b"crash the stack"
MUTE: Final = b"mute the agent"
MISCOUNT: Final = b"miscount a frame"


def main(argv: list[str]) -> int:
    original_deliver, original_send = nic.NIC.deliver, ControlServer._send
    muted = False

    def deliver(self: nic.NIC, frame: bytes) -> object:
        nonlocal muted
        if HANG in bytes(frame):
            while True:  # alive, but never back to its poll loop
                time.sleep(3600)
        if CRASH in bytes(frame):
            os._exit(70)
        muted = muted or MUTE in bytes(frame)
        verdict = original_deliver(self, frame)
        if MISCOUNT in bytes(frame):
            self.stats.rx_frames += 1
        return verdict

    def send(self: ControlServer, conn: Any, message: dict[str, Any]) -> None:
        if not muted:  # requests are read and served, their answers never sent
            original_send(self, conn, message)

    nic.NIC.deliver = deliver  # type: ignore[method-assign,assignment]
    ControlServer._send = send  # type: ignore[method-assign]
    return tap_agent.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
