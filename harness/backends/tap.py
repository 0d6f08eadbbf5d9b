"""The `tap` backend: our own stack as a real process (`python -m stack_under_test --tap`) over a TAP.

    sc-tst-<pid>-<worker>-<n>  (a namespace of our own; nothing in the root namespace)
    +--------------------------------------------------------------------------------+
    |  python -m stack_under_test --tap scp<id>       kernel side of TAP scp<id>      |
    |  02:00:00:00:00:01, 198.51.100.1/24,     <--->  no address, IPv6 off, ARP off;  |
    |  2001:db8:1::1/64, static tester neighbors      the tester's AF_PACKET socket   |
    +--------------------------------------------------------------------------------+

``TapDUT`` is a managed DUT (``harness.backends.managed``): the stack runs under its control
agent (``harness.backends.tap_agent``), which serves the DUT verbs over the control protocol
and builds a fresh stack for every test, so the same suite runs against our stack in-process
(virtual time) and as a real host (a real TAP, its own poll loop, its clock at ``CLOCK_RATE``
times real time, which the tester reads too): the report's "tap" column. ``TapHost`` is used
by the real-client tests, which give the kernel side the tester's addresses instead and point
`ping`, `ndisc6` and sockets at the stack (in real time: the kernel's clock is the wall's).

By hand, the same with ``--dut interface`` (one stack for the whole run, no restarts)::

    ip netns add sc-tap && ip -n sc-tap tuntap add dev tap0 mode tap
    ip netns exec sc-tap sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1
    ip -n sc-tap link set tap0 address 02:00:00:00:00:02 arp off up
    ip netns exec sc-tap python -m stack_under_test --tap tap0 --mac 02:00:00:00:00:01 \
        --ipv4 198.51.100.1/24 --ipv6 2001:db8:1::1/64 --dad-transmits 0 \
        --neighbor 198.51.100.2=02:00:00:00:00:02 --neighbor 2001:db8:1::2=02:00:00:00:00:02 \
        --neighbor fe80::ff:fe00:2=02:00:00:00:00:02 &
    ip netns exec sc-tap stackcheck run --dut interface --dut-config tap0.toml   # interface = "tap0"
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from harness.backends.base import TEST_LINK
from harness.backends.interface import InterfaceConfig
from harness.backends.lifecycle import DUTCommand
from harness.backends.linux import setup as linux_setup
from harness.backends.managed import ManagedDUT
from harness.dut import LinkInfo

if TYPE_CHECKING:
    from harness.capture import Capture

REPO: Final = Path(__file__).resolve().parents[2]
# Short reassembly timers keep the tests that wait them out quick (as on the linux backend).
TIMERS: Final[dict[str, float]] = {"ipv4_reassembly_timeout": 2.0, "ipv6_reassembly_timeout": 2.0}
LAUNCHER: Final = Path(__file__).with_name("tap_launcher.py")
PRELOAD: Final = ("stack_under_test.network.ipv6", "locale", "gettext")  # gettext: argparse, lazily
_READY_S: Final = 30.0  # the first start imports the stack: slow on a loaded machine
# How many times faster than the wall clock the stack's clock runs (TapDUT). A --dut-config
# TOML's ``clock_rate`` sets it: at 2 a tap run takes about 55 s instead of 80, but every delay
# of the tester and the agent counts double in the stack's time, and timer tests under load
# (RFC 7217 IDGEN_DELAY, IGMP/MLD response delays) failed in 4 of 10 soak runs at load 9-11
# (07 Dec). Real time by default: a suite that goes red for no regression is worse than a slow one.
CLOCK_RATE: Final = 1.0
MAX_CLOCK_RATE: Final = 4.0


def check_available() -> str | None:
    reason = linux_setup.check_available()
    if reason is not None:
        return reason.replace("the linux backend", "the tap backend")
    if not Path("/dev/net/tun").exists():
        return "the tap backend needs /dev/net/tun (modprobe tun)"
    return None


def clock_rate(config: Path | None) -> float:
    """The stack's clock rate for a run: ``CLOCK_RATE``, or a --dut-config TOML's ``clock_rate``
    (1 runs the stack in real time). ValueError with one readable line for a bad value."""
    from harness.backends import read_config

    value = CLOCK_RATE if config is None else read_config(config).get("clock_rate", CLOCK_RATE)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= MAX_CLOCK_RATE:
        raise ValueError(f"{config}: clock_rate is the stack's seconds per second of wall time, a number from 1 "
                         f"to {MAX_CLOCK_RATE:g}, not {value!r}")
    return float(value)


class TapHost:
    """A namespace with a TAP device whose other end is `python -m stack_under_test`.

    ``kernel_addresses``: give the kernel side the tester's addresses (real-client tests);
    otherwise it stays an address-less wire (IPv6 off, ARP off) for the raw-frame tester.
    """

    def __init__(self, info: LinkInfo = TEST_LINK, *, kernel_addresses: bool = False,
                 extra_args: tuple[str, ...] = ()) -> None:
        names = linux_setup.unique_names()
        self.netns, self.tap = names.tester_ns, "scp" + names.tester_if.removeprefix("sct")
        self.info = info
        self.process: subprocess.Popen[bytes] | None = None  # the launcher (tap_launcher.py)
        self._extra_args = extra_args
        self.pid = 0
        self._buffer = b""
        try:
            self._create(kernel_addresses)
            self._start(extra_args)
        except BaseException:
            self.close()
            raise

    def _create(self, kernel_addresses: bool) -> None:
        linux_setup.run_ip(f"netns add {self.netns}")
        if not kernel_addresses:
            linux_setup.in_netns(self.netns, lambda: linux_setup.write_sysctls(
                {"ipv6/conf/default/disable_ipv6": 1, "ipv6/conf/all/disable_ipv6": 1}))
        lines = ["link set lo up", f"tuntap add dev {self.tap} mode tap",
                 f"link set {self.tap} address {self.info.tester_mac}"]
        if kernel_addresses:
            lines += [f"addr add {self.info.tester_ipv4}/{self.info.dut_ipv4.network.prefixlen} dev {self.tap}",
                      f"addr add {self.info.tester_ipv6}/64 dev {self.tap} nodad"]
        else:
            lines.append(f"link set {self.tap} arp off")
        lines.append(f"link set {self.tap} up")
        linux_setup.run_ip(*lines, netns=self.netns)

    def _launch(self) -> None:
        # The stack imports its IPv6 layer when a Stack is made (host.py): imported once here, not
        # in every forked stack (that import was most of a restart, 0.1-0.8 s on a loaded machine).
        argv = ["ip", "netns", "exec", self.netns, sys.executable, str(LAUNCHER), "stack_under_test.__main__",
                *PRELOAD]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=env)

    def _line(self, deadline: float) -> str | None:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")

    def _start(self, extra_args: tuple[str, ...]) -> None:
        """Fork a fresh stack from the launcher and wait for its ready line."""
        if self.process is None:
            self._launch()
        assert self.process is not None and self.process.stdin is not None
        info = self.info
        argv = ["--tap", self.tap, "--mac", info.dut_mac, "--ipv4", str(info.dut_ipv4),
                "--ipv6", str(info.dut_ipv6), "--mtu", str(info.mtu), *extra_args]
        self.process.stdin.write((json.dumps(argv) + "\n").encode())
        self.process.stdin.flush()
        deadline = time.monotonic() + _READY_S
        ready = False
        seen: list[str] = []
        while not (ready and self.pid):
            line = self._line(deadline)
            if line is None:
                raise linux_setup.SetupError(
                    f"python -m stack_under_test did not start within {_READY_S:g} s: {' | '.join(seen)}")
            if line.startswith("pid "):
                self.pid = int(line.split()[1])
            elif line.startswith("stack_under_test on"):
                ready = True
            else:
                seen.append(line.strip())

    def restart(self) -> None:
        """A fresh stack process on the same TAP: no neighbor cache, sockets or timers left over."""
        self._end_child()
        self._start(self._extra_args)

    def in_ns(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True, text=True,
                              timeout=timeout)

    def exited(self) -> str | None:
        """None while the stack runs, else a line saying it is gone."""
        if self.pid and _alive(self.pid):
            return None
        return "the stack process has exited (see the stackcheck run output for its error)"

    def _end_child(self) -> None:
        """SIGKILL our forked stack (by pid) and wait until it is gone, so the TAP is free again."""
        pid, self.pid = self.pid, 0
        if not pid:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.002)
        self._buffer = b""

    def _stop(self) -> None:
        self._end_child()
        if self.process is not None:
            if self.process.stdin is not None:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()  # the launcher's loop ends at EOF
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
        self.process = None

    def close(self) -> None:
        self._stop()
        linux_setup.delete_netns(self.netns)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _agent_command(info: LinkInfo, clock_rate: float) -> DUTCommand:
    """Our stack's control agent (``harness.backends.tap_agent``) on the TAP, reset per test."""
    argv = [sys.executable, "-m", "harness.backends.tap_agent", "--tap", "{interface}", "--control", "{control}",
            "--mac", "{dut_mac}", "--ipv4", "{dut_ipv4}", "--ipv6", "{dut_ipv6}", "--mtu", "{mtu}",
            "--clock-rate", f"{clock_rate:g}"]
    # Static neighbors for the tester, as on the inprocess and linux backends.
    for addr in (info.tester_ipv4, info.tester_ipv6, info.tester_ipv6_ll):
        argv += ["--neighbor", f"{addr}={info.tester_mac}"]
    for name, seconds in TIMERS.items():
        argv += [f"--{name.replace('_', '-')}", f"{seconds:g}"]
    return DUTCommand(tuple(argv), ready=r"^stack_under_test agent on ", control="unix:{control}",
                      before_each="reset", tap=True, ready_timeout=_READY_S)


