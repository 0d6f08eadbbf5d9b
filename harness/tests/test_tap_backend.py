"""The tap backend: our stack as a real process on a TAP, raw frames and its control agent."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP

from harness.backends.tap import TapDUT, check_available

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and TAP devices"),
    pytest.mark.skipif(check_available() is not None, reason=str(check_available())),
]


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout


def test_echo_reset_to_a_fresh_stack_and_cleanup() -> None:
    dut = TapDUT()
    assert dut.space is not None
    netns = dut.space.netns
    try:
        assert dut.name == "tap" and dut.info.timers["ipv4_reassembly_timeout"] == 2.0
        dut.send(dut.ipv4() / ICMP(type=8, id=0x5C, seq=1) / b"tap")
        reply = dut.expect(IP(src=str(dut.info.dut_ipv4.ip)) / ICMP(type=0, id=0x5C))
        assert bytes(reply[ICMP].payload) == b"tap"
        # The tester's addresses are static neighbors: no ARP request precedes the reply.
        dut.expect_none(ARP, within=0.2)
        dut.udp_bind(4000, 4)
        dut.reset()  # a fresh stack in the same agent: the socket is gone, so the port binds again
        assert dut.process is not None and dut.process.exited() is None
        dut.udp_bind(4000, 4)
        dut.send(dut.ipv4() / ICMP(type=8, id=0x5D, seq=1))
        dut.expect(ICMP, type=0, id=0x5D)
    finally:
        dut.close()
    assert netns not in _namespaces()


def test_tester_and_stack_share_the_scaled_clock() -> None:
    # The stack's 2-s reassembly timer, at clock rate 2, runs out after 2 s of the tester's
    # (backend) time and 1 s of wall time: both ends read the same scaled clock.
    dut = TapDUT(clock_rate=2.0)
    try:
        first_fragment = dut.ipv4(id=0x7A7, flags="MF") / ICMP(type=8, id=0x5E, seq=1) / bytes(16)
        wall = time.monotonic()
        dut.send(first_fragment)
        sent = dut.now()
        error = dut.expect(ICMP(type=11, code=1), within=4.0)
        waited = float(error.time) - sent
        assert 1.99 <= waited < 3.5, f"the 2-s reassembly timer ran out after {waited:.2f} s of the tester's time"
        assert time.monotonic() - wall >= 0.99  # not at once in wall time either: half of it
    finally:
        dut.close()
