"""Control agent for our own stack as a real host: ``stack_under_test`` on a TAP, speaking the
DUT control protocol (``harness.control``) on a Unix socket.

    ip netns exec NS python -m harness.backends.tap_agent --tap scp0 --control /tmp/x/control.sock \
        --mac 02:00:00:00:00:01 --ipv4 198.51.100.1/24 --ipv6 2001:db8:1::1/64 \
        --neighbor 198.51.100.2=02:00:00:00:00:02 ...

One process, one poll loop: TAP frames, the stack's timers and control requests. ``reset``
builds a fresh stack on the same TAP (no neighbor cache, sockets, groups or timers left over)
and returns once it has settled, which is how the tap backend gives every test a fresh host
without starting a process. It prints its ready line once the control socket listens.

With ``harness.backends.inprocess`` this is the harness's only import of ``stack_under_test``;
the verbs map onto the same stack calls as the in-process backend's, in real time, or with
``--clock-rate R`` on a clock running R times as fast (a verb's ``within`` is in the stack's time).
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import random
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from harness.backends.stack_agent_values import (
    add_second_interface_address,
    conn_handle,
    stack_counters,
    tcp_failures,
)
from harness.backends.stack_tcp import StackTCP
from harness.control.server import NOT_READY, ControlServer, Pending, unsupported
from harness.control.verbs import to_json
from stack_under_test import ChannelEndpoint, MonotonicClock, Stack, StackError, StackOptions, TapEndpoint
from stack_under_test.link.tap import TapError
from stack_under_test.transport import tcp

# The baseline every backend starts a test from (harness.dut.DUT.set_ipv6_option).
_BASELINE_IPV6: Final[dict[str, int]] = {"accept_dad": 0, "router_solicitations": 0}
_REPORT_INTERVALS: Final = ("mldv2_unsolicited_report_interval_ms", "mldv1_unsolicited_report_interval_ms")
_TIMER_OPTIONS: Final = {"ipv4_reassembly_timeout": "ipv4_reassembly_timeout_ms",
                         "ipv6_reassembly_timeout": "ipv6_reassembly_timeout_ms",
                         "ipv6_pmtu_expiry": "ipv6_pmtu_expiry_ms",
                         "arp_cache_timeout": "arp_cache_timeout_ms"}
_MS_OPTIONS: Final = frozenset({
    "rtr_solicit_interval", "rtr_solicit_delay", "mldv1_unsolicited_report_interval",
    "mldv2_unsolicited_report_interval", "base_reachable_time", "retrans_time", "delay_first_probe_time",
    "temp_valid_lft", "temp_prefered_lft",
})
# Set-up chatter (MLD reports for the solicited-node groups) is sent within this long.
_SETTLE_MS: Final = 30
# What our stack implements of the optional features (harness.control.protocol.FEATURES).
FEATURES: Final = (
    "ipv4-record-route", "ipv4-timestamp", "ipv4-source-route", "ipv6-jumbograms", "echo-broadcast",
    "echo-multicast", "ipv4-forwarding", "ipv6-forwarding", "mldv1", "mldv2", "igmpv1", "igmpv2", "igmpv3",
    "slaac", "temporary-addresses", "stable-addresses", "route-information", "redirect-send", "icmp-timestamp",
)


@dataclass
class HostConfig:
    """The addresses and start-up values the agent gives every fresh stack."""

    mac: bytes
    ipv4: list[str]
    ipv6: list[str]
    mtu: int = 1500
    neighbors: list[tuple[str, bytes]] = field(default_factory=list)
    timers_ms: dict[str, int] = field(default_factory=dict)


def _ms(seconds: float) -> int:
    return round(float(seconds) * 1000)


def _whole_seconds(seconds: float | None) -> int | None:
    if seconds is None:
        return None
    if seconds < 0:
        raise ValueError(f"a lifetime must not be negative, got {seconds}")
    return math.ceil(seconds)


class StackAgent:
    """The control verbs over a ``stack_under_test.Stack`` attached to ``link``."""

    name = "stack_under_test"
    version = "1"
    features = FEATURES
    lacks: Final[dict[str, str]] = {}

    def __init__(self, link: Any, nic: str, config: HostConfig, rate: float = 1.0) -> None:
        self.link, self.nic, self.config, self.rate = link, nic, config, rate
        self.clock = MonotonicClock(rate)
        self.stack: Any = None
        self.sockets: dict[int, Any] = {}
        self.tcp: StackTCP | None = None
        self.timers: dict[str, float] = {}
        self._build()

    # ---- a fresh host ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.clock = MonotonicClock(self.rate)
        options = StackOptions(clock=self.clock, rng=random.Random(int.from_bytes(os.urandom(8), "big")))
        for attr, ms in self.config.timers_ms.items():
            setattr(options, attr, ms)
        self.timers = {name: getattr(options, attr) / 1000 for name, attr in _TIMER_OPTIONS.items()}
        stack = Stack(options)
        stack.create_nic(self.nic, self.link)
        for name, value in _BASELINE_IPV6.items():
            stack.set_ipv6_option(self.nic, name, value)
        # As the in-process backend: 1 ms report intervals while the link comes up, so the
        # solicited-node reports (and their retransmissions) go out now, before the ready line.
        cfg = stack.nic(self.nic).ipv6_config
        saved = {name: getattr(cfg, name) for name in _REPORT_INTERVALS}
        for name in _REPORT_INTERVALS:
            stack.set_ipv6_option(self.nic, name, 1)
        stack.enable_nic(self.nic)
        for cidr in self.config.ipv4:
            stack.add_address(self.nic, cidr)
        for cidr in self.config.ipv6:
            stack.add_address(self.nic, cidr, dad=False)
        for addr, mac in self.config.neighbors:
            stack.add_static_neighbor(self.nic, addr, mac)
        self.stack = stack
        proto = stack.transport_protocols[6]
        assert isinstance(proto, tcp.TCPProtocol)
        self.tcp = StackTCP(proto)
        self.run_until_quiet(_SETTLE_MS)
        for name, value in saved.items():
            stack.set_ipv6_option(self.nic, name, value)

    def run_for(self, ms: int) -> None:
        """Run the host (frames and timers) for ``ms`` milliseconds of the stack's time."""
        end = time.monotonic() + ms / 1000 / self.rate
        while (left := end - time.monotonic()) > 0:
            until = self.clock.seconds_until_next()
            ready, _, _ = select.select(_frames(self.link), [], [], left if until is None else min(left, until))
            if ready:
                self.link.poll()
            self.clock.run_due()

    def run_until_quiet(self, most_ms: int) -> None:
        """Run the host for up to ``most_ms`` of the stack's time, ending early once no timer
        falls due before then: the same timers fire as in ``run_for(most_ms)``, without the
        wait after the last (a fresh stack's chatter is out a few ms into ``most_ms``)."""
        end = self.clock.now_ms + most_ms
        while (now := self.clock.now_ms) < end:
            due = self.clock.next_deadline_ms()
            if due is None or due >= end:
                return
            self.run_for(max(1, due - now + 1))  # an overdue timer: run_for(1) fires it

    def _deadline(self, within: float) -> float:
        """The wall-clock instant ``within`` seconds of the stack's time from now (a verb's wait)."""
        return time.monotonic() + max(0.0, float(within)) / self.rate

    def close_sockets(self) -> None:
        for sock in self.sockets.values():
            try:
                sock.close()
            except StackError:
                continue
        self.sockets.clear()

    # ---- protocol verb ---------------------------------------------------------------------------
    def verb_reset(self) -> None:
        """A fresh stack on the same link: the common baseline, nothing of the last test left."""
        self.close_sockets()
        self.link.mac = self.config.mac  # set_link_address lasts one test
        if self.tcp is not None:
            self.tcp.clear()  # the old stack's connections say nothing more on the link
        self._build()

    # ---- DUT verbs -------------------------------------------------------------------------------
    def verb_add_address(self, cidr: str, dad: bool = False, valid_lifetime: float | None = None,
                         preferred_lifetime: float | None = None) -> None:
        if dad:
            self.stack.set_ipv6_option(self.nic, "accept_dad", 1)  # as the other backends do
        valid = _whole_seconds(valid_lifetime)
        preferred = valid if preferred_lifetime is None else _whole_seconds(preferred_lifetime)
        self.stack.add_address(self.nic, cidr, dad=dad, valid_lifetime_s=valid, preferred_lifetime_s=preferred)

    def verb_add_second_interface_address(self, cidr: str) -> None:
        add_second_interface_address(self.stack, cidr, lambda mac: ChannelEndpoint(mac=mac))

    def verb_remove_address(self, cidr: str) -> None:
        self.stack.remove_address(self.nic, cidr)

    def verb_udp_bind(self, port: int, family: int = 4) -> None:
        if port in self.sockets:
            raise ValueError(f"udp_bind: port {port} is already bound by this test")
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        self.sockets[port] = self.stack.udp_bind("0.0.0.0" if family == 4 else "::", port)

    def _socket(self, port: int) -> Any:
        try:
            return self.sockets[port]
        except KeyError:
            raise ValueError(f"no UDP socket bound to port {port}; call udp_bind({port}) first") from None

    def verb_udp_recv(self, port: int, within: float = 2.0) -> Pending:
        sock = self._socket(port)

        def poll() -> Any:
            got = sock.recv()
            return NOT_READY if got is None else [got[0].hex(), str(got[1]), int(got[2])]

        return Pending(poll, self._deadline(within))

    def verb_udp_send(self, port: int, data: str, dst: str, dport: int) -> None:
        self._socket(port).sendto(bytes.fromhex(data), dst, dport)

    def verb_udp_recvmsg(self, port: int, within: float = 2.0) -> Pending:
        sock = self._socket(port)

        def poll() -> Any:
            got = sock.recvmsg()
            if got is None:
                return NOT_READY
            return {"data": got.data.hex(), "src": got.src, "sport": got.sport, "dst": got.dst, "tos": got.tos,
                    "ttl": got.ttl, "options": got.options.hex()}

        return Pending(poll, self._deadline(within))

    def verb_udp_sendmsg(self, port: int, data: str, dst: str, dport: int, src: str | None = None,
                         ttl: int | None = None, tos: int | None = None, options: str = "") -> None:
        try:
            self._socket(port).sendto(bytes.fromhex(data), dst, dport, src=src, ttl=ttl, tos=tos,
                                      options=bytes.fromhex(options))
        except StackError as e:
            raise ValueError(str(e)) from None

    def verb_udp_errors(self, port: int, within: float = 2.0) -> Pending:
        sock = self._socket(port)

        def poll() -> Any:
            if not sock.errors:
                return NOT_READY
            out = [{"family": e.family, "type": e.type, "code": e.code, "info": e.info, "dst": e.dst,
                    "dport": e.dport} for e in sock.errors]
            sock.errors.clear()
            return out

        return Pending(poll, self._deadline(within), on_timeout=[])

    def verb_set_default_ttl(self, family: int, ttl: int) -> None:
        self.stack.set_default_ttl(family, ttl)

    def verb_udp_close(self, port: int) -> None:
        self._socket(port).close()
        del self.sockets[port]

    # ---- TCP (harness/backends/stack_tcp.py, shared with the in-process backend) -------------------
    @property
    def _tcp(self) -> StackTCP:
        assert self.tcp is not None
        return self.tcp

    def verb_tcp_listen(self, port: int, family: int = 4, backlog: int = 16,
                        options: dict[str, Any] | None = None) -> None:
        with tcp_failures():
            self._tcp.listen(int(port), family, int(backlog), options)  # type: ignore[arg-type]

    def verb_tcp_accept(self, port: int, family: int = 4, within: float = 2.0) -> Pending:
        self._tcp.listener(int(port), family)  # type: ignore[arg-type]  # a bad port answers at once

        def poll() -> Any:
            conn = self._tcp.accept_now(int(port), family)  # type: ignore[arg-type]
            return NOT_READY if conn is None else to_json(conn)

        return Pending(poll, self._deadline(within))

    def verb_tcp_close_listener(self, port: int, family: int = 4) -> None:
        self._tcp.close_listener(int(port), family)  # type: ignore[arg-type]

    def verb_tcp_connect(self, dst: str, dport: int, sport: int | None = None,
                         options: dict[str, Any] | None = None) -> Any:
        with tcp_failures():
            return to_json(self._tcp.connect(dst, int(dport), sport, options))  # type: ignore[arg-type]

    def verb_tcp_send(self, conn: dict[str, Any], data: str) -> int:
        with tcp_failures():
            return self._tcp.send(conn_handle(conn), bytes.fromhex(data))

    def verb_tcp_recv(self, conn: dict[str, Any], max: int = 65536, within: float = 2.0) -> Pending:
        handle = conn_handle(conn)
        self._tcp.conn(handle)  # an unknown connection answers at once

        def poll() -> Any:
            with tcp_failures():
                got = self._tcp.recv_now(handle, int(max))
            return NOT_READY if got is None else got.hex()

        return Pending(poll, self._deadline(within))

    def verb_tcp_shutdown(self, conn: dict[str, Any]) -> None:
        with tcp_failures():
            self._tcp.shutdown(conn_handle(conn))

    def verb_tcp_close(self, conn: dict[str, Any]) -> None:
        self._tcp.close(conn_handle(conn))

    def verb_tcp_abort(self, conn: dict[str, Any]) -> None:
        self._tcp.abort(conn_handle(conn))

    def verb_tcp_set_option(self, conn: dict[str, Any], name: str, value: float | int | bool) -> None:
        self._tcp.set_option(conn_handle(conn), name, value)  # type: ignore[arg-type]

    def verb_tcp_state(self, conn: dict[str, Any]) -> str:
        return self._tcp.state(conn_handle(conn))

    def verb_join_group(self, group: str) -> None:
        self.stack.join_group(self.nic, group)

    def verb_join_source_group(self, group: str, sources: list[str]) -> None:
        try:
            self.stack.join_source_group(self.nic, group, list(sources))
        except StackError as e:
            raise ValueError(str(e)) from None

    def verb_leave_group(self, group: str) -> None:
        self.stack.leave_group(self.nic, group)

    def verb_set_forwarding(self, family: int, enabled: bool) -> None:
        self.stack.set_forwarding(family, bool(enabled))

    def verb_set_timer(self, name: str, seconds: float) -> None:
        if name not in _TIMER_OPTIONS:
            raise unsupported(f"our stack has no timer {name!r} (it has {', '.join(_TIMER_OPTIONS)})")
        self.stack.set_timer(name, _ms(seconds))
        self.timers[name] = float(seconds)

    def verb_add_route(self, cidr: str, via: str | None = None, mtu: int | None = None) -> None:
        self.stack.add_route(cidr, self.nic, gateway=via, mtu=mtu)

    def verb_remove_route(self, cidr: str) -> None:
        net = ipaddress.ip_network(cidr, strict=False)
        gateways = [e.gateway for e in self.stack.routes.entries() if e.network == net and e.nic == self.nic]
        if not gateways:
            self.stack.remove_route(cidr, self.nic)  # raises the stack's "no route" error
        for gw in gateways:
            self.stack.remove_route(cidr, self.nic, gateway=None if gw is None else str(ipaddress.ip_address(gw)))

    def verb_set_link_mtu(self, mtu: int) -> None:
        self.stack.set_link_mtu(self.nic, int(mtu))

    def verb_set_link_address(self, mac: str) -> None:
        self.stack.set_link_address(self.nic, bytes.fromhex(mac.replace(":", "")))

    def verb_set_icmp_rate_limit(self, family: int, per_second: float, burst: int) -> None:
        self.stack.set_icmp_rate_limit(family, per_second, burst)

    def verb_set_echo_ignore_broadcasts(self, ignore: bool) -> None:
        self.stack.set_echo_ignore_broadcasts(bool(ignore))

    def verb_set_accept_source_route(self, accept: bool) -> None:
        self.stack.set_accept_source_route(bool(accept))

    def verb_set_ipv6_option(self, name: str, value: float | int | str) -> None:
        if name == "stable_secret":
            try:
                secret = ipaddress.IPv6Address(str(value)).packed
            except ValueError:
                raise ValueError(f"stable_secret is an IPv6 address, e.g. 2001:db8::1, not {value!r}") from None
            self.stack.set_ipv6_option(self.nic, name, secret)
            self.stack.set_ipv6_option(self.nic, "addr_gen_mode", 2)  # as writing Linux's sysctl does
        elif name in _MS_OPTIONS:
            self.stack.set_ipv6_option(self.nic, f"{name}_ms", _ms(float(value)))
        else:
            if isinstance(value, str) or value != int(value):
                raise ValueError(f"IPv6 option {name} takes an integer, not {value!r}")
            self.stack.set_ipv6_option(self.nic, name, int(value))

    def verb_restart_link(self) -> None:
        self.stack.restart_nic(self.nic)
        for addr, mac in self.config.neighbors:  # the tester stays resolved, as on the other backends
            self.stack.add_static_neighbor(self.nic, addr, mac)

    # ---- extension verbs (docs/control-protocol.md, "Extension verbs") --------------------------
    def verb_x_counters(self) -> dict[str, Any]:
        """``x-counters``: the stack's frame counters and the fill of its bounded tables."""
        return stack_counters(self.stack)

    def verb_ipv6_addresses(self) -> list[dict[str, Any]]:
        now = self.clock.now_ms
        out = []
        for entry in self.stack.nic(self.nic).addresses.of_family(6):
            state = entry.state.value
            if state not in ("tentative", "preferred", "deprecated"):
                continue
            out.append({
                "interface": str(ipaddress.IPv6Interface(str(entry.interface))),
                "state": state,
                "temporary": bool(getattr(entry, "temporary", False)),
                "valid_lifetime": _remaining(entry.valid_until_ms, now),
                "preferred_lifetime": _remaining(entry.preferred_until_ms, now),
            })
        return out


