"""The whole stack as a fuzz target: one NIC on a channel link, both families configured.

``FuzzStack.inject(frame)`` delivers one frame and checks the stack's invariants around it
(exactly one verdict counted, counters consistent, neighbor caches and reassembly queues bounded).
It returns the verdict and the frames the stack emitted. A fresh FuzzStack costs ~1 ms (most of
it address configuration), so the properties build one per example while the throughput bench
and campaigns may reuse one across examples (``reuse=True`` semantics are the caller's): the
checks are deltas, so they hold on a stack with history too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from fuzz.tcp_invariants import tcp_problems
from stack_under_test import ChannelEndpoint, Drop, Stack, StackOptions, VirtualClock
from stack_under_test.params import NEIGHBOR_CACHE_SIZE

DUT_MAC = bytes.fromhex("020000000001")
TESTER_MAC = bytes.fromhex("020000000002")
OTHER_MAC = bytes.fromhex("020000000003")
DUT4, TESTER4, OTHER4 = bytes((198, 51, 100, 1)), bytes((198, 51, 100, 2)), bytes((198, 51, 100, 3))
DUT6 = bytes.fromhex("20010db8000100000000000000000001")
TESTER6 = bytes.fromhex("20010db8000100000000000000000002")
OTHER6 = bytes.fromhex("20010db8000100000000000000000003")
DUT6_LL = bytes.fromhex("fe800000000000000000" + "00fffe000001")  # EUI-64 of DUT_MAC
UDP_PORT = 7  # bound on both families; other ports are closed (ICMP port unreachable paths)
TCP_PORT = 80  # listening on both families; other TCP ports are closed (RST paths)
GROUP4 = "224.1.2.3"

# Linux net.ipv4.ipfrag_high_thresh default (4 MiB); the stack's own option once it exists.
DEFAULT_REASSEMBLY_HIGH_THRESH = 4 * 1024 * 1024


class InvariantError(AssertionError):
    """A stack invariant did not hold after a frame."""


@dataclass
class FuzzStack:
    stack: Stack
    link: ChannelEndpoint
    clock: VirtualClock
    emitted: list[bytes] = field(default_factory=list)

    @classmethod
    def fresh(cls) -> FuzzStack:
        clock = VirtualClock()
        stack = Stack(StackOptions(clock=clock, rng=random.Random(1)))
        link = ChannelEndpoint(mac=DUT_MAC)
        stack.create_nic("eth0", link)
        # The in-process DUT's baseline: start-up DAD and Router Solicitations would run to the
        # end (the clock is advanced below) before the first fuzzed frame anyway, and cost more
        # than the example itself. The sequences property restarts the NIC with DAD on, so its
        # frames meet tentative addresses (``with_dad_running``).
        stack.set_ipv6_option("eth0", "accept_dad", 0)
        stack.set_ipv6_option("eth0", "router_solicitations", 0)
        stack.enable_nic("eth0")
        stack.add_address("eth0", "198.51.100.1/24")
        stack.add_address("eth0", "2001:db8:1::1/64")
        stack.add_static_neighbor("eth0", "198.51.100.2", TESTER_MAC)
        stack.add_static_neighbor("eth0", "2001:db8:1::2", TESTER_MAC)
        stack.join_group("eth0", GROUP4)
        stack.udp_bind("0.0.0.0", UDP_PORT)
        stack.udp_bind("::", UDP_PORT)
        stack.transport_protocols[6].bind("0.0.0.0", TCP_PORT)
        stack.transport_protocols[6].bind("::", TCP_PORT)
        clock.advance(10_000)  # past DAD and any start-up reports
        link.drain()
        return cls(stack, link, clock)

    def with_dad_running(self) -> FuzzStack:
        """Flap the link with DAD on: the link-local and 2001:db8:1::1 are tentative again for the
        next second or so (RFC 4862 5.4), and Router Solicitations start, as after a real link-up."""
        self.stack.set_ipv6_option("eth0", "accept_dad", 1)
        self.stack.set_ipv6_option("eth0", "router_solicitations", 3)
        self.stack.restart_nic("eth0")
        self.emitted.extend(self.link.drain())
        return self

    @property
    def nic_stats(self):  # type: ignore[no-untyped-def]
        return self.stack.nic("eth0").stats

    def inject(self, frame: bytes) -> tuple[Drop | None, list[bytes]]:
        """Deliver one frame; raise InvariantError when an invariant breaks. Exceptions from the
        stack itself propagate unchanged (they are the bug)."""
        stats = self.nic_stats
        rx, accepted, dropped = stats.rx_frames, stats.rx_accepted, stats.drops.total()
        verdict = self.link.inject_inbound(frame)
        if stats.rx_frames != rx + 1:
            raise InvariantError(f"rx_frames went from {rx} to {stats.rx_frames} for one frame")
        if verdict is None:
            if stats.rx_accepted != accepted + 1:
                raise InvariantError("verdict None (accepted) but rx_accepted did not move")
        else:
            if not isinstance(verdict, Drop):
                raise InvariantError(f"verdict {verdict!r} is neither None nor a Drop")
            if stats.rx_accepted != accepted:
                raise InvariantError(f"verdict {verdict} but rx_accepted moved")
        if stats.drops.total() != dropped + (verdict is not None):
            raise InvariantError(f"verdict {verdict} but the drop counters moved by {stats.drops.total() - dropped}")
        out = self.link.drain()
        self.emitted.extend(out)
        return verdict, out

    def advance(self, ms: int) -> list[bytes]:
        """Let virtual time pass (timers armed by earlier frames fire) and return what was sent."""
        self.clock.advance(ms)
        out = self.link.drain()
        self.emitted.extend(out)
        return out

    def check_invariants(self) -> None:
        """The slower whole-stack checks; the properties call it after every example."""
        stats = self.nic_stats
        total_drops = sum(stats.drops.values())
        if stats.rx_frames != stats.rx_accepted + total_drops:
            raise InvariantError(
                f"rx_frames {stats.rx_frames} != accepted {stats.rx_accepted} + drops {total_drops}"
            )
        nic = self.stack.nic("eth0")
        for family, table in nic.neighbors.items():
            if len(table.entries) > NEIGHBOR_CACHE_SIZE:
                raise InvariantError(f"IPv{family} neighbor cache holds {len(table.entries)} entries")
        queued, high = reassembly_bytes(self.stack)
        if queued is not None and queued > high:
            raise InvariantError(f"reassembly queues hold {queued} octets, above the high threshold {high}")
        if len(self.link.outbound) > self.link.outbound_limit:
            raise InvariantError("the channel's outbound queue grew past its limit")
        problems = tcp_problems(self.stack)  # TCP's own bounds and sequence variables
        if problems:
            raise InvariantError("; ".join(problems))


def reassembly_bytes(stack: Stack) -> tuple[int | None, int]:
    """(octets queued for reassembly over both families, high threshold), None when the stack has
    no reassembler yet. Looks for the frag helper's Reassembler on the IP endpoints/protocols."""
    high = int(getattr(stack.options, "reassembly_high_thresh", DEFAULT_REASSEMBLY_HIGH_THRESH))
    total: int | None = None
    seen: set[int] = set()
    holders: list[object] = list(stack.network_protocols)
    for nic in stack.nics.values():
        holders.extend(nic.ip.values())
    for holder in holders:
        for name in ("reassembler", "_reassembler"):
            reasm = getattr(holder, name, None)
            if reasm is None or id(reasm) in seen:
                continue
            seen.add(id(reasm))
            for attr in ("queued_bytes", "memory", "mem", "bytes_queued"):
                value = getattr(reasm, attr, None)
                if callable(value):
                    value = value()
                if isinstance(value, int):
                    total = (total or 0) + value
                    break
    return total, high
