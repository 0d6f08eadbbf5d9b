"""SIGINT that interrupts, also in a command started in the background."""

from __future__ import annotations

import signal


def interrupt_on_sigint() -> None:
    """Make SIGINT raise KeyboardInterrupt here and stop the processes this one starts.

    A shell starts background commands (`stackcheck ... &`, nohup) with SIGINT ignored, and an
    ignored signal stays ignored across exec: the children would then ignore the SIGINT that is
    meant to stop them. A handler set here is reset to the default in every child at exec, so each
    child gets KeyboardInterrupt again."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