def _remaining(until_ms: int | None, now_ms: int) -> float | None:
    return None if until_ms is None else max(0, until_ms - now_ms) / 1000


def _frames(link: Any) -> list[Any]:
    """What to select on for inbound frames: the TAP; nothing for a channel link (tests)."""
    return [link] if hasattr(link, "fileno") else []


def serve(agent: StackAgent, server: ControlServer, stopping: Callable[[], bool], idle: float = 1.0) -> None:
    """The host's poll loop: frames, timers and control requests until ``stopping()``, which
    is looked at least every ``idle`` seconds."""
    while not stopping():
        waits = [idle]
        if (until := agent.clock.seconds_until_next()) is not None:
            waits.append(until)
        if (deadline := server.next_deadline()) is not None:
            waits.append(max(0.0, deadline - time.monotonic()))
        try:
            ready, _, _ = select.select([*_frames(agent.link), *server.filenos()], [], [], min(waits))
        except InterruptedError:
            continue
        if agent.link in ready:
            agent.link.poll()
        agent.clock.run_due()
        fds = {r for r in ready if isinstance(r, int)}
        if fds:
            server.process(fds)
        server.poll()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness.backends.tap_agent", description=__doc__.splitlines()[0])
    p.add_argument("--tap", required=True, help="TAP interface name")
    p.add_argument("--control", required=True, metavar="PATH", help="Unix socket to serve the protocol on")
    p.add_argument("--mac", required=True)
    p.add_argument("--ipv4", action="append", default=[])
    p.add_argument("--ipv6", action="append", default=[])
    p.add_argument("--mtu", type=int, default=1500)
    p.add_argument("--neighbor", action="append", default=[], metavar="ADDR=MAC")
    p.add_argument("--ipv4-reassembly-timeout", type=float, metavar="S")
    p.add_argument("--ipv6-reassembly-timeout", type=float, metavar="S")
    p.add_argument("--clock-rate", type=float, default=1.0, metavar="R",
                   help="the stack's seconds per second of wall time (1: real time)")
    return p


