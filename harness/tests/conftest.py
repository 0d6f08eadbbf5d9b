"""Fixtures shared by the harness tests that drive the Linux kernel in a network namespace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.backends.linux.dut import LinuxDUT, check_available


@pytest.fixture(scope="module")
def shared_kernel() -> Iterator[LinuxDUT]:
    """One LinuxDUT per test module, so the namespaces and veth pair are set up once."""
    reason = check_available()
    if reason is not None:
        pytest.skip(f"needs root for network namespaces ({reason})")
    dut = LinuxDUT()
    try:
        yield dut
    finally:
        dut.close()


@pytest.fixture
def kernel(shared_kernel: LinuxDUT) -> LinuxDUT:
    """The module's LinuxDUT, reset to its starting configuration for this test."""
    shared_kernel.reset()
    return shared_kernel
