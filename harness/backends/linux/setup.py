"""Lifecycle of the linux backend's test link: two network namespaces joined by a veth pair.

    sc-dut-<pid>-<worker>-<n>                       sc-tst-<pid>-<worker>-<n>
    +----------------------------------+            +--------------------------------+
    | scd<id>  02:00:00:00:00:01       |   veth     | sct<id>  02:00:00:00:00:02     |
    | 198.51.100.1/24 2001:db8:1::1/64 |<---------->| no address, no route, no IPv6, |
    | lo up; control agent runs here   |            | arp off; the AF_PACKET socket  |
    +----------------------------------+            +--------------------------------+

Nothing is ever configured in the root namespace: the veth ends are created directly inside
their namespaces, sysctls are written by threads or processes that have entered the namespace,
and deleting the two namespaces removes the veth pair with them.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, Final, Protocol

from harness.backends import exit_hooks
from harness.control.client import AgentFailed, ControlClient

NETNS_DIR: Final = Path("/var/run/netns")
CLONE_NEWNET: Final = 0x40000000
# The control agent (agent.py) runs with the standard library only (-I -S: no site-packages,
# no user paths, no script directory on the path), so it is imported as `linux.agent` from the
# backends folder, and the protocol's modules as `control` from the harness folder, instead of
# as `harness.backends.linux.agent`, whose package imports Scapy.
AGENT_BOOT: Final = ("import sys; d = sys.argv.pop(1); sys.path[:0] = [d, d + '/..']; "
                     "from linux.agent import main; sys.exit(main(sys.argv[1:]))")
_BACKENDS_DIR: Final = Path(__file__).resolve().parent.parent
_NAME_RE: Final = re.compile(r"^sc-(?:dut|tst)-(\d+)-")
_counter = count(1)


class SetupError(RuntimeError):
    """Creating, configuring or removing the test namespaces failed; one readable line."""


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass(frozen=True)
class Names:
    dut_ns: str
    tester_ns: str
    dut_if: str
    tester_if: str


def unique_names() -> Names:
    """Names unique per process, pytest-xdist worker and DUT; interface names stay ≤ 15 chars.

    The pid leads the namespace names so ``sweep_stale()`` can tell a dead owner's leftovers.
    The veth names only have to be unique inside their own namespace; pid and counter make
    them unique host-wide anyway, which keeps `ip link` output unambiguous while debugging.
    """
    pid, n = os.getpid(), next(_counter)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    tag = f"{pid}-{worker}-{n}"
    short = f"{_b36(pid)}-{_b36(n)}"  # ≤ 5 + 1 + 3 chars for any pid and a thousand DUTs
    return Names(f"sc-dut-{tag}", f"sc-tst-{tag}", f"scd{short}"[:15], f"sct{short}"[:15])


def run_ip(*lines: str, netns: str | None = None, force: bool = False) -> None:
    """Run ``ip`` commands as one batch (one process); SetupError carries ip's own message."""
    args = ["ip", *(["-n", netns] if netns else []), *(["-force"] if force else []), "-batch", "-"]
    proc = subprocess.run(args, input="\n".join(lines) + "\n", capture_output=True, text=True)
    if proc.returncode != 0 and not force:
        detail = " ".join(proc.stderr.split()) or f"exit status {proc.returncode}"
        raise SetupError(f"ip {' / '.join(lines)}: {detail}")


