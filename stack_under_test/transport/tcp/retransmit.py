"""The retransmission timeout (RFC 6298): RTT samples, SRTT/RTTVAR, back-off.

RFC 9293 3.8.1: "The RTO MUST be computed according to the algorithm in [10], including Karn's
algorithm for taking RTT samples (MUST-18)." Which segment is timed (Karn's rule, or the
timestamps of RFC 7323 4) is the sender's business (transport/tcp/sender.py); this module turns
samples and timeouts into the current RTO. Times are int ms; the clock granularity G is 1 ms.
"""

from __future__ import annotations

from typing import Final

# RFC 6298 2.3: "The above SHOULD be computed using alpha=1/8 and beta=1/4"; 2.2: "K = 4".
ALPHA: Final = 1 / 8
BETA: Final = 1 / 4
K: Final = 4
G_MS: Final = 1
MAX_BACKOFF_SHIFT: Final = 16  # 2^16 x the minimum RTO is far beyond any maximum


class RTOEstimator:
    __slots__ = ("backoff", "base_ms", "max_ms", "min_ms", "rttvar", "srtt")

    def __init__(self, initial_ms: int, min_ms: int, max_ms: int) -> None:
        self.min_ms, self.max_ms = min_ms, max_ms
        # RFC 6298 2.1: "Until a round-trip time (RTT) measurement has been made for a segment sent
        # between the sender and receiver, the sender SHOULD set RTO <- 1 second".
        self.base_ms = initial_ms
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.backoff = 0  # RFC 6298 5.5 doublings since the last RTT sample

    @property
    def rto_ms(self) -> int:
        """The current RTO, backed off, within the maximum (RFC 6298 2.5, 5.5)."""
        return min(self.base_ms << self.backoff, self.max_ms)

    def sample(self, r_ms: int) -> None:
        """One RTT measurement R (RFC 6298 2.2, 2.3)."""
        r = max(0, r_ms)
        if self.srtt is None:
            # RFC 6298 2.2: "SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max (G, K*RTTVAR)".
            self.srtt, self.rttvar = float(r), r / 2
        else:
            # RFC 6298 2.3: "The value of SRTT used in the update to RTTVAR is its value before
            # updating SRTT itself using the second assignment."
            self.rttvar = (1 - BETA) * self.rttvar + BETA * abs(self.srtt - r)
            self.srtt = (1 - ALPHA) * self.srtt + ALPHA * r
        rto = self.srtt + max(G_MS, K * self.rttvar)
        # RFC 6298 2.4: "if it is less than 1 second, then the RTO SHOULD be rounded up to 1 second".
        self.base_ms = min(max(int(rto + 0.999), self.min_ms), self.max_ms)
        # RFC 6298 5: after a new measurement "the computations outlined in Section 2 are
        # performed ... which may result in "collapsing" RTO back down after it has been subject
        # to exponential back off".
        self.backoff = 0

    def back_off(self) -> None:
        """RFC 6298 5.5: "The host MUST set RTO <- RTO * 2 ("back off the timer")"."""
        if (self.base_ms << self.backoff) < self.max_ms and self.backoff < MAX_BACKOFF_SHIFT:
            self.backoff += 1

    def restart_at(self, ms: int) -> None:
        """RFC 6298 5.7: "If the timer expires awaiting the ACK of a SYN segment and the TCP
        implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to 3
        seconds when data transmission begins"."""
        if self.srtt is None and self.base_ms < ms:
            self.base_ms = ms
        self.backoff = 0
