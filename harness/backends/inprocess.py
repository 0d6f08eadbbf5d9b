"""InProcessDUT: our stack over a ChannelEndpoint with a VirtualClock, fresh for every test.

The harness's only import of ``stack_under_test``. Frames are delivered synchronously; time
moves only when the test waits, so ``expect_none(..., within=65.0)`` costs no wall time and
every run is identical (fixed rng seed). Units: the harness speaks float seconds, the stack
int milliseconds; this module is the only place that converts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from harness.backends.base import TEST_LINK, FrameDUT
from harness.backends.stack_agent_values import add_second_interface_address
from harness.backends.stack_tcp import StackTCP
from harness.backends.tap_agent import FEATURES as STACK_FEATURES
from harness.capture import Capture
from harness.dut import (
    IPV6_OPTIONS,
    AddressInfo,
    AddressState,
    Family,
    ICMPReport,
    IPv6Option,
    LinkInfo,
    TCPConn,
    TCPOption,
    TCPState,
    TimerName,
    UDPDatagram,
    ipv6_option_unit,
)
from harness.frames import mac_bytes
from stack_under_test import ChannelEndpoint, Stack, StackError, StackOptions, VirtualClock
from stack_under_test.transport import tcp

NIC: Final = "eth0"
# Steps of one _receive at the same virtual instant before we call it a timer storm (a stack bug).
MAX_SAME_INSTANT_STEPS: Final = 100_000
# Virtual time set-up may spend waiting for DAD on the configured addresses.
SETTLE_LIMIT_MS: Final = 10_000
# Set-up is over once no timer falls due within this many ms (see _run_until_quiet).
QUIET_MS: Final = 20
_REPORT_INTERVALS: Final = ("mldv2_unsolicited_report_interval_ms", "mldv1_unsolicited_report_interval_ms")
_TIMER_OPTIONS: Final = {
    "ipv4_reassembly_timeout": "ipv4_reassembly_timeout_ms",
    "ipv6_reassembly_timeout": "ipv6_reassembly_timeout_ms",
    "ipv6_pmtu_expiry": "ipv6_pmtu_expiry_ms",
    "arp_cache_timeout": "arp_cache_timeout_ms",
}
# The baseline of every backend (harness.dut.DUT.set_ipv6_option): addresses usable at once and
# no Router Solicitation chatter, like the linux backend's interface.
_BASELINE_IPV6: Final[dict[str, Any]] = {"accept_dad": 0, "router_solicitations": 0}
_STATES: Final[dict[str, AddressState]] = {"tentative": "tentative", "preferred": "preferred",
                                           "deprecated": "deprecated"}


_T = TypeVar("_T")


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _whole_seconds(seconds: float | None) -> int | None:
    # Address lifetimes are whole seconds on the wire (RFC 4861 4.6.2) and on Linux (valid_lft);
    # round up so an address never lives shorter than asked.
    if seconds is None:
        return None
    if seconds < 0:
        raise ValueError(f"a lifetime must not be negative, got {seconds}")
    return math.ceil(seconds)


def _remaining(until_ms: int | None, now_ms: int) -> float | None:
    return None if until_ms is None else max(0, until_ms - now_ms) / 1000


class InProcessDUT(FrameDUT):
    """A fresh Stack configured with the test link's DUT addresses and static tester neighbors."""

    def __init__(
        self,
        capture: Capture | None = None,
        *,
        seed: int = 1,
        info: LinkInfo = TEST_LINK,
        options: dict[str, Any] | None = None,
    ) -> None:
        # Virtual time, but Universal Time at its zero is now: the timestamps the stack inserts
        # (RFC 791 options, ICMP Timestamp) can be held to the real time of day (RFC 1122 3.2.2.8).
        self.clock = VirtualClock(utc_origin_ms=time.time_ns() // 1_000_000)
        opts = StackOptions(clock=self.clock, rng=random.Random(seed), **(options or {}))
        timers = {name: getattr(opts, attr) / 1000 for name, attr in _TIMER_OPTIONS.items() if hasattr(opts, attr)}
        super().__init__("inprocess", dataclasses.replace(info, timers=timers), capture, frozenset(STACK_FEATURES))
        self.stack = Stack(opts)
        self.link = ChannelEndpoint(mac=mac_bytes(info.dut_mac), mtu=info.mtu)
        self.verdicts: list[tuple[int, Any]] = []  # (index of frame sent, Drop) for diagnostics
        self._sent = 0
        self._sockets: dict[int, Any] = {}
        self._configure()
        proto = self.stack.transport_protocols[6]
        assert isinstance(proto, tcp.TCPProtocol)
        self._tcp = StackTCP(proto)

    def _configure(self) -> None:
        info, stack = self.info, self.stack
        stack.create_nic(NIC, self.link)
        for name, value in _BASELINE_IPV6.items():
            stack.set_ipv6_option(NIC, name, value)
        # As the linux backend does while its link comes up: report intervals of 1 ms, so the
        # MLD reports (and their retransmissions, RFC 3810 §6.1) of set-up all go out now and
        # are drained below instead of landing in the test.
        cfg = stack.nic(NIC).ipv6_config
        saved = {name: getattr(cfg, name) for name in _REPORT_INTERVALS}
        for name in _REPORT_INTERVALS:
            stack.set_ipv6_option(NIC, name, 1)
        stack.enable_nic(NIC)
        stack.add_address(NIC, str(info.dut_ipv4))
        # Without DAD, as the linux backend adds it ("nodad"): a link flap never makes it tentative.
        stack.add_address(NIC, str(info.dut_ipv6), dad=False)
        self._add_static_neighbors()
        self._settle()
        self._run_until_quiet()
        for name, value in saved.items():
            stack.set_ipv6_option(NIC, name, value)
        # Setup is the fixture's business, not the test's: like the linux backend, whose link
        # came up long before, the test starts with nothing queued.
        self.link.drain()

    def _add_static_neighbors(self) -> None:
        tester = mac_bytes(self.info.tester_mac)
        for addr in (self.info.tester_ipv4, self.info.tester_ipv6, self.info.tester_ipv6_ll):
            self.stack.add_static_neighbor(NIC, str(addr), tester)

    def _settle(self) -> None:
        """Run virtual time until the configured addresses are usable (IPv6 DAD done).

        The baseline has accept_dad off (as the linux backend adds its addresses ``nodad``), so
        this normally returns at once; should DAD run anyway (RFC 4862 §5.4) it completes, as no
        other node answers it. Bounded, in case DAD never ends.
        """
        nic = self.stack.nic(NIC)
        mine = [self.info.dut_ipv4.ip.packed, self.info.dut_ipv6.ip.packed, self.info.dut_ipv6_ll.packed]
        while not all(nic.is_local(a) for a in mine) and self.clock.now_ms < SETTLE_LIMIT_MS:
            if not self.clock.advance_to_next():
                break
        missing = [str(ipaddress.ip_address(a)) for a in mine if not nic.is_local(a)]
        if missing:
            raise RuntimeError(f"in-process stack: {', '.join(missing)} not usable after set-up")

    def _run_until_quiet(self) -> None:
        """Fire the timers falling due within QUIET_MS of each other (set-up chatter), bounded."""
        clock = self.clock
        while ((nxt := clock.next_deadline_ms()) is not None and nxt <= clock.now_ms + QUIET_MS
               and clock.now_ms < SETTLE_LIMIT_MS):
            clock.advance_to_next()

    # ---- hooks ----------------------------------------------------------------------------------
    def _transmit(self, frame: bytes) -> None:
        verdict = self.link.inject_inbound(frame)
        if verdict is not None:
            self.verdicts.append((self._sent, verdict))
        self._sent += 1

    def _receive(self, deadline: float) -> bytes | None:
        deadline_ms = _ms(deadline)
        same_instant = 0
        while True:
            frame = self.link.read_outbound()
            if frame is not None:
                return frame
            now = self.clock.now_ms
            nxt = self.clock.next_deadline_ms()
            if nxt is None or nxt > deadline_ms:
                if deadline_ms > now:
                    self.clock.advance(deadline_ms - now)
                    return self.link.read_outbound()
                return None
            # A timer falls due before the deadline: run time up to it and look again.
            self.clock.advance(max(0, nxt - now))
            same_instant = same_instant + 1 if self.clock.now_ms == now else 0
            if same_instant > MAX_SAME_INSTANT_STEPS:
                raise RuntimeError(f"stack timers keep re-arming at t={now} ms without time passing")

    def _now(self) -> float:
        return self.clock.now_ms / 1000

    def _diagnostics(self) -> list[str]:
        if not self.verdicts:
            return []
        lines = [f"the in-process stack dropped {len(self.verdicts)} of the {self._sent} frame(s) sent:"]
        lines += [f"  frame #{i}: {getattr(d, 'name', d)}: {getattr(d, 'value', '')}" for i, d in self.verdicts[:20]]
        return lines

    # ---- control surface ----------------------------------------------------------------------
    def add_address(self, cidr: str, *, dad: bool = False, valid_lifetime: float | None = None,
                    preferred_lifetime: float | None = None) -> None:
        if dad:
            # As on the linux backend: DAD for this address needs DAD on for the interface.
            self.stack.set_ipv6_option(NIC, "accept_dad", 1)
        valid = _whole_seconds(valid_lifetime)
        # Like `ip addr add ... valid_lft N`: the preferred lifetime defaults to the valid one.
        preferred = valid if preferred_lifetime is None else _whole_seconds(preferred_lifetime)
        self.stack.add_address(NIC, cidr, dad=dad, valid_lifetime_s=valid, preferred_lifetime_s=preferred)

    def add_second_interface_address(self, cidr: str) -> None:
        add_second_interface_address(self.stack, cidr, lambda mac: ChannelEndpoint(mac=mac))

    def remove_address(self, cidr: str) -> None:
        self.stack.remove_address(NIC, cidr)

    def udp_bind(self, port: int, family: Family = 4) -> None:
        if port in self._sockets:
            raise ValueError(f"udp_bind: port {port} is already bound by this test")
        self._sockets[port] = self.stack.udp_bind("0.0.0.0" if family == 4 else "::", port)

    def udp_recv(self, port: int, within: float = 2.0) -> tuple[bytes, str, int] | None:
        got: tuple[bytes, str, int] | None = self._step_until(self._socket(port).recv, within)
        return got

    def udp_send(self, port: int, data: bytes, dst: str, dport: int) -> None:
        self._socket(port).sendto(data, dst, dport)

    def udp_close(self, port: int) -> None:
        self._socket(port).close()
        del self._sockets[port]

    def udp_recvmsg(self, port: int, within: float = 2.0) -> UDPDatagram | None:
        sock = self._socket(port)
        got = self._step_until(sock.recvmsg, within)
        if got is None:
            return None
        return UDPDatagram(got.data, got.src, got.sport, got.dst, got.tos, got.ttl, got.options)

    def udp_sendmsg(self, port: int, data: bytes, dst: str, dport: int, *, src: str | None = None,
                    ttl: int | None = None, tos: int | None = None, options: bytes = b"") -> None:
        try:
            self._socket(port).sendto(bytes(data), dst, dport, src=src, ttl=ttl, tos=tos, options=bytes(options))
        except StackError as e:
            raise ValueError(str(e)) from None

    def udp_errors(self, port: int, within: float = 2.0) -> list[ICMPReport]:
        sock = self._socket(port)
        self._step_until(lambda: sock.errors[0] if sock.errors else None, within)
        out = [ICMPReport(e.family, e.type, e.code, e.info, e.dst, e.dport) for e in sock.errors]
        sock.errors.clear()
        return out

    def _step_until(self, poll: Callable[[], _T | None], within: float) -> _T | None:
        """``poll()`` until it gives something, stepping virtual time like ``expect`` does (frames
        the DUT emits meanwhile go to the backlog), for at most ``within`` seconds."""
        deadline = self._now() + within
        got = poll()
        while got is None:
            stepped = self._next(deadline)
            got = poll()
            if stepped is None:
                break
        return got

    # ---- TCP (harness/backends/stack_tcp.py: shared with the tap agent) ---------------------------
    def tcp_listen(self, port: int, family: Family = 4, *, backlog: int = 16,
                   options: Mapping[TCPOption, float | int | bool] | None = None) -> None:
        self._tcp.listen(port, family, backlog, options)

    def tcp_accept(self, port: int, family: Family = 4, *, within: float = 2.0) -> TCPConn | None:
        deadline = self._now() + within
        while (conn := self._tcp.accept_now(port, family)) is None:
            if self._next(deadline) is None:
                return self._tcp.accept_now(port, family)
        return conn

    def tcp_close_listener(self, port: int, family: Family = 4) -> None:
        self._tcp.close_listener(port, family)

    def tcp_connect(self, dst: str, dport: int, *, sport: int | None = None,
                    options: Mapping[TCPOption, float | int | bool] | None = None) -> TCPConn:
        return self._tcp.connect(dst, dport, sport, options)

    def tcp_send(self, conn: TCPConn, data: bytes) -> int:
        return self._tcp.send(conn.handle, data)

    def tcp_recv(self, conn: TCPConn, max: int = 65536, *, within: float = 2.0) -> bytes | None:
        deadline = self._now() + within
        while (got := self._tcp.recv_now(conn.handle, max)) is None:
            # Step time like expect() does; frames the DUT emits meanwhile go to the backlog.
            if self._next(deadline) is None:
                return self._tcp.recv_now(conn.handle, max)
        return got

    def tcp_shutdown(self, conn: TCPConn) -> None:
        self._tcp.shutdown(conn.handle)

    def tcp_close(self, conn: TCPConn) -> None:
        self._tcp.close(conn.handle)

    def tcp_abort(self, conn: TCPConn) -> None:
        self._tcp.abort(conn.handle)

    def tcp_set_option(self, conn: TCPConn, name: TCPOption, value: float | int | bool) -> None:
        self._tcp.set_option(conn.handle, name, value)

    def tcp_state(self, conn: TCPConn) -> TCPState:
        return self._tcp.state(conn.handle)

    def reset(self) -> None:
        """Every test starts without TCP sockets (harness.dut: the backend forgets them)."""
        self._tcp.clear()
        super().reset()

    def join_group(self, group: str) -> None:
        self.stack.join_group(NIC, group)

    def join_source_group(self, group: str, sources: list[str]) -> None:
        try:
            self.stack.join_source_group(NIC, group, list(sources))
        except StackError as e:
            raise ValueError(str(e)) from None

    def leave_group(self, group: str) -> None:
        self.stack.leave_group(NIC, group)

    def set_forwarding(self, family: Family, enabled: bool) -> None:
        self.stack.set_forwarding(family, enabled)

    def set_timer(self, name: TimerName, seconds: float) -> None:
        self.stack.set_timer(name, _ms(seconds))
        self.info.timers[name] = seconds

    def add_route(self, cidr: str, via: str | None = None, mtu: int | None = None) -> None:
        self.stack.add_route(cidr, NIC, gateway=via, mtu=mtu)

    def remove_route(self, cidr: str) -> None:
        # The DUT verb names a route by its prefix alone; the stack wants the exact entry, so
        # remove every route to ``cidr`` on the test link, whatever its gateway.
        net = ipaddress.ip_network(cidr, strict=False)
        gateways = [e.gateway for e in self.stack.routes.entries() if e.network == net and e.nic == NIC]
        if not gateways:
            self.stack.remove_route(cidr, NIC)  # raises the stack's "no route" error
        for gw in gateways:
            self.stack.remove_route(cidr, NIC, gateway=None if gw is None else str(ipaddress.ip_address(gw)))

    def set_link_mtu(self, mtu: int) -> None:
        self.stack.set_link_mtu(NIC, mtu)
        self.info = dataclasses.replace(self.info, mtu=mtu)  # the timers dict stays shared

    def set_link_address(self, mac: str) -> None:
        self.stack.set_link_address(NIC, mac_bytes(mac))
        self.info = dataclasses.replace(self.info, dut_mac=mac.lower())  # the timers dict stays shared

    def set_icmp_rate_limit(self, family: Family, per_second: float, burst: int) -> None:
        self.stack.set_icmp_rate_limit(family, per_second, burst)

    def set_echo_ignore_broadcasts(self, ignore: bool) -> None:
        self.stack.set_echo_ignore_broadcasts(ignore)

    def set_default_ttl(self, family: Family, ttl: int) -> None:
        try:
            self.stack.set_default_ttl(family, ttl)
        except StackError as e:
            raise ValueError(str(e)) from None

    def set_accept_source_route(self, accept: bool) -> None:
        self.stack.set_accept_source_route(accept)

    # ---- IPv6 host configuration ---------------------------------------------------------------
    def set_ipv6_option(self, name: IPv6Option, value: float | int | str) -> None:
        if name not in IPV6_OPTIONS:
            raise ValueError(f"unknown IPv6 option {name!r} (known: {', '.join(sorted(IPV6_OPTIONS))})")
        stack_value: int | bool | bytes
        if name == "stable_secret":
            try:
                stack_value = ipaddress.IPv6Address(str(value)).packed
            except ValueError:
                raise ValueError(f"stable_secret is an IPv6 address, e.g. 2001:db8::1, not {value!r}") from None
            self.stack.set_ipv6_option(NIC, name, stack_value)
            # Writing Linux's stable_secret sysctl also switches the interface's addr_gen_mode to
            # stable privacy (2, RFC 7217); the same here, so both backends agree.
            self.stack.set_ipv6_option(NIC, "addr_gen_mode", 2)
        elif ipv6_option_unit(name) == "seconds":
            # The stack's IPv6Config holds times in int ms, under the option's name + "_ms".
            self.stack.set_ipv6_option(NIC, f"{name}_ms", _ms(float(value)))
        else:
            if isinstance(value, str) or value != int(value):
                raise ValueError(f"IPv6 option {name} takes an integer, not {value!r}")
            self.stack.set_ipv6_option(NIC, name, int(value))

    def ipv6_option(self, name: IPv6Option) -> float | int | str:
        """The option's value as the stack holds it now, in ``set_ipv6_option``'s units (for the
        harness's own tests: not a DUT verb)."""
        config = self.stack.nic(NIC).ipv6_config
        unit = ipv6_option_unit(name)
        if unit == "seconds":
            return int(getattr(config, f"{name}_ms")) / 1000
        if unit == "address":
            secret = config.stable_secret
            return "" if secret is None else str(ipaddress.IPv6Address(secret[:16]))
        return int(getattr(config, name))

    def restart_link(self) -> None:
        self.stack.restart_nic(NIC)
        # Whatever the stack's neighbor table does on a link flap, the tester stays resolved,
        # as on the linux backend (which re-adds its permanent entries).
        self._add_static_neighbors()

    def ipv6_addresses(self) -> list[AddressInfo]:
        now = self.clock.now_ms
        out = []
        for entry in self.stack.nic(NIC).addresses.of_family(6):
            state = _STATES.get(entry.state.value)
            if state is None:  # e.g. DAD failed: not an address of the interface
                continue
            out.append(AddressInfo(
                interface=ipaddress.IPv6Interface(str(entry.interface)),
                state=state,
                temporary=bool(getattr(entry, "temporary", False)),
                valid_lifetime=_remaining(entry.valid_until_ms, now),
                preferred_lifetime=_remaining(entry.preferred_until_ms, now),
            ))
        return out

    def close(self) -> None:
        for sock in self._sockets.values():
            # Closing at teardown must not mask the test's own outcome.
            with contextlib.suppress(Exception):
                sock.close()
        self._sockets.clear()
        self._tcp.clear()
        super().close()

    def _socket(self, port: int) -> Any:
        try:
            return self._sockets[port]
        except KeyError:
            raise ValueError(f"no UDP socket bound to port {port}; call dut.udp_bind({port}) first") from None
