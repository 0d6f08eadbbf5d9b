"""Silence that a later frame of a stimulus must cause: report suppression.

A listener that hears another node's report while its own report timer runs stops the timer
and sends nothing (RFC 2236 3, RFC 2710 4). A test sends the query that starts the timer and
the other node's report back to back; but the timer is random, and when it runs out before the
DUT has read the second frame (a short draw, a loaded DUT) the DUT rightly reports: its timer
was no longer running when the other report came. So the window is opened only once the DUT
has taken in the whole stimulus, marked by a barrier probe sent behind it
(``DUT.barrier``), and a round in which a report came before that proves nothing and is
played again. A DUT that ignores other reports answers after the barrier in every round where
its draw was not that short, and fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from scapy.packet import Packet

from harness.dut import DUT, ExpectationFailed
from harness.expect import Spec

ROUNDS: Final = 5


def assert_suppressed(dut: DUT, stimulus: Sequence[Packet], *report: Spec, within: float, **fields: Any) -> None:
    """Send ``stimulus`` and prove no frame matching ``report`` comes for ``within`` seconds
    from the moment the DUT has taken all of it in (``within`` covers the longest timer the
    stimulus can start). On a backend whose DUT may reorder its answers (no barrier) that
    moment is not known: the window opens when the stimulus has been sent, so only a report
    sent before the stimulus's last frame left the tester is known to prove nothing."""
    for _ in range(ROUNDS):
        dut.send(*stimulus)
        sent = dut.now()
        taken_in = dut.barrier()
        opens = sent if taken_in is None else taken_in
        try:
            early = dut.expect(*report, within=0, **fields)
        except ExpectationFailed:
            early = None
        if early is None or float(early.time) > opens:
            if early is not None:
                raise ExpectationFailed(
                    f"{early.summary()} came {float(early.time) - opens:.3f} s after the DUT had taken in the "
                    "stimulus, whose last frame should have stopped its timer")
            dut.expect_none(*report, within=within, since=opens, **fields)
            return
        # The draw ran out before the DUT read the rest of the stimulus: let the round's other
        # timers end, then play it again.
        dut.wait(within)
        consume_all(dut, *report, **fields)
    raise AssertionError(f"in {ROUNDS} rounds the DUT's report always came before it had taken in the whole "
                         "stimulus: its timer never ran long enough to show suppression")


def consume_all(dut: DUT, *frames: Spec, **fields: Any) -> int:
    """Take every matching frame the DUT has sent so far, without waiting; return how many."""
    taken = 0
    while True:
        try:
            dut.expect(*frames, within=0, **fields)
        except ExpectationFailed:
            return taken
        taken += 1
