"""FrameDUT semantics over a fake backend with virtual time."""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6ND_NS, IPv6
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap

from harness import ExpectationFailed, Unsupported
from harness.backends.base import TEST_LINK
from harness.capture import Capture
from harness.tests.fakedut import FakeDUT

FROM_DUT = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def reply(**icmp: Any) -> bytes:
    return bytes(FROM_DUT / IP(src="198.51.100.1", dst="198.51.100.2") / ICMP(type=0, **icmp))


def ns(target: str = "2001:db8:1::2") -> bytes:
    return bytes(FROM_DUT / IPv6(src="2001:db8:1::1", dst="ff02::1:ff00:2") / ICMPv6ND_NS(tgt=target))


def test_builders_are_prefilled_with_the_test_link() -> None:
    dut = FakeDUT()
    pkt = dut.ipv4(ttl=1) / ICMP()
    assert (pkt[Ether].src, pkt[Ether].dst) == (TEST_LINK.tester_mac, TEST_LINK.dut_mac)
    assert (pkt[IP].src, pkt[IP].dst, pkt[IP].ttl) == ("198.51.100.2", "198.51.100.1", 1)
    pkt6 = dut.ipv6(src=str(TEST_LINK.tester_ipv6_ll))
    assert (pkt6[IPv6].src, pkt6[IPv6].dst) == ("fe80::ff:fe00:2", "2001:db8:1::1")
    assert dut.ether(dst="ff:ff:ff:ff:ff:ff").dst == "ff:ff:ff:ff:ff:ff"


def test_expect_finds_a_reply_already_queued_when_send_returns() -> None:
    dut = FakeDUT()
    dut.respond = lambda frame: [reply(id=1)]
    dut.send(dut.ipv4() / ICMP(id=1))
    got = dut.expect(ICMP, type=0, within=0)
    assert got[ICMP].id == 1 and dut.now() == 0


def test_expect_skips_non_matching_frames_but_keeps_them_for_later() -> None:
    dut = FakeDUT()
    dut.emit_at(0.1, ns())
    dut.emit_at(0.2, reply(id=5))
    assert dut.expect(ICMP, type=0)[ICMP].id == 5
    assert dut.now() == pytest.approx(0.2)  # returned at the match, not at the deadline
    # The NS emitted before the reply is still there for a later expect ...
    assert dut.expect(ICMPv6ND_NS, tgt="2001:db8:1::2")
    # ... and is consumed by it.
    with pytest.raises(ExpectationFailed):
        dut.expect(ICMPv6ND_NS, within=1)


def test_two_expects_return_two_frames_in_emission_order() -> None:
    dut = FakeDUT()
    for i in range(3):
        dut.emit_at(i, reply(seq=i))
    assert [dut.expect(ICMP, within=5)[ICMP].seq for _ in range(3)] == [0, 1, 2]


def test_expect_times_out_in_virtual_time_with_a_readable_report() -> None:
    dut = FakeDUT()
    dut.emit_at(1.0, reply(id=9))
    dut.emit_at(5.0, reply(id=1))  # too late
    with pytest.raises(ExpectationFailed) as e:
        dut.expect(ICMP(type=0, id=1), within=3.0)
    assert dut.now() == 3.0
    text = str(e.value)
    assert "expected ICMP(type=echo-reply, id=0x1) within 3 s" in text
    assert "ICMP.id: expected 0x1, got 0x9" in text


def test_expect_none_sees_the_backlog_and_new_frames() -> None:
    dut = FakeDUT()
    dut.emit_at(0.0, ns())
    dut.wait(1.0)  # the NS moves to the backlog
    with pytest.raises(ExpectationFailed, match="expected no ICMPv6ND_NS"):
        dut.expect_none(ICMPv6ND_NS, within=0)
    dut.expect_none(ICMPv6EchoReply, within=10.0)
    assert dut.now() == 11.0
    dut.emit_at(20.0, reply())
    with pytest.raises(ExpectationFailed, match="echo-reply"):
        dut.expect_none(ICMP, within=30.0)
    assert dut.now() == 20.0  # fails as soon as the frame arrives
    dut.expect_none(ICMP, type=8, within=1.0)  # expect_none consumes nothing


