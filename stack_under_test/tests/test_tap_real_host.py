"""The stack as a real host: `python -m stack_under_test --tap` answers the Linux kernel.

A network namespace of our own holds a TAP device. Its kernel side carries the tester
addresses; our stack, started inside the same namespace, owns the other end of the TAP and
the DUT addresses. Then the kernel's own `ping` and `ping -6` must get answers, which needs
ARP (RFC 826) and Neighbor Discovery (RFC 4861 7.2) to work first. Only documentation
addresses are used, and nothing is ever added to the root namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and TAP devices"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's `ip` command"),
    pytest.mark.skipif(
        shutil.which("ping") is None,
        reason="needs the `ping` command (Debian package iputils-ping; `make test` installs it as root)",
    ),
]

STACK_MAC = "02:00:00:00:00:01"
STACK_IPV4, KERNEL_IPV4 = "198.51.100.1", "198.51.100.2"
STACK_IPV6, KERNEL_IPV6 = "2001:db8:1::1", "2001:db8:1::2"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)


def _in_ns(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *argv], check=check, capture_output=True, text=True, timeout=30
    )


@pytest.fixture
def tap_namespace() -> Iterator[tuple[str, str]]:
    unique = f"{os.getpid() % 100000}{os.environ.get('PYTEST_XDIST_WORKER', 'gw')[-2:]}"
    ns, tap = f"sc-tap-{unique}", f"sct{unique}"[:15]
    _run("ip", "netns", "add", ns)
    try:
        _in_ns(ns, "ip", "link", "set", "lo", "up")
        _in_ns(ns, "ip", "tuntap", "add", "dev", tap, "mode", "tap")
        _in_ns(ns, "ip", "addr", "add", f"{KERNEL_IPV4}/24", "dev", tap)
        # nodad: the kernel side's address must be usable at once; the stack answers NS anyway.
        _in_ns(ns, "ip", "addr", "add", f"{KERNEL_IPV6}/64", "dev", tap, "nodad")
        _in_ns(ns, "ip", "link", "set", tap, "up")
        yield ns, tap
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


@pytest.fixture
def running_stack(tap_namespace: tuple[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    ns, tap = tap_namespace
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    stack = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "stack_under_test", "--tap", tap,
         "--mac", STACK_MAC, "--ipv4", f"{STACK_IPV4}/24", "--ipv6", f"{STACK_IPV6}/64"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        # Its ready line first: a fresh interpreter can take seconds to start on a loaded
        # machine, longer than ping keeps trying (found by a soak of the unit suite).
        assert stack.stdout is not None
        ready = stack.stdout.readline()
        assert ready.startswith("stack_under_test on"), f"the stack did not start: {ready}"
        yield ns, stack
    finally:
        stack.terminate()
        try:
            stack.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stack.kill()
            stack.wait()


def _ping(ns: str, stack: subprocess.Popen[str], *argv: str) -> subprocess.CompletedProcess[str]:
    # -w bounds the whole run: the stack may still be opening the TAP for the first probe.
    result = _in_ns(ns, "ping", "-c", "3", "-i", "0.2", "-w", "10", *argv, check=False)
    if stack.poll() is not None:
        pytest.fail(f"the stack exited with {stack.returncode}: {stack.stdout.read() if stack.stdout else ''}")
    return result


def test_kernel_ping_over_ipv4_is_answered_after_arp(running_stack: tuple[str, subprocess.Popen[str]]) -> None:
    ns, stack = running_stack
    result = _ping(ns, stack, STACK_IPV4)
    # With both -c and -w, ping exits 0 only when all three replies came back.
    assert result.returncode == 0, result.stdout + result.stderr
    # The kernel could only send the echo after resolving us: RFC 826 reply seen in its cache.
    neigh = _in_ns(ns, "ip", "neigh", "show", STACK_IPV4).stdout
    assert STACK_MAC in neigh.lower(), neigh


def test_kernel_ping6_is_answered_after_neighbor_discovery(
    running_stack: tuple[str, subprocess.Popen[str]],
) -> None:
    ns, stack = running_stack
    result = _ping(ns, stack, "-6", STACK_IPV6)
    assert result.returncode == 0, result.stdout + result.stderr
    # RFC 4861 7.2.4: our solicited NA with a Target Link-Layer option filled the kernel's cache.
    neigh = _in_ns(ns, "ip", "-6", "neigh", "show", STACK_IPV6).stdout
    assert STACK_MAC in neigh.lower(), neigh
