"""Barrier probes: the mechanism on the in-process stack, and the ordering assumption per backend.

``expect_none(..., barrier=True)`` ends a silence window once the DUT has answered an echo
request sent after the stimulus. That proves silence only if the DUT's answers leave in the order
of the frames that caused them. The backends that claim it (``in_order``) are checked here with
hundreds of stimulus/barrier pairs sent back to back, with and without two busy loops competing
for the CPUs: every answer to a stimulus must arrive before the barrier's reply, which is exactly
what ``expect_none(<the answer>, barrier=True)`` then reports as an unwanted frame. A backend that
reorders makes these tests fail and must leave ``in_order`` off.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from scapy.layers.inet import ICMP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.packet import Packet, Raw

from harness.backends.base import FrameDUT
from harness.backends.inprocess import InProcessDUT
from harness.dut import ExpectationFailed

PAIRS = 80  # per stimulus kind and load: 640 pairs per backend, ~10 ms each under load
BUSY_LOOPS = 2

Stimulus = Callable[[FrameDUT, int], tuple[Packet, tuple[Packet, ...]]]


def _echo6(dut: FrameDUT, n: int) -> tuple[Packet, tuple[Packet, ...]]:
    # A large request: more work for the DUT than the small barrier behind it.
    request = dut.ipv6() / ICMPv6EchoRequest(id=0x0B01, seq=n, data=bytes(1200))
    return request, (ICMPv6EchoReply(id=0x0B01, seq=n),)


def _echo4(dut: FrameDUT, n: int) -> tuple[Packet, tuple[Packet, ...]]:
    request = dut.ipv4() / ICMP(type=8, id=0x0B02, seq=n) / Raw(bytes(1200))
    return request, (ICMP(type=0, id=0x0B02, seq=n),)


def _port_unreachable6(dut: FrameDUT, n: int) -> tuple[Packet, tuple[Packet, ...]]:
    request = dut.ipv6() / UDP(sport=40000 + n, dport=9) / Raw(b"closed")
    return request, (ICMPv6DestUnreach(code=4),)


def _neighbor_solicitation(dut: FrameDUT, n: int) -> tuple[Packet, tuple[Packet, ...]]:
    target = str(dut.info.dut_ipv6.ip)
    ns = (dut.ether() / IPv6(src=str(dut.info.tester_ipv6), dst=target, hlim=255)
          / ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
    return ns, (ICMPv6ND_NA(tgt=target),)


STIMULI: dict[str, Stimulus] = {"echo6": _echo6, "echo4": _echo4, "port-unreachable6": _port_unreachable6,
                                "neighbor-solicitation": _neighbor_solicitation}


@pytest.fixture
def busy_loops(request: pytest.FixtureRequest) -> Iterator[None]:
    """``BUSY_LOOPS`` processes spinning on the CPUs while the test runs (when parametrized so)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(request.param)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _check_order(dut: FrameDUT, kind: str) -> None:
    stimulus = STIMULI[kind]
    answered = dut.barrier_stats["answered"]  # a managed DUT's set-up settles with a barrier
    for n in range(1, PAIRS + 1):
        frame, answer = stimulus(dut, n)
        dut.send(frame)
        # The answer must be seen before the barrier's reply: expect_none then fails on it.
        with pytest.raises(ExpectationFailed):
            dut.expect_none(*answer, within=2.0, barrier=True)
        dut.drain()
    assert dut.barrier_stats["answered"] == answered, "a barrier reply overtook the answer it should follow"


# ---- the mechanism, on the in-process stack (virtual time) ----------------------------------


def test_barrier_ends_the_window_once_its_reply_is_here_and_leaves_no_trace() -> None:
    dut = InProcessDUT()
    dut.in_order = True  # what a real-time backend claims; here it makes the probe go out
    try:
        before = dut.clock.now_ms
        dut.send(dut.ipv6(nh=59) / Raw(b"nothing follows"))  # RFC 8200 4.7: ignored, no answer
        dut.expect_none(ICMPv6EchoReply, within=5.0, barrier=True)
        assert dut.barrier_stats == {"sent": 1, "answered": 1}
        assert dut.clock.now_ms - before < 5000, "the window was waited out although the barrier answered"
        assert not dut.backlog, "the barrier's reply stayed in the backlog"
        # An answer to the stimulus that comes before the barrier's reply is reported.
        dut.send(dut.ipv4() / ICMP(type=8, id=0x0B03, seq=1))
        with pytest.raises(ExpectationFailed):
            dut.expect_none(ICMP(type=0, id=0x0B03), within=5.0, barrier=True)
        # The probe follows the family of the last frame sent: an ICMP (v4) echo this time.
        dut.expect(ICMP(type=0, id=0xB7A1))
    finally:
        dut.close()


def test_without_a_barrier_reply_the_whole_window_is_waited() -> None:
    dut = InProcessDUT()
    dut.in_order = True
    try:
        dut.remove_address(str(dut.info.dut_ipv6))  # the probe to this address goes unanswered
        before = dut.clock.now_ms
        dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0x0B04, seq=1))
        dut.expect_none(ICMPv6EchoReply(id=0x0B04), within=3.0, barrier=True)
        assert dut.clock.now_ms - before >= 3000
        assert dut.barrier_stats == {"sent": 1, "answered": 0}
    finally:
        dut.close()


def test_settling_before_a_reset_probes_only_after_a_test_that_sent_frames() -> None:
    dut = InProcessDUT()
    dut.in_order = True
    try:
        dut._settle_inbound()  # nothing sent since the last reset: nothing to wait for
        assert dut.barrier_stats == {"sent": 0, "answered": 0}
        dut.send(dut.ipv6(nh=59) / Raw(b"the last test's frame"))
        dut._settle_inbound()
        assert dut.barrier_stats == {"sent": 1, "answered": 1}
        dut._settle_inbound()  # once per reset
        assert dut.barrier_stats["sent"] == 1
    finally:
        dut.close()


# ---- the assumption, on every real-time backend that claims it --------------------------------


def _linux() -> FrameDUT:
    from harness.backends.linux.dut import LinuxDUT, check_available

    if check_available() is not None:
        pytest.skip(f"needs root for network namespaces ({check_available()})")
    return LinuxDUT()


def _tap() -> FrameDUT:
    from harness.backends.tap import TapDUT, check_available

    if check_available() is not None:
        pytest.skip(f"needs root for network namespaces and TAP devices ({check_available()})")
    return TapDUT()


@pytest.mark.needs_root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")
@pytest.mark.parametrize("busy_loops", [0, BUSY_LOOPS], indirect=True, ids=["idle", "loaded"])
@pytest.mark.parametrize("backend", ["linux", "tap"])
def test_backend_that_claims_in_order_answers_in_order(backend: str, busy_loops: None) -> None:
    dut = {"linux": _linux, "tap": _tap}[backend]()
    try:
        assert dut.in_order, f"the {backend} backend does not claim in-order answers; drop it from this test"
        for kind in STIMULI:
            _check_order(dut, kind)
    finally:
        dut.close()
