"""The user calls of a TCP connection (RFC 9293 3.10.2-3.10.6): SEND, RECEIVE, CLOSE (and the
half-close of shutdown), ABORT, and the socket options. Arriving segments and opening are the
``Connection`` subclass's (transport/tcp/connection.py)."""

from __future__ import annotations

from stack_under_test.transport.tcp.tcb import RESET_ON_ABORT, SYNCHRONIZED, TCB, State, TCPError


class UserCalls(TCB):
    def _raise_failed(self) -> None:
        if self.error is not None:
            raise TCPError(self.error, f"connection {self.error.replace('_', ' ')}")

    def send(self, data: bytes, urgent: bool = False) -> int:
        """SEND: how many octets of ``data`` the send buffer took (RFC 9293 3.10.2)."""
        self._raise_failed()
        state = self.state
        if state is State.CLOSED:
            raise TCPError("closed", "connection does not exist")
        if self.shut_write or state not in (State.SYN_SENT, State.SYN_RECEIVED, State.ESTABLISHED, State.CLOSE_WAIT):
            raise TCPError("closed", "connection closing")  # "Return "error: connection closing""
        sender = self.sender
        assert sender is not None
        # SYN-SENT, SYN-RECEIVED: "Queue the data for transmission after entering ESTABLISHED state."
        taken = sender.queue(bytes(data), urgent)
        self._finish()
        return taken

    def recv(self, most: int) -> bytes | None:
        """RECEIVE: up to ``most`` octets; b"" once the peer's FIN was read; None when nothing is
        there yet (RFC 9293 3.10.3)."""
        if self.user_closed and self.error is None:
            raise TCPError("closed", "the application closed the connection")
        receiver = self.receiver
        if receiver is not None and receiver.unread:
            data = receiver.read(most)
            # RFC 9293 3.8.6.2.2: the window moves when the receiver's SWS rule allows, and the
            # ACK that carries the larger window goes out now.
            if receiver.update_edge() and self.state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2):
                self.ack_now = True
                self._finish()
            return data
        self._raise_failed()
        if receiver is not None and receiver.fin_received:
            return b""
        if self.state is State.CLOSED:
            raise TCPError("closed", "connection does not exist")
        return None

    def urgent_unread(self) -> int:
        return self.receiver.urgent_unread() if self.receiver is not None else 0

    def _close_sending(self) -> None:
        sender = self.sender
        assert sender is not None
        sender.queue_fin()
        if self.state is State.ESTABLISHED:
            # "Queue this until all preceding SENDs have been segmentized, then form a FIN segment
            # and send it. In any case, enter FIN-WAIT-1 state."
            self._enter(State.FIN_WAIT_1)
        elif self.state is State.CLOSE_WAIT:
            self._enter(State.LAST_ACK)  # "then send a FIN segment, enter LAST-ACK state"

    def shutdown(self) -> None:
        """CLOSE of the sending side only (shutdown SHUT_WR); receiving goes on (RFC 9293 3.6.1)."""
        self._raise_failed()
        if self.shut_write or self.state is State.CLOSED:
            return
        self.shut_write = True
        if self.state is State.SYN_SENT:
            self._delete()  # "Delete the TCB and return "error: closing" responses"
            return
        if self.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            self._close_sending()
        self._finish()

    def close(self) -> None:
        """CLOSE by the application, which reads no more (RFC 9293 3.10.4, 3.6.1)."""
        if self.user_closed or self.state is State.CLOSED:
            self.user_closed = True
            return
        self.user_closed = True
        receiver = self.receiver
        if receiver is not None and receiver.unread and self.state in SYNCHRONIZED:
            # RFC 9293 3.6.1: "If such a host issues a CLOSE call while received data is still
            # pending in the TCP connection ... its TCP implementation SHOULD send a RST to show
            # that data was lost (SHLD-3)."
            self.abort()
            return
        if self.state is State.FIN_WAIT_2:
            self.finwait2_deadline = self.clock.now_ms + self.config.fin_timeout_ms
        if not self.shut_write:
            self.shutdown()
        else:
            self._finish()

    def abort(self) -> None:
        """ABORT (RFC 9293 3.10.5): "Send a reset segment: <SEQ=SND.NXT><CTL=RST>" in SYN-RECEIVED,
        ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 and CLOSE-WAIT; then delete the TCB."""
        self.user_closed = True
        if self.state in RESET_ON_ABORT and self.sender is not None:
            self.send_reset(self.sender.snd_max)
        if self.state is not State.CLOSED:
            self.fail("closed")

    def set_option(self, name: str, value: int | bool) -> None:
        """One socket option (transport/tcp/config.py SocketOptions names), effective at once."""
        self.options.set(name, value)
        options, sender, receiver = self.options, self.sender, self.receiver
        if sender is not None:
            sender.nodelay = options.nodelay
            sender.user_timeout_ms = options.user_timeout_ms
            sender.sndbuf = options.sndbuf
            sender.set_smss(self.effective_mss())
        if receiver is not None:
            receiver.rcvbuf = options.rcvbuf
            receiver.largest_rcvbuf = max(receiver.largest_rcvbuf, options.rcvbuf)
            receiver.update_edge()
        self._arm_keepalive(self.clock.now_ms)
        if self.state is not State.CLOSED:
            self._finish()

    @property
    def state_name(self) -> str:
        return self.state.value
