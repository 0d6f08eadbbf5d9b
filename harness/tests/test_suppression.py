"""harness.suppression over a scripted DUT: a report before the DUT took in the stimulus is a
round to play again, one after it a failure."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import ExpectationFailed
from harness.barrier import BARRIER_ID
from harness.suppression import ROUNDS, assert_suppressed
from harness.tests.fakedut import FakeDUT

FROM_DUT = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="198.51.100.1", dst="198.51.100.2")
REPORT = bytes(FROM_DUT / ICMP(type=0, id=1))  # stands for the DUT's report


class OrderedDUT(FakeDUT):
    in_order = True

    def __init__(self, report_delay: Callable[[int], float | None]) -> None:
        super().__init__()
        self.rounds = 0
        self.report_delay = report_delay
        self.respond = self._answer

    def _answer(self, frame: bytes) -> list[Packet]:
        pkt = Ether(frame)
        if pkt.haslayer(ICMP) and pkt[ICMP].id == BARRIER_ID:
            return [FROM_DUT / ICMP(type=0, id=BARRIER_ID, seq=pkt[ICMP].seq) / pkt[ICMP].payload]
        if pkt.haslayer(ICMP) and pkt[ICMP].id == 7:  # the stimulus: one round
            self.rounds += 1
            delay = self.report_delay(self.rounds)
            if delay is not None:
                self.emit_at(self.clock_s + delay, REPORT)
        return []


def _stimulus(dut: FakeDUT) -> list[Packet]:
    return [dut.ipv4() / ICMP(type=8, id=7)]


def test_a_report_before_the_barrier_reply_replays_the_round() -> None:
    # Round 1's report leaves at once (before the stimulus is taken in); round 2 is silent.
    dut = OrderedDUT(lambda n: 0.0 if n == 1 else None)
    assert_suppressed(dut, _stimulus(dut), ICMP(type=0, id=1), within=1.0)
    assert dut.rounds == 2


def test_a_report_after_the_barrier_reply_fails() -> None:
    dut = OrderedDUT(lambda n: 0.3)
    with pytest.raises(ExpectationFailed):
        assert_suppressed(dut, _stimulus(dut), ICMP(type=0, id=1), within=1.0)
    assert dut.rounds == 1


def test_a_dut_whose_report_always_comes_first_ends_the_test() -> None:
    dut = OrderedDUT(lambda n: 0.0)
    with pytest.raises(AssertionError, match=f"in {ROUNDS} rounds"):
        assert_suppressed(dut, _stimulus(dut), ICMP(type=0, id=1), within=1.0)
    assert dut.rounds == ROUNDS


class UnorderedDUT(OrderedDUT):
    in_order = False  # no barrier: the window opens when the stimulus has been sent


def test_without_a_barrier_a_report_sent_before_the_stimulus_ended_replays_the_round() -> None:
    dut = UnorderedDUT(lambda n: 0.0 if n == 1 else None)
    assert_suppressed(dut, _stimulus(dut), ICMP(type=0, id=1), within=1.0)
    assert dut.rounds == 2


def test_without_a_barrier_a_report_after_the_stimulus_fails() -> None:
    dut = UnorderedDUT(lambda n: 0.3)
    with pytest.raises(ExpectationFailed):
        assert_suppressed(dut, _stimulus(dut), ICMP(type=0, id=1), within=1.0)
    assert dut.rounds == 1
