"""A deliberately broken build of our stack, for the liveness test only: ``main(argv)`` runs
``python -m stack_under_test`` with ``NIC.deliver`` wrapped so that a frame carrying ``HANG``
wedges the process (it goes on running and never reads another frame) and one carrying
``CRASH`` ends it. The test's launcher imports this module instead of stack_under_test.__main__;
nothing in the product knows about it."""

from __future__ import annotations

import os
import time
from typing import Final

from stack_under_test import __main__ as stack_main
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
    return stack_main.main(argv)
