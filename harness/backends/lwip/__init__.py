"""The `lwip` backend: lwIP 2.1.3 (Debian's ``liblwip-dev``) as the DUT, through our C agent.

    sc-tst-<pid>-<worker>-<n>  (a namespace of our own; nothing in the root namespace)
    +----------------------------------------------------------------------------------+
    |  stackcheck-lwip-agent --tap scp<id>        kernel side of TAP scp<id>            |
    |  one lwIP netif, 02:00:00:00:00:01,  <--->  no address, IPv6 off, ARP off; the     |
    |  198.51.100.1/24, 2001:db8:1::1/64          tester's AF_PACKET socket and the      |
    |  control protocol on a Unix socket          ARP/ND responder for its addresses     |
    +----------------------------------------------------------------------------------+

The agent (``agent.h``, ``main.c``, ``tapif.c``, ``verbs.c``, ``knobs.c``, ``udp_verbs.c``,
``tcp_agent.h``, ``tcp_conns.c``, ``tcp_verbs.c``, ``tcp_options.c`` beside this file)
is built with ``cc ... $(pkg-config --cflags --libs lwip libcjson) -lpthread -lm`` by
``make system-deps`` (as root: it installs liblwip-dev and libcjson-dev first) or on first use,
into ``<venv>/libexec/stackcheck-lwip-agent`` (``STACKCHECK_LWIP_AGENT`` names another).
lwIP has no static neighbor entries, so the tester's ARP/ND responder resolves the tester's
addresses. The agent is restarted before every test: a fresh lwIP, nothing left over (its
``reset`` verb cannot empty lwIP's reassembly queues, which the library keeps private).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from harness.backends.base import TEST_LINK
from harness.backends.interface import InterfaceConfig
from harness.backends.lifecycle import BeforeEach, DUTCommand
from harness.backends.linux import setup as linux_setup
from harness.backends.managed import ManagedDUT

if TYPE_CHECKING:
    from harness.capture import Capture

SOURCES: Final = tuple(Path(__file__).with_name(n) for n in ("main.c", "tapif.c", "verbs.c", "knobs.c", "udp_verbs.c",
                                                               "tcp_verbs.c", "tcp_conns.c", "tcp_options.c", "agent.h",
                                                               "tcp_agent.h"))
PACKAGES: Final = ("lwip", "libcjson")  # pkg-config names; Debian: liblwip-dev, libcjson-dev
_READY: Final = r"^lwip agent "


def agent_path() -> Path:
    override = os.environ.get("STACKCHECK_LWIP_AGENT")
    return Path(override) if override else Path(sys.prefix) / "libexec" / "stackcheck-lwip-agent"


class BuildError(RuntimeError):
    """The agent could not be built; the message says what to install or what the compiler said."""


def _missing_tools() -> str | None:
    if shutil.which("cc") is None or shutil.which("pkg-config") is None:
        return "the lwip backend needs a C compiler and pkg-config (apt-get install gcc pkg-config)"
    probe = subprocess.run(["pkg-config", "--exists", *PACKAGES], capture_output=True)
    if probe.returncode != 0:
        return "the lwip backend needs lwIP and cJSON headers: apt-get install liblwip-dev libcjson-dev " \
               "(or make system-deps as root)"
    return None


def build(target: Path | None = None) -> Path:
    """Compile the agent into ``target`` unless it is newer than every source; return its path.

    Safe to call from several pytest-xdist workers at once (a lock file serialises them)."""
    target = target or agent_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".stackcheck-lwip-agent.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        newest = max(s.stat().st_mtime for s in SOURCES)
        if target.exists() and target.stat().st_mtime >= newest:
            return target
        problem = _missing_tools()
        if problem:
            raise BuildError(problem)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", *PACKAGES], capture_output=True, text=True,
                               check=True).stdout.split()
        tmp = target.with_name(target.name + ".tmp")
        compiled = subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-std=gnu11", "-o", str(tmp),
                                   *[str(s) for s in SOURCES if s.suffix == ".c"], *flags, "-lpthread", "-lm"],
                                  capture_output=True, text=True)
        if compiled.returncode != 0:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise BuildError(f"building the lwIP agent failed: {' '.join(compiled.stderr.split())[:500]}")
        tmp.replace(target)
    return target


def identity() -> dict[str, str]:
    """Which lwIP is tested, for the reports: pkg-config's version and Debian's package version."""
    found: dict[str, str] = {"stack": "lwIP"}
    for key, argv in (("stack_version", ["pkg-config", "--modversion", "lwip"]),
                      ("package", ["dpkg-query", "-W", "-f", "liblwip0 ${Version}", "liblwip0"])):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0 and done.stdout.strip():
            found[key] = done.stdout.strip()
    return found


def check_available() -> str | None:
    reason = linux_setup.check_available()
    if reason is not None:
        return reason.replace("the linux backend", "the lwip backend")
    if not Path("/dev/net/tun").exists():
        return "the lwip backend needs /dev/net/tun (modprobe tun)"
    if agent_path().exists() and os.access(agent_path(), os.X_OK):
        return None
    return _missing_tools()


def command(agent: Path) -> DUTCommand:
    argv = (str(agent), "--tap", "{interface}", "--control", "{control}", "--mac", "{dut_mac}",
            "--ipv4", "{dut_ipv4}", "--ipv6", "{dut_ipv6}", "--mtu", "{mtu}")
    return DUTCommand(argv, ready=_READY, control="unix:{control}", before_each="restart", tap=True)


class LwipDUT(ManagedDUT):
    """lwIP on a TAP in a namespace of its own, restarted before every test."""

    def __init__(self, capture: Capture | None = None, *, before_each: BeforeEach = "restart") -> None:
        """``before_each``: "restart" (the backend's way), or "reset"/"nothing" to show why."""
        agent = build()
        cmd = dataclasses.replace(command(agent), before_each=before_each)
        tap = "scl" + linux_setup.unique_names().tester_if.removeprefix("sct")
        super().__init__(InterfaceConfig(tap, dataclasses.replace(TEST_LINK, timers={}), cmd), capture, name="lwip")


def main(argv: list[str]) -> int:
    """``python -m harness.backends.lwip build``: compile the agent (used by ``make system-deps``)."""
    if argv != ["build"]:
        print("usage: python -m harness.backends.lwip build", file=sys.stderr)
        return 2
    try:
        print(build())
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
