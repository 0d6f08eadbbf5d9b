"""The sending half of a connection (gVisor's snd.go): the send buffer, what may go out now
(window, congestion window, Nagle, sender silly-window avoidance), retransmission, zero-window
probes, and what the ACKs say about it.

Sequence variables follow RFC 9293 3.3.1, with one addition taken from BSD: ``snd_max`` is the
highest sequence number sent so far (the RFC's SND.NXT in every acceptability test), while
``snd_nxt`` is where the next transmission starts; after a retransmission timeout it goes back
to SND.UNA and the outstanding data is sent again as the congestion window allows.
The sender builds no headers: ``emit(seq, flags, payload, urgent)`` (the connection) does.
"""

from __future__ import annotations

from collections.abc import Callable

from stack_under_test.clock import Clock
from stack_under_test.transport.tcp import seq
from stack_under_test.transport.tcp.config import TCPConfig
from stack_under_test.transport.tcp.congestion import DupAckAction, NewReno
from stack_under_test.transport.tcp.retransmit import RTOEstimator
from stack_under_test.transport.tcp.sack import Scoreboard
from stack_under_test.wire.tcp import FIN, PSH, SYN, URG

Emit = Callable[[int, int, bytes, int], None]  # (seq, flags, payload, urgent pointer)
OptionRoom = Callable[[], int]  # octets of options the next segment carries beyond those in Eff.snd.MSS
COMPACT_AT = 65_536  # octets acknowledged before the buffer's head is cut off


