"""Congestion control: slow start and congestion avoidance (RFC 5681 3.1), fast retransmit and
fast recovery with the NewReno modification (RFC 5681 3.2, RFC 6582), limited transmit (RFC
3042), restart after idle (RFC 5681 4.1). Windows are in octets; sequence numbers mod 2^32.

The sender (transport/tcp/sender.py) tells this object what the ACKs say and asks it what it may
do; the object keeps cwnd, ssthresh and recover, and sends nothing itself.
"""

from __future__ import annotations

import enum
from typing import Final

from stack_under_test.transport.tcp import seq

DUPACK_THRESHOLD: Final = 3  # RFC 5681 3.2: "the arrival of 3 duplicate ACKs"
INFINITE_SSTHRESH: Final = 0x7FFF_FFFF


class DupAckAction(enum.Enum):
    NOTHING = "nothing"
    LIMITED_TRANSMIT = "send one new segment, cwnd unchanged (RFC 3042)"
    FAST_RETRANSMIT = "retransmit the segment at SND.UNA (RFC 5681 3.2 step 3)"
    RECOVERY_SEND = "cwnd inflated by one segment; send what it allows (RFC 5681 3.2 steps 4-5)"


def initial_window(smss: int) -> int:
    """RFC 5681 3.1: "IW, the initial value of cwnd, MUST be set using the following guidelines as
    an upper bound": 2, 3 or 4 segments by SMSS (Linux uses 10 segments, RFC 6928; the Standards
    Track rule decides here)."""
    if smss > 2190:
        return 2 * smss
    if smss > 1095:
        return 3 * smss
    return 4 * smss


