"""The life cycle of a DUT the harness starts itself: its namespace and TAP, its process, its ready line.

An interface config (``harness.backends.interface``) with a ``[dut]`` table hands the DUT's
life to the harness::

    [dut]
    command = ["./my-agent", "--tap", "{interface}", "--control", "{control}"]
    ready = "^ready"                 # a regular expression one line of its output matches
    control = "unix:{rundir}/control.sock"   # optional: the agent's DUT control protocol socket
    before_each = "restart"          # or "reset" (the protocol's reset verb) or "nothing"
    tap = true                       # create a namespace with a TAP named `interface`, run in it
    ready_timeout = 10               # seconds (optional)
    answer_neighbors = true          # the tester answers ARP/NS for its addresses (optional)

Placeholders in ``command`` and ``control``: ``{interface}``, ``{rundir}`` (a private temporary
directory), ``{control}`` (the socket path), ``{netns}``, and the test link's ``{dut_mac}``,
``{tester_mac}``, ``{dut_ipv4}``, ``{dut_ipv6}``, ``{dut_ipv6_ll}``, ``{tester_ipv4}``,
``{tester_ipv6}``, ``{tester_ipv6_ll}``, ``{mtu}``. The harness owns what it starts: the process
gets its own process group and dies with the harness (PR_SET_PDEATHSIG), and ``close()`` kills
it, deletes the namespace (with the TAP) and the directory, also after Ctrl-C or a failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from queue import Empty, Queue
from typing import Any, Final, Literal, NoReturn

from harness.backends.linux import setup as linux_setup
from harness.dut import LinkInfo

BeforeEach = Literal["restart", "reset", "nothing"]
_BEFORE_EACH: Final = ("restart", "reset", "nothing")
_KEYS: Final = ("command", "ready", "control", "before_each", "tap", "ready_timeout", "answer_neighbors")
PR_SET_PDEATHSIG: Final = 1  # linux/prctl.h
_OUTPUT_LINES: Final = 40  # lines of the DUT's output kept for error messages


@dataclass(frozen=True)
class DUTCommand:
    """How to start a DUT and what to do with it between tests (the ``[dut]`` table)."""

    argv: tuple[str, ...]
    ready: str
    control: str | None = None
    before_each: BeforeEach = "restart"
    tap: bool = True
    ready_timeout: float = 10.0
    answer_neighbors: bool = True


def parse_command(table: Any, fail: Callable[[str], NoReturn]) -> DUTCommand:
    """The ``[dut]`` table as a DUTCommand; ``fail(message)`` on the first problem."""
    if not isinstance(table, dict):
        fail("dut must be a table: [dut]")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        fail(f"unknown key {unknown[0]!r} in [dut] (known keys: {', '.join(_KEYS)})")
    argv = table.get("command")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) and a for a in argv):
        fail('dut.command must be a non-empty list of strings, e.g. ["./agent", "--tap", "{interface}"]')
    ready = table.get("ready")
    if not isinstance(ready, str) or not ready:
        fail("dut.ready must be a regular expression matching the DUT's ready line")
    try:
        re.compile(ready)
    except re.error as e:
        fail(f"dut.ready = {ready!r} is not a regular expression: {e}")
    control = table.get("control")
    if control is not None and (not isinstance(control, str) or not control.startswith(("unix:", "tcp:"))):
        fail(f"dut.control = {control!r} must be unix:PATH or tcp:HOST:PORT")
    before = table.get("before_each", "restart")
    if before not in _BEFORE_EACH:
        fail(f"dut.before_each = {before!r} must be one of {', '.join(_BEFORE_EACH)}")
    if before == "reset" and control is None:
        fail('dut.before_each = "reset" needs dut.control, the agent that serves the reset verb')
    flags = {}
    for key, default in (("tap", True), ("answer_neighbors", True)):
        flags[key] = table.get(key, default)
        if not isinstance(flags[key], bool):
            fail(f"dut.{key} must be true or false")
    timeout = table.get("ready_timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        fail(f"dut.ready_timeout = {timeout!r} must be a number of seconds between 0 and 600")
    return DUTCommand(tuple(argv), ready, control, before, flags["tap"], float(timeout), flags["answer_neighbors"])


def placeholders(info: LinkInfo, interface: str, rundir: str, netns: str) -> dict[str, str]:
    values = {"interface": interface, "rundir": rundir, "netns": netns, "mtu": str(info.mtu),
              "control": os.path.join(rundir, "control.sock")}
    for name in ("dut_mac", "tester_mac", "dut_ipv4", "dut_ipv6", "dut_ipv6_ll", "tester_ipv4", "tester_ipv6",
                 "tester_ipv6_ll"):
        values[name] = str(getattr(info, name))
    return values


def fill(template: str, values: dict[str, str]) -> str:
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError) as e:
        raise linux_setup.SetupError(f"dut command {template!r}: unknown placeholder {e} "
                                     f"(known: {', '.join(sorted(values))})") from None


class TapNamespace:
    """A network namespace of our own holding a TAP device whose kernel side is the tester's wire:
    no address, IPv6 off, ARP off, so the kernel answers nothing itself."""

    def __init__(self, info: LinkInfo, tap: str | None = None) -> None:
        names = linux_setup.unique_names()
        self.netns = names.tester_ns
        self.tap = tap or "scp" + names.tester_if.removeprefix("sct")
        linux_setup.run_ip(f"netns add {self.netns}")
        try:
            linux_setup.in_netns(self.netns, lambda: linux_setup.write_sysctls(
                {"ipv6/conf/default/disable_ipv6": 1, "ipv6/conf/all/disable_ipv6": 1}))
            linux_setup.run_ip("link set lo up", f"tuntap add dev {self.tap} mode tap",
                               f"link set {self.tap} address {info.tester_mac} mtu {info.mtu}",
                               f"link set {self.tap} arp off up", netns=self.netns)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        linux_setup.delete_netns(self.netns)


class DUTProcess:
    """One run of the DUT's command (inside ``netns`` when given), with its output collected."""

    def __init__(self, argv: list[str], ready: str, *, netns: str | None, timeout: float) -> None:
        self.argv = argv
        self.output: deque[str] = deque(maxlen=_OUTPUT_LINES)
        self._lines: Queue[str | None] = Queue()
        full = ["ip", "netns", "exec", netns, *argv] if netns else argv
        try:
            self.process = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent)
        except OSError as e:
            raise linux_setup.SetupError(f"cannot start the DUT ({argv[0]}): {e.strerror}") from None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self._await_ready(re.compile(ready), timeout)
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _await_ready(self, ready: re.Pattern[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise linux_setup.SetupError(
                    f"the DUT ({self.argv[0]}) printed no line matching {ready.pattern!r} within {timeout:g} s"
                    f"{self.tail()}") from None
            if line is None:
                self.process.wait()
                raise linux_setup.SetupError(
                    f"the DUT ({self.argv[0]}) exited with status {self.process.returncode} before it was "
                    f"ready{self.tail()}")
            if ready.search(line):
                return

    def tail(self) -> str:
        return f"; its last output: {' | '.join(self.output)}" if self.output else ""

    def exited(self) -> str | None:
        code = self.process.poll()
        return None if code is None else f"the DUT process has exited with status {code}{self.tail()}"

    def stop(self) -> None:
        """Kill the whole process group and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=1)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _die_with_parent() -> None:
    # If the harness is killed outright, its DUT goes too (no orphan keeps a TAP open).
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def make_rundir() -> str:
    return tempfile.mkdtemp(prefix="stackcheck-dut-")


def remove_rundir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
