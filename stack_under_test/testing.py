"""A white-box bench: the stack on a channel link with the test link's addresses, on a virtual clock.

The unit tests' bench helpers (stack_under_test/tests/_*_bench.py), the fuzz target
(fuzz/target.py) and the benchmarks (bench/) all build the stack here. ``inject`` delivers one
frame, checks that exactly one verdict was counted for it, and returns the verdict with the frames
the stack sent (``emitted`` keeps them all, for oracles that judge them later: clear it when they
have); ``advance`` lets virtual time pass; ``check_invariants`` runs the whole-stack
checks (counters consistent, neighbor caches and reassembly queues within their bounds, the
reassembly accounting true, the link's queue bounded). The checks are deltas or bounds, so they
hold on a stack with history too.

The test link uses documentation addresses (RFC 5737 198.51.100.0/24, RFC 3849 2001:db8::/32):
the DUT, a tester and another host, as the harness's in-process backend configures them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from stack_under_test.clock import VirtualClock
from stack_under_test.drops import Drop
from stack_under_test.host import Stack
from stack_under_test.link.channel import ChannelEndpoint
from stack_under_test.network.fragmentation import Reassembler
from stack_under_test.network.ipv4.endpoint import IPv4Protocol
from stack_under_test.network.ipv6.endpoint import IPv6Protocol
from stack_under_test.params import ETHERNET_MTU, NEIGHBOR_CACHE_SIZE
from stack_under_test.stack.nic import NIC
from stack_under_test.stack.stack import StackOptions
from stack_under_test.stats import Stats

NIC_NAME = "eth0"
DUT_MAC = bytes.fromhex("020000000001")
TESTER_MAC = bytes.fromhex("020000000002")
OTHER_MAC = bytes.fromhex("020000000003")
DUT4, TESTER4, OTHER4 = bytes((198, 51, 100, 1)), bytes((198, 51, 100, 2)), bytes((198, 51, 100, 3))
DUT4_CIDR = "198.51.100.1/24"
SUBNET_BROADCAST4 = bytes((198, 51, 100, 255))
DUT6 = bytes.fromhex("20010db8000100000000000000000001")
TESTER6 = bytes.fromhex("20010db8000100000000000000000002")
OTHER6 = bytes.fromhex("20010db8000100000000000000000003")
DUT6_CIDR = "2001:db8:1::1/64"
DUT6_LL = bytes.fromhex("fe80000000000000000000fffe000001")  # modified EUI-64 of DUT_MAC
TESTER6_LL = bytes.fromhex("fe80000000000000000000fffe000002")


class InvariantError(AssertionError):
    """A stack invariant did not hold."""


class Bench:
    """One NIC (``NIC_NAME``) on a ``ChannelEndpoint``, set up like the in-process DUT.

    ``addresses``: DUT4_CIDR and DUT6_CIDR for the families switched on. ``static_tester``: the
    tester's addresses (IPv6 link-local too) as static neighbors, so nothing waits for ARP/NDP.
    ``quiet``: the in-process DUT's IPv6 baseline, no DAD and no Router Solicitations (tests of
    those turn it off). ``ipv6_options``: further ``Stack.set_ipv6_option`` knobs, set before the
    NIC comes up. ``forwarding``: the families to forward, switched on before the addresses are
    added. ``settle_ms``: after set-up, virtual time runs that long (0: not at all) and
    whatever the stack sent is dropped; None keeps the start-up frames queued on the link.
    ``options``: ``StackOptions`` fields.
    """

    def __init__(
        self,
        *,
        ipv4: bool = True,
        ipv6: bool = True,
        addresses: bool = True,
        static_tester: bool = True,
        quiet: bool = True,
        enable: bool = True,
        seed: int = 1,
        mtu: int = ETHERNET_MTU,
        outbound_limit: int | None = None,
        ipv6_options: Mapping[str, int | bool | bytes | None] | None = None,
        forwarding: tuple[int, ...] = (),
        settle_ms: int | None = 0,
        **options: Any,
    ) -> None:
        self.clock = VirtualClock()
        self.emitted: list[bytes] = []  # every frame inject() and advance() returned
        self.stack = Stack(StackOptions(clock=self.clock, rng=random.Random(seed), ipv4=ipv4, ipv6=ipv6, **options))
        self.link = self.add_nic(NIC_NAME, DUT_MAC, mtu=mtu, outbound_limit=outbound_limit, quiet=quiet,
                                 ipv6_options=ipv6_options, enable=enable)
        self.nic: NIC = self.stack.nic(NIC_NAME)
        for family in forwarding:
            self.stack.set_forwarding(family, True)
        if addresses:
            if ipv4:
                self.stack.add_address(NIC_NAME, DUT4_CIDR)
            if ipv6:
                self.stack.add_address(NIC_NAME, DUT6_CIDR)
        if static_tester:
            if ipv4:
                self.stack.add_static_neighbor(NIC_NAME, "198.51.100.2", TESTER_MAC)
            if ipv6:
                self.stack.add_static_neighbor(NIC_NAME, "2001:db8:1::2", TESTER_MAC)
                self.stack.add_static_neighbor(NIC_NAME, "fe80::ff:fe00:2", TESTER_MAC)
        if settle_ms is not None:
            if settle_ms:
                self.clock.advance(settle_ms)
            self.link.drain()

    def add_nic(
        self,
        name: str,
        mac: bytes,
        *,
        mtu: int = ETHERNET_MTU,
        outbound_limit: int | None = None,
        quiet: bool = True,
        ipv6_options: Mapping[str, int | bool | bytes | None] | None = None,
        enable: bool = True,
    ) -> ChannelEndpoint:
        """Another NIC on a link of its own (a router's second interface, say), set up the same way."""
        link = ChannelEndpoint(mac=mac, mtu=mtu) if outbound_limit is None else ChannelEndpoint(mac, mtu, outbound_limit)
        self.stack.create_nic(name, link)
        if self.stack.options.ipv6:
            knobs: dict[str, int | bool | bytes | None] = {"accept_dad": 0, "router_solicitations": 0} if quiet else {}
            knobs.update(ipv6_options or {})
            for knob, value in knobs.items():
                self.stack.set_ipv6_option(name, knob, value)
        if enable:
            self.stack.enable_nic(name)
        return link

    @property
    def stats(self) -> Stats:
        return self.nic.stats

    # ---- frames and time ----------------------------------------------------------------------------
    def inject(self, frame: bytes) -> tuple[Drop | None, list[bytes]]:
        """Deliver one frame; return its verdict and every frame the stack sent meanwhile.
        Raises InvariantError when its counting is wrong; exceptions of the stack propagate."""
        stats = self.nic.stats
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
        self.emitted += out
        return verdict, out

    def advance(self, ms: int) -> list[bytes]:
        """Let virtual time pass (timers fire) and return what the stack sent meanwhile."""
        self.clock.advance(ms)
        out = self.link.drain()
        self.emitted += out
        return out

    # ---- whole-stack checks ---------------------------------------------------------------------------
    def check_invariants(self) -> None:
        for nic in self.stack.nics.values():
            stats = nic.stats
            total_drops = sum(stats.drops.values())
            if stats.rx_frames != stats.rx_accepted + total_drops:
                raise InvariantError(
                    f"{nic.name}: rx_frames {stats.rx_frames} != accepted {stats.rx_accepted} + drops {total_drops}"
                )
            for family, table in nic.neighbors.items():
                if len(table.entries) > NEIGHBOR_CACHE_SIZE:
                    raise InvariantError(f"{nic.name}: IPv{family} neighbor cache holds {len(table.entries)} entries")
        for family, reassembler in reassemblers(self.stack).items():
            check_reassembler(reassembler, f"IPv{family}")
        if len(self.link.outbound) > self.link.outbound_limit:
            raise InvariantError("the channel's outbound queue grew past its limit")


def reassemblers(stack: Stack) -> dict[int, Reassembler]:
    """The stack's reassembler of each IP family (one per family, shared by every NIC)."""
    found: dict[int, Reassembler] = {}
    for family, proto in stack.ip_protocols.items():
        if isinstance(proto, (IPv4Protocol, IPv6Protocol)):
            found[family] = proto.reassembly.reassembler
    return found


def check_reassembler(reassembler: Reassembler, name: str) -> None:
    """Memory held for reassembly is what the datagrams held cost, and never above the high
    threshold: eviction (Linux ipfrag_high_thresh) brings it under the low one after any fragment."""
    held = sum(datagram.cost for datagram in reassembler.datagrams.values())
    if reassembler.queued_bytes != held:
        raise InvariantError(f"{name} reassembly counts {reassembler.queued_bytes} octets but holds {held}")
    if reassembler.queued_bytes > reassembler.high_thresh:
        raise InvariantError(
            f"{name} reassembly holds {reassembler.queued_bytes} octets, above its high threshold {reassembler.high_thresh}"
        )
