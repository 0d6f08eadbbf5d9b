"""The tap backend: our stack as a real process on a TAP, spoken to with raw frames."""

from __future__ import annotations

import os
import subprocess

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
    netns = dut.host.netns
    try:
        assert dut.name == "tap" and dut.info.timers["ipv4_reassembly_timeout"] == 2.0
        dut.send(dut.ipv4() / ICMP(type=8, id=0x5C, seq=1) / b"tap")
        reply = dut.expect(IP(src=str(dut.info.dut_ipv4.ip)) / ICMP(type=0, id=0x5C))
        assert bytes(reply[ICMP].payload) == b"tap"
        # The tester's addresses are static neighbors: no ARP request precedes the reply.
        dut.expect_none(ARP, within=0.2)
        first = dut.host.pid
        dut.reset()
        assert dut.host.pid == first, "restarted before the test used the link"
        dut.send(dut.ipv4() / ICMP(type=8, id=0x5D, seq=1))  # the first frame restarts the stack
        assert dut.host.pid != first and dut.host.exited() is None
        dut.expect(ICMP, type=0, id=0x5D)
    finally:
        dut.close()
    assert netns not in _namespaces()
