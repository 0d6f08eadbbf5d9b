"""Lanes: the DUT instances stimuli run on, each starting from the fuzzer's baseline.

A lane wraps one ``FrameDUT`` of any backend. It sends a stimulus with the public ``send`` and
reads what the DUT emitted through the backend's ``_receive`` hook, which hands back raw frames
without the Scapy dissection ``expect`` would do for every frame (the normaliser dissects each
answer once). A DUT kind may have several lanes (``LanePool``): a real-time DUT whose stimulus
needs a long window (an MLD query, fragments waiting for the reassembly timer) keeps its lane
busy while other stimuli run on the others, so one network namespace never idles the fuzzer.

Baseline: the backend's own (the test link, static neighbours for the tester, no DAD, no Router
Solicitations) plus what the fuzzer sets on every lane: ICMP error rate limits off (RFC 4443
2.4(f) and RFC 1812 4.3.2.8 leave the limits to the implementation, so tokens must not decide
whether an answer is seen) and the same reassembly timeout on every DUT that can set it, so a
Time Exceeded falls in the same window everywhere. A lane is re-baselined only when a stimulus
may have changed its state (``rebaseline``); how depends on the backend.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from fuzz.differential.control import (
    COUNTERS_VERB,
    counters,
    held_datagrams,
    managed,
    process_problem,
    serves,
)
from fuzz.differential.stimulus import Stimulus
from harness.backends.base import FrameDUT
from harness.control.client import AgentFailed
from harness.dut import ExpectationFailed, TimerName, Unsupported

REASSEMBLY_TIMEOUT_S: Final = 1.0  # the smallest the Linux sysctls take (whole seconds)
HISTORY: Final = 200  # stimuli remembered per lane, for a liveness finding


@dataclass
class Lane:
    """One DUT instance. ``virtual``: its clock is virtual, so any window costs no wall time."""

    dut: str
    index: int
    device: FrameDUT
    rebuild: Callable[[], FrameDUT]  # a fresh instance at the fuzzer's baseline
    virtual: bool = False
    busy_until: float = 0.0  # monotonic time the lane's current window ends (real-time lanes)
    job: Any = None  # the engine's job while the lane runs one
    history: deque[Stimulus] = field(default_factory=lambda: deque(maxlen=HISTORY))
    started_at: float = 0.0  # backend time the current stimulus was sent
    rebaselines: int = 0
    failure: str | None = None  # why the lane is out of service
    unstarted: bool = False  # out of service because a fresh instance did not start

    @property
    def name(self) -> str:
        return f"{self.dut}#{self.index}"

    # ---- frames ----------------------------------------------------------------------------
    def send(self, stimulus: Stimulus) -> None:
        self.history.append(stimulus)
        self.started_at = self.device._now()
        port = raw_port(self.device)
        if port is None:
            self.device.send(*stimulus.frames)
            return
        for frame in stimulus.frames:
            port.send(frame)

    def collect(self, until: float) -> list[bytes]:
        """Frames the DUT emitted until backend time ``started_at + until`` (seconds)."""
        out = []
        deadline = self.started_at + until
        # The backend hook returns raw bytes; FrameDUT.expect would dissect every frame first.
        while (frame := self.device._receive(deadline)) is not None:
            out.append(frame)
        return out

    # ---- state -----------------------------------------------------------------------------
    def health(self) -> str | None:
        """A cheap check after every job where the backend has one: the process of a DUT the
        harness started (tap, lwip, an interface with a start command) is still running.
        None: nothing wrong that this can see."""
        return process_problem(self.device)

    def holds_fragments(self) -> bool | None:
        """Whether the DUT still holds fragments waiting for reassembly; None: it cannot tell."""
        return held_fragments(self.device)

    def rebaseline(self, reasons: set[str]) -> None:
        """Return to the baseline after a stimulus that may have changed state for ``reasons``
        (see ``traits``): the cheapest way the backend offers that undoes all of them."""
        self.rebaselines += 1
        if self.virtual or "restart" in reasons:
            self.replace()
            return
        if not reasons & {"router", "multicast"} and _flush_linux(self.device, reasons):
            return
        reset = getattr(self.device, "reset", None)
        if reset is None:
            self.replace()
            return
        if managed(self.device) is not None:
            # A managed DUT's reset builds a fresh stack (or starts a fresh process): ask the old
            # one first whether it still answers, or a wedge would vanish with it. (A wedged
            # agent would also make the reset wait for its answer the whole ANSWER_MARGIN_S.)
            problem = self.health() or _echo_problem(self.device)
            if problem:
                raise LaneFailed(problem)
        if reasons & {"router", "multicast"} and hasattr(self.device, "restart_link"):
            # Only a link flap makes a kernel forget a querier's compatibility mode and what
            # Router Advertisements taught it; the linux backend's reset flaps the link after
            # a test that flapped it.
            self.device.restart_link()
        reset()
        configure(self.device)
        quiet(self.device)

    def replace(self) -> None:
        with contextlib.suppress(Exception):
            self.device.close()
        self.device = self.rebuild()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.device.close()


class LaneFailed(RuntimeError):
    """The DUT of a lane stopped working; the message says how."""


def _echo_problem(device: FrameDUT, within: float = 0.5) -> str | None:
    from scapy.layers.inet import ICMP, IP

    device.drain()
    device.send(device.ipv4() / ICMP(id=0x11FE, seq=1))
    try:
        device.expect(IP(src=str(device.info.dut_ipv4.ip)), ICMP(type=0, id=0x11FE), within=within)
    except ExpectationFailed:
        return f"no answer to an ICMP echo request within {within:g} s"
    return None


def configure(device: FrameDUT) -> FrameDUT:
    """The fuzzer's part of the baseline, on every DUT that has the verbs."""
    for family in (4, 6):
        with contextlib.suppress(Unsupported):
            device.set_icmp_rate_limit(family, 0, 0)
    timers: tuple[TimerName, ...] = ("ipv4_reassembly_timeout", "ipv6_reassembly_timeout")
    for timer in timers:
        with contextlib.suppress(Unsupported):
            device.set_timer(timer, REASSEMBLY_TIMEOUT_S)
    device.drain()
    return device


