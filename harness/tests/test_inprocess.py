"""InProcessDUT: the real stack_under_test behind the DUT verbs, in virtual time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.utils import rdpcap

from harness import ExpectationFailed
from harness.backends.inprocess import InProcessDUT
from harness.capture import Capture


@pytest.fixture
def dut() -> Iterator[InProcessDUT]:
    d = InProcessDUT()
    yield d
    d.close()


def test_echo_request_gets_a_reply_with_the_same_data(dut: InProcessDUT) -> None:
    dut.send(dut.ipv4() / ICMP(id=7, seq=1) / b"hello")
    reply = dut.expect(IP(src="198.51.100.1", dst="198.51.100.2"), ICMP, type=0, id=7, within=0)
    assert reply[ICMP].load == b"hello"
    assert reply[Ether].dst == dut.info.tester_mac


def test_ipv6_echo_from_global_and_link_local(dut: InProcessDUT) -> None:
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=1, data=b"x"))
    assert dut.expect(ICMPv6EchoReply, id=1, data=b"x").dst == dut.info.tester_mac
    ll = dut.ipv6(src=str(dut.info.tester_ipv6_ll), dst=str(dut.info.dut_ipv6_ll))
    dut.send(ll / ICMPv6EchoRequest(id=2))
    assert dut.expect(IPv6(dst=str(dut.info.tester_ipv6_ll)), ICMPv6EchoReply(id=2))


def test_setup_frames_are_not_seen_by_the_test(dut: InProcessDUT) -> None:
    dut.expect_none(ARP, within=0)
    assert not dut.backlog


def test_set_timer_reaches_the_stack_in_milliseconds(dut: InProcessDUT) -> None:
    assert dut.info.timers["ipv4_reassembly_timeout"] > 0
    dut.set_timer("ipv4_reassembly_timeout", 5.0)
    assert dut.info.timers["ipv4_reassembly_timeout"] == 5.0
    assert dut.stack.timers_ms["ipv4_reassembly_timeout"] == 5000


def test_waiting_steps_virtual_time_through_the_stacks_timers(dut: InProcessDUT) -> None:
    # An echo from an unresolved on-link address makes the DUT ARP for it, retransmitting
    # on its own timer; the test sees each request at its virtual time, in no wall time.
    dut.send(dut.ipv4(src=str(dut.info.other_ipv4)) / ICMP(id=4))
    times = []
    for _ in range(2):
        dut.expect(ARP, op=1, pdst=str(dut.info.other_ipv4), within=5.0)
        times.append(dut._now())
    assert times[1] > times[0]
    dut.wait(60.0)
    assert dut._now() >= 60.0


def test_udp_verbs(dut: InProcessDUT) -> None:
    dut.udp_bind(7)
    dut.send(dut.ipv4() / UDP(sport=1234, dport=7) / b"data")
    assert dut.udp_recv(7) == (b"data", "198.51.100.2", 1234)
    assert dut.udp_recv(7, within=1.0) is None
    dut.udp_send(7, b"back", "198.51.100.2", 1234)
    assert dut.expect(UDP, sport=7, dport=1234).load == b"back"
    dut.udp_close(7)
    with pytest.raises(ValueError, match="udp_bind"):
        dut.udp_recv(7)


def test_a_failed_expect_names_the_stacks_drop_reason(dut: InProcessDUT) -> None:
    bad = dut.ipv4(chksum=0x1234) / ICMP()
    dut.send(bad)
    with pytest.raises(ExpectationFailed, match="dropped 1 of the 1 frame"):
        dut.expect(ICMP, within=1)


def test_capture_records_both_directions(tmp_path: Path) -> None:
    cap = Capture()
    cap.start(tmp_path / "t.pcap")
    d = InProcessDUT(cap)
    d.send(d.ipv4() / ICMP())
    d.expect(ICMP, type=0)
    d.close()
    path = cap.stop(keep=True)
    assert path is not None and len(rdpcap(str(path))) == 2


def test_runs_are_deterministic() -> None:
    def run() -> list[bytes]:
        d = InProcessDUT()
        d.send(d.ipv6() / ICMPv6EchoRequest())
        d.wait(30.0)
        return [s.raw for s in d.backlog]

    assert run() == run()
