"""Liveness loss of a real DUT is a finding with the stimuli that preceded it: our stack as a
process on a TAP device, in a deliberately broken build (``broken_stack.py``: one stimulus
wedges it, one kills it, one silences its control agent, one makes its counters stop adding
up), started in place of the tap backend's agent for this test. Each is found, its culprit
replayed, and the lane goes on with a fresh DUT."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from fuzz.differential.campaign import Campaign, Settings
from fuzz.differential.engine import NoLanes
from fuzz.differential.lanes import LanePool, configure, factory
from fuzz.differential.liveness import PROBE_S
from fuzz.differential.stimulus import Stimulus, stimuli
from fuzz.differential.tests.broken_stack import CRASH, HANG, MISCOUNT, MUTE
from harness.backends import tap
from harness.backends.inprocess import InProcessDUT
from harness.backends.lifecycle import DUTCommand
from harness.dut import LinkInfo

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and TAP devices"),
    pytest.mark.skipif(tap.check_available() is not None, reason=str(tap.check_available())),
]


@pytest.fixture
def broken_tap(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    agent_command = tap._agent_command

    def broken(info: LinkInfo, clock_rate: float) -> DUTCommand:
        command = agent_command(info, clock_rate)
        argv = tuple("fuzz.differential.tests.broken_stack" if a == "harness.backends.tap_agent" else a
                     for a in command.argv)
        return dataclasses.replace(command, argv=argv)

    monkeypatch.setattr(tap, "_agent_command", broken)
    yield


def _echo(data: bytes, ident: int) -> Stimulus:
    pkt = (Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / IP(src="198.51.100.2", dst="198.51.100.1")
           / ICMP(id=ident, seq=1) / data)
    return Stimulus("ipv4", (bytes(pkt),))


@pytest.mark.parametrize(("trigger", "problem"), [
    (HANG, "no answer to an ICMP echo request to its IPv4 address"),
    (CRASH, "the DUT process has exited with status 70"),
    (MUTE, "its control agent failed: the control agent of tap did not answer within 3 s"),
    (MISCOUNT, "counters do not add up"),
], ids=["hang", "crash", "mute", "miscount"])
def test_a_dut_that_stops_answering_is_a_finding_with_its_culprit(broken_tap: None, trigger: bytes,
                                                                   problem: str) -> None:
    pools = {"inprocess": LanePool("inprocess", 1, lambda: configure(InProcessDUT())),
             "tap": LanePool("tap", 1, factory("tap"))}
    campaign = Campaign(pools, stimuli(), [], Settings(duration_s=0, log=lambda _: None))
    # Our stack on a TAP is a Python process: on a loaded machine its echo reply can come later
    # than the 4-ms quick window meant for kernels, and would then count as a difference that is
    # the machine's, not the stack's. A second is what the liveness probe gives it too.
    campaign.engine.quick_s = PROBE_S
    try:
        sent = [_echo(b"first", 1), _echo(b"second", 2), _echo(trigger, 3), _echo(b"after", 4)]
        for stimulus in sent:
            try:
                campaign.engine.submit(stimulus, lambda obs: campaign._observed(obs, None))
            except NoLanes:  # the crash was seen at once: its lane is out of service
                break
        campaign._check_liveness()
        lane = campaign.engine.pools["tap"].lanes[0]
        assert lane.failure is None and campaign.prober.probe(lane) == []  # a fresh stack, alive
    finally:
        campaign.close()
    (failure,) = campaign.result.liveness
    assert failure.dut == "tap"
    assert any(p.startswith(problem) for p in failure.problems), failure.problems
    assert [s.frames for s in failure.preceding[:3]] == [s.frames for s in sent[:3]]
    assert failure.culprit is not None and trigger in failure.culprit.frames[0], failure.culprit_note
    assert "#3 of" in failure.culprit_note and problem in failure.culprit_note
    if trigger in (HANG, CRASH):
        # The differences up to the wedge were counted too: the answers the tap DUT no longer gave.
        assert any("from inprocess, not tap" in c.signature for c in campaign.result.clusters)
    else:  # it answered every stimulus as our stack in-process did
        assert not campaign.result.clusters
