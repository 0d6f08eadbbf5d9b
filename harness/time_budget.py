"""Tests that wait long stretches of DUT time run where that time costs nothing.

The in-process backend's clock is virtual: a test that holds a DUT to an RFC's two-hour keepalive
interval or its 60-second reassembly limit runs there in milliseconds. On a backend whose clock is
real the same wait would cost its full length in wall time for every run of the suite, so such a
test skips there, saying so."""

from __future__ import annotations

from typing import Final

import pytest

from harness.dut import DUT

# Longer waits than this skip on a real clock; shorter ones are worth their wall time.
REAL_TIME_LIMIT_S: Final = 30.0


def require_dut_time(dut: DUT, seconds: float) -> None:
    """Skip the calling test on a real-clock backend if it waits more than ``REAL_TIME_LIMIT_S``."""
    if dut.name != "inprocess" and seconds > REAL_TIME_LIMIT_S:
        pytest.skip(f"this test waits {seconds:g} s of DUT time; the {dut.name} backend's clock is real "
                    "(run it on the inprocess backend, where waiting costs no wall time)")


def timer_deadline(nominal: float) -> float:
    """When a host's timer set for at most ``nominal`` seconds has surely run: hosts keep timers
    in coarse buckets and run them late, never early (Linux's timer wheel rounds a timeout up
    to its level's granularity, up to an eighth of it: a 5-s timer at 1000 Hz runs up to
    512 ms late), plus a few ticks of deferred work."""
    return nominal * 9 / 8 + 0.05
