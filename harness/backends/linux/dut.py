"""The `linux` backend: the running kernel's IPv4/IPv6 stack as the DUT.

The DUT is a fresh network namespace holding one end of a veth pair; the tester end sits in a
second namespace of its own (no address, no route, IPv6 disabled, ARP off) where an AF_PACKET
socket sends and receives raw frames. Control verbs (addresses, UDP sockets, groups, sysctls)
go to a small agent process running inside the DUT namespace (``agent.py``, TCP: ``tcp.py``). See
``setup.py`` for the picture. Time is real: ``time.monotonic()``.

One LinuxDUT serves a whole pytest session per worker (set-up takes ~100 ms); the plugin calls
``reset()`` before each test to return to the baseline, and ``close()`` at the end. Needs root.
"""

from __future__ import annotations

import atexit
import dataclasses
import ipaddress
import math
import os
import signal
import threading
import time
import weakref
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

from harness.backends.base import TEST_LINK, FrameDUT
from harness.backends.linux import setup
from harness.backends.linux.dut_routes import LinuxRouteVerbs
from harness.backends.linux.dut_tcp import LinuxTCPVerbs
from harness.backends.linux.dut_udp import LinuxUDPVerbs
from harness.backends.linux.setup import AgentClient, AgentFailed, Names, SetupError
from harness.backends.linux.values import (
    _IPV6_SYSCTLS,
    _checked_group,
    _checked_interface,
    _checked_lifetimes,
    _checked_mtu,
    _fragment_family,
    _icmpv6_type,
    _lifetime,
    _option_value,
    _sysctl_value,
    _timer_seconds,
)
from harness.backends.rawsocket import RawSocketPort
from harness.dut import AddressInfo, AddressState, Family, IPv6Option, LinkInfo, TimerName, Unsupported

if TYPE_CHECKING:
    from harness.capture import Capture

__all__ = ["AgentFailed", "LinuxDUT", "SetupError", "_fragment_family", "check_available"]

# The test link (base.TEST_LINK); the kernel derives the same EUI-64 link-local from the MAC
# (RFC 4291 appendix A) as TEST_LINK.dut_ipv6_ll, which set-up checks.
DUT_MAC: Final = TEST_LINK.dut_mac
TESTER_MAC: Final = TEST_LINK.tester_mac
DUT_IPV4: Final = TEST_LINK.dut_ipv4
DUT_IPV6: Final = TEST_LINK.dut_ipv6
TESTER_IPV4: Final = TEST_LINK.tester_ipv4
TESTER_IPV6: Final = TEST_LINK.tester_ipv6
DUT_IPV6_LL: Final = TEST_LINK.dut_ipv6_ll
TESTER_IPV6_LL: Final = TEST_LINK.tester_ipv6_ll
# Reassembly timers short enough that a test waiting past them stays quick; a test reads the
# value in effect from ``dut.info.timers`` (the kernel defaults are 30 s and 60 s).
DEFAULT_TIMERS: Final[dict[str, float]] = {"ipv4_reassembly_timeout": 2.0, "ipv6_reassembly_timeout": 2.0}
_TIMER_SYSCTLS: Final = {"ipv4_reassembly_timeout": "ipv4/ipfrag_time",
                         "ipv6_reassembly_timeout": "ipv6/ip6frag_time",
                         # RFC 8201 §4 path MTU aging; the kernel default is 600 s.
                         "ipv6_pmtu_expiry": "ipv6/route/mtu_expires",
                         # RFC 1122 2.3.2.1 ARP cache timeout, per interface; the default is 30 s.
                         "arp_cache_timeout": "ipv4/neigh/{if}/base_reachable_time"}
# Linux's IPv4 ICMP limits: a global token bucket (icmp_msgs_per_sec, icmp_msgs_burst) and a
# per-destination one (icmp_ratelimit, ms per token; 0 = off). Baseline: both out of the way.
_UNLIMITED_V4: Final = {"ipv4/icmp_msgs_per_sec": 1_000_000, "ipv4/icmp_msgs_burst": 1_000_000,
                        "ipv4/icmp_ratelimit": 0}
