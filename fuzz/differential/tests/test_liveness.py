"""Liveness probes and culprit search, on in-process stacks (virtual time, no root needed); the
same on our stack as a real process on a TAP device is in test_liveness_tap.py."""

from __future__ import annotations

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from fuzz.differential.campaign import Campaign, Settings
from fuzz.differential.lanes import Lane, LanePool, configure
from fuzz.differential.liveness import Prober, isolate
from fuzz.differential.stimulus import Stimulus, stimuli
from harness.backends.inprocess import InProcessDUT

TRIGGER = b"stop answering"


class Wedging(InProcessDUT):
    """Our stack, wedged for good by one stimulus: afterwards it takes frames and answers none."""

    def __init__(self) -> None:
        super().__init__()
        self.wedged = False

    def _transmit(self, frame: bytes) -> None:
        self.wedged = self.wedged or TRIGGER in frame
        if not self.wedged:
            super()._transmit(frame)


def _echo(data: bytes, ident: int = 1) -> Stimulus:
    pkt = (Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / IP(src="198.51.100.2", dst="198.51.100.1")
           / ICMP(id=ident, seq=1) / data)
    return Stimulus("ipv4", (bytes(pkt),))


def _lane() -> Lane:
    return Lane("wedging", 0, configure(Wedging()), lambda: configure(Wedging()), virtual=True)


def test_a_live_dut_passes_every_probe() -> None:
    prober = Prober()
    try:
        assert prober.probe(Lane("inprocess", 0, configure(InProcessDUT()), InProcessDUT, virtual=True)) == []
    finally:
        prober.close()


def test_a_dut_that_stopped_answering_fails_its_probe_and_the_culprit_is_found() -> None:
    prober, lane = Prober(), _lane()
    try:
        for n, data in enumerate([b"a", b"b", TRIGGER, b"c"]):
            lane.send(_echo(data, n))
        problems = prober.probe(lane)
        assert "no answer to an ICMP echo request to its IPv4 address within 1 s" in problems
        assert any("Neighbor Solicitation" in p for p in problems)
        culprit, note = isolate(prober, lane, list(lane.history))
        assert culprit is not None and TRIGGER in culprit.frames[0], note
        assert prober.probe(lane) == []  # isolate leaves a fresh instance behind
    finally:
        prober.close()


def test_a_campaign_reports_the_wedge_with_the_stimuli_before_it() -> None:
    def wedging_pool() -> LanePool:
        return LanePool("wedging", 1, lambda: configure(Wedging()))

    pools = {"inprocess": LanePool("inprocess", 1, lambda: configure(InProcessDUT())), "wedging": wedging_pool()}
    sent = iter([_echo(b"x", 1), _echo(b"y", 2), _echo(TRIGGER, 3), _echo(b"z", 4)])
    campaign = Campaign(pools, stimuli(), [], Settings(duration_s=0, log=lambda _: None))
    try:
        for stimulus in sent:
            campaign.engine.submit(stimulus, lambda obs: campaign._observed(obs, None))
        campaign._check_liveness()
    finally:
        campaign.close()
    (failure,) = campaign.result.liveness
    assert failure.dut == "wedging" and len(failure.preceding) == 4
    assert failure.culprit is not None and TRIGGER in failure.culprit.frames[0]