class LateReader(FakeDUT):
    """A tester that wakes ``late_s`` after each deadline (a loaded machine) and finds frames
    queued with their true arrival times, as a timestamping port reports them."""

    def __init__(self, late_s: float) -> None:
        super().__init__()
        self.late_s = late_s
        self._arrived = 0.0

    def _receive(self, deadline: float) -> bytes | None:
        if self._queue and self._queue[0][0] <= max(deadline, self.clock_s):
            t, _, frame = heapq.heappop(self._queue)
            self.clock_s, self._arrived = max(self.clock_s, t, deadline + self.late_s), t
            return frame
        self.clock_s = max(self.clock_s, deadline + self.late_s)
        return None

    def _arrival_time(self) -> float:
        return self._arrived


def test_expect_none_since_ignores_a_frame_from_before_the_window_read_only_now() -> None:
    # A frame that came before ``since`` but was still queued when the window opened (a loaded
    # tester reads late) is no answer to what was sent at ``since``; it stays for a later expect.
    dut = LateReader(late_s=0.0)
    dut.emit_at(0.3, ns())
    dut.clock_s = 0.6  # the tester did not read in the meantime
    dut.expect_none(ICMPv6ND_NS, within=1.0, since=0.5)
    assert dut.expect(ICMPv6ND_NS, within=0)
    dut.emit_at(1.2, ns())
    with pytest.raises(ExpectationFailed):  # one inside the window still counts
        dut.expect_none(ICMPv6ND_NS, within=1.0, since=0.5)


def test_expect_none_ignores_a_frame_that_came_after_the_window_however_late_it_is_read() -> None:
    dut = LateReader(late_s=0.5)
    dut.emit_at(1.2, reply(id=3))
    dut.expect_none(ICMP, within=1.0)  # the reply came 0.2 s after the window closed
    assert dut.expect(ICMP, within=0)[ICMP].id == 3  # and is still there to be expected
    dut.emit_at(dut.now() + 0.9, reply(id=4))
    with pytest.raises(ExpectationFailed):
        dut.expect_none(ICMP, within=1.0)


def test_expect_none_since_times_the_window_from_an_earlier_frame() -> None:
    dut = FakeDUT()
    dut.emit_at(0.5, ns())
    first = dut.expect(ICMPv6ND_NS, within=1.0)
    dut.wait(0.4)  # the test reads on 0.4 s later
    dut.emit_at(1.3, ns())  # 0.8 s after the first: inside a 1-s window from it
    with pytest.raises(ExpectationFailed):
        dut.expect_none(ICMPv6ND_NS, within=1.0, since=float(first.time))
    dut = FakeDUT()
    dut.emit_at(0.5, ns())
    first = dut.expect(ICMPv6ND_NS, within=1.0)
    dut.wait(0.4)
    dut.emit_at(1.6, ns())  # 1.1 s after the first: the window from it has closed
    dut.expect_none(ICMPv6ND_NS, within=1.0, since=float(first.time))
    assert dut.now() == pytest.approx(1.5)


def test_drain_forgets_backlog_and_queue_without_time_passing() -> None:
    dut = FakeDUT()
    dut.emit_at(0.0, reply())
    dut.wait(0.5)
    dut.emit_at(0.5, ns())
    dut.emit_at(9.0, reply(id=3))
    dut.drain()
    assert dut.now() == 0.5 and not dut.backlog
    assert dut.expect(ICMP, within=10)[ICMP].id == 3


def test_every_frame_both_ways_goes_to_the_capture(tmp_path: Path) -> None:
    cap = Capture()
    cap.start(tmp_path / "t.pcap")
    dut = FakeDUT(cap)
    dut.respond = lambda frame: [reply()]
    sent = dut.ipv4() / ICMP()
    dut.send(sent, b"\x02\x00\x00\x00\x00\x01" * 2 + b"\x88\xb5" + bytes(46))
    dut.expect(ICMP, type=0)
    assert [r.direction for r in cap.records] == ["to_dut", "to_dut", "from_dut"]
    dut.close()  # the second reply, still queued, reaches the pcap too
    assert [r.direction for r in cap.records] == ["to_dut", "to_dut", "from_dut", "from_dut"]
    path = cap.stop(keep=True)
    assert path is not None
    assert bytes(rdpcap(str(path))[0]) == bytes(sent)


def test_control_verbs_are_unsupported_by_default() -> None:
    dut = FakeDUT()
    with pytest.raises(Unsupported, match="the fake backend cannot open a UDP socket on the DUT"):
        dut.udp_bind(7)
    with pytest.raises(Unsupported, match="cannot set the ipv4_reassembly_timeout timer"):
        dut.set_timer("ipv4_reassembly_timeout", 1.0)
