"""Clean-up that runs however the harness ends: normal exit, Ctrl-C or SIGTERM.

Backends that create namespaces, links and processes register their close-everything function
here, so nothing they made outlives the run."""

from __future__ import annotations

import atexit
import signal
import threading
from collections.abc import Callable
from types import FrameType

_registered: set[Callable[[], None]] = set()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # so finally blocks and atexit run and nothing is left behind


def run_at_exit(close_all: Callable[[], None]) -> None:
    """Call ``close_all`` when the process exits (once, however often this is called).

    Ctrl-C already raises KeyboardInterrupt; SIGTERM would end the process without atexit, so it
    is turned into SystemExit, but only when nobody else handles it and only from the main thread."""
    if close_all in _registered:
        return
    _registered.add(close_all)
    atexit.register(close_all)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
