"""InterfaceDUT over a veth pair whose ends live in two namespaces of our own.

The "DUT" is a raw socket in the far namespace that answers by hand, so this tests the
backend's frame path (send, receive, source-MAC filter, own-frame filter), not a stack.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from harness import ExpectationFailed, Unsupported
from harness.backends.base import TEST_LINK
from harness.backends.interface import InterfaceConfig, InterfaceDUT
from harness.backends.rawsocket import RawSocketPort

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and raw sockets")

TAG = f"{os.getpid() % 100000}{os.environ.get('PYTEST_XDIST_WORKER', '')[-3:]}"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def ports() -> Iterator[tuple[RawSocketPort, RawSocketPort]]:
    tester_ns, dut_ns = f"sciT{TAG}", f"sciD{TAG}"
    tester_if, dut_if = f"sciT{TAG}", f"sciD{TAG}"
    ip("netns", "add", tester_ns)
    try:
        ip("netns", "add", dut_ns)
        # Without IPv6 the kernel sends nothing of its own on the link (MLD reports, DAD) that
        # could arrive before the test's frames (a fresh-clone CI run under load saw one).
        for ns in (tester_ns, dut_ns):
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                            "net.ipv6.conf.default.disable_ipv6=1"], check=True, capture_output=True)
        ip("-n", tester_ns, "link", "add", tester_if, "type", "veth", "peer", "name", dut_if, "netns", dut_ns)
        ip("-n", tester_ns, "link", "set", tester_if, "up")
        ip("-n", dut_ns, "link", "set", dut_if, "up")
        fds = [os.open(f"/var/run/netns/{n}", os.O_RDONLY) for n in (tester_ns, dut_ns)]
        try:
            tester = RawSocketPort(tester_if, netns_fd=fds[0])
            dut = RawSocketPort(dut_if, netns_fd=fds[1])
        finally:
            for fd in fds:
                os.close(fd)
        with tester, dut:
            yield tester, dut
    finally:
        subprocess.run(["ip", "netns", "del", dut_ns], capture_output=True)
        subprocess.run(["ip", "netns", "del", tester_ns], capture_output=True)


def test_frames_cross_and_only_the_duts_frames_are_seen(ports: tuple[RawSocketPort, RawSocketPort]) -> None:
    tester, far = ports
    dut = InterfaceDUT(InterfaceConfig(tester.interface, TEST_LINK), port=tester)
    dut.drain()
    echo = dut.ipv4() / ICMP(id=42) / b"ping"
    dut.send(echo)
    got = far.recv(time.monotonic() + 2)
    assert got == bytes(echo)
    reply = Ether(src=TEST_LINK.dut_mac, dst=TEST_LINK.tester_mac) / IP(src="198.51.100.1", dst="198.51.100.2")
    far.send(bytes(Ether(src="02:00:00:00:00:03", dst=TEST_LINK.tester_mac) / IP() / ICMP(type=0, id=42)))
    far.send(bytes(reply / ICMP(type=0, id=42) / b"ping"))
    assert dut.expect(ICMP, type=0, id=42, within=2)[ICMP].load == b"ping"
    # Neither the other host's frame nor the tester's own echo request was taken for the DUT's.
    dut.expect_none(ICMP, within=0.2)
    with pytest.raises(ExpectationFailed):
        dut.expect(ICMP, within=0.1)


def test_control_verbs_say_there_is_no_control_channel(ports: tuple[RawSocketPort, RawSocketPort]) -> None:
    dut = InterfaceDUT(InterfaceConfig(ports[0].interface, TEST_LINK), port=ports[0])
    with pytest.raises(Unsupported, match="no control channel to the DUT; it cannot add an address"):
        dut.add_address("198.51.100.9/24")


def test_missing_interface_is_unsupported_with_a_reason() -> None:
    with pytest.raises(Unsupported, match="cannot open a raw socket on interface 'sci-none0'"):
        InterfaceDUT(InterfaceConfig("sci-none0", TEST_LINK))
