"""Which arriving segments a synchronized connection accepts: the acceptability table of RFC 9293
3.10.7.4, RST and ACK validation against blind injection (RFC 5961 3.2, 5.2), PAWS (RFC 7323
5.3), and the rate limit on challenge ACKs (RFC 5961 7).

Pure functions of the numbers involved, so white-box tests can walk every row; the connection
(transport/tcp/connection.py) decides what to send.
"""

from __future__ import annotations

import enum

from stack_under_test.transport.tcp import seq


def acceptable(seg_seq: int, seg_len: int, rcv_nxt: int, rcv_wnd: int) -> bool:
    """RFC 9293 3.10.7.4 Table 6 ("Segment Acceptability Tests"); ``seg_len`` counts SYN and FIN."""
    if seg_len == 0:
        if rcv_wnd == 0:
            # Row 1: "SEG.SEQ = RCV.NXT".
            return seg_seq == rcv_nxt
        # Row 2: "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND".
        return seq.in_window(seg_seq, rcv_nxt, rcv_wnd)
    if rcv_wnd == 0:
        # Row 3: "not acceptable".
        return False
    # Row 4: the first or the last octet lies in the window.
    return seq.in_window(seg_seq, rcv_nxt, rcv_wnd) or seq.in_window(seq.add(seg_seq, seg_len - 1), rcv_nxt, rcv_wnd)


class RSTVerdict(enum.Enum):
    RESET = "the sequence number is exactly RCV.NXT: reset the connection"
    CHALLENGE = "in the window but not at RCV.NXT: send a challenge ACK"
    DROP = "outside the window: silently drop"


def rst_verdict(seg_seq: int, rcv_nxt: int, rcv_wnd: int) -> RSTVerdict:
    """RFC 5961 3.2, as RFC 9293 3.10.7.4 states it for synchronized states."""
    # 2) "If the RST bit is set and the sequence number exactly matches the next expected sequence
    # number (RCV.NXT), then TCP MUST reset the connection."
    if seg_seq == rcv_nxt:
        return RSTVerdict.RESET
    # 3) "... does not exactly match the next expected sequence value, yet is within the current
    # receive window (RCV.NXT < SEG.SEQ < RCV.NXT+RCV.WND), TCP MUST send an acknowledgment
    # (challenge ACK)".
    if seq.in_window(seg_seq, rcv_nxt, rcv_wnd):
        return RSTVerdict.CHALLENGE
    # 1) "If the RST bit is set and the sequence number is outside the current receive window,
    # silently drop the segment."
    return RSTVerdict.DROP


def ack_in_range(seg_ack: int, snd_una: int, snd_nxt: int, max_snd_wnd: int) -> bool:
    """RFC 5961 5.2: "The ACK value is considered acceptable only if it is in the range of
    ((SND.UNA - MAX.SND.WND) <= SEG.ACK <= SND.NXT)."""
    return seq.le(seq.add(snd_una, -max_snd_wnd), seg_ack) and seq.le(seg_ack, snd_nxt)


def paws_rejects(tsval: int, ts_recent: int, ts_recent_valid: bool) -> bool:
    """RFC 7323 5.3 R1: "If there is a Timestamps option in the arriving segment, SEG.TSval <
    TS.Recent, TS.Recent is valid (see later discussion), and if the RST bit is not set, then treat
    the arriving segment as not acceptable" (the caller leaves RSTs out)."""
    return ts_recent_valid and seq.lt(tsval, ts_recent)


class ChallengeACKLimiter:
    """RFC 5961 7: "in any 5 second window, no more than 10 challenge ACKs should be sent", and
    "no timer is needed to implement the above mechanism, instead a timestamp and a counter can be
    used." One limiter per stack: the RFC has "the system administrator" configure it."""

    __slots__ = ("interval_ms", "limit", "sent", "window_start_ms")

    def __init__(self, limit: int, interval_ms: int) -> None:
        self.limit, self.interval_ms = limit, interval_ms
        self.window_start_ms: int | None = None
        self.sent = 0

    def allow(self, now_ms: int) -> bool:
        if self.window_start_ms is None or now_ms - self.window_start_ms >= self.interval_ms:
            self.window_start_ms, self.sent = now_ms, 0
        if self.sent >= self.limit:
            return False
        self.sent += 1
        return True
