"""RFC 4861 §6.3.4: ReachableTime is drawn again "at least once every few hours", even while
BaseReachableTime stays the same.

ReachableTime shows on the wire as the time from a reachability confirmation (a solicited
Neighbor Advertisement) to the end of REACHABLE: with traffic flowing the entry then enters DELAY
(STALE first where the last packet is older than DELAY_FIRST_PROBE_TIME, RFC 4861 §7.3.3) and
the unicast probe follows DELAY_FIRST_PROBE_TIME later. The test measures it four times, hours
of DUT time apart: on real-time backends it skips.
"""

from __future__ import annotations

from typing import Final

from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import Ether

from harness import DUT, ExpectationFailed, echo_request_from, rfc
from harness.rfc import NDP_HOP_LIMIT
from harness.time_budget import require_dut_time

MAC_B: Final = "02:00:00:00:00:05"
BASE_S: Final = 20  # BaseReachableTime: ReachableTime is 10-30 s (MIN/MAX_RANDOM_FACTOR, §6.3.2)
DELAY_S: Final = 1  # DELAY_FIRST_PROBE_TIME
STEP_S: Final = 1.0  # the traffic's spacing: the resolution of each measurement
HOURS_APART_S: Final = 4 * 3600.0
RUNS: Final = 4


def _measure(dut: DUT, nbr: str, ident: int) -> float:
    """ReachableTime as the DUT applies it to ``nbr``, a new neighbor, to within STEP_S."""
    dut.send(echo_request_from(dut, nbr, ident))
    dut.expect(ICMPv6ND_NS(tgt=nbr), within=1.0)
    confirmed = dut.now()
    dut.send(dut.ether(src=MAC_B) / IPv6(src=nbr, dst=str(dut.info.dut_ipv6.ip), hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=nbr, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=MAC_B))
    dut.expect(IPv6(dst=nbr), ICMPv6EchoReply(id=ident), within=0.5)
    while dut.now() - confirmed < 3 * BASE_S:
        dut.send(echo_request_from(dut, nbr, ident))
        try:
            probe = dut.expect(IPv6(dst=nbr), ICMPv6ND_NS(tgt=nbr), within=STEP_S)
        except ExpectationFailed:
            continue
        assert probe[Ether].dst.lower() == MAC_B, "the entry was not probed with a unicast solicitation"
        return float(probe.time) - DELAY_S - confirmed
    raise AssertionError(f"{nbr} was still not probed {3 * BASE_S} s after its confirmation")


@rfc("RFC4861-6.3.4-8")
def test_reachable_time_is_drawn_again_within_hours(dut: DUT) -> None:
    require_dut_time(dut, RUNS * HOURS_APART_S)
    dut.set_ipv6_option("base_reachable_time", BASE_S)
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    times: list[float] = []
    for run in range(RUNS):
        if run:
            dut.wait(HOURS_APART_S)
        times.append(_measure(dut, f"2001:db8:1::c4:{run + 1:x}", 0x6340 + run))
    # Each one within §6.3.2's range ("between MIN_RANDOM_FACTOR and MAX_RANDOM_FACTOR times
    # BaseReachableTime"), and not one value kept for all of them.
    shown = [round(t, 1) for t in times]
    assert all(BASE_S * 0.5 - STEP_S <= t <= BASE_S * 1.5 + STEP_S for t in times), f"ReachableTime {shown} s"
    assert max(times) - min(times) > 2 * STEP_S, f"ReachableTime {shown} s: the same value for {RUNS * 4} hours"
