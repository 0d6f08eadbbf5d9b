"""A TCP connection's events (RFC 9293 3.10): SEGMENT ARRIVES in every state, the user calls
(SEND, RECEIVE, CLOSE, ABORT and the socket options), and the timeouts.

Every event ends in ``_finish()``: send what the sender may, the ACK owed, and re-arm the one
clock timer. Arriving segments are judged in RFC 9293's order, with RFC 5961's blind-injection
checks and RFC 7323's PAWS, and get one verdict each: None when the segment was used, else the
named Drop (also when an ACK or RST was sent in answer).
"""

from __future__ import annotations

from stack_under_test import params
from stack_under_test.drops import Drop
from stack_under_test.transport.tcp import handshake, seq
from stack_under_test.transport.tcp.acceptability import (
    RSTVerdict,
    acceptable,
    ack_in_range,
    paws_rejects,
    rst_verdict,
)
from stack_under_test.transport.tcp.receiver import Receiver
from stack_under_test.transport.tcp.sender import Sender
from stack_under_test.transport.tcp.tcb import State
from stack_under_test.transport.tcp.user_calls import UserCalls
from stack_under_test.wire.tcp import ACK, FIN, PSH, RST, SYN, URG, TCPOptions, TCPSegment


class Connection(UserCalls):
    # ---- opening (RFC 9293 3.10.1 OPEN, 3.10.7.2 LISTEN) -----------------------------------------------
    def _new_sender(self, iss: int) -> Sender:
        self.iss = iss
        sender = Sender(iss, self.clock, self.config, self.emit, self.effective_mss(), self.options.sndbuf)
        sender.nodelay = self.options.nodelay
        sender.user_timeout_ms = self.options.user_timeout_ms
        sender.ts_offset = self.ts_offset if self.config.timestamps else None
        sender.extra_options = self.sack_option_len
        sender.on_progress = self._confirm_next_hop
        self.sender = sender
        return sender

    def _confirm_next_hop(self) -> None:
        """RFC 4861 7.3.1: "In TCP, for example, receipt of a (new) acknowledgment indicates that
        previously sent data reached the peer." ... "When available, this upper-layer information
        SHOULD be used." (Linux: sk_dst_confirm on forward progress.)"""
        route = self.route
        table = route.nic.neighbors.get(4 if len(route.next_hop) == 4 else 6)
        if table is not None:
            table.confirm(route.next_hop)

    def _new_receiver(self, irs: int) -> Receiver:
        receiver = Receiver(irs, self.options.rcvbuf, self.config.out_of_order_segments)
        receiver.mss = self.offer.mss
        self.receiver = receiver
        return receiver

    def _settle(self, peer: TCPOptions) -> None:
        """Apply the options of the peer's SYN (transport/tcp/handshake.py)."""
        agreed = self.agreed = handshake.agree(self.offer, peer, self.family)
        self.peer_scaled = peer.window_scale is not None
        sender = self.sender
        if sender is not None:
            sender.sack_ok = agreed.sack
            sender.ts_offset = self.ts_offset if agreed.timestamps else None
            sender.set_smss(self.effective_mss())
        if agreed.timestamps and peer.timestamps is not None:
            self.ts_recent, self.ts_recent_ms, self.ts_recent_valid = peer.timestamps[0], self.clock.now_ms, True

    def open_active(self) -> None:
        """RFC 9293 3.10.1: "A SYN segment of the form <SEQ=ISS><CTL=SYN> is sent. Set SND.UNA to
        ISS, SND.NXT to ISS+1, enter SYN-SENT state, and return."""
        self._new_sender(self.tcp.secrets.isn(self.local, self.local_port, self.remote, self.remote_port))
        self._enter(State.SYN_SENT)
        self._finish()

    def open_passive(self, syn: TCPSegment, iss: int | None = None) -> None:
        """RFC 9293 3.10.7.2: "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be
        selected and a SYN segment sent of the form: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>"."""
        if iss is None:
            iss = self.tcp.secrets.isn(self.local, self.local_port, self.remote, self.remote_port)
        self._new_receiver(syn.seq)
        sender = self._new_sender(iss)
        self._settle(syn.options)
        sender.set_window(syn.window, syn.seq, 0)  # SYN windows are never scaled (RFC 7323 2.2)
        self.last_recv_ms = self.clock.now_ms
        self._enter(State.SYN_RECEIVED)
        self._finish()

    # ---- SEGMENT ARRIVES ------------------------------------------------------------------------------
    def on_segment(self, seg: TCPSegment) -> Drop | None:
        if self.state is State.ESTABLISHED and seg.flags & ~PSH == ACK and self._predicted(seg):
            self._finish()
            return None
        verdict = self._on_syn_sent(seg) if self.state is State.SYN_SENT else self._on_segment(seg)
        if self.state is not State.CLOSED:
            self._finish()
        return verdict

    def _predicted(self, seg: TCPSegment) -> bool:
        """RFC 7323 5.6 header prediction: "H1) Check timestamp ... H2) Do header prediction: if the
        segment is next in sequence and if there are no special conditions requiring additional
        processing, accept the segment, record its timestamp, and skip H3." The conditions: ACK
        (and PSH) only, exactly at RCV.NXT and inside the window, nothing held out of order, the
        ACK within SND.UNA..SND.NXT, a timestamp no older than TS.Recent. False: the full path."""
        receiver, sender = self.receiver, self.sender
        assert receiver is not None and sender is not None
        payload = seg.payload
        seg_seq, ack = seg.seq, seg.ack
        if seg_seq != receiver.rcv_nxt or receiver.ranges or receiver.fin_seq is not None:
            return False  # a gap to fill, or a FIN held beyond one (SHLD-31), takes the full path
        if payload and self.user_closed:
            return False
        if len(payload) > receiver.window or not (seq.le(sender.snd_una, ack) and seq.le(ack, sender.snd_max)):
            return False
        agreed = self.agreed
        assert agreed is not None
        ts = seg.options.timestamps
        tsecr = None
        if agreed.timestamps:
            if ts is None or seq.lt(ts[0], self.ts_recent):
                return False
            # R3: TS.Recent from a segment at or below Last.ACK.sent (here SEG.SEQ = RCV.NXT).
            if seq.le(seg_seq, self.last_ack_sent):
                self.ts_recent, self.ts_recent_ms = ts[0], self.clock.now_ms
            tsecr = ts[1]
        self.last_recv_ms = self.clock.now_ms
        self.keepalive_probes = 0
        sender.on_ack(ack, seg.window << agreed.send_shift, seg_seq, not payload, tsecr, seg.options.sack_blocks)
        if payload:
            receiver.ready += payload
            receiver.rcv_nxt = seq.add(seg_seq, len(payload))
            self._ack_in_order()
        return True

    def _on_syn_sent(self, seg: TCPSegment) -> Drop | None:
        """RFC 9293 3.10.7.3."""
        flags = seg.flags
        sender = self.sender
        assert sender is not None
        # "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if so drop
        # the segment and return) <SEQ=SEG.ACK><CTL=RST>".
        if flags & ACK and (seq.le(seg.ack, self.iss) or seq.gt(seg.ack, sender.snd_max)):
            if not flags & RST:
                self.send_reset(seg.ack)
            return Drop.TCP_SYN_SENT_BAD_ACK
        if flags & RST:
            # "If the ACK was acceptable, then signal to the user "error: connection reset", drop the
            # segment, enter CLOSED state, delete TCB, and return. Otherwise (no ACK), drop the
            # segment and return." (RFC 5961 3.2: "In the SYN-SENT state ... the RST is acceptable if
            # the ACK field acknowledges the SYN"; RCV.NXT, which RFC 9293 would compare first, is
            # not known before the peer's SYN.)
            if flags & ACK:
                self.fail("refused")
                return None
            return Drop.TCP_SYN_SENT_BAD_RST
        if not flags & SYN:
            return Drop.TCP_SYN_SENT_NO_SYN  # "Fifth, if neither of the SYN or RST bits is set"
        # "RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ."
        self._new_receiver(seg.seq)
        self._settle(seg.options)
        self.last_recv_ms = self.clock.now_ms
        if flags & ACK:
            # "SND.UNA should be advanced to equal SEG.ACK (if there is an ACK)"; SYN windows are
            # not scaled (RFC 7323 2.2).
            sender.on_ack(seg.ack, seg.window, seg.seq, False, self._tsecr(seg), ())
            sender.set_window(seg.window, seg.seq, seg.ack)
            self._enter(State.ESTABLISHED)
            if sender.rto.backoff:
                sender.rto.restart_at(params.TCP_SYN_FALLBACK_RTO_MS)
            # "form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it"; "If there are
            # other controls or text in the segment, then continue processing at the sixth step".
            self.ack_now = True
            if seg.payload or flags & (FIN | URG):
                return self._text_and_fin(seg, seq.add(seg.seq, 1))
            return None
        # Simultaneous open: "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment" and "Set the
        # variables: SND.WND <- SEG.WND SND.WL1 <- SEG.SEQ SND.WL2 <- SEG.ACK".
        sender.set_window(seg.window, seg.seq, seg.ack)
        self._enter(State.SYN_RECEIVED)
        sender.snd_nxt = self.iss  # the SYN goes again, now as SYN,ACK
        return None

    def _tsecr(self, seg: TCPSegment) -> int | None:
        ts = seg.options.timestamps
        return ts[1] if ts is not None and seg.flags & ACK else None

    def _on_segment(self, seg: TCPSegment) -> Drop | None:
        """RFC 9293 3.10.7.4, SYN-RECEIVED and the synchronized states."""
        receiver, sender = self.receiver, self.sender
        assert receiver is not None and sender is not None
        flags, options = seg.flags, seg.options
        now = self.clock.now_ms
        ts = options.timestamps
        agreed = self.agreed
        if agreed is not None and agreed.timestamps and not flags & RST:
            if ts is None:
                # RFC 7323 3.2: "If a non-<RST> segment is received without a TSopt, a TCP SHOULD
                # silently drop the segment."
                return Drop.TCP_TIMESTAMP_MISSING
            # RFC 7323 5.5: TS.Recent is invalid after 24 days of idleness.
            valid = self.ts_recent_valid and now - self.ts_recent_ms <= params.TCP_PAWS_IDLE_MS
            if paws_rejects(ts[0], self.ts_recent, valid):
                # R1: "Send an acknowledgment in reply as specified in Section 3.9 of [RFC0793],
                # page 69, and drop the segment."
                self.ack_now = True
                return Drop.TCP_PAWS_REJECTED
        seg_seq = seg.seq
        payload = seg.payload
        rcv_nxt, rcv_wnd = receiver.rcv_nxt, receiver.window
        if flags & RST:
            return self._on_reset(seg_seq, rcv_nxt, rcv_wnd)
        if flags & SYN:
            if seg_seq == receiver.irs and self.state is State.SYN_RECEIVED:
                if not flags & ACK:
                    # The peer sent its SYN again: it lost our SYN,ACK; send that again (Linux does,
                    # tcp_check_req()) rather than the bare ACK the sequence check would give.
                    sender.snd_nxt = self.iss
                    return None
                if self.passive:
                    self.send_reset(seg.ack)
                    return Drop.TCP_SYN_RECEIVED_BAD_ACK
                # Simultaneous open: the peer's SYN,ACK repeats the SYN we know; "trimming off any
                # portions that lie outside the window (including SYN and FIN)" leaves its ACK.
                seg_seq = seq.add(seg_seq, 1)
                flags &= ~SYN
            elif self.state is State.SYN_RECEIVED and self.passive:
                if acceptable(seg_seq, len(payload) + 1, rcv_nxt, rcv_wnd):
                    # "If the connection was initiated with a passive OPEN, then return this
                    # connection to the LISTEN state and return."
                    self._delete()
                    return Drop.TCP_SYN_CHALLENGED
                self.ack_now = True
                return Drop.TCP_UNACCEPTABLE
            else:
                # RFC 5961 4.2: "If the SYN bit is set, irrespective of the sequence number, TCP MUST
                # send an ACK (also referred to as challenge ACK) to the remote peer ... After sending
                # the acknowledgment, TCP MUST drop the unacceptable segment and stop processing further."
                self.challenge_ack()
                return Drop.TCP_SYN_CHALLENGED
        seg_len = len(payload) + (1 if flags & FIN else 0)
        if not acceptable(seg_seq, seg_len, rcv_nxt, rcv_wnd):
            if self.state is State.TIME_WAIT and flags & FIN and seq.add(seg_seq, seg_len) == rcv_nxt:
                # "The only thing that can arrive in this state is a retransmission of the remote
                # FIN. Acknowledge it, and restart the 2 MSL timeout."
                self.timewait_deadline = now + 2 * self.config.msl_ms
                self.ack_now = True
                return None
            # "If an incoming segment is not acceptable, an acknowledgment should be sent in reply".
            self.ack_now = True
            if rcv_wnd == 0 and seg_seq == rcv_nxt and flags & ACK and self.state is not State.SYN_RECEIVED:
                return self._on_zero_window(seg, seg_seq, seg_len)
            return Drop.TCP_UNACCEPTABLE
        # RFC 7323 5.3 R3: "If an arriving segment satisfies SEG.TSval >= TS.Recent and SEG.SEQ <=
        # Last.ACK.sent (see Section 4.3), then record its timestamp in TS.Recent."
        if (ts is not None and agreed is not None and agreed.timestamps and seq.ge(ts[0], self.ts_recent)
                and seq.le(seg_seq, self.last_ack_sent)):
            self.ts_recent, self.ts_recent_ms, self.ts_recent_valid = ts[0], now, True
        self.last_recv_ms = now
        self.keepalive_probes = 0
        # "Fifth, check the ACK field": "if the ACK bit is off, drop the segment and return".
        if not flags & ACK:
            return Drop.TCP_NO_ACK_FLAG
        drop = self._on_ack(seg, seg_seq, seg_len)
        if drop is not None or self.state is State.CLOSED:
            return drop
        return self._text_and_fin(seg, seg_seq)

    def _on_zero_window(self, seg: TCPSegment, seg_seq: int, seg_len: int) -> Drop | None:
        """Text at RCV.NXT while our window is zero: RFC 9293 3.10.7.4, "If the RCV.WND is zero, no
        segments will be acceptable, but special allowance should be made to accept valid ACKs,
        URGs, and RSTs." The ACK (checked as any other) and the urgent pointer are used, the text
        dropped. Only at exactly RCV.NXT, as Linux (tcp_sequence()): the peer's data then carries
        the ACKs for ours, and without them a connection whose window closed in both directions
        would wait for retransmission timeouts to open it."""
        receiver = self.receiver
        assert receiver is not None
        self.last_recv_ms = self.clock.now_ms
        drop = self._on_ack(seg, seg_seq, seg_len)
        if drop is not None or self.state is State.CLOSED:
            return drop
        if seg.flags & URG and self.state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2):
            receiver.note_urgent(seg.seq, seg.urgent)
        return Drop.TCP_UNACCEPTABLE

    def _on_reset(self, seg_seq: int, rcv_nxt: int, rcv_wnd: int) -> Drop | None:
        """Second, check the RST bit (RFC 9293 3.10.7.4 with RFC 5961 3.2)."""
        verdict = rst_verdict(seg_seq, rcv_nxt, rcv_wnd)
        if verdict is RSTVerdict.DROP:
            return Drop.TCP_RST_OUT_OF_WINDOW
        if verdict is RSTVerdict.CHALLENGE:
            self.challenge_ack()
            return Drop.TCP_RST_CHALLENGED
        state = self.state
        if state is State.SYN_RECEIVED:
            # "If this connection was initiated with a passive OPEN (i.e., came from the LISTEN
            # state), then return this connection to LISTEN state and return. ... If this connection
            # was initiated with an active OPEN ... signal the user "connection refused"."
            if self.passive:
                self._delete()
            else:
                self.fail("refused")
        elif state in (State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
            self._delete()  # "enter the CLOSED state, delete the TCB, and return"
        else:
            # "any outstanding RECEIVEs and SEND should receive "reset" responses. All segment
            # queues should be flushed."
            self.fail("reset")
        return None

    def _on_ack(self, seg: TCPSegment, seg_seq: int, seg_len: int) -> Drop | None:
        sender = self.sender
        assert sender is not None
        ack = seg.ack
        if self.state is State.SYN_RECEIVED:
            # "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state"; otherwise "form a
            # reset segment <SEQ=SEG.ACK><CTL=RST> and send it."
            if not (seq.lt(sender.snd_una, ack) and seq.le(ack, sender.snd_max)):
                self.send_reset(ack)
                return Drop.TCP_SYN_RECEIVED_BAD_ACK
            listener = self.listener
            if listener is not None and not listener.has_room():
                # Linux (tcp_check_req() with tcp_abort_on_overflow 0) ignores the ACK while the
                # accept queue is full; the SYN,ACK is sent again later and the peer's ACK with it.
                return Drop.TCP_ACCEPT_QUEUE_FULL
            sender.set_window(seg.window << self._send_shift(), seg_seq, ack)
            sender.on_ack(ack, seg.window << self._send_shift(), seg_seq, False, self._tsecr(seg), ())
            self._enter(State.ESTABLISHED)
            if sender.rto.backoff:
                sender.rto.restart_at(params.TCP_SYN_FALLBACK_RTO_MS)
            if listener is not None:
                listener.established(self.key)
            if self.shut_write:
                self._close_sending()  # a CLOSE queued in SYN-RECEIVED (RFC 9293 3.10.4)
            return None
        config = self.config
        if config.ack_range_check and not ack_in_range(ack, sender.snd_una, sender.snd_max, sender.max_snd_wnd):
            # RFC 5961 5.2: "All incoming segments whose ACK value doesn't satisfy the above condition
            # MUST be discarded and an ACK sent back."
            self.ack_now = True
            return Drop.TCP_ACK_OUT_OF_RANGE
        if seq.gt(ack, sender.snd_max):
            # RFC 9293: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an
            # ACK, drop the segment, and return."
            self.ack_now = True
            return Drop.TCP_ACK_OUT_OF_RANGE
        sender.on_ack(ack, seg.window << self._send_shift(), seg_seq, seg_len == 0, self._tsecr(seg), seg.options.sack_blocks)
        state = self.state
        if state is State.FIN_WAIT_1 and sender.fin_acked:
            self._enter(State.FIN_WAIT_2)  # "if the FIN segment is now acknowledged, then enter FIN-WAIT-2"
        elif state is State.CLOSING and sender.fin_acked:
            self._enter(State.TIME_WAIT)
        elif state is State.LAST_ACK and sender.fin_acked:
            self._delete()  # "If our FIN is now acknowledged, delete the TCB, enter the CLOSED state"
        return None

    def _send_shift(self) -> int:
        agreed = self.agreed
        return agreed.send_shift if agreed is not None else 0

    def _text_and_fin(self, seg: TCPSegment, seg_seq: int) -> Drop | None:
        """Sixth (URG), seventh (text) and eighth (FIN) steps of RFC 9293 3.10.7.4."""
        receiver = self.receiver
        assert receiver is not None
        flags, payload, state = seg.flags, seg.payload, self.state
        receiving = state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2)
        if flags & URG and receiving:
            receiver.note_urgent(seg.seq, seg.urgent)
        if not payload and not flags & FIN:
            return None
        if not receiving:
            if payload:
                # "This should not occur since a FIN has been received from the remote side.
                # Ignore the segment text."
                return Drop.TCP_TEXT_AFTER_FIN
            if state is State.TIME_WAIT:  # the FIN again: "Restart the 2 MSL time-wait timeout."
                self.timewait_deadline = self.clock.now_ms + 2 * self.config.msl_ms
            self.ack_now = True
            return None
        if payload and self.user_closed:
            # RFC 9293 3.6.1: "if new data is received after CLOSE is called, its TCP implementation
            # SHOULD send a RST to show that data was lost (SHLD-3)".
            self.abort()
            return Drop.TCP_DATA_AFTER_CLOSE
        had_gap = bool(receiver.ranges)
        before = receiver.rcv_nxt
        fin_before = receiver.fin_received
        advanced, drop = receiver.accept(seg_seq, payload, bool(flags & FIN))
        if drop is not None:
            self.ack_now = True
            return drop
        if not payload and not receiver.fin_received:
            # A FIN beyond a hole, held (SHLD-31): a duplicate ACK at once, as for out-of-order data.
            self.ack_now = True
        if payload:
            if seg_seq != before or had_gap:
                # RFC 5681 4.2: "Out-of-order data segments SHOULD be acknowledged immediately" and
                # "the receiver SHOULD send an immediate ACK when it receives a data segment that
                # fills in all or part of a gap in the sequence space."
                self.ack_now = True
            elif advanced:
                self._ack_in_order()
        if receiver.fin_received and not fin_before:
            self.ack_now = True  # "advance RCV.NXT over the FIN, and send an acknowledgment for the FIN"
            if state is State.ESTABLISHED:
                self._enter(State.CLOSE_WAIT)
            elif state is State.FIN_WAIT_1:
                sender = self.sender
                # "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT ...;
                # otherwise, enter the CLOSING state."
                self._enter(State.TIME_WAIT if sender is not None and sender.fin_acked else State.CLOSING)
            elif state is State.FIN_WAIT_2:
                self._enter(State.TIME_WAIT)
        return None

    def _ack_in_order(self) -> None:
        """RFC 1122 4.2.3.2 / RFC 5681 4.2: "an ACK SHOULD be generated for at least every second
        full-sized segment, and MUST be generated within 500 ms of the arrival of the first
        unacknowledged packet". We acknowledge every second data segment whatever its size (RFC
        5681 4.2: "acknowledging at least every second segment, regardless of size")."""
        self.unacked_segments += 1
        if self.unacked_segments >= 2:
            self.ack_now = True
        elif self.delack_deadline is None:
            self.delack_deadline = self.clock.now_ms + self.config.delayed_ack_ms
