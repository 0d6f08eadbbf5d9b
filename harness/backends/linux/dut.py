"""The `linux` backend: the running kernel's IPv4/IPv6 stack as the DUT.

The DUT is a fresh network namespace holding one end of a veth pair; the tester end sits in a
second namespace of its own (no address, no route, IPv6 disabled, ARP off) where an AF_PACKET
socket sends and receives raw frames. Control verbs (addresses, UDP sockets, groups, sysctls)
go to a small agent process running inside the DUT namespace (``agent.py``; TCP sockets:
``tcp.py``), over its stdin and stdout, with the DUT control protocol (docs/control-protocol.md)
like any other stack's agent: every verb generically (``harness.control.remote``). See
``setup.py`` for the picture. Time is real: ``time.monotonic()``; a frame's time is the kernel's
receive timestamp.

One LinuxDUT serves a whole pytest session per worker (set-up takes ~100 ms); the plugin calls
``reset()`` before each test to return to the baseline, and ``close()`` at the end. Needs root.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import TYPE_CHECKING, Any, Final

from harness.backends.base import TEST_LINK, FrameDUT
from harness.backends.linux import setup
from harness.backends.linux.setup import AgentClient, Names, SetupError
from harness.backends.linux.sniff import _icmpv6_type, is_igmp_query
from harness.backends.linux.values import (
    _IPV6_SYSCTLS,
    CONGESTION_CONTROL,
    TIMER_SYSCTLS,
    _option_value,
    timer_seconds,
    timer_sysctl,
)
from harness.backends.rawsocket import RawSocketPort
from harness.control.client import AgentFailed, ControlClient, Hello
from harness.control.remote import RemoteVerbs, serve_verbs_remotely
from harness.control.verbs import control_verbs
from harness.dut import IPv6Option, LinkInfo, TimerName, Unsupported

if TYPE_CHECKING:
    from harness.capture import Capture

__all__ = ["AgentFailed", "LinuxDUT", "SetupError", "check_available"]

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
# How long after its last frame a namespace counts as quiet when draining set-up chatter.
_QUIET_S: Final = 0.03
_REPORTS_QUIET_S: Final = 0.1  # after a reset that sent MLD/IGMP reports (see reset())
# ICMPv6 types: MLD Query; Router Advertisement
_MLD_QUERY, _ROUTER_ADVERTISEMENT = 130, 134


def check_available() -> str | None:
    """None when the linux backend can run here, else the reason in one actionable line."""
    return setup.check_available()


class LinuxDUT(RemoteVerbs, FrameDUT):
    """The Linux kernel in network namespace ``sc-dut-…``, reached over veth from ``sc-tst-…``.

    ``timers``: baseline reassembly timeouts in seconds (rounded up to whole seconds).
    ``default_routes``: give the DUT default routes via the tester (198.51.100.2 and
    fe80::ff:fe00:2), so answers to off-link sources (203.0.113.0/24, 2001:db8:2::/64) come
    back over the test link like on an ordinary host. Off by default, like the in-process
    backend, so both answer an off-link source the same way (not at all: no route).
    Raises Unsupported when this machine cannot run it (not root, no iproute2), SetupError
    when building the namespaces fails (everything created so far is removed again).
    """

    in_order = True  # unless set-up cannot steer both ends to one CPU each (see _set_up)

    def __init__(self, capture: Capture | None = None, *, timers: dict[str, float] | None = None,
                 default_routes: bool = False) -> None:
        reason = check_available()
        if reason is not None:
            raise Unsupported(reason)
        baseline = dict(DEFAULT_TIMERS)
        for name, seconds in (timers or {}).items():
            if name not in TIMER_SYSCTLS:
                raise ValueError(f"unknown timer {name!r} (known: {', '.join(sorted(TIMER_SYSCTLS))})")
            baseline[name] = seconds
        self._baseline_timers = {k: float(timer_seconds(v)) for k, v in baseline.items()}
        info: LinkInfo = dataclasses.replace(TEST_LINK, timers=dict(self._baseline_timers))
        super().__init__("linux", info, capture)
        self.names: Names = setup.unique_names()
        self._agent: AgentClient | None = None
        self.control: ControlClient | None = None
        self.hello: Hello | None = None
        self._port: RawSocketPort | None = None
        self._closed = False
        # The test sent an IGMP or MLD Query or a Router Advertisement: reset() must bounce the link.
        self._bounce_on_reset = False
        self.last_reset: dict[str, Any] = {}  # what the agent's last reset did (for tests)
        setup.sweep_stale()
        setup.raise_priority()
        setup.close_on_exit(self)
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
        self.control = agent
        # The tester end must answer nothing itself: no IPv6 at all (no link-local, DAD, MLD,
        # RS), and with no IPv4 address and no route it has nothing to say over IPv4 either.
        setup.in_netns(n.tester_ns, lambda: setup.write_sysctls({
            "ipv6/conf/all/disable_ipv6": 1, "ipv6/conf/default/disable_ipv6": 1,
            "ipv4/conf/all/forwarding": 0, "ipv4/conf/default/arp_ignore": 8,
        }))
        mld_iv = agent.op("x_linux_sysctl_get", name="ipv6/conf/default/mldv2_unsolicited_report_interval")
        igmp_iv = agent.op("x_linux_sysctl_get", name="ipv4/conf/default/igmpv3_unsolicited_report_interval")
        # Written to "default" before the veth exists, so the DUT's end is born with them: no DAD
        # (addresses are usable at once), no Router Solicitations, no ICMP rate limiting (tests
        # probe back to back), short reassembly timers, not a router, RFC 5681's congestion control
        # (values.CONGESTION_CONTROL). The unsolicited-report intervals are shrunk only while the
        # link comes up, so the kernel's own MLD reports for its solicited-node group are all sent
        # (and drained) before the first test.
        agent.op("x_linux_sysctl", values={
            "ipv6/conf/all/accept_dad": 0, "ipv6/conf/default/accept_dad": 0,
            "ipv6/conf/all/router_solicitations": 0, "ipv6/conf/default/router_solicitations": 0,
            "ipv6/conf/default/mldv2_unsolicited_report_interval": 1,
            "ipv4/conf/default/igmpv3_unsolicited_report_interval": 1,
            "ipv4/icmp_ratelimit": 0, "ipv6/icmp/ratelimit": 0,
            "ipv4/icmp_msgs_per_sec": 1_000_000, "ipv4/icmp_msgs_burst": 1_000_000,
            "ipv4/ip_forward": 0, "ipv6/conf/all/forwarding": 0,
            "ipv4/tcp_congestion_control": CONGESTION_CONTROL,
            **{timer_sysctl(k, "default"): int(v) for k, v in self._baseline_timers.items()},
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
        agent.op("x_linux_offloads_off")
        # Barrier probes hold only where each direction keeps its order (setup.receive_on_one_cpu).
        self.in_order = all([setup.receive_on_one_cpu(n.dut_ns, n.dut_if),
                             setup.receive_on_one_cpu(n.tester_ns, n.tester_if)])
        routes = [f"-4 route add default via {TESTER_IPV4} dev {n.dut_if}",
                  f"-6 route add default via {TESTER_IPV6_LL} dev {n.dut_if}"] if default_routes else []
        agent.op("x_linux_ip", lines=[
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
        agent.op("x_linux_sysctl", values={
            # A link flap (restart_link, reset after MLD queries or RAs) keeps the permanent
            # IPv6 addresses, as the in-process stack keeps its static ones.
            f"ipv6/conf/{n.dut_if}/keep_addr_on_down": 1,
            f"ipv6/conf/{n.dut_if}/mldv2_unsolicited_report_interval": mld_iv,
            "ipv6/conf/default/mldv2_unsolicited_report_interval": mld_iv,
            f"ipv4/conf/{n.dut_if}/igmpv3_unsolicited_report_interval": igmp_iv,
            "ipv4/conf/default/igmpv3_unsolicited_report_interval": igmp_iv,
        })
        for name in TIMER_SYSCTLS:  # timers left at the kernel's value
            if name not in self._baseline_timers:
                sysctl = timer_sysctl(name, n.dut_if)
                self._baseline_timers[name] = float(agent.op("x_linux_sysctl_get", name=sysctl))
                self.info.timers[name] = self._baseline_timers[name]
        agent.op("x_linux_snapshot")
        self.hello = agent.say_hello()
        self.features = self.hello.features
        self.drain()

    def _await_link_local(self, timeout: float = 10.0) -> None:
        # The kernel adds the EUI-64 link-local when the carrier comes up, asynchronously, from a
        # work queue that a loaded machine runs late: the wait ends as soon as it is there.
        deadline = time.monotonic() + timeout
        want = f"{DUT_IPV6_LL}/64"
        while True:
            lines = self._call("x_linux_ip_addresses")
            if want in lines:
                return
            if time.monotonic() > deadline:
                raise SetupError(f"the DUT never configured its link-local address {want} (has {lines})")
            time.sleep(0.005)

    def _drain_until_quiet(self, limit: float = 1.0, quiet: float = _QUIET_S) -> int:
        """Discard frames until none arrives for a short while; return how many."""
        assert self._port is not None
        drained, end = 0, time.monotonic() + limit
        while time.monotonic() < end:
            if self._port.recv(time.monotonic() + quiet) is None:
                break
            drained += 1
        return drained + self._port.drain()

    # ---- FrameDUT hooks -----------------------------------------------------------------------
    def _transmit(self, frame: bytes) -> None:
        if self._port is None:
            raise Unsupported("the linux DUT is closed")
        # An IGMP or MLD Query (a v1/v2 one switches the link to an older version's
        # compatibility mode for up to 260 s, RFC 3376 §8.12 and RFC 3810 §8.2.1; any one sets
        # the querier's robustness and intervals) or a Router Advertisement: state that only
        # reset()'s bounce clears.
        if is_igmp_query(frame) or _icmpv6_type(frame) in (_MLD_QUERY, _ROUTER_ADVERTISEMENT):
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

    # ---- control verbs: every DUT verb goes to the agent (serve_verbs_remotely, below) ---------
    def _call(self, verb: str, **args: object) -> Any:
        """An agent verb by name (the set-up's ``x_linux_*`` verbs; the harness's own tests)."""
        if self._agent is None:
            raise Unsupported("the linux DUT is closed")
        return self._agent.call(verb, dict(args))

    def _cannot(self, verb: str) -> Any:
        raise Unsupported(f"the linux DUT is closed; it cannot {verb}")

    def set_timer(self, name: TimerName, seconds: float) -> None:
        self.call(control_verbs()["set_timer"], name, seconds)
        self.info.timers[name] = float(timer_seconds(seconds))  # what the kernel really uses

    def set_link_mtu(self, mtu: int) -> None:
        self.call(control_verbs()["set_link_mtu"], mtu)
        self.info = dataclasses.replace(self.info, mtu=int(mtu))  # the timers dict stays shared

    def set_link_address(self, mac: str) -> None:
        self.call(control_verbs()["set_link_address"], mac)
        self.info = dataclasses.replace(self.info, dut_mac=mac.lower())  # the timers dict stays shared
        # The agent's reset puts the test link's MAC back; the link flap then re-forms the
        # addresses derived from it (the EUI-64 link-local).
        self._bounce_on_reset = True

    def restart_link(self) -> None:
        """``ip link set down`` and ``up``. Permanent addresses stay (keep_addr_on_down), those
        with lifetimes and autoconfigured ones go; the kernel forms the link-local again (with
        DAD when accept_dad is on: then this returns at once, so the test sees DAD from its
        start); the permanent neighbors and the backend's routes are added again. Nothing is
        drained: the frames of the new link-up are the test's to look at."""
        self.call(control_verbs()["restart_link"])
        # Its reports and solicitations keep coming for a while: the next reset() flaps the
        # link again with short report intervals, so none of them lands in the next test.
        self._bounce_on_reset = True

    def describe_state(self) -> str:
        """The namespace's addresses, routes (route exceptions too: redirects, PMTU) and
        neighbors, as ``ip`` prints them."""
        return "\n".join(filter(None, [super().describe_state(), str(self._call("x_linux_state"))]))

    def read_sysctl(self, name: str) -> str | None:
        """A sysctl as the DUT's namespace has it ("net.ipv4.conf.{if}.rp_filter", {if} the test
        link), for expectation entries conditioned on one; None when this kernel lacks it."""
        try:
            return str(self._call("x_linux_sysctl_get", name=name.replace("{if}", self.names.dut_if)))
        except AgentFailed:
            return None

    def ipv6_option(self, name: IPv6Option) -> float | int | str:
        """The option's value as the kernel holds it now, in ``set_ipv6_option``'s units (for
        the harness's own tests: not a DUT verb)."""
        rel, unit = _IPV6_SYSCTLS[name]
        sysctl = f"ipv6/{rel.format(**{'if': self.names.dut_if})}"
        return _option_value(unit, str(self._call("x_linux_sysctl_get", name=sysctl)))

    # ---- session life -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Return to the state right after set-up; called by the plugin before each test.

        Closes the agent's sockets (leaving their groups; TCP ones with a RST, and every TCP
        connection the kernel still keeps in the namespace goes too), restores sysctls,
        addresses, routes and permanent neighbors, flushes learnt neighbors and route
        exceptions (PMTU, redirects), waits until fragments sent by the previous test can no
        longer time out into this one, and drops every frame still queued.
        """
        # Also the link MTU and the routes a test added; a bounce when the test sent IGMP or
        # MLD queries or Router Advertisements (see kernel.Kernel.reset).
        self._settle_inbound()
        bounce, self._bounce_on_reset = self._bounce_on_reset, False
        # The bounce moves the link into the tester's namespace and back (Kernel._rebuild).
        self.last_reset = self._call("reset", **{"x-bounce": bounce, "x-park-ns": self.names.tester_ns})
        if (self.info.mtu, self.info.dut_mac) != (TEST_LINK.mtu, DUT_MAC):
            self.info = dataclasses.replace(self.info, mtu=TEST_LINK.mtu, dut_mac=DUT_MAC)
        self.info.timers.clear()
        self.info.timers.update(self._baseline_timers)
        # The agent's reset also waits until the kernel holds no fragment the previous test left
        # (they could time out into this one), at most until the reassembly timer has fired.
        if bounce or self.last_reset.get("reports_due"):
            # The agent already waited for the link-up reports and the retransmitted state-change
            # reports of groups left; on a loaded machine the kernel's workqueue can be late (an
            # IGMPv3 leave report once landed in the next test), so also wait until the link has
            # been quiet for longer than the shrunk report intervals (1 ms + 2 jiffies) by far.
            self._drain_until_quiet(limit=1.0, quiet=_REPORTS_QUIET_S)
        # Frames cross veth synchronously: whatever the DUT sent before now is queued already.
        self.drain()  # FrameDUT: the socket's queue and the backlog of unexpected frames

    def close(self) -> None:
        """Stop the agent, close the socket, delete both namespaces (and so the veth pair)."""
        if self._closed:
            return
        self._closed = True
        setup.LIVE.discard(self)
        errors: list[str] = []
        try:
            super().close()  # FrameDUT's own clean-up (backlog), while the port still works
        except Exception as e:  # never let it stop the namespaces from going away
            errors.append(f"{type(e).__name__}: {e}")
        port, self._port = self._port, None
        agent, self._agent = self._agent, None
        self.control = None
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


serve_verbs_remotely(LinuxDUT)