# How long after its last frame a namespace counts as quiet when draining set-up chatter.
_QUIET_S: Final = 0.03


def check_available() -> str | None:
    """None when the linux backend can run here, else the reason in one actionable line."""
    return setup.check_available()


class LinuxDUT(LinuxRouteVerbs, LinuxUDPVerbs, LinuxTCPVerbs, FrameDUT):
    """The Linux kernel in network namespace ``sc-dut-…``, reached over veth from ``sc-tst-…``.

    ``timers``: baseline reassembly timeouts in seconds (rounded up to whole seconds).
    ``default_routes``: give the DUT default routes via the tester (198.51.100.2 and
    fe80::ff:fe00:2), so answers to off-link sources (203.0.113.0/24, 2001:db8:2::/64) come
    back over the test link like on an ordinary host. Off by default, like the in-process
    backend, so both answer an off-link source the same way (not at all: no route).
    Raises Unsupported when this machine cannot run it (not root, no iproute2), SetupError
    when building the namespaces fails (everything created so far is removed again).
    """

    def __init__(self, capture: Capture | None = None, *, timers: dict[str, float] | None = None,
                 default_routes: bool = False) -> None:
        reason = check_available()
        if reason is not None:
            raise Unsupported(reason)
        baseline = dict(DEFAULT_TIMERS)
        for name, seconds in (timers or {}).items():
            if name not in _TIMER_SYSCTLS:
                raise ValueError(f"unknown timer {name!r} (known: {', '.join(sorted(_TIMER_SYSCTLS))})")
            baseline[name] = seconds
        self._baseline_timers = {k: float(_timer_seconds(v)) for k, v in baseline.items()}
        info: LinkInfo = dataclasses.replace(TEST_LINK, timers=dict(self._baseline_timers))
        super().__init__("linux", info, capture)
        self.names: Names = setup.unique_names()
        self._agent: AgentClient | None = None
        self._port: RawSocketPort | None = None
        self._closed = False
        # Monotonic time after which no fragment this DUT still holds can time out (see reset()).
        self._fragments_quiet_at = 0.0
        # The test sent an MLD Query or a Router Advertisement: reset() must bounce the link.
        self._bounce_on_reset = False
        self.last_reset: dict[str, Any] = {}  # what the agent's last reset did (for tests)
        setup.sweep_stale()
        _live.add(self)
        _install_exit_hooks()
        started = time.monotonic()
        try:
            self._set_up(default_routes)
        except BaseException:
            self.close()
            raise
        self.setup_seconds = time.monotonic() - started

    # ---- set-up -------------------------------------------------------------------------------
    def _set_up(self, default_routes: bool) -> None:
        n = self.names
        setup.run_ip(f"netns add {n.dut_ns}", f"netns add {n.tester_ns}")
        self._agent = agent = AgentClient(n.dut_ns, n.dut_if)  # starts while we set up the tester
        # The tester end must answer nothing itself: no IPv6 at all (no link-local, DAD, MLD,
        # RS), and with no IPv4 address and no route it has nothing to say over IPv4 either.
        setup.in_netns(n.tester_ns, lambda: setup.write_sysctls({
            "ipv6/conf/all/disable_ipv6": 1, "ipv6/conf/default/disable_ipv6": 1,
            "ipv4/conf/all/forwarding": 0, "ipv4/conf/default/arp_ignore": 8,
        }))
        mld_iv = agent.call("sysctl_get", name="ipv6/conf/default/mldv2_unsolicited_report_interval")
        igmp_iv = agent.call("sysctl_get", name="ipv4/conf/default/igmpv3_unsolicited_report_interval")
        # Written to "default" before the veth exists, so the DUT's end is born with them: no DAD
        # (addresses are usable at once), no Router Solicitations, no ICMP rate limiting (tests
        # probe back to back), short reassembly timers, not a router. The unsolicited-report
        # intervals are shrunk only while the link comes up, so the kernel's own MLD reports for
        # its solicited-node group are all sent (and drained) before the first test.
        agent.call("sysctl", values={
            "ipv6/conf/all/accept_dad": 0, "ipv6/conf/default/accept_dad": 0,
            "ipv6/conf/all/router_solicitations": 0, "ipv6/conf/default/router_solicitations": 0,
            "ipv6/conf/default/mldv2_unsolicited_report_interval": 1,
            "ipv4/conf/default/igmpv3_unsolicited_report_interval": 1,
            "ipv4/icmp_ratelimit": 0, "ipv6/icmp/ratelimit": 0,
            "ipv4/icmp_msgs_per_sec": 1_000_000, "ipv4/icmp_msgs_burst": 1_000_000,
            "ipv4/ip_forward": 0, "ipv6/conf/all/forwarding": 0,
            **{_TIMER_SYSCTLS[k].format(**{"if": "default"}): int(v) for k, v in self._baseline_timers.items()},
        })
        setup.run_ip(
            f"link add {n.dut_if} netns {n.dut_ns} address {DUT_MAC} mtu 1500 type veth "
            f"peer name {n.tester_if} netns {n.tester_ns} address {TESTER_MAC} mtu 1500")
        # Open the tester's socket before any traffic, inside the tester namespace, and after
        # its link is up: binding to a down interface leaves a pending ENETDOWN on the socket.
        setup.run_ip(f"link set {n.tester_if} arp off up", netns=n.tester_ns)
        fd = os.open(setup.NETNS_DIR / n.tester_ns, os.O_RDONLY)
        try:
            self._port = RawSocketPort(n.tester_if, netns_fd=fd)
        except OSError as e:
            raise SetupError(f"cannot open a raw socket on {n.tester_if} in {n.tester_ns}: {e.strerror}") from None
        finally:
            os.close(fd)
        agent.call("offloads_off")
        routes = [f"-4 route add default via {TESTER_IPV4} dev {n.dut_if}",
                  f"-6 route add default via {TESTER_IPV6_LL} dev {n.dut_if}"] if default_routes else []
        agent.call("ip", lines=[
            "link set lo up",
            f"link set {n.dut_if} up",
            f"addr add {DUT_IPV4} dev {n.dut_if}",
            f"addr add {DUT_IPV6} dev {n.dut_if} nodad",
            # Static neighbors: the DUT answers the tester without ARP/NDP round trips.
            f"neigh replace {TESTER_IPV4} lladdr {TESTER_MAC} dev {n.dut_if} nud permanent",
            f"neigh replace {TESTER_IPV6} lladdr {TESTER_MAC} dev {n.dut_if} nud permanent",
            f"neigh replace {TESTER_IPV6_LL} lladdr {TESTER_MAC} dev {n.dut_if} nud permanent",
            *routes,
        ])
        self._await_link_local()
        self._drain_until_quiet()
        agent.call("sysctl", values={
            # A link flap (restart_link, reset after MLD queries or RAs) keeps the permanent
            # IPv6 addresses, as the in-process stack keeps its static ones.
            f"ipv6/conf/{n.dut_if}/keep_addr_on_down": 1,
            f"ipv6/conf/{n.dut_if}/mldv2_unsolicited_report_interval": mld_iv,
            "ipv6/conf/default/mldv2_unsolicited_report_interval": mld_iv,
            f"ipv4/conf/{n.dut_if}/igmpv3_unsolicited_report_interval": igmp_iv,
            "ipv4/conf/default/igmpv3_unsolicited_report_interval": igmp_iv,
        })
        for name in _TIMER_SYSCTLS:  # timers left at the kernel's value
            if name not in self._baseline_timers:
                self._baseline_timers[name] = float(agent.call("sysctl_get", name=self._timer_sysctl(name)))
                self.info.timers[name] = self._baseline_timers[name]
        agent.call("snapshot")
        self.drain()

    def _await_link_local(self, timeout: float = 2.0) -> None:
        # The kernel adds the EUI-64 link-local when the carrier comes up, asynchronously.
        deadline = time.monotonic() + timeout
        want = f"{DUT_IPV6_LL}/64"
        while True:
            lines = self._call("ip_addresses")
            if want in lines:
                return
            if time.monotonic() > deadline:
                raise SetupError(f"the DUT never configured its link-local address {want} (has {lines})")
            time.sleep(0.005)

    def _drain_until_quiet(self, limit: float = 1.0) -> int:
        """Discard frames until none arrives for a short while; return how many."""
        assert self._port is not None
        drained, end = 0, time.monotonic() + limit
        while time.monotonic() < end:
            if self._port.recv(time.monotonic() + _QUIET_S) is None:
                break
            drained += 1
        return drained + self._port.drain()

    # ---- FrameDUT hooks -----------------------------------------------------------------------
    def _transmit(self, frame: bytes) -> None:
        if self._port is None:
            raise Unsupported("the linux DUT is closed")
        family = _fragment_family(frame)
        if family:
            timer = self.info.timers[f"ipv{family}_reassembly_timeout"]
            self._fragments_quiet_at = max(self._fragments_quiet_at, time.monotonic() + timer + 0.1)
        # MLD Query (130; an MLDv1 one switches the link to MLDv1 compatibility for ~260 s,
        # RFC 3810 §8.2.1, and any one sets the querier's robustness and intervals) or Router
        # Advertisement (134): state only a link flap clears, see reset().
        if _icmpv6_type(frame) in (130, 134):
            self._bounce_on_reset = True
        self._port.send(frame)

    def _receive(self, deadline: float) -> bytes | None:
        if self._port is None:  # closed (or never opened): nothing can arrive any more
            return None
        return self._port.recv(deadline)

    def _now(self) -> float:
        return time.monotonic()

    def _arrival_time(self) -> float:  # the kernel's receive timestamp of the frame
        return self._port.last_arrival if self._port is not None else self._now()

    # ---- control verbs --------------------------------------------------------------------------
    def _call(self, op: str, **args: object) -> Any:  # the agent's JSON answer
        if self._agent is None:
            raise Unsupported("the linux DUT is closed")
        return self._agent.call(op, **args)

    def add_address(self, cidr: str, *, dad: bool = False, valid_lifetime: float | None = None,
                    preferred_lifetime: float | None = None) -> None:
        valid, preferred = _checked_lifetimes(valid_lifetime, preferred_lifetime)
        self._call("addr_add", cidr=_checked_interface(cidr), dad=bool(dad), valid_lft=valid,
                   preferred_lft=preferred)

    def remove_address(self, cidr: str) -> None:
        self._call("addr_del", cidr=_checked_interface(cidr))

    def join_group(self, group: str) -> None:
        self._call("join", group=_checked_group(group))

    def leave_group(self, group: str) -> None:
        self._call("leave", group=_checked_group(group))

    def set_forwarding(self, family: Family, enabled: bool) -> None:
        value = int(bool(enabled))
        if family == 4:
            # ip_forward is conf/all/forwarding; both written so the link's own value follows.
            self._call("sysctl", values={"ipv4/ip_forward": value,
                                         f"ipv4/conf/{self.names.dut_if}/forwarding": value})
        elif family == 6:
            self._call("sysctl", values={"ipv6/conf/all/forwarding": value})  # propagates to links
        else:
            raise ValueError(f"family must be 4 or 6, not {family!r}")

    def set_timer(self, name: TimerName, seconds: float) -> None:
        if name not in _TIMER_SYSCTLS:
            raise Unsupported(f"the linux backend has no timer {name!r}")
        whole = _timer_seconds(seconds)
        self._call("sysctl", values={self._timer_sysctl(name): whole})
        self.info.timers[name] = float(whole)  # what the kernel really uses, for the test to read

    def _timer_sysctl(self, name: str) -> str:
        return _TIMER_SYSCTLS[name].format(**{"if": self.names.dut_if})

    def set_link_mtu(self, mtu: int) -> None:
        # IPv4 accepts 68 (RFC 791); IPv6 disappears from a link below 1280, which a test of
        # IPv4 behaviour may accept; the kernel refuses values its driver cannot carry.
        self._call("ip", lines=[f"link set {self.names.dut_if} mtu {_checked_mtu(mtu, 4)}"])
        self.info = dataclasses.replace(self.info, mtu=int(mtu))  # the timers dict stays shared

    def set_icmp_rate_limit(self, family: Family, per_second: float, burst: int) -> None:
        """Approximation, the same for both families: Linux limits ICMP errors per destination
        with a token bucket of one token per ``icmp_ratelimit`` ms (v4) / ``icmp/ratelimit`` ms
        (v6) and a burst fixed at 6 tokens (XRLIM_BURST_FACTOR), so ``per_second`` maps to
        1000/per_second ms and ``burst`` cannot be set. The kernel's global IPv4 bucket
        (icmp_msgs_per_sec/burst) is left out of the way: since 6.12 it spends 0-2 tokens at
        random per error, and its credit cannot be drained back to a small burst."""
        if per_second < 0 or burst < 0:
            raise ValueError(f"rate and burst must not be negative (got {per_second}/s, burst {burst})")
        interval_ms = 0 if per_second == 0 else max(1, math.ceil(1000 / per_second))
        if family == 4:
            values: dict[str, int] = {**_UNLIMITED_V4, "ipv4/icmp_ratelimit": interval_ms}
        elif family == 6:
            values = {"ipv6/icmp/ratelimit": interval_ms}
        else:
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        self._call("sysctl", values=values)

    def set_echo_ignore_broadcasts(self, ignore: bool) -> None:
        self._call("sysctl", values={"ipv4/icmp_echo_ignore_broadcasts": int(bool(ignore))})

    def set_default_ttl(self, family: Family, ttl: int) -> None:
        if not 1 <= int(ttl) <= 255:
            raise ValueError(f"a TTL must be 1-255, got {ttl}")
        if family == 4:
            self._call("sysctl", values={"ipv4/ip_default_ttl": int(ttl)})
        elif family == 6:
            self._call("sysctl", values={f"ipv6/conf/{dev}/hop_limit": int(ttl) for dev in ("all", self.names.dut_if)})
        else:
            raise ValueError(f"family must be 4 or 6, not {family!r}")

    def set_accept_source_route(self, accept: bool) -> None:
        # The kernel honours LSRR/SSRR only when both conf/all and the link's value allow it.
        value = int(bool(accept))
        self._call("sysctl", values={f"ipv4/conf/{dev}/accept_source_route": value
                                     for dev in ("all", "default", self.names.dut_if)})

    # ---- IPv6 host configuration ------------------------------------------------------------------
    def set_ipv6_option(self, name: IPv6Option, value: float | int | str) -> None:
        try:
            rel, unit = _IPV6_SYSCTLS[name]
        except KeyError:
            raise ValueError(f"unknown IPv6 option {name!r} (known: {', '.join(sorted(_IPV6_SYSCTLS))})") from None
        sysctl = rel.format(**{"if": self.names.dut_if})
        values: dict[str, str | int] = {sysctl: _sysctl_value(name, unit, value)}
        if name == "rtr_solicit_interval":
            # Linux backs the interval off exponentially up to router_solicitation_max_interval
            # (RFC 7559); capping it at the interval gives RFC 4861's fixed spacing (each one
            # still jittered by +-10%, rfc3315_s14_backoff_update).
            values[sysctl.replace("_interval", "_max_interval")] = values[sysctl]
        missing = self._call("ipv6_option", values=values)
        if missing:
            raise Unsupported(f"this kernel ({os.uname().release}) has no sysctl net/{', net/'.join(missing)} "
                              f"for the IPv6 option {name}")

    def ipv6_option(self, name: IPv6Option) -> float | int | str:
        """The option's value as the kernel holds it now, in ``set_ipv6_option``'s units (for
        the harness's own tests: not a DUT verb)."""
        rel, unit = _IPV6_SYSCTLS[name]
        return _option_value(unit, str(self._call("sysctl_get", name=f"ipv6/{rel.format(**{'if': self.names.dut_if})}")))

    def restart_link(self) -> None:
        """``ip link set down`` and ``up``. Permanent addresses stay (keep_addr_on_down), those
        with lifetimes and autoconfigured ones go; the kernel forms the link-local again (with
        DAD when accept_dad is on: then this returns at once, so the test sees DAD from its
        start); the permanent neighbors and the backend's routes are added again. Nothing is
        drained: the frames of the new link-up are the test's to look at."""
        self._call("restart_link")
        # Its reports and solicitations keep coming for a while: the next reset() flaps the
        # link again with short report intervals, so none of them lands in the next test.
        self._bounce_on_reset = True

    def ipv6_addresses(self) -> list[AddressInfo]:
        out = []
        for a in self._call("ipv6_addresses"):
            if a.get("dadfailed"):
                continue
            state: AddressState = ("tentative" if a.get("tentative") else
                                   "deprecated" if a.get("deprecated") else "preferred")
            out.append(AddressInfo(
                interface=ipaddress.IPv6Interface(f"{a['local']}/{a['prefixlen']}"),
                state=state,
                temporary=bool(a.get("temporary")),
                valid_lifetime=_lifetime(a.get("valid_life_time")),
                preferred_lifetime=_lifetime(a.get("preferred_life_time")),
            ))
        return out

    # ---- session life -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Return to the state right after set-up; called by the plugin before each test.

        Closes the agent's sockets (leaving their groups), restores sysctls, addresses, routes
        and permanent neighbors, flushes learnt neighbors and route exceptions (PMTU,
        redirects), waits until fragments sent by the previous test can no longer time out
        into this one, and drops every frame still queued.
        """
        # Also the link MTU and the routes a test added; a link flap when the test sent MLD
        # queries or Router Advertisements (see agent.Agent.op_reset).
        bounce, self._bounce_on_reset = self._bounce_on_reset, False
        self.last_reset = self._call("reset", bounce=bounce)
        if self.info.mtu != TEST_LINK.mtu:
            self.info = dataclasses.replace(self.info, mtu=TEST_LINK.mtu)
        self.info.timers.clear()
        self.info.timers.update(self._baseline_timers)
        # Fragments the previous test left queued could time out into this one: wait until the
        # kernel holds none (a completed reassembly holds nothing: no wait at all), at most
        # until the reassembly timer has surely fired.
        while time.monotonic() < self._fragments_quiet_at and self._call("frag_memory"):
            time.sleep(0.02)
        self._fragments_quiet_at = 0.0
        if bounce:
            # The agent already waited for the link-up reports; on a loaded machine the kernel's
            # workqueue can be late, so also wait until the link has been quiet for a moment.
            self._drain_until_quiet(limit=0.5)
        # Frames cross veth synchronously: whatever the DUT sent before now is queued already.
        self.drain()  # FrameDUT: the socket's queue and the backlog of unexpected frames

    def close(self) -> None:
        """Stop the agent, close the socket, delete both namespaces (and so the veth pair)."""
        if self._closed:
            return
        self._closed = True
        _live.discard(self)
        errors: list[str] = []
        try:
            super().close()  # FrameDUT's own clean-up (backlog), while the port still works
        except Exception as e:  # never let it stop the namespaces from going away
            errors.append(f"{type(e).__name__}: {e}")
        port, self._port = self._port, None
        agent, self._agent = self._agent, None
        # Sockets and processes inside a namespace keep it alive after `ip netns del`,
        # so close them first.
        if port is not None:
            port.close()
        if agent is not None:
            agent.close()
        try:
            setup.delete_netns(self.names.dut_ns, self.names.tester_ns)
        except SetupError as e:
            errors.append(str(e))
        left = {self.names.dut_ns, self.names.tester_ns} & set(setup.netns_names())
        if left:
            errors.append(f"could not delete network namespaces {', '.join(sorted(left))}")
        if errors:
            raise SetupError("; ".join(errors))


# ---- clean-up on every way out ---------------------------------------------------------------
_live: weakref.WeakSet[LinuxDUT] = weakref.WeakSet()
_hooks_installed = False


def _close_all() -> None:
    for dut in list(_live):
        try:
            dut.close()
        except Exception:  # at exit, keep closing the others
            continue


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into SystemExit so finally blocks and atexit run and namespaces go away.
    raise SystemExit(128 + signum)


def _install_exit_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_close_all)
    # Ctrl-C already raises KeyboardInterrupt; SIGTERM would end the process without atexit.
    # Only take SIGTERM over when nobody else handles it, and only from the main thread.
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
