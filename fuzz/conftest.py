"""Fuzz test configuration: the Hypothesis profiles (fuzz/profiles.py; HYPOTHESIS_PROFILE=ci by
default, ``overnight`` for campaigns) and, for ``stackcheck fuzz``, per-example counting.

When STACKCHECK_FUZZ_STATS names a file, every Hypothesis test's inner function is wrapped to
count examples and distinct failures (exception type + innermost stack_under_test/fuzz frame);
fuzz/stats.py writes the counts as JSON about once a second and at the end, so a campaign
stopped with SIGINT still reports what it ran.
"""

from __future__ import annotations

import signal
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import stack_under_test.network.ipv6  # noqa: F401  (see below)
from fuzz import stats
from fuzz.profiles import PROFILE

# The whole stack is imported here, at collection, rather than by the first example (host.py
# imports the IPv6 layer lazily): a campaign's SIGINT landing in the middle of an import can
# surface as an unrelated error ("SystemError: AST constructor recursion depth mismatch").

settings.load_profile(PROFILE)


def _on_sigint(signum: int, frame: Any) -> None:
    # The campaign runner stops a worker with SIGINT. An exception the interrupted example
    # raises on its way out (an import cut short can raise SystemError) is not a finding.
    stats.stopping = True
    signal.default_int_handler(signum, frame)


if stats.PATH is not None and threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, _on_sigint)


def signature(exc: BaseException) -> str:
    """A failure's identity for de-duplication: exception type and innermost frame of our code."""
    frames = traceback.extract_tb(exc.__traceback__)
    inner = [f for f in frames if "stack_under_test" in f.filename or "/fuzz/" in f.filename]
    where = inner[-1] if inner else (frames[-1] if frames else None)
    return f"{type(exc).__name__} at {Path(where.filename).name}:{where.lineno}" if where else type(exc).__name__


def _counting(name: str, inner: Any) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if stats.stopping:
            # The SIGINT's KeyboardInterrupt was lost on its way out of an example (raised where
            # exceptions are ignored, as in a finalizer): a worker went on fuzzing for 180 s after
            # it. No example starts once the SIGINT has come.
            raise KeyboardInterrupt
        stats.count(name)
        try:
            return inner(*args, **kwargs)
        except Exception as exc:
            if not stats.stopping:
                message = "".join(traceback.format_exception_only(exc))[-500:]
                stats.failures.setdefault(name, {}).setdefault(signature(exc), message)
            raise

    return wrapped


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if stats.PATH is None:
        return
    for item in items:
        hyp = getattr(getattr(item, "obj", None), "hypothesis", None)
        if hyp is not None and hasattr(hyp, "inner_test"):
            hyp.inner_test = _counting(item.name, hyp.inner_test)


def pytest_sessionfinish() -> None:
    stats.write(final=True)
