"""FrameDUT: the DUT frame verbs and pcap capture over three backend hooks.

A backend provides ``_transmit(frame)``, ``_receive(deadline)`` and ``_now()``; this class
does the rest: Scapy builders pre-filled with the test link's addresses, send, expect,
expect_none, wait, and recording every frame into the test's Capture.

Semantics of the frames the DUT emits (the *backlog*):
- Every frame the backend returns is dissected once (``Ether(raw)``), recorded in the pcap,
  and appended to the backlog. The backlog holds frames no ``expect`` has consumed yet, so
  frames emitted before a call (a reply is already queued when ``send`` returns in-process)
  are seen by the next ``expect``/``expect_none``.
- ``expect`` returns the *oldest* backlog-or-new frame that matches and removes only that
  frame from the backlog. Non-matching frames stay, so ``expect(ICMPv6EchoReply)`` followed
  by ``expect(ICMPv6ND_NS)`` finds the NS even if it came first. Two ``expect`` calls for the
  same template return two different frames, in the order the DUT emitted them.
- ``expect_none`` fails if any backlog frame, or any frame arriving within ``within``
  seconds, matches; it consumes nothing. With ``barrier=True`` on a backend whose DUT answers
  in order (``in_order``), the window ends early once the reply to a barrier probe sent now
  arrives (see harness/barrier.py); without that reply the whole window is waited out.
- ``wait(s)`` lets time pass, moving frames emitted meanwhile into the backlog.
- A frame's ``time`` (Scapy's ``Packet.time``) is the backend time at which it reached the
  tester (``_arrival_time``), so a test measures the DUT's timers from the frames themselves.
- ``drain()`` discards the backlog and everything queued now, without letting time pass
  (queued frames still go to the pcap). ``close()`` drains too.
The backlog is bounded (oldest frames are dropped first), so a chatty DUT cannot exhaust memory.
"""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Any, Final, NoReturn

from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import barrier as barriers
from harness.capture import Capture, Direction
from harness.dut import (
    AddressInfo,
    ExpectationFailed,
    Family,
    ICMPReport,
    IPv6Option,
    LinkInfo,
    TCPConn,
    TCPOption,
    TCPState,
    TimerName,
    UDPDatagram,
    Unsupported,
)
from harness.expect import Expectation, Seen, Spec, no_match_report, unwanted_report

MAX_BACKLOG: Final = 10_000
SETTLE_BARRIER_S: Final = 0.5  # how long a reset waits for the DUT to take in the last test's frames

# The test link every backend builds (documentation prefixes only: RFC 5737, RFC 3849). Link-locals are
# the EUI-64 ones (RFC 4291 App. A) of the MACs, as both our stack and Linux derive them.
# Backends copy it with their own ``timers`` (dataclasses.replace), never mutate it.
TEST_LINK: Final = LinkInfo(
    dut_mac="02:00:00:00:00:01",
    tester_mac="02:00:00:00:00:02",
    dut_ipv4=IPv4Interface("198.51.100.1/24"),
    tester_ipv4=IPv4Address("198.51.100.2"),
    other_ipv4=IPv4Address("198.51.100.3"),
    dut_ipv6=IPv6Interface("2001:db8:1::1/64"),
    dut_ipv6_ll=IPv6Address("fe80::ff:fe00:1"),
    tester_ipv6=IPv6Address("2001:db8:1::2"),
    tester_ipv6_ll=IPv6Address("fe80::ff:fe00:2"),
    other_ipv6=IPv6Address("2001:db8:1::3"),
    mtu=1500,
    other_mac="02:00:00:00:00:03",
)
OTHER_MAC: Final = TEST_LINK.other_mac