class TapDUT(ManagedDUT):
    """Our stack as a separate process on a TAP in a namespace of its own; frames via AF_PACKET,
    control verbs through its agent, a fresh stack (the agent's ``reset``) before every test.

    ``in_order``: the agent reads the TAP one frame after another and the stack writes its
    answers before the next is read (checked by harness/tests/test_barrier_order.py).

    ``clock_rate``: the stack's seconds per second of wall time. The tester reads the same
    scaled time (``now()``, frame arrival times, every wait), so each test holds the stack to
    the RFC's numbers in the stack's own time, and waits out its timers ``clock_rate`` times
    faster; the frames still cross a real TAP."""

    in_order = True

    def __init__(self, capture: Capture | None = None, clock_rate: float = CLOCK_RATE) -> None:
        info = dataclasses.replace(TEST_LINK, timers=dict(TIMERS))
        linux_setup.raise_priority()  # the agent it starts (the DUT) inherits it too
        tap = "scp" + linux_setup.unique_names().tester_if.removeprefix("sct")
        self.clock_rate = clock_rate
        super().__init__(InterfaceConfig(tap, info, _agent_command(info, clock_rate)), capture, name="tap")

    # Backend time is the stack's: wall time times the rate (frames' kernel timestamps too).
    def _now(self) -> float:
        return time.monotonic() * self.clock_rate

    def _arrival_time(self) -> float:
        return self.port.last_arrival * self.clock_rate

    def _receive(self, deadline: float) -> bytes | None:
        return super()._receive(deadline / self.clock_rate)