def _config(args: argparse.Namespace) -> HostConfig:
    def mac(text: str) -> bytes:
        raw = bytes.fromhex(text.replace(":", ""))
        if len(raw) != 6:
            raise ValueError(f"{text!r} is not a MAC address like 02:00:00:00:00:01")
        return raw

    neighbors = []
    for value in args.neighbor:
        addr, _, hw = value.partition("=")
        neighbors.append((str(ipaddress.ip_address(addr)), mac(hw)))
    timers = {f"{name}_ms": _ms(getattr(args, name)) for name in ("ipv4_reassembly_timeout", "ipv6_reassembly_timeout")
              if getattr(args, name) is not None}
    return HostConfig(mac(args.mac), args.ipv4, args.ipv6, args.mtu, neighbors, timers)


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    try:
        config = _config(args)
        if not args.clock_rate > 0:
            raise ValueError(f"--clock-rate must be above 0, not {args.clock_rate:g}")
        link = TapEndpoint(args.tap, config.mac, config.mtu)
    except (ValueError, TapError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        agent = StackAgent(link, args.tap, config, args.clock_rate)
        server = ControlServer(agent, args.control)
    except (StackError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        link.close()
        return 2
    print(f"stack_under_test agent on {args.tap}: control unix:{args.control}", flush=True)
    try:
        serve(agent, server, lambda: stop)
    finally:
        server.close()
        link.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