class NewReno:
    __slots__ = ("bytes_acked", "cwnd", "dupacks", "highest_ack", "in_recovery", "prev_highest_ack", "recover", "smss",
                 "ssthresh")

    def __init__(self, smss: int, iss: int) -> None:
        self.smss = smss
        self.cwnd = initial_window(smss)
        # RFC 5681 3.1: "The initial value of ssthresh SHOULD be set arbitrarily high".
        self.ssthresh = INFINITE_SSTHRESH
        # RFC 6582 3.2 (1): "recover is set to the initial send sequence number". One below it, so
        # that a loss in the very first flight (duplicate ACKs for ISS+1) can start fast recovery
        # as on Linux: RFC 6582 is guidance written without requirement keywords.
        self.recover = seq.add(iss, -1)
        self.dupacks = 0
        self.in_recovery = False
        self.bytes_acked = 0  # RFC 5681 3.1 byte counting in congestion avoidance
        # RFC 6582 4.1: "the sender stores the value of the previous cumulative acknowledgment as
        # prev_highest_ack, and stores the latest cumulative ACK as highest_ack".
        self.prev_highest_ack = self.highest_ack = iss

    def start(self, smss: int, syn_lost: bool) -> None:
        """The handshake is over: "The initial window is the size of the sender's congestion window
        after the three-way handshake is completed" (RFC 5681 2), sized by the MSS now known; and
        "if the SYN or SYN/ACK is lost, the initial window used by a sender after a correctly
        transmitted SYN MUST be one segment consisting of at most SMSS bytes" (RFC 5681 3.1)."""
        self.smss = smss
        self.cwnd = smss if syn_lost else initial_window(smss)

    def on_new_ack(self, ack: int, acked: int, flight_after: int) -> bool:
        """An ACK advanced SND.UNA by ``acked`` octets. True when it is a partial ACK in fast
        recovery and the first unacknowledged segment must be retransmitted (RFC 6582 3.2 (3))."""
        self.dupacks = 0
        self.prev_highest_ack, self.highest_ack = self.highest_ack, ack
        smss = self.smss
        if self.in_recovery:
            # RFC 6582 3.2 (3): "If this ACK acknowledges all of the data up to and including
            # recover" (ACK > recover), it is a full acknowledgment:
            if seq.gt(ack, self.recover):
                # "Set cwnd to either (1) min (ssthresh, max(FlightSize, SMSS)
                # + SMSS) or (2) ssthresh"; (1) avoids a burst. "Exit the fast recovery procedure."
                self.cwnd = min(self.ssthresh, max(flight_after, smss) + smss)
                self.in_recovery = False
                self.bytes_acked = 0
                return False
            # Partial acknowledgment: "Deflate the congestion window by the amount of new data
            # acknowledged ... If the partial ACK acknowledges at least one SMSS of new data, then
            # add back SMSS bytes to the congestion window."
            self.cwnd = max(self.cwnd - acked, smss) + (smss if acked >= smss else 0)
            return True
        if self.cwnd < self.ssthresh:
            # RFC 5681 3.1: "we RECOMMEND that TCP implementations increase cwnd, per: cwnd +=
            # min (N, SMSS)".
            self.cwnd += min(acked, smss)
        else:
            # RFC 5681 3.1: "When the number of bytes acknowledged reaches cwnd, then cwnd can be
            # incremented by up to SMSS bytes."
            self.bytes_acked += acked
            if self.bytes_acked >= self.cwnd:
                self.bytes_acked -= self.cwnd
                self.cwnd += smss
        return False

    def on_duplicate_ack(self, ack: int, flight: int, snd_max: int) -> DupAckAction:
        """A duplicate ACK as RFC 5681 2 defines it."""
        self.dupacks += 1
        if self.in_recovery:
            # RFC 5681 3.2 step 4: "For each additional duplicate ACK received (after the third),
            # cwnd MUST be incremented by SMSS."
            self.cwnd += self.smss
            return DupAckAction.RECOVERY_SEND
        if self.dupacks < DUPACK_THRESHOLD:
            return DupAckAction.LIMITED_TRANSMIT
        if self.dupacks > DUPACK_THRESHOLD:
            return DupAckAction.NOTHING
        # RFC 6582 3.2 (2): "If so, the value of recover is incremented to the value of the highest
        # sequence number transmitted by the TCP so far. ... If not, the TCP does not enter fast
        # retransmit and does not reset ssthresh."
        if not seq.gt(seq.add(ack, -1), self.recover) and not self._ack_heuristic():
            return DupAckAction.NOTHING
        self.recover = seq.add(snd_max, -1)
        # RFC 5681 3.2 step 2: ssthresh "no more than the value given in equation (4)",
        # ssthresh = max (FlightSize / 2, 2*SMSS); step 3: "cwnd set to ssthresh plus 3*SMSS".
        self.ssthresh = max(flight // 2, 2 * self.smss)
        self.cwnd = self.ssthresh + DUPACK_THRESHOLD * self.smss
        self.in_recovery = True
        return DupAckAction.FAST_RETRANSMIT

    def _ack_heuristic(self) -> bool:
        """RFC 6582 4.1, for three duplicate ACKs that do not cover more than recover: "check to see
        if the congestion window is greater than SMSS bytes and the difference between highest_ack
        and prev_highest_ack is at most 4*SMSS bytes. If true, duplicate ACKs indicate a lost
        segment (enter fast retransmit)." (Section 4: "The TCP sender may use such a heuristic";
        it lets a retransmission lost after a timeout, or a loss just after recovery, be repaired
        without waiting for another timeout.)"""
        return self.cwnd > self.smss and seq.sub(self.highest_ack, self.prev_highest_ack) <= 4 * self.smss

    def on_timeout(self, flight: int, snd_max: int, first_timeout: bool) -> None:
        """The retransmission timer expired (RFC 5681 3.1, RFC 6582 3.2 (4))."""
        if first_timeout:
            # RFC 5681 3.1: "when a TCP sender detects segment loss using the retransmission timer
            # and the given segment has not yet been resent by way of the retransmission timer,
            # the value of ssthresh MUST be set to no more than ... max (FlightSize / 2, 2*SMSS)";
            # otherwise "the value of ssthresh is held constant".
            self.ssthresh = max(flight // 2, 2 * self.smss)
        # RFC 5681 3.1: "cwnd MUST be set to no more than the loss window, LW, which equals 1
        # full-sized segment".
        self.cwnd = self.smss
        self.bytes_acked = 0
        # RFC 6582 3.2 (4): "After a retransmit timeout, record the highest sequence number
        # transmitted in the variable recover, and exit the fast recovery procedure".
        self.recover = seq.add(snd_max, -1)
        self.in_recovery = False
        self.dupacks = 0

    def after_idle(self) -> None:
        """RFC 5681 4.1: "a TCP SHOULD set cwnd to no more than RW before beginning transmission if
        the TCP has not sent data in an interval exceeding the retransmission timeout", with
        RW = min(IW,cwnd)."""
        self.cwnd = min(initial_window(self.smss), self.cwnd)

    def on_smss_change(self, new_smss: int) -> None:
        """RFC 5681 3.1: when Path MTU Discovery finds the MSS too large, "cwnd SHOULD be reduced by
        the ratio of the old segment size to the new segment size"."""
        if new_smss < self.smss:
            self.cwnd = max(new_smss, self.cwnd * new_smss // self.smss)
        self.smss = new_smss
