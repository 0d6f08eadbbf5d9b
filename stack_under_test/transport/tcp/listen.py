"""A listening socket (RFC 9293 3.10.7.2): SYNs make half-open connections, completed ones wait
for ``accept()``. Both queues are bounded, so a SYN flood costs at most ``syn_queue_len``
half-open connections per listener; a SYN that finds the queue full is dropped and counted (we
keep no SYN cookies: the flood is survived by the bound, and a legitimate SYN is retransmitted).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from stack_under_test.drops import Drop
from stack_under_test.stack.interfaces import TransportPacket
from stack_under_test.transport.tcp.config import SocketOptions
from stack_under_test.transport.tcp.connection import Connection
from stack_under_test.transport.tcp.tcb import TCB, State
from stack_under_test.wire.tcp import ACK, RST, SYN, TCPSegment

if TYPE_CHECKING:
    from stack_under_test.transport.tcp.protocol import TCPProtocol


class Listener:
    def __init__(
        self, tcp: TCPProtocol, family: int, local: bytes | None, port: int, backlog: int, options: SocketOptions,
    ) -> None:
        self.tcp = tcp
        self.family = family
        self.local = local  # None: the wildcard address of the family
        self.port = port
        self.backlog = backlog
        self.options = options
        self.half_open: dict[tuple[bytes, int, bytes, int], Connection] = {}
        self.completed: deque[Connection] = deque()
        self.closed = False

    def matches(self, dst: bytes) -> bool:
        return self.local is None or self.local == dst

    def has_room(self) -> bool:
        return len(self.completed) < self.backlog

    def on_segment(self, tpkt: TransportPacket, seg: TCPSegment, iss: int | None = None) -> Drop | None:
        """A segment for no connection, to our port (RFC 9293 3.10.7.2)."""
        flags = seg.flags
        if flags & RST:
            # "An incoming RST segment could not be valid since it could not have been sent in
            # response to anything sent by this incarnation of the connection. An incoming RST
            # should be ignored."
            return Drop.TCP_LISTEN_RST
        if flags & ACK:
            # "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state. An
            # acceptable reset segment should be formed for any arriving ACK-bearing segment. The RST
            # should be formatted as follows: <SEQ=SEG.ACK><CTL=RST>"
            self.tcp.reset_for(tpkt, seg)
            return Drop.TCP_LISTEN_ACK
        if not flags & SYN:
            # "Fourth, other data or control: ... Drop the segment and return."
            return Drop.TCP_LISTEN_NO_SYN
        if not self.has_room():
            return Drop.TCP_ACCEPT_QUEUE_FULL  # Linux: a listen overflow drops the SYN
        if len(self.half_open) >= self.tcp.config.syn_queue_len:
            return Drop.TCP_SYN_QUEUE_FULL
        if not self.tcp.has_room():
            return Drop.TCP_TOO_MANY_CONNECTIONS
        route = self.tcp.stack.find_route(tpkt.src, src=tpkt.dst)
        if route is None:
            self.tcp.count_event("tcp_syn_no_route")
            return Drop.NO_ROUTE
        conn = Connection(self.tcp, route, seg.dst_port, seg.src_port, self.options.copy(), listener=self)
        self.half_open[conn.key] = conn
        self.tcp.add(conn)
        conn.open_passive(seg, iss)
        return None

    def established(self, conn: Connection) -> None:
        """The handshake completed: the connection waits for ``accept()``."""
        if self.half_open.pop(conn.key, None) is not None:
            self.completed.append(conn)

    def forget(self, conn: TCB) -> None:
        """A queued connection died (reset, timed out) before the application took it."""
        self.half_open.pop(conn.key, None)
        if conn in self.completed:
            self.completed.remove(conn)  # type: ignore[arg-type]

    def accept(self) -> Connection | None:
        while self.completed:
            conn = self.completed.popleft()
            conn.listener = None
            if conn.state is not State.CLOSED:
                return conn
        return None

    def close(self) -> None:
        """Stop listening: half-open connections vanish, completed ones not yet accepted are reset
        (Linux inet_csk_listen_stop(): tcp_disconnect() of each child)."""
        self.closed = True
        for conn in list(self.half_open.values()):
            conn.listener = None
            conn.fail("closed")
        self.half_open.clear()
        while self.completed:
            conn = self.completed.popleft()
            conn.listener = None
            conn.abort()
