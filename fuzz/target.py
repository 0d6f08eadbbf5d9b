"""The whole stack as a fuzz target: stack_under_test.testing's Bench set up for fuzzing.

``FuzzStack.inject(frame)`` delivers one frame and checks that exactly one verdict was counted; it
returns the verdict and the frames the stack emitted, which it also keeps (``emitted``) for the
oracles (testing.Bench does both). ``check_invariants`` runs the whole-stack checks. A fresh FuzzStack costs ~1 ms (most of
it address configuration), so the properties build one per example while the throughput bench
and campaigns reuse one across examples (``shared_stack``): the checks are deltas and bounds, so
they hold on a stack with history too.

``one_raw_input`` is the raw-bytes property for one input, shared by fuzz/test_raw_bytes.py, the
Atheris entry point and bench/bench_fuzz.py.
"""

from __future__ import annotations

from fuzz.strategies.mutate import fix_checksums
from fuzz.tcp_invariants import tcp_problems
from stack_under_test.testing import (
    DUT4,
    DUT6,
    DUT6_LL,
    DUT_MAC,
    NIC_NAME,
    OTHER4,
    OTHER6,
    OTHER_MAC,
    TESTER4,
    TESTER6,
    TESTER_MAC,
    Bench,
    InvariantError,
)

__all__ = [
    "DUT4",
    "DUT6",
    "DUT6_LL",
    "DUT_MAC",
    "GROUP4",
    "OTHER4",
    "OTHER6",
    "OTHER_MAC",
    "TCP_PORT",
    "TESTER4",
    "TESTER6",
    "TESTER_MAC",
    "UDP_PORT",
    "FuzzStack",
    "InvariantError",
    "one_raw_input",
    "shared_stack",
]

UDP_PORT = 7  # bound on both families; other ports are closed (ICMP port unreachable paths)
TCP_PORT = 80  # listening on both families; other TCP ports are closed (RST paths)
GROUP4 = "224.1.2.3"
REBUILD_EVERY = 2_000  # frames a shared stack serves before a fresh one replaces it


class FuzzStack(Bench):
    """The test link's DUT with a UDP port open on both families and an IPv4 group joined, past
    its start-up (DAD off and no Router Solicitations, as the in-process DUT's baseline: they would
    run to the end before the first fuzzed frame anyway and cost more than the example)."""

    def __init__(self) -> None:
        super().__init__(settle_ms=None)
        self.stack.join_group(NIC_NAME, GROUP4)
        self.stack.udp_bind("0.0.0.0", UDP_PORT)
        self.stack.udp_bind("::", UDP_PORT)
        self.stack.transport_protocols[6].bind("0.0.0.0", TCP_PORT)
        self.stack.transport_protocols[6].bind("::", TCP_PORT)
        self.clock.advance(10_000)  # past any start-up reports
        self.link.drain()

    @classmethod
    def fresh(cls) -> FuzzStack:
        return cls()

    def with_dad_running(self) -> FuzzStack:
        """Flap the link with DAD on: the link-local and 2001:db8:1::1 are tentative again for the
        next second or so (RFC 4862 5.4), and Router Solicitations start, as after a real link-up."""
        self.stack.set_ipv6_option(NIC_NAME, "accept_dad", 1)
        self.stack.set_ipv6_option(NIC_NAME, "router_solicitations", 3)
        self.stack.restart_nic(NIC_NAME)
        self.emitted.extend(self.link.drain())
        return self

    def check_invariants(self) -> None:
        """The bench's whole-stack checks, then TCP's own bounds and sequence variables."""
        super().check_invariants()
        problems = tcp_problems(self.stack)
        if problems:
            raise InvariantError("; ".join(problems))


_shared: list[FuzzStack] = []
_frames = [0]


def shared_stack() -> FuzzStack:
    """One stack for many examples, rebuilt every REBUILD_EVERY frames so memory of old examples
    stays bounded."""
    if not _shared or _frames[0] >= REBUILD_EVERY:
        _shared[:] = [FuzzStack.fresh()]
        _frames[0] = 0
    _frames[0] += 1
    return _shared[0]


def one_raw_input(data: bytes, fixup: bool = False) -> None:
    """The raw-bytes property for one input. ``fixup`` repairs its checksums first and, for three
    inputs in four, addresses the frame to the DUT's MAC, so mutation reaches past the link layer."""
    fs = shared_stack()
    if fixup:
        if data and data[0] < 0xC0:
            data = DUT_MAC + data[6:]
        data = fix_checksums(data)
    fs.inject(data)
    fs.emitted.clear()
    if _frames[0] % 64 == 0:
        fs.advance(1_000)
        fs.check_invariants()