class Sender:
    def __init__(self, iss: int, clock: Clock, config: TCPConfig, emit: Emit, smss: int, sndbuf: int) -> None:
        self.clock, self.emit = clock, emit
        self.iss = iss
        self.snd_una = self.snd_nxt = self.snd_max = iss
        self.snd_wnd = self.snd_wl1 = self.snd_wl2 = self.max_snd_wnd = 0
        self.buf = bytearray()
        self.head = 0  # buf[head:] is data from data_seq on (acknowledged octets are cut lazily)
        self.data_seq = seq.add(iss, 1)  # the SYN takes the ISS (RFC 9293 3.4)
        self.syn_acked = False
        self.sndbuf = sndbuf
        self.fin_queued = False
        self.syn_flags = SYN  # SYN, or SYN|ACK-to-be for a passive open (the connection adds ACK)
        self.data_ok = False  # set once synchronized: data waits for the handshake
        self.nodelay = False
        self.smss = smss  # Eff.snd.MSS: data octets per segment (RFC 9293 3.7.1)
        # The SACK blocks our segments carry while we hold data out of order (the connection knows).
        self.extra_options: OptionRoom = lambda: 0
        self.cc = NewReno(smss, iss)
        self.rto = RTOEstimator(config.initial_rto_ms, config.min_rto_ms, config.max_rto_ms)
        self.scoreboard = Scoreboard()
        self.sack_ok = False
        self.ts_offset: int | None = None  # timestamps in use: our TSval is now + offset
        self.rto_deadline: int | None = None
        self.persist_deadline: int | None = None
        self.retransmits = 0  # retransmission timeouts since SND.UNA last moved
        self.retry_limit = config.retries2
        self.user_timeout_ms = 0
        self.una_since_ms = 0  # when SND.UNA last moved (or data went out with none outstanding)
        self.rtt_seq: int | None = None  # an ACK at or beyond this ends the RTT measurement
        self.rtt_start_ms = 0
        self.rtt_valid = False  # Karn: False once the timed segment was retransmitted
        self.last_send_ms = clock.now_ms
        self.snd_up: int | None = None  # SND.UP: the octet after the urgent data
        self.probing = False  # the octet in flight is a zero-window probe
        # Called when an ACK acknowledges new data: "forward progress" (RFC 4861 7.3.1).
        self.on_progress: Callable[[], None] | None = None

    # ---- what the buffer holds -------------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Octets in the send buffer: sent but unacknowledged, and not yet sent."""
        return len(self.buf) - self.head

    @property
    def data_end(self) -> int:
        return seq.add(self.data_seq, self.queued)

    @property
    def fin_seq(self) -> int:
        """The sequence number of our FIN (meaningful once ``fin_queued``)."""
        return self.data_end

    @property
    def fin_acked(self) -> bool:
        return self.fin_queued and self.snd_una == seq.add(self.fin_seq, 1)

    @property
    def flight(self) -> int:
        """FlightSize (RFC 5681 2): sent but not cumulatively acknowledged."""
        return seq.sub(self.snd_max, self.snd_una)

    @property
    def unsent(self) -> int:
        end, nxt = self.data_end, self.snd_nxt
        return seq.sub(end, nxt) if seq.lt(nxt, end) else 0

    def space(self) -> int:
        return max(0, self.sndbuf - self.queued)

    def queue(self, data: bytes, urgent: bool = False) -> int:
        """Take as much of ``data`` as the buffer has room for; the count taken."""
        n = min(len(data), self.space())
        if n:
            self.buf += data[:n]
            if urgent:
                # RFC 9293 3.8.5: "The urgent pointer MUST point to the sequence number of the octet
                # following the urgent data (MUST-62)."
                self.snd_up = self.data_end
        return n

    def queue_fin(self) -> None:
        self.fin_queued = True

    # ---- output ------------------------------------------------------------------------------------
    def _usable(self) -> int:
        """RFC 5681 2: no data "with a sequence number higher than the sum of the highest
        acknowledged sequence number and the minimum of cwnd and rwnd"."""
        limit = seq.add(self.snd_una, min(self.snd_wnd, self.cc.cwnd))
        nxt = self.snd_nxt
        return seq.sub(limit, nxt) if seq.lt(nxt, limit) else 0

    def output(self) -> None:
        """Send everything the windows and the send rules allow now."""
        if not self.syn_acked:
            if self.snd_nxt == self.iss:
                self._transmit_syn()
            return
        if not self.data_ok:
            return
        if self.snd_nxt == (self.data_seq + len(self.buf) - self.head) & seq.MASK and not self.fin_queued:
            return  # the common case on the receiving side: nothing waits to be sent
        now = self.clock.now_ms
        if self.snd_max == self.snd_una and self.unsent and now - self.last_send_ms > self.rto.rto_ms:
            self.cc.after_idle()
        smss = self.segment_room()
        while True:
            end, nxt = (self.data_seq + len(self.buf) - self.head) & seq.MASK, self.snd_nxt
            remaining = (end - nxt) & seq.MASK
            if remaining >= seq.HALF:
                remaining = 0
            retransmitting = seq.lt(self.snd_nxt, self.snd_max)
            if remaining == 0:
                if self.fin_queued and self.snd_nxt == self.fin_seq:
                    if self._usable() >= 1 or retransmitting:
                        self._transmit(self.snd_nxt, 0, fin=True)
                    elif self.snd_max == self.snd_una:
                        self._arm_persist(now)
                break
            usable = self._usable()
            n = min(remaining, smss)
            if usable >= n:
                # RFC 9293 3.7.4 (Nagle): "If there is unacknowledged data (i.e., SND.NXT >
                # SND.UNA), then the sending TCP endpoint buffers all user data (regardless of the
                # PSH bit) until the outstanding data has been acknowledged or until the TCP endpoint
                # can send a full-sized segment"; RFC 9293 3.7.4 MUST-17 lets an application turn it off.
                if n < smss and not retransmitting and not self.nodelay and self.snd_max != self.snd_una:
                    break
            elif retransmitting and usable > 0:
                n = usable
            elif self.snd_max == self.snd_una and usable > 0 and min(remaining, usable) >= self.max_snd_wnd // 2:
                # RFC 9293 3.8.6.2.1 (3): "if at least a fraction Fs of the maximum window can be
                # sent"; "Fs is a fraction whose recommended value is 1/2".
                n = usable
            else:
                # RFC 9293 3.8.6.2.1: sender silly-window avoidance holds the data; (4) "or if the
                # override timeout occurs" -- the persist timer, which also probes a zero window.
                if self.snd_max == self.snd_una:
                    self._arm_persist(now)
                break
            fin = self.fin_queued and n == remaining and (usable > n or retransmitting)
            self._transmit(self.snd_nxt, n, fin)

    def _arm_persist(self, now: int) -> None:
        if self.persist_deadline is None:
            # RFC 9293 3.8.6.1: "The transmitting host SHOULD send the first zero-window probe when
            # a zero window has existed for the retransmission timeout period (SHLD-29)".
            self.persist_deadline = now + self.rto.rto_ms

    def _transmit_syn(self) -> None:
        now = self.clock.now_ms
        first = self.snd_max == self.iss
        self.emit(self.iss, self.syn_flags, b"", 0)
        self.snd_nxt = seq.add(self.iss, 1)
        self.snd_max = self.snd_nxt
        if first:
            self.rtt_seq, self.rtt_start_ms, self.rtt_valid = self.snd_nxt, now, True
            self.una_since_ms = now
        else:
            self.rtt_valid = False  # Karn: the SYN went twice
        if self.rto_deadline is None:
            self.rto_deadline = now + self.rto.rto_ms

    def _transmit(self, start: int, n: int, fin: bool) -> None:
        """Send ``n`` data octets from ``start`` (and our FIN after them when ``fin``)."""
        now = self.clock.now_ms
        idle = self.snd_max == self.snd_una
        off = self.head + seq.sub(start, self.data_seq)
        payload = bytes(self.buf[off : off + n])
        end = seq.add(start, n)
        flags = PSH if n and end == self.data_end else 0
        if fin:
            flags |= FIN
        urgent = 0
        up = self.snd_up
        if up is not None and seq.lt(start, up):
            flags |= URG
            urgent = min(seq.sub(up, start), 0xFFFF)
        self.emit(start, flags, payload, urgent)
        seg_end = seq.add(end, 1) if fin else end
        if seq.gt(seg_end, self.snd_max):
            if self.rtt_seq is None and self.snd_max == start:
                self.rtt_seq, self.rtt_start_ms, self.rtt_valid = seg_end, now, True
            self.snd_max = seg_end
        elif self.rtt_seq is not None and seq.lt(start, self.rtt_seq):
            self.rtt_valid = False  # RFC 6298 3 (Karn): no sample from a retransmitted segment
        if seq.gt(seg_end, self.snd_nxt):
            self.snd_nxt = seg_end
        self.last_send_ms = now
        self.persist_deadline = None
        if self.rto_deadline is None:
            # RFC 6298 5.1: "if the timer is not running, start it running so that it will expire
            # after RTO seconds".
            self.rto_deadline = now + self.rto.rto_ms
        if idle:
            self.una_since_ms = now

    def retransmit_first(self) -> None:
        """Send the earliest unacknowledged segment again, whatever the windows say (RFC 6298
        5.4; RFC 7323 2.4 (4) "do normal retransmission(s) without regard to the receiver window
        as long as the original segment was in window when it was sent"). With SACK, the hole
        ends where the first SACKed range starts."""
        una = self.snd_una
        if not self.syn_acked:
            self._transmit_syn()
            return
        outstanding = seq.sub(self.snd_max, una)
        if outstanding == 0:
            return
        data_left = seq.sub(self.data_end, una) if seq.lt(una, self.data_end) else 0
        n = min(self.segment_room(), data_left, outstanding)
        stop = self.scoreboard.first_sacked_after(una) if self.sack_ok else None
        if stop is not None and seq.gt(stop, una):
            n = min(n, seq.sub(stop, una))
        fin = self.fin_queued and n == data_left and seq.gt(self.snd_max, self.fin_seq)
        if n == 0 and not fin:
            return
        self._transmit(una, n, fin)

    def _limited_transmit(self) -> None:
        """RFC 3042 2 / RFC 5681 3.2 step 1: on the first and second duplicate ACKs, one segment of
        new data "provided that the receiver's advertised window allows, the total FlightSize would
        remain less than or equal to cwnd plus 2*SMSS, and that new data is available"."""
        room = self.segment_room()
        n = min(self.unsent, room)
        if n == 0 or (n < room and not self.nodelay) or self.snd_nxt != self.snd_max:
            return
        rwnd_room = seq.sub(seq.add(self.snd_una, self.snd_wnd), self.snd_max)
        if rwnd_room < n or rwnd_room >= 1 << 31 or self.flight + n > self.cc.cwnd + 2 * self.smss:
            return
        self._transmit(self.snd_nxt, n, False)

    # ---- input: what an acceptable ACK says --------------------------------------------------------
    def on_ack(self, ack: int, wnd: int, seg_seq: int, pure: bool, tsecr: int | None, sack_blocks: tuple[tuple[int, int], ...]) -> None:
        """Process SEG.ACK (already known to lie within SND.UNA-MAX.SND.WND..SND.NXT) and the window
        ``wnd`` (already scaled); the caller then lets ``output()`` send what the new state allows.
        ``pure``: no data, no SYN or FIN (RFC 5681 2, duplicate ACK conditions (b) and (c))."""
        now = self.clock.now_ms
        una = self.snd_una
        news = self.scoreboard.update(sack_blocks, una, self.snd_max) if sack_blocks and self.sack_ok else False
        if seq.gt(ack, una):
            acked = seq.sub(ack, una)
            # RFC 5681 3.1: "the SYN/ACK and the acknowledgment of the SYN/ACK MUST NOT increase the
            # size of the congestion window": the SYN's sequence number is not data.
            syn_part = 0 if self.syn_acked else 1
            self.syn_acked = True
            self._drop_acknowledged(ack)
            self.snd_una = ack
            if self.on_progress is not None:
                self.on_progress()
            if seq.lt(self.snd_nxt, ack):
                self.snd_nxt = ack
            if self.snd_up is not None and seq.ge(ack, self.snd_up):
                self.snd_up = None
            self.scoreboard.acknowledged(ack)
            self._rtt_sample(ack, tsecr, now)
            self.retransmits, self.una_since_ms = 0, now
            self.probing = False
            self._update_window(ack, wnd, seg_seq)
            partial = self.cc.on_new_ack(ack, acked - syn_part, self.flight) if acked > syn_part else False
            # RFC 6298 5.2: "When all outstanding data has been acknowledged, turn off the
            # retransmission timer"; 5.3: "When an ACK is received that acknowledges new data,
            # restart the retransmission timer".
            self.rto_deadline = None if self.flight == 0 else now + self.rto.rto_ms
            if partial:
                self.retransmit_first()
        else:
            # RFC 5681 2: a duplicate needs outstanding data, "(d) the acknowledgment number is
            # equal to the greatest acknowledgment received" and "(e) the advertised window in the
            # incoming acknowledgment equals the advertised window in the last incoming acknowledgment".
            # "Alternatively, a TCP that utilizes selective acknowledgments (SACKs) [RFC2018, RFC2883]
            # can leverage the SACK information to determine when an incoming ACK is a "duplicate"
            # (e.g., if the ACK contains previously unknown SACK information)": so an ACK that also
            # carries data (the peer sends too) counts when it SACKs something new.
            dup = ack == una and self.flight > 0 and ((pure and wnd == self.snd_wnd) or news)
            if seq.ge(ack, una):
                self._update_window(ack, wnd, seg_seq)
            if self.snd_wnd == 0 and self.flight:
                # RFC 9293 3.8.6.1: "As long as the receiving TCP peer continues to send
                # acknowledgments in response to the probe segments, the sending TCP peer MUST allow
                # the connection to stay open (MUST-37)"; and 3.8.6: the sender "SHOULD NOT time out
                # the connection if data beyond the right window edge is not acknowledged (SHLD-17)"
                # -- with a zero window all of it is (see on_rto_expired).
                self.retransmits = 0
            if dup:
                action = self.cc.on_duplicate_ack(ack, self.flight, self.snd_max)
                if action is DupAckAction.FAST_RETRANSMIT:
                    self.retransmit_first()
                elif action is DupAckAction.LIMITED_TRANSMIT and (news or not self.sack_ok):
                    # RFC 5681 3.2 step 1: "a sender using SACK [RFC2018] MUST NOT send new data
                    # unless the incoming duplicate acknowledgment contains new SACK information."
                    self._limited_transmit()

    def _update_window(self, ack: int, wnd: int, seg_seq: int) -> None:
        if self.probing and wnd and ack == self.snd_una:
            # The window opened without taking the probe's octet: send it again with what follows,
            # rather than waiting for its retransmission timeout.
            self.probing = False
            self.snd_nxt = self.snd_una
        # RFC 9293 3.10.7.4: "If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)),
        # set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
        if seq.lt(self.snd_wl1, seg_seq) or (self.snd_wl1 == seg_seq and seq.le(self.snd_wl2, ack)):
            self.set_window(wnd, seg_seq, ack)

    def set_window(self, wnd: int, wl1: int, wl2: int) -> None:
        self.snd_wnd, self.snd_wl1, self.snd_wl2 = wnd, wl1, wl2
        # RFC 5961 5.2: "MAX.SND.WND is defined as the largest window that the local sender has
        # ever received from its peer"; RFC 9293 3.8.6.2.1 uses it as Max(SND.WND) too.
        if wnd > self.max_snd_wnd:
            self.max_snd_wnd = wnd
        if wnd and self.persist_deadline is not None and self.unsent:
            self.persist_deadline = None

    def _drop_acknowledged(self, ack: int) -> None:
        if seq.gt(ack, self.data_seq):
            n = min(seq.sub(ack, self.data_seq), self.queued)
            self.head += n
            self.data_seq = seq.add(self.data_seq, n)
            if self.head >= COMPACT_AT and self.head * 2 >= len(self.buf):
                del self.buf[: self.head]
                self.head = 0

    def _rtt_sample(self, ack: int, tsecr: int | None, now: int) -> None:
        if self.rtt_seq is None or seq.lt(ack, self.rtt_seq):
            return
        if self.ts_offset is not None and tsecr is not None:
            # RFC 7323 4.1 (RTTM rule): a TSecr "MAY be used to update the averaged RTT measurement
            # only if the segment advances the left edge of the send window"; timed once per RTT
            # to keep RFC 6298's history (RFC 7323 4.2). Timestamps make retransmissions usable.
            r = seq.sub(seq.add(now, self.ts_offset), tsecr)
            if r < 1 << 31:
                self.rto.sample(r)
        elif self.rtt_valid:
            self.rto.sample(now - self.rtt_start_ms)
        self.rtt_seq = None

    # ---- timers ----------------------------------------------------------------------------------------
    def on_rto_expired(self) -> bool:
        """RFC 6298 5.4-5.6 and RFC 9293 3.8.3; False when R2 is reached (drop the connection)."""
        now = self.clock.now_ms
        self.rto_deadline = None
        if self.flight == 0:
            return True
        self.retransmits += 1
        # RFC 9293 3.8.6: the sender "SHOULD NOT time out the connection if data beyond the right
        # window edge is not acknowledged (SHLD-17)". Behind a zero window every octet is, and the
        # retransmission is a probe: only unanswered probes end the connection (by count, below;
        # each answer resets it), as Linux's retransmit timer does for a shrunk window.
        if self.user_timeout_ms and self.snd_wnd and now - self.una_since_ms >= self.user_timeout_ms:
            return False
        # RFC 9293 3.8.3 (c): "When the number of transmissions of the same segment reaches a
        # threshold R2 greater than R1, close the connection."
        if self.retransmits > self.retry_limit:
            return False
        self.cc.on_timeout(self.flight, self.snd_max, self.retransmits == 1)
        self.rto.back_off()
        self.scoreboard.clear()
        if self.ts_offset is None:
            self.rtt_valid = False
        self.snd_nxt = self.snd_una
        self.retransmit_first()
        # RFC 6298 5.6: "Start the retransmission timer, such that it expires after RTO seconds
        # (for the value of RTO after the doubling operation outlined in 5.5)."
        self.rto_deadline = now + self.rto.rto_ms
        return True

    def on_persist_expired(self) -> None:
        """The window stayed too small (or zero) for an RTO with nothing outstanding: send what
        fits, or probe. RFC 9293 3.8.6.1: "The sending TCP peer must regularly transmit at least
        one octet of new data (if available)"; the probe's own retransmissions back off (SHLD-30)."""
        self.persist_deadline = None
        if self.flight or not self.data_ok:
            return
        room = seq.sub(seq.add(self.snd_una, self.snd_wnd), self.snd_nxt) if self.snd_wnd else 0
        remaining = self.unsent
        if remaining:
            n = min(remaining, self.segment_room(), max(room, 1))
            self._transmit(self.snd_nxt, n, self.fin_queued and n == remaining and room > n)
        elif self.fin_queued and self.snd_nxt == self.fin_seq:
            self._transmit(self.snd_nxt, 0, fin=True)
        else:
            return
        if room == 0:
            # The probe's own retransmissions continue the back-off (SHLD-30): 1, 2, 4 ... RTOs.
            self.probing = True
            self.rto.back_off()
            self.rto_deadline = self.clock.now_ms + self.rto.rto_ms

    def segment_room(self) -> int:
        """Data octets the next segment may carry: Eff.snd.MSS less the options it carries beyond
        the fixed ones (RFC 6691 2: "the sender MUST reduce the TCP data length to account for any
        IP or TCP options that it is including in the packets that it sends"; RFC 9293 3.7.1's
        TCPhdrsize is "the size of the fixed TCP header and any options")."""
        return max(1, self.smss - self.extra_options())

    def set_smss(self, smss: int) -> None:
        if smss != self.smss:
            self.cc.on_smss_change(smss)
            self.smss = smss