def netns_names() -> list[str]:
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def in_netns(name: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on a short-lived thread that has entered namespace ``name``.

    setns() on a thread moves only that thread; the thread ends afterwards, so no code of
    the harness ever runs in the wrong namespace by accident (Python 3.11 has no os.setns).
    """
    result: list[Any] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(NETNS_DIR / name, os.O_RDONLY)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise SetupError(f"cannot enter network namespace {name}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as e:
            error.append(e)

    t = threading.Thread(target=body, name=f"netns-{name}")
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0] if result else None


def write_sysctls(values: dict[str, str | int]) -> None:
    """Write ``{"ipv6/conf/default/disable_ipv6": 1, ...}`` in the current thread's namespace."""
    for rel, value in values.items():
        (Path("/proc/sys/net") / rel).write_text(f"{value}\n")


def receive_on_one_cpu(netns: str, ifname: str) -> bool:
    """Steer every frame ``ifname`` (inside ``netns``) receives to the backlog of one CPU (Receive
    Packet Steering); False where the kernel cannot (built without RPS).

    A veth end takes each frame in on the backlog of the CPU that sent it. When softirqs run
    late (from ksoftirqd, on a loaded machine), two frames sent one after the other from
    different CPUs can then be taken in out of order, and a barrier's reply overtake an answer
    it must follow (harness/barrier.py), or a query of the last test reach the DUT's MLD queue
    after the reset's own. On one CPU's backlog they keep the order they were sent in. The
    CPU is one this process may run on, chosen by its pid, so that many workers spread out.
    sysfs shows a namespace's devices only under ``ip netns exec``, which mounts it afresh."""
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[os.getpid() % len(cpus)]
    words = f"{1 << cpu:x}"
    words = words.rjust(-(-len(words) // 8) * 8, "0")
    mask = ",".join(words[i:i + 8] for i in range(0, len(words), 8))  # 32-bit words, as sysfs has them
    done = subprocess.run(["ip", "netns", "exec", netns, "sh", "-c",
                           f"echo {mask} > /sys/class/net/{ifname}/queues/rx-0/rps_cpus"],
                          stdin=subprocess.DEVNULL, capture_output=True, check=False)
    return done.returncode == 0


class AgentClient(ControlClient):
    """The control agent (``agent.py``) inside namespace ``netns``, started here and spoken to over
    its stdin and stdout with the DUT control protocol (docs/control-protocol.md)."""

    def __init__(self, netns: str, ifname: str) -> None:
        self.netns = netns
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-I", "-S", "-u", "-c", AGENT_BOOT, str(_BACKENDS_DIR),
             ifname],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C on the terminal reaches us, not the agent mid-answer
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._use_pipes(self.proc.stdin.fileno(), self.proc.stdout.fileno(), f"DUT control agent in {netns}")
        self._lock = threading.Lock()

    def call(self, verb: str, args: dict[str, Any] | None = None, *, wait: float = 0.0) -> Any:
        with self._lock:
            if self.proc.poll() is not None:
                raise AgentFailed(f"the DUT control agent in {self.netns} is not running{self._stderr()}")
            try:
                return super().call(verb, args, wait=wait)
            except AgentFailed as e:
                if self.proc.poll() is None:
                    raise
                raise AgentFailed(f"the DUT control agent in {self.netns} exited{self._stderr()}") from e

    def op(self, verb: str, **args: Any) -> Any:
        """A set-up verb (``x_linux_sysctl``, ...) with its arguments by name."""
        return self.call(verb, args)

    def _stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        text = " ".join(self.proc.stderr.read().decode(errors="replace").split())
        return f": {text[-300:]}" if text else ""

    def close(self) -> None:
        """Close stdin (the agent exits on EOF); kill it if it does not go within a second."""
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=1.0)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


def delete_netns(*names: str) -> None:
    """Delete namespaces (and with them the veth ends inside); missing ones are fine."""
    present = set(netns_names())
    lines = [f"netns del {n}" for n in names if n in present]
    if lines:
        run_ip(*lines, force=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_netns() -> Iterator[str]:
    """Namespaces named by this backend whose owning process no longer exists."""
    for name in netns_names():
        m = _NAME_RE.match(name)
        if m and not _pid_alive(int(m.group(1))):
            yield name


def sweep_stale() -> list[str]:
    """Remove leftovers of harness processes that died without cleaning up (e.g. SIGKILL)."""
    names = list(stale_netns())
    if names:
        delete_netns(*names)
    return names


# Niceness of a process that talks to a real-time DUT. Its tests measure the DUT's timers in
# real time, so the tester's own wake-up latency has to stay small when the machine is busy (a
# CI runner, a soak with busy loops): it mostly sleeps, and wakes first when a frame comes.
TESTER_NICENESS: Final = -10


def raise_priority() -> None:
    """Run this thread, and the processes it starts (agents, stacks), at ``TESTER_NICENESS``;
    nothing happens without the privilege to do so."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) > TESTER_NICENESS:
            os.setpriority(os.PRIO_PROCESS, 0, TESTER_NICENESS)
    except OSError:
        pass


def check_available() -> str | None:
    """None when namespaces can be made here, else why not, in words a user can act on."""
    if not sys.platform.startswith("linux"):
        return "the linux backend needs Linux network namespaces (use --dut inprocess)"
    if os.geteuid() != 0:
        return ("the linux backend needs root to create network namespaces "
                "(run as root or use --dut inprocess)")
    if shutil.which("ip") is None:
        return "the linux backend needs the `ip` command from iproute2 (install iproute2 or use --dut inprocess)"
    if not Path("/proc/self/ns/net").exists():
        return "this kernel has no network namespace support (use --dut inprocess)"
    return None


# ---- clean-up on every way out ---------------------------------------------------------------
class _Closable(Protocol):
    def close(self) -> None: ...


LIVE: weakref.WeakSet[Any] = weakref.WeakSet()  # DUTs whose namespaces exist


def close_on_exit(dut: _Closable) -> None:
    """Close ``dut`` at interpreter exit or SIGTERM if nothing closed it before."""
    LIVE.add(dut)
    exit_hooks.run_at_exit(_close_all)


def _close_all() -> None:
    for dut in list(LIVE):
        try:
            dut.close()
        except Exception:  # at exit, keep closing the others
            continue


