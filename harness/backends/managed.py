"""ManagedDUT: a DUT the harness starts, resets or restarts, and drives over the control protocol.

Raw frames go over an AF_PACKET socket like the interface backend's; the control verbs go to
the DUT's agent (``harness.control``), every one of them generically: a verb of
``harness.dut.DUT`` this class does not define itself is sent by name with its arguments, so
verbs added to the DUT protocol later (TCP) reach the agent with no change here. A verb the
agent does not list in its ``hello`` is skipped with the agent's own reason.

Before each test (``reset()``, called by the plugin) the DUT is restarted, reset through the
protocol's ``reset`` verb, or left alone, as its ``[dut]`` table says; then the link is drained
until it is quiet. The tester answers the DUT's ARP and Neighbor Solicitations for the tester's
addresses (``harness.backends.responder``) unless ``answer_neighbors`` is off.
"""

from __future__ import annotations

import dataclasses
import os
import time
import weakref
from typing import TYPE_CHECKING, Final, NoReturn

from harness.backends import exit_hooks, lifecycle
from harness.backends.base import SETTLE_BARRIER_S
from harness.backends.interface import InterfaceConfig, InterfaceDUT
from harness.backends.linux import setup as linux_setup
from harness.backends.rawsocket import RawSocketPort
from harness.backends.responder import NeighborResponder
from harness.control.client import ControlClient, Hello
from harness.control.remote import RemoteVerbs, serve_verbs_remotely
from harness.control.verbs import control_verbs
from harness.dut import TimerName, Unsupported
from harness.frames import mac_bytes

if TYPE_CHECKING:
    from harness.capture import Capture, Direction

_QUIET_S: Final = 0.05  # the link counts as settled after this long without a frame from the DUT
_SETTLE_LIMIT_S: Final = 2.0


