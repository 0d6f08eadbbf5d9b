"""pytest-xdist workers of a ``stackcheck run`` end at once when their session is over.

The controller of a parallel run waits for every worker process to end, and a worker that ends
normally tears its interpreter down first: every module and object it made (Scapy's layers,
1,700 collected tests, their reports) freed one by one. That is about 0.3 s of CPU per worker,
and with 24 workers on 2 cores the last 4 s of every real-DUT run. A worker whose session is
over has nothing left to do: it flushes what it wrote and leaves with ``os._exit``.

Only with ``--exit-workers-at-once`` (which ``stackcheck run`` passes): atexit handlers
registered before the worker's ``pytest_configure`` (a coverage tool started with the
interpreter, say) do not run, and a plain pytest run keeps them.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

_session_over = False


def install() -> None:
    """In a worker, at configure time: end the process at once at exit if its session is over.
    Handlers registered later (the backends' clean-up, harness.backends.exit_hooks) run first."""
    atexit.register(_exit_at_once)


def session_over() -> None:
    global _session_over
    _session_over = True


def _exit_at_once() -> None:
    if not _session_over:  # ended some other way: leave it to the interpreter, as usual
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            continue
    os._exit(0)