class FrameDUT(abc.ABC):
    """Base of frame-level backends; subclasses implement the three hooks and the control verbs."""

    # True when the DUT answers frames in the order it received them, so that the reply to a
    # barrier probe comes after any immediate answer to the frames sent before it. A backend
    # sets it only with harness/tests/test_barrier_order.py passing for it; virtual-time
    # backends leave it off (their windows cost no wall time).
    in_order: bool = False

    def __init__(self, name: str, info: LinkInfo, capture: Capture | None = None,
                 features: frozenset[str] = frozenset()) -> None:
        self.name = name
        self.info = info
        # What the DUT implements where the RFCs leave it optional (harness.features): its
        # backend knows (our stack, Linux), its control agent says (hello), or its config lists.
        self.features = features
        self.capture = capture
        self.backlog: deque[Seen] = deque(maxlen=MAX_BACKLOG)
        self._last_family: Family = 6  # of the last frame sent: barrier probes use the same
        # Barrier probes sent, and how many of them ended a silence window early.
        self.barrier_stats: dict[str, int] = {"sent": 0, "answered": 0}
        self._sent_since_reset = False
        # How the last reset's settling went (``_settle_inbound``), for ``describe_state``.
        self.settled: str | None = None

    # ---- backend hooks ----------------------------------------------------------------------
    @abc.abstractmethod
    def _transmit(self, frame: bytes) -> None:
        """Put one frame on the wire towards the DUT."""

    @abc.abstractmethod
    def _receive(self, deadline: float) -> bytes | None:
        """Next frame the DUT emitted, waiting until backend time ``deadline``; None on timeout.
        With ``deadline <= _now()`` it returns an already-queued frame or None, never waiting."""

    @abc.abstractmethod
    def _now(self) -> float:
        """Backend time in seconds (virtual or monotonic)."""

    def _arrival_time(self) -> float:
        """Backend time at which the frame ``_receive`` returned last reached the tester: by
        default when it was read; backends whose port timestamps frames give that time."""
        return self._now()

    def _diagnostics(self) -> list[str]:
        """Extra lines for an ExpectationFailed message (e.g. why the stack dropped a frame)."""
        return []

    # ---- builders -----------------------------------------------------------------------------
    def ether(self, **fields: Any) -> Packet:
        return Ether(**{"src": self.info.tester_mac, "dst": self.info.dut_mac, **fields})

    def ipv4(self, **fields: Any) -> Packet:
        addrs = {"src": str(self.info.tester_ipv4), "dst": str(self.info.dut_ipv4.ip)}
        return self.ether() / IP(**{**addrs, **fields})

    def ipv6(self, **fields: Any) -> Packet:
        addrs = {"src": str(self.info.tester_ipv6), "dst": str(self.info.dut_ipv6.ip)}
        return self.ether() / IPv6(**{**addrs, **fields})

    # ---- frames -------------------------------------------------------------------------------
    def send(self, *frames: Packet | bytes) -> None:
        # Built first, then sent back to back: a Scapy build costs ~0.5 ms, many times that on a
        # loaded machine, and frames a test sends together must reach the DUT together.
        for raw in [bytes(frame) for frame in frames]:
            self._record(raw, "to_dut")
            self._transmit(raw)
            self._last_family = barriers.family_of(raw) or self._last_family
        self._sent_since_reset = True

    def expect(self, *layers: Spec, within: float = 2.0, **fields: Any) -> Packet:
        exp = Expectation(layers, fields)
        considered = list(self.backlog)
        for old in considered:
            if exp.matches(old.pkt):
                self.backlog.remove(old)
                return old.pkt
        deadline = self._now() + within
        while (new := self._next(deadline)) is not None:
            considered.append(new)
            if exp.matches(new.pkt):
                self.backlog.remove(new)
                return new.pkt
        raise ExpectationFailed(self._with_diagnostics(no_match_report(exp, within, considered)))

    def expect_none(self, *layers: Spec, within: float = 2.0, barrier: bool = False,
                    since: float | None = None, **fields: Any) -> None:
        exp = Expectation(layers, fields)
        opens = self._now() if since is None else float(since)
        deadline = opens + within
        for old in self.backlog:
            # Without ``since`` every frame not yet consumed counts, whenever it came.
            if (since is None or opens <= old.ts <= deadline) and exp.matches(old.pkt):
                raise ExpectationFailed(self._with_diagnostics(unwanted_report(exp, within, old)))
        seq = self._send_barrier() if barrier and self.in_order and deadline > self._now() else None
        while (new := self._next(deadline)) is not None:
            if new.ts > deadline:
                return  # read late, but it came after the window closed
            if since is not None and new.ts < opens:
                continue  # read only now, but it came before the window opened: left for later
            if seq is not None and barriers.is_reply(new.pkt, seq):
                self.backlog.remove(new)
                self.barrier_stats["answered"] += 1
                return
            if exp.matches(new.pkt):
                raise ExpectationFailed(self._with_diagnostics(unwanted_report(exp, within, new)))

    def now(self) -> float:
        return self._now()

    def barrier(self, within: float = 2.0) -> float | None:
        if not self.in_order:
            return None
        return self._await_barrier_replies({self._send_barrier()}, within)

    def _await_barrier_replies(self, pending: set[int], within: float) -> float | None:
        """Wait up to ``within`` for the replies to the barrier probes ``pending`` (consuming
        them); when the last came, or None if one did not."""
        deadline = self._now() + within
        while pending and (new := self._next(deadline)) is not None:
            answered = next((seq for seq in pending if barriers.is_reply(new.pkt, seq)), None)
            if answered is not None:
                pending.discard(answered)
                self.backlog.remove(new)
                self.barrier_stats["answered"] += 1
                if not pending:
                    return new.ts
        return None

    def _settle_inbound(self) -> None:
        """Before a reset through a control channel: let the DUT take in every frame the last
        test sent. The control verb travels another way and can overtake frames still queued
        for the DUT's input (a loaded Linux works that queue off late, from ksoftirqd): a Router
        Advertisement taken in after the reset would teach the next test's DUT a router or a
        prefix. On an in-order DUT the barrier's reply comes after them (the linux backend
        steers each veth end's input to one CPU's queue); one the test left unable to answer
        (no address, a link MTU below the minimum) costs the short wait, and ``describe_state``
        says so with a failure that follows."""
        sent, self._sent_since_reset = self._sent_since_reset, False
        if not (sent and self.in_order):
            self.settled = "nothing to settle" if self.in_order else "not settled: the DUT may reorder"
            return
        began = self._now()
        answered = self._await_barrier_replies({self._send_barrier()}, SETTLE_BARRIER_S)
        if answered is None:
            self.barrier_stats["unsettled"] = self.barrier_stats.get("unsettled", 0) + 1
            self.settled = f"NOT settled: no reply to the barrier probe within {SETTLE_BARRIER_S} s"
        else:
            self.settled = f"settled: the barrier probe answered in {1000 * (answered - began):.1f} ms"

    def _send_barrier(self) -> int:
        raw, seq = barriers.probe(self.info, self._last_family)
        self._record(raw, "to_dut")
        self._transmit(raw)
        self.barrier_stats["sent"] += 1
        return seq

    def wait(self, seconds: float) -> None:
        deadline = self._now() + seconds
        while self._next(deadline) is not None:
            pass

    def drain(self) -> None:
        """Forget every frame emitted so far (backlog and queue); no time passes.

        Frames still queued are recorded in the capture first: they did cross the boundary."""
        now = self._now()
        while (raw := self._receive(now)) is not None:
            self._record(raw, "from_dut")
        self.backlog.clear()

    def describe_state(self) -> str:
        """What the DUT holds now (addresses, routes, neighbors), in words a reader of a failure
        can use: shown with a failed test, where a state left by an earlier test would show.
        Here: whether the last reset began after the DUT took in the previous test's frames;
        backends that can read the DUT's configuration add it."""
        return "" if self.settled is None else f"before the last reset: {self.settled}"

    def reset(self) -> None:
        """Between tests on a DUT shared by a session: forget pending frames. Backends that can
        restore the DUT's configuration override this (and call ``super().reset()``)."""
        self.drain()

    def _next(self, deadline: float) -> Seen | None:
        raw = self._receive(deadline)
        if raw is None:
            return None
        arrived = self._arrival_time()
        self._record(raw, "from_dut", arrived)
        pkt = Ether(raw)
        pkt.time = arrived  # what expect() returns carries when it crossed the link
        seen = Seen(raw, pkt, arrived)
        self.backlog.append(seen)
        return seen

    def _record(self, raw: bytes, direction: Direction, when: float | None = None) -> None:
        if self.capture is not None:
            self.capture.record(raw, direction, self._now() if when is None else when)

    def _with_diagnostics(self, message: str) -> str:
        extra = self._diagnostics()
        return "\n".join([message, *extra]) if extra else message

    # ---- control surface: backends override what they can do ---------------------------------
    def _cannot(self, verb: str) -> NoReturn:
        raise Unsupported(f"the {self.name} backend cannot {verb}")

    def add_address(self, cidr: str, *, dad: bool = False, valid_lifetime: float | None = None,
                    preferred_lifetime: float | None = None) -> None:
        self._cannot("add an address")

    def remove_address(self, cidr: str) -> None:
        self._cannot("remove an address")

    def add_second_interface_address(self, cidr: str) -> None:
        self._cannot("add an address on a second interface")

    def udp_bind(self, port: int, family: Family = 4) -> None:
        self._cannot("open a UDP socket on the DUT")

    def udp_recv(self, port: int, within: float = 2.0) -> tuple[bytes, str, int] | None:
        self._cannot("read from a UDP socket on the DUT")

    def udp_send(self, port: int, data: bytes, dst: str, dport: int) -> None:
        self._cannot("send from a UDP socket on the DUT")

    def udp_close(self, port: int) -> None:
        self._cannot("close a UDP socket on the DUT")

    def udp_recvmsg(self, port: int, within: float = 2.0) -> UDPDatagram | None:
        self._cannot("read a UDP datagram with its IP header values (TOS, TTL, options, destination) on the DUT")

    def udp_sendmsg(self, port: int, data: bytes, dst: str, dport: int, *, src: str | None = None,
                    ttl: int | None = None, tos: int | None = None, options: bytes = b"") -> None:
        self._cannot("send a UDP datagram with a chosen source, TTL, TOS or IP options from the DUT")

    def udp_errors(self, port: int, within: float = 2.0) -> list[ICMPReport]:
        self._cannot("read the ICMP errors a UDP socket of the DUT was told of")

    def tcp_listen(self, port: int, family: Family = 4, *, backlog: int = 16,
                   options: Mapping[TCPOption, float | int | bool] | None = None) -> None:
        self._cannot("listen on a TCP port")

    def tcp_accept(self, port: int, family: Family = 4, *, within: float = 2.0) -> TCPConn | None:
        self._cannot("accept a TCP connection")

    def tcp_close_listener(self, port: int, family: Family = 4) -> None:
        self._cannot("close a TCP listener")

    def tcp_connect(self, dst: str, dport: int, *, sport: int | None = None,
                    options: Mapping[TCPOption, float | int | bool] | None = None) -> TCPConn:
        self._cannot("open a TCP connection")

    def tcp_send(self, conn: TCPConn, data: bytes) -> int:
        self._cannot("send on a TCP connection")

    def tcp_recv(self, conn: TCPConn, max: int = 65536, *, within: float = 2.0) -> bytes | None:
        self._cannot("receive on a TCP connection")

    def tcp_shutdown(self, conn: TCPConn) -> None:
        self._cannot("shut down a TCP connection")

    def tcp_close(self, conn: TCPConn) -> None:
        self._cannot("close a TCP connection")

    def tcp_abort(self, conn: TCPConn) -> None:
        self._cannot("abort a TCP connection")

    def tcp_set_option(self, conn: TCPConn, name: TCPOption, value: float | int | bool) -> None:
        self._cannot(f"set the TCP option {name}")

    def tcp_state(self, conn: TCPConn) -> TCPState:
        self._cannot("read a TCP connection's state")

    def join_group(self, group: str) -> None:
        self._cannot("join a multicast group")

    def join_source_group(self, group: str, sources: list[str]) -> None:
        self._cannot("join a multicast group for some sources only (INCLUDE mode)")

    def leave_group(self, group: str) -> None:
        self._cannot("leave a multicast group")

    def set_forwarding(self, family: Family, enabled: bool) -> None:
        self._cannot("switch forwarding")

    def set_timer(self, name: TimerName, seconds: float) -> None:
        self._cannot(f"set the {name} timer")

    def add_route(self, cidr: str, via: str | None = None, mtu: int | None = None) -> None:
        self._cannot("add a route")

    def remove_route(self, cidr: str) -> None:
        self._cannot("remove a route")

    def set_link_mtu(self, mtu: int) -> None:
        self._cannot("change the link MTU")

    def set_link_address(self, mac: str) -> None:
        self._cannot("change its link-layer address")

    def set_icmp_rate_limit(self, family: Family, per_second: float, burst: int) -> None:
        self._cannot("set the ICMP error rate limit")

    def set_default_ttl(self, family: Family, ttl: int) -> None:
        self._cannot("set the default TTL")

    def set_echo_ignore_broadcasts(self, ignore: bool) -> None:
        self._cannot("choose whether broadcast echo requests are answered")

    def set_accept_source_route(self, accept: bool) -> None:
        self._cannot("choose whether source-routed datagrams are accepted")

    def set_ipv6_option(self, name: IPv6Option, value: float | int | str) -> None:
        self._cannot(f"set the IPv6 option {name}")

    def restart_link(self) -> None:
        self._cannot("take the test link down and up")

    def ipv6_addresses(self) -> list[AddressInfo]:
        self._cannot("list the IPv6 addresses of the DUT")

    def close(self) -> None:
        """Release backend resources. The base drains (so queued frames reach the pcap);
        subclasses call ``super().close()`` before closing their link."""
        self.drain()
