"""A deliberately broken build of our stack, for the liveness test only: run as
``python -m fuzz.differential.tests.broken_stack ARGS`` in place of the tap backend's agent
(``python -m harness.backends.tap_agent ARGS``), it serves our stack the same way with
``NIC.deliver`` wrapped so that a frame carrying ``HANG`` wedges the process (it goes on running
and never reads another frame) and one carrying ``CRASH`` ends it. Nothing in the product knows
about it."""

from __future__ import annotations

import os
import sys
import time
from typing import Final

from harness.backends import tap_agent
from stack_under_test.stack import nic

HANG: Final = b"wedge the stack"
CRASH: Final = b"crash the stack"


def main(argv: list[str]) -> int:
    original = nic.NIC.deliver

    def deliver(self: nic.NIC, frame: bytes) -> object:
        if HANG in bytes(frame):
            while True:  # alive, but never back to its poll loop
                time.sleep(3600)
        if CRASH in bytes(frame):
            os._exit(70)
        return original(self, frame)

    nic.NIC.deliver = deliver  # type: ignore[method-assign,assignment]
    return tap_agent.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
