"""A listening socket (RFC 9293 3.10.7.2): SYNs make half-open connections, completed ones wait
for ``accept()``. Both queues are bounded, so a SYN flood costs at most ``syn_queue_len``
half-open connections per listener; a SYN that finds the queue full is dropped and counted (we
keep no SYN cookies: the flood is survived by the bound, and a legitimate SYN is retransmitted).
"""

from __future__ import annotations

from collections import deque

from stack_under_test.transport.tcp.config import SocketOptions
from stack_under_test.transport.tcp.connection import Connection
from stack_under_test.transport.tcp.contracts import Key
from stack_under_test.transport.tcp.tcb import State


class Listener:
    """The queues of one listening socket; the TCP protocol opens the connections it holds
    (transport/tcp/protocol.py, LISTEN processing)."""

    def __init__(self, family: int, local: bytes | None, port: int, backlog: int, options: SocketOptions) -> None:
        self.family = family
        self.local = local  # None: the wildcard address of the family
        self.port = port
        self.backlog = backlog
        self.options = options
        self.half_open: dict[Key, Connection] = {}
        self.completed: deque[Connection] = deque()
        self.closed = False

    def matches(self, dst: bytes) -> bool:
        return self.local is None or self.local == dst

    def has_room(self) -> bool:
        return len(self.completed) < self.backlog

    def hold(self, conn: Connection) -> None:
        """A SYN opened ``conn`` (SYN-RECEIVED): it waits here for the handshake to complete."""
        self.half_open[conn.key] = conn

    def established(self, key: Key) -> None:
        """The handshake completed: the connection waits for ``accept()``."""
        conn = self.half_open.pop(key, None)
        if conn is not None:
            self.completed.append(conn)

    def forget(self, key: Key) -> None:
        """A queued connection died (reset, timed out) before the application took it."""
        self.half_open.pop(key, None)
        for conn in self.completed:
            if conn.key == key:
                self.completed.remove(conn)
                break

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