def reassembly_timeout(device: FrameDUT) -> float | None:
    timers = [device.info.timers.get(n) for n in ("ipv4_reassembly_timeout", "ipv6_reassembly_timeout")]
    known = [t for t in timers if t is not None]
    return max(known) if len(known) == len(timers) else None


def held_fragments(device: FrameDUT) -> bool | None:
    stack = getattr(device, "stack", None)
    if stack is not None:  # the in-process stack: look at its reassemblers
        from stack_under_test.testing import reassemblers

        # Every datagram held, the ones discarded after an overlap too: they are kept until
        # their timer fires so that their later fragments are discarded as well (RFC 5722 4),
        # which a later stimulus reusing the same Identification would otherwise run into.
        return any(len(r) > 0 for r in reassemblers(stack).values())
    names = getattr(device, "names", None)
    if names is not None and hasattr(names, "dut_ns"):  # the linux backend: its namespace's sockstat
        return _netns_fragment_memory(names.dut_ns) > 0
    if serves(device, COUNTERS_VERB):  # an agent that reports its reassembly queues
        try:
            figures = counters(device)
        except (AgentFailed, Unsupported):
            return None  # the liveness probe, or the lane's next re-baseline, says what is wrong
        return None if figures is None else _positive(held_datagrams(figures))
    return None


def _positive(count: int | None) -> bool | None:
    return None if count is None else count > 0


def _netns_fragment_memory(netns: str) -> int:
    from harness.backends.linux import setup

    def read() -> int:
        total = 0
        for name in ("sockstat", "sockstat6"):
            # /proc/net follows the process's namespace; thread-self is this thread's, the one
            # in_netns moved into the DUT's namespace.
            with open(f"/proc/thread-self/net/{name}") as f:
                for line in f:
                    if line.startswith(("FRAG:", "FRAG6:")):
                        total += int(line.split()[-1])
        return total

    result: int = setup.in_netns(netns, read)
    return result


def _flush_linux(device: FrameDUT, reasons: set[str]) -> bool:
    """Undo neighbour and route-exception state on a linux lane with two `ip` commands instead
    of the backend's full reset; False when the device is not a linux one. `ip neigh flush`
    leaves the PERMANENT entries for the tester alone; `route flush cache` drops the path MTUs
    and redirects learnt (IPv4 next-hop exceptions, IPv6 RTF_CACHE routes)."""
    names = getattr(device, "names", None)
    if names is None or not hasattr(names, "dut_ns"):
        return False
    commands = [["neigh", "flush", "dev", names.dut_if]]
    if "route" in reasons:
        commands += [["-4", "route", "flush", "cache"], ["-6", "route", "flush", "cache"]]
    for command in commands:
        subprocess.run(["ip", "-n", names.dut_ns, *command], capture_output=True, check=False)
    quiet(device)
    return True


def quiet(device: FrameDUT, gap_s: float = 0.05, limit_s: float = 1.0) -> None:
    """Drop what the DUT still says after a re-baseline (reports for re-added addresses) until
    it has been silent for ``gap_s``, so none of it lands in the next stimulus's window."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end and device._receive(device._now() + gap_s) is not None:
        pass


def raw_port(device: FrameDUT) -> Any:
    """The linux backend's raw socket, to send prebuilt frames without the per-frame Scapy
    dissection its ``_transmit`` does for its reset bookkeeping (the lane re-baselines by its
    own reasons instead); None for other backends, which send through ``FrameDUT.send``."""
    if getattr(device, "names", None) is None:
        return None
    return getattr(device, "_port", None)


# ---- building lanes --------------------------------------------------------------------------
def factory(dut: str, config: Any = None) -> Callable[[], FrameDUT]:
    """How to build one instance of DUT kind ``dut`` at the fuzzer's baseline."""

    def build() -> FrameDUT:
        if dut == "inprocess":
            from harness.backends.inprocess import InProcessDUT

            return configure(InProcessDUT())
        if dut == "linux":
            from harness.backends.linux.dut import LinuxDUT

            timers = {"ipv4_reassembly_timeout": REASSEMBLY_TIMEOUT_S, "ipv6_reassembly_timeout": REASSEMBLY_TIMEOUT_S}
            return configure(LinuxDUT(timers=timers))
        from harness import backends

        backend = backends.get(dut)
        device = backend.factory(backends.BackendOptions(config=config, capture=None))
        if not isinstance(device, FrameDUT):
            raise Unsupported(f"the {dut} backend is not frame-based; the differential fuzzer needs raw frames")
        return configure(device)

    return build


class LanePool:
    """``size`` lanes of one DUT kind (one for virtual-time and single-device DUTs)."""

    def __init__(self, dut: str, size: int, build: Callable[[], FrameDUT]) -> None:
        self.dut = dut
        self.lanes: list[Lane] = []
        try:
            for i in range(size):
                device = build()
                virtual = type(device).__name__ == "InProcessDUT"
                self.lanes.append(Lane(dut, i, device, build, virtual=virtual))
        except BaseException:
            self.close()
            raise

    @property
    def virtual(self) -> bool:
        return self.lanes[0].virtual

    def free(self) -> Lane | None:
        now = time.monotonic()
        for lane in self.lanes:
            if lane.job is None and lane.failure is None and lane.busy_until <= now:
                return lane
        return None

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()
