"""The transmission control block (RFC 9293 3.3.1): a connection's state, its timers, and how it
puts segments on the wire. Events (arriving segments, user calls) are handled by the
``Connection`` subclass in transport/tcp/connection.py.

States change in one place, ``_enter(state)``, which also arms and disarms the timers that belong
to the state (gVisor's setStateLocked). Timers are deadlines in ms (transport/tcp/timers.py).
"""

from __future__ import annotations

import enum
from typing import Final

from stack_under_test.drops import Drop
from stack_under_test.stack.stack import Route, StackError
from stack_under_test.transport.tcp import handshake, seq
from stack_under_test.transport.tcp.config import SocketOptions
from stack_under_test.transport.tcp.contracts import Key, ListenerSlot, TCPHost
from stack_under_test.transport.tcp.handshake import Agreement, Offer
from stack_under_test.transport.tcp.receiver import Receiver
from stack_under_test.transport.tcp.sender import Sender
from stack_under_test.transport.tcp.timers import Deadlines
from stack_under_test.wire.numbers import PROTO_TCP
from stack_under_test.wire.tcp import (
    ACK,
    RST,
    SYN,
    TCPOptions,
    address_sum,
    encode_sack,
    encode_segment,
    encode_timestamps,
)


class State(enum.Enum):
    """RFC 9293 3.3.2; the values are the RFC's spelling."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"


SYNCHRONIZED: Final = frozenset({
    State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK,
    State.TIME_WAIT,
})
# States whose ABORT sends a RST (RFC 9293 3.10.5).
RESET_ON_ABORT: Final = frozenset({
    State.SYN_RECEIVED, State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSE_WAIT,
})
KEEPALIVE_STATES: Final = frozenset({State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_1, State.FIN_WAIT_2})


class TCPError(StackError):
    """A user call on a connection that failed; ``kind`` is "reset", "refused", "timed_out",
    "unreachable" or "closed" (harness.dut.TCPErrorKind names the same)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class TCB:
    def __init__(
        self, tcp: TCPHost, route: Route, local_port: int, remote_port: int, options: SocketOptions,
        listener: ListenerSlot | None = None,
    ) -> None:
        self.tcp = tcp
        self.clock = tcp.clock
        self.config = tcp.config
        self.route = route
        self.route_version = tcp.stack.routes.version
        self.local, self.remote = route.local, route.remote
        self.local_port, self.remote_port = local_port, remote_port
        self.key: Key = (self.local, local_port, self.remote, remote_port)
        self.family = 4 if len(self.local) == 4 else 6
        self.options = options
        self.listener = listener  # set for a passive open until the connection is accepted
        self.passive = listener is not None
        self.state = State.CLOSED
        self.error: str | None = None  # why the connection failed, for the user calls
        self.soft_error: str | None = None  # RFC 1122 4.2.3.9 soft errors, kept for the user
        self.user_closed = False  # CLOSE: the application will read no more
        self.shut_write = False  # CLOSE for sending (shutdown): no more SENDs
        self._addr_sum = address_sum(self.local, self.remote)
        self._dont_fragment = self.family == 4
        self.path_mtu = self._route_mtu()
        # Options in force (transport/tcp/handshake.py); settled by the two SYNs.
        self.offer = Offer(
            mss=handshake.announced_mss(self.path_mtu, self.family, options.maxseg),
            window_shift=handshake.window_shift(options.rcvbuf, options.rcvbuf_locked)
            if self.config.window_scaling else None,
            sack_permitted=self.config.sack,
            timestamps=self.config.timestamps,
        )
        self.agreed: Agreement | None = None
        self.peer_scaled = False  # the peer's SYN carried a Window Scale option
        self.ts_offset = (tcp.secrets.timestamp_offset(self.local, local_port, self.remote, remote_port)
                          if self.config.timestamps else 0)
        self.ts_recent = 0
        self.ts_recent_ms = 0  # when TS.Recent was last set (RFC 7323 5.5 validity)
        self.ts_recent_valid = False
        self.last_ack_sent = 0  # RFC 7323 4.3: Last.ACK.sent
        # Set up by the handshake.
        self.iss = 0
        self.sender: Sender | None = None
        self.receiver: Receiver | None = None
        # ACK policy (RFC 1122 4.2.3.2, RFC 5681 4.2).
        self.ack_now = False
        self.unacked_segments = 0
        self.delack_deadline: int | None = None
        self.keepalive_deadline: int | None = None
        self.keepalive_probes = 0
        self.timewait_deadline: int | None = None
        self.finwait2_deadline: int | None = None
        self.last_recv_ms = self.clock.now_ms
        self.timers = Deadlines(self.clock, self._on_timer_expired)

    # ---- the path -------------------------------------------------------------------------------
    def _route_mtu(self) -> int:
        # The route's MTU capped by what the IP layer knows of the path (IPv6: an RA's MTU and what
        # Packet Too Big taught, RFC 8201; IPv4 keeps what ICMP teaches per connection instead).
        return min(self.route.mtu, self.route.endpoint.path_mtu(self.remote))

    def _fresh_route(self) -> Route | None:
        routes = self.tcp.stack.routes
        if routes.version != self.route_version:
            route = self.tcp.stack.find_route(self.remote, src=self.local)
            if route is None:
                return None
            self.route, self.route_version = route, routes.version
        return self.route

    def _write(self, segment: bytes) -> None:
        route = self._fresh_route()
        if route is None:
            self.tcp.count_tx_drop(Drop.NO_ROUTE)
            return
        endpoint = route.endpoint
        if self._dont_fragment:
            # RFC 7323 5.7: "any TCP implementation that implements PAWS MUST also implement Path MTU
            # Discovery", which sets DF on IPv4 (RFC 1191 3, RFC 9293 3.7.2).
            endpoint.write_packet(route, PROTO_TCP, segment, dont_fragment=True)
        else:
            endpoint.write_packet(route, PROTO_TCP, segment)

    # ---- building segments -------------------------------------------------------------------------
    def ts_now(self) -> int:
        return seq.add(self.clock.now_ms, self.ts_offset)

    def _syn_options(self) -> bytes:
        offer, agreed, passive = self.offer, self.agreed, self.receiver is not None
        if passive and agreed is not None:
            # RFC 7323 2.2: Window Scale "MAY be sent in the <SYN,ACK> segment" only if received in
            # the SYN; 3.2: a TSopt "in <SYN,ACK> only if it received a TSopt in the initial <SYN>";
            # RFC 2018 2: SACK-permitted likewise only as an answer.
            shift = offer.window_shift if self.peer_scaled else None
            sack, ts = agreed.sack, agreed.timestamps
        else:
            shift, sack, ts = offer.window_shift, offer.sack_permitted, offer.timestamps
        # RFC 7323 3.2: "If the ACK bit is not set in the outgoing TCP header, the sender of that
        # segment SHOULD set the TSecr field to zero."
        stamps = (self.ts_now(), self.ts_recent if passive else 0) if ts else None
        return TCPOptions(mss=offer.mss, window_scale=shift, sack_permitted=sack, timestamps=stamps).encode()

    def emit(self, seq_no: int, flags: int, payload: bytes, urgent: int) -> None:
        """Send one segment of ours: every segment after the SYN carries ACK = RCV.NXT, the window
        we offer, and the options in force (the sender's ``Emit``)."""
        receiver = self.receiver
        agreed = self.agreed
        if flags & SYN:
            options = self._syn_options()
        elif agreed is not None and agreed.timestamps:
            options = encode_timestamps(self.ts_now(), self.ts_recent)
        else:
            options = b""
        ack = 0
        window = 0
        if receiver is not None:
            flags |= ACK
            ack = receiver.rcv_nxt
            receiver.update_edge()
            if flags & SYN:
                # RFC 7323 2.2: "The window field in a segment where the SYN bit is set (i.e., a <SYN>
                # or <SYN,ACK>) MUST NOT be scaled."
                window = min(receiver.window, 0xFFFF)
            else:
                window = min(receiver.window >> (agreed.receive_shift if agreed else 0), 0xFFFF)
                if agreed is not None and agreed.sack and receiver.ranges:
                    options += encode_sack(receiver.sack_blocks(self._sack_block_limit()))
            self.last_ack_sent = ack
            self.ack_now = False
            self.unacked_segments = 0
            self.delack_deadline = None
        elif flags & SYN:
            window = min(self.options.rcvbuf, 0xFFFF)
        self._write(encode_segment(
            self._addr_sum, self.local_port, self.remote_port, seq_no, ack, flags, window, options, payload, urgent,
        ))

    def _sack_block_limit(self) -> int:
        # RFC 2018 3: with timestamps "a maximum of 3 SACK blocks will be allowed" (40 octets of
        # options: 10 + 2 for the Timestamps option, 2 + 2 + 8n for the SACK option).
        agreed = self.agreed
        return 3 if agreed is not None and agreed.timestamps else 4

    def sack_option_len(self) -> int:
        """Octets of the SACK option our next segment carries (the sender's room for data shrinks
        by them: Eff.snd.MSS counts only the options every segment carries)."""
        agreed, receiver = self.agreed, self.receiver
        if agreed is None or not agreed.sack or receiver is None or not receiver.ranges:
            return 0
        return 4 + 8 * min(len(receiver.ranges), self._sack_block_limit())

    def send_ack(self) -> None:
        """<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"""
        sender = self.sender
        if sender is not None and self.receiver is not None:
            self.emit(sender.snd_max, 0, b"", 0)

    def challenge_ack(self) -> None:
        """RFC 5961 3.2 / 4.2 challenge ACK, within the stack's rate limit (RFC 5961 7)."""
        if self.tcp.challenge_acks.allow(self.clock.now_ms):
            self.send_ack()
            self.tcp.count_event("tcp_challenge_ack_sent")
        else:
            self.tcp.count_event("tcp_challenge_ack_limited")

    def send_reset(self, seq_no: int) -> None:
        """<SEQ=seq_no><CTL=RST>, with timestamps if in force (RFC 7323 5.2: "If an <RST> is being
        generated because of a user abort, and Snd.TS.OK is set, then a Timestamps option SHOULD be
        included in the <RST>")."""
        agreed = self.agreed
        options = encode_timestamps(self.ts_now(), self.ts_recent) if agreed is not None and agreed.timestamps else b""
        self._write(encode_segment(self._addr_sum, self.local_port, self.remote_port, seq_no, 0, RST, 0, options, b""))

    # ---- sizes -------------------------------------------------------------------------------------
    def effective_mss(self) -> int:
        agreed = self.agreed
        peer = agreed.peer_mss if agreed is not None else handshake.DEFAULT_SEND_MSS[self.family]
        return handshake.effective_send_mss(
            peer, self.path_mtu, self.family, agreed is not None and agreed.timestamps, self.options.maxseg,
        )

    def lower_path_mtu(self, mtu: int) -> bool:
        """A Packet Too Big / Fragmentation Needed lowered the path MTU; True when it did."""
        if mtu >= self.path_mtu:
            return False
        self.path_mtu = mtu
        if self.sender is not None:
            self.sender.set_smss(self.effective_mss())
        return True

    # ---- states and timers ---------------------------------------------------------------------------
    def _enter(self, state: State) -> None:
        """The one place states change; it arms the timers that belong to the new state."""
        previous, self.state = self.state, state
        now = self.clock.now_ms
        sender = self.sender
        if state is State.ESTABLISHED and sender is not None:
            if not sender.data_ok:
                sender.cc.start(sender.smss, syn_lost=sender.rto.backoff > 0)
            sender.data_ok = True
            sender.retry_limit = self.config.retries2
            if previous is not State.ESTABLISHED:
                self._arm_keepalive(now)
        elif state in (State.SYN_SENT, State.SYN_RECEIVED) and sender is not None:
            sender.retry_limit = self.config.synack_retries if self.passive else self.config.syn_retries
        elif state is State.FIN_WAIT_2 and self.user_closed:
            self.finwait2_deadline = now + self.config.fin_timeout_ms
        elif state is State.TIME_WAIT:
            # RFC 9293 3.10.7.4: "Enter the TIME-WAIT state. Start the time-wait timer, turn off the
            # other timers."
            self.delack_deadline = self.keepalive_deadline = self.finwait2_deadline = None
            if sender is not None:
                sender.rto_deadline = sender.persist_deadline = None
            if not self.tcp.enter_time_wait():
                # Bounded memory (Linux "time wait bucket table overflow"): no TIME-WAIT state kept.
                self.tcp.count_event("tcp_time_wait_overflow")
                self._delete()
                return
            self.timewait_deadline = now + 2 * self.config.msl_ms
        if previous is State.TIME_WAIT and state is not State.TIME_WAIT:
            self.tcp.leave_time_wait()
        if state is State.CLOSED:
            self.delack_deadline = self.keepalive_deadline = self.timewait_deadline = self.finwait2_deadline = None
            if sender is not None:
                sender.rto_deadline = sender.persist_deadline = None
                sender.buf = bytearray()
            self.timers.cancel()

    def _delete(self) -> None:
        """RFC 9293: "delete the TCB, enter the CLOSED state"."""
        if self.state is State.CLOSED:
            return
        self._enter(State.CLOSED)
        self.tcp.remove(self)
        if self.listener is not None:
            self.listener.forget(self.key)
            self.listener = None

    def fail(self, kind: str) -> None:
        """The connection ends abnormally: remember why for the user, flush, delete."""
        if self.error is None:
            self.error = kind
        if self.receiver is not None:
            self.receiver.flush()
        self._delete()

    def _arm_keepalive(self, now: int) -> None:
        options = self.options
        if options.keepalive and self.state in KEEPALIVE_STATES:
            self.keepalive_deadline = self.last_recv_ms + options.keepidle_ms
            if self.keepalive_probes:
                self.keepalive_deadline = max(now, self.keepalive_deadline)
        else:
            self.keepalive_deadline = None

    def _earliest(self) -> int | None:
        best: int | None = None
        sender = self.sender
        for deadline in (
            self.delack_deadline, self.keepalive_deadline, self.timewait_deadline, self.finwait2_deadline,
            sender.rto_deadline if sender is not None else None,
            sender.persist_deadline if sender is not None else None,
        ):
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        return best

    def rearm(self) -> None:
        if self.state is not State.CLOSED:
            self.timers.ensure(self._earliest())

    # ---- after every event -------------------------------------------------------------------------
    def _finish(self) -> None:
        sender = self.sender
        if sender is not None and self.state is not State.CLOSED:
            sender.output()
            if self.ack_now:
                self.send_ack()
        self.rearm()

    def _on_timer_expired(self) -> None:
        now = self.clock.now_ms
        sender = self.sender
        if self.timewait_deadline is not None and now >= self.timewait_deadline:
            self._delete()  # RFC 9293 3.10.8: "If the time-wait timeout expires ... delete the TCB"
            return
        if self.finwait2_deadline is not None and now >= self.finwait2_deadline:
            self.tcp.count_event("tcp_fin_wait_2_timeout")
            self._delete()
            return
        if self.delack_deadline is not None and now >= self.delack_deadline:
            self.delack_deadline = None
            self.ack_now = True
        if sender is not None:
            if sender.rto_deadline is not None and now >= sender.rto_deadline and not sender.on_rto_expired():
                # RFC 9293 3.8.3 (c): at R2 "close the connection"; a soft error heard meanwhile is
                # the better explanation (RFC 1122 4.2.3.9 "SHOULD make the information available").
                self.fail(self.soft_error or "timed_out")
                return
            if sender.persist_deadline is not None and now >= sender.persist_deadline:
                sender.on_persist_expired()
        if self.keepalive_deadline is not None and now >= self.keepalive_deadline and not self._keepalive():
            return
        self._finish()

    def _keepalive(self) -> bool:
        """RFC 1122 4.2.3.6 / RFC 9293 3.8.4; False when the connection was dropped."""
        now = self.clock.now_ms
        sender, options = self.sender, self.options
        idle = now - self.last_recv_ms
        # "Keep-alive packets MUST only be sent when no sent data is outstanding, and no data or
        # acknowledgment packets have been received for the connection within an interval".
        if sender is None or sender.flight or sender.unsent or idle < options.keepidle_ms:
            self.keepalive_probes = 0
            self.keepalive_deadline = max(now + 1, self.last_recv_ms + options.keepidle_ms)
            if sender is not None and (sender.flight or sender.unsent):
                self.keepalive_deadline = now + options.keepidle_ms
            return True
        if self.keepalive_probes >= options.keepcnt:
            self.fail(self.soft_error or "timed_out")
            return False
        # "Such a segment generally contains SEG.SEQ = SND.NXT-1"; RFC 9293 SHLD-12: "with no data".
        self.keepalive_probes += 1
        self.emit(seq.add(sender.snd_max, -1), 0, b"", 0)
        self.keepalive_deadline = now + options.keepintvl_ms
        return True