class ManagedDUT(RemoteVerbs, InterfaceDUT):
    """A DUT process on a TAP in a namespace of our own (or on a named interface), with an agent."""

    # Backend seconds per second of wall time (the tap backend runs its stack's clock faster):
    # the settle window is wall time, the time frames take through the kernel.
    clock_rate: float = 1.0

    def __init__(self, config: InterfaceConfig, capture: Capture | None = None, *, name: str = "interface") -> None:
        command = config.command
        if command is None:
            raise ValueError("a managed DUT needs a [dut] table in its interface config")
        self.command = command
        self.responder = NeighborResponder(config.info, enabled=command.answer_neighbors)
        self._asked: bytes | None = None  # the responder's reply to the frame just received
        self.space: lifecycle.TapNamespace | None = None
        self.process: lifecycle.DUTProcess | None = None
        self.control: ControlClient | None = None
        self.hello: Hello | None = None
        self.rundir = lifecycle.make_rundir()
        self._declared = config.features
        self._closed = False
        _live.add(self)
        exit_hooks.run_at_exit(_close_all)
        try:
            port = None
            if command.tap:
                self.space = lifecycle.TapNamespace(config.info, config.interface)
                fd = os.open(linux_setup.NETNS_DIR / self.space.netns, os.O_RDONLY)
                try:
                    port = RawSocketPort(config.interface, netns_fd=fd)
                finally:
                    os.close(fd)
            super().__init__(config, capture, port=port)
            self.name = name
            self._baseline_timers = dict(config.info.timers)
            self._baseline_mtu = config.info.mtu
            self._baseline_mac = config.info.dut_mac
            self._start()
        except BaseException:
            self.close()
            raise

    # ---- the process and its agent ------------------------------------------------------------
    def _values(self) -> dict[str, str]:
        netns = self.space.netns if self.space else ""
        return lifecycle.placeholders(self.info, self.interface, self.rundir, netns)

    def _start(self) -> None:
        values = self._values()
        argv = [lifecycle.fill(a, values) for a in self.command.argv]
        self.process = lifecycle.DUTProcess(argv, self.command.ready, netns=self.space.netns if self.space else None,
                                            timeout=self.command.ready_timeout)
        if self.command.control is not None:
            address = lifecycle.fill(self.command.control, values)
            self.control = ControlClient(address, label=f"control agent of {self.name}")
            self.hello = self.control.say_hello()
            if self._declared is None:  # a features list in the config wins over the agent's
                self.features = self.hello.features
            if not self._baseline_timers:  # the config's [timers] win over what the agent says
                self._baseline_timers = dict(self.hello.timers)
        self._restore_info()
        self._settle()

    def _stop(self) -> None:
        control, self.control = self.control, None
        if control is not None:
            control.close()
        process, self.process = self.process, None
        if process is not None:
            process.stop()

    def _restore_info(self) -> None:
        if self.info.mtu != self._baseline_mtu:
            self.info = dataclasses.replace(self.info, mtu=self._baseline_mtu)
        if self.info.dut_mac != self._baseline_mac:
            self.info = dataclasses.replace(self.info, dut_mac=self._baseline_mac)
            self._dut_mac = mac_bytes(self._baseline_mac)
        self.info.timers.clear()
        self.info.timers.update(self._baseline_timers)

    def _settle(self) -> None:
        """Drop start-up chatter (reports, DAD) until the link is quiet, answering resolution.
        An in-order DUT's reply to a barrier probe comes after everything it sent before (the
        tap agent sends its fresh stack's chatter before it answers ``reset``): the link is
        settled once that reply is in, instead of after a quiet window."""
        if self.in_order and self.barrier(within=SETTLE_BARRIER_S) is not None:
            self.backlog.clear()
            return
        limit = time.monotonic() + _SETTLE_LIMIT_S
        while time.monotonic() < limit and self._receive(self._now() + _QUIET_S * self.clock_rate) is not None:
            pass
        self.backlog.clear()

    # ---- FrameDUT hooks -------------------------------------------------------------------------
    def _receive(self, deadline: float) -> bytes | None:
        self._answer_neighbors()  # a request returned by the last call (settle and drain come here)
        frame = super()._receive(deadline)
        if frame is not None:
            self._asked = self.responder.reply_to(frame)
        return frame

    def _record(self, raw: bytes, direction: Direction, when: float | None = None) -> None:
        super()._record(raw, direction, when)
        if direction == "from_dut":
            self._answer_neighbors()  # right after the request, so the pcap shows them in order

    def _answer_neighbors(self) -> None:
        reply, self._asked = self._asked, None
        if reply is not None:
            super()._record(reply, "to_dut")
            self._transmit(reply)

    def _diagnostics(self) -> list[str]:
        problem = self.process.exited() if self.process is not None else "the DUT process is not running"
        return [problem] if problem else []

    # ---- control ----------------------------------------------------------------------------------
    def _cannot(self, verb: str) -> NoReturn:
        raise Unsupported(f"the {self.name} DUT has no control agent (dut.control in its config); it cannot {verb}")

    def set_timer(self, name: TimerName, seconds: float) -> None:
        self.call(control_verbs()["set_timer"], name, seconds)
        self.info.timers[name] = float(seconds)

    def set_link_mtu(self, mtu: int) -> None:
        self.call(control_verbs()["set_link_mtu"], mtu)
        self.info = dataclasses.replace(self.info, mtu=int(mtu))  # the timers dict stays shared

    def set_link_address(self, mac: str) -> None:
        self.call(control_verbs()["set_link_address"], mac)
        self.info = dataclasses.replace(self.info, dut_mac=mac.lower())  # the frame builders follow
        self._dut_mac = mac_bytes(mac)  # and what counts as the DUT's frames

    # ---- session life -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Before each test: restart the DUT, reset it through its agent, or only drain."""
        before = self.command.before_each
        if before == "restart" or self.process is None or self.process.exited():
            self._stop()
            self._start()
        elif before == "reset":
            assert self.control is not None
            self._settle_inbound()
            self.control.call("reset", {})
            self._restore_info()
            self._settle()
        super().reset()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _live.discard(self)
        try:
            if hasattr(self, "port"):
                super().close()  # drains into the pcap, closes the socket
        finally:
            self._stop()
            if self.space is not None:
                self.space.close()
            lifecycle.remove_rundir(self.rundir)


serve_verbs_remotely(ManagedDUT)


# ---- clean-up on every way out ---------------------------------------------------------------------
_live: weakref.WeakSet[ManagedDUT] = weakref.WeakSet()


def _close_all() -> None:
    for dut in list(_live):
        try:
            dut.close()
        except Exception:  # at exit, keep closing the others
            continue


