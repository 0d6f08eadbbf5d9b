"""Echo services for the stack as a real host (``python -m stack_under_test --udp-echo/--tcp-echo``):
what real clients (ping's cousins: a UDP socket, nc, a Python TCP socket) talk to in the tests
that point them at our stack on a TAP.

Each service is polled by the host's loop after frames and timers have run; none blocks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Final

from stack_under_test.host import Stack
from stack_under_test.stack.stack import StackError
from stack_under_test.transport.tcp import Connection, Listener, SocketOptions, TCPError, TCPProtocol

# Buffers for bulk transfers (Linux's tcp_rmem/tcp_wmem grow to several MiB): a window of 1 MiB
# keeps a real client's transfer from stalling on our window over a millisecond round trip.
TCP_ECHO_BUFFER: Final = 1 << 20
_READ: Final = 65536
_PENDING: Final = 4 * _READ  # what one connection holds between reading and echoing it


class UDPEcho:
    """Send every datagram to ``port`` back to where it came from, on both families."""

    def __init__(self, stack: Stack, port: int) -> None:
        self.sockets = [stack.udp_bind(wild, port) for wild in ("0.0.0.0", "::") if _has_family(stack, wild)]

    def poll(self) -> None:
        for sock in self.sockets:
            while (datagram := sock.recv()) is not None:
                data, src, sport = datagram
                # No route back or too long: dropped, as a real echo server's reply would be.
                with contextlib.suppress(StackError):
                    sock.sendto(data, src, sport)


@dataclass
class _Echoing:
    """One accepted connection: what arrived and is not yet sent back, and whether the peer's
    FIN was read (then, once all is echoed, we close too)."""

    conn: Connection
    pending: bytearray = field(default_factory=bytearray)
    peer_done: bool = False


class TCPEcho:
    """Accept connections to ``port`` on both families and send back what arrives; close after
    the peer's FIN once everything is echoed (RFC 862's TCP echo service)."""

    def __init__(self, stack: Stack, port: int) -> None:
        proto = stack.transport_protocols[6]
        assert isinstance(proto, TCPProtocol)
        options = SocketOptions()
        options.set("rcvbuf", TCP_ECHO_BUFFER)
        options.set("sndbuf", TCP_ECHO_BUFFER)
        self.listeners: list[Listener] = [
            proto.listen(wild, port, 16, options) for wild in ("0.0.0.0", "::") if _has_family(stack, wild)
        ]
        self.connections: list[_Echoing] = []

    def poll(self) -> None:
        for listener in self.listeners:
            while (conn := listener.accept()) is not None:
                self.connections.append(_Echoing(conn))
        self.connections = [c for c in self.connections if self._serve(c)]

    @staticmethod
    def _serve(c: _Echoing) -> bool:
        """Move what can move; False once the connection is done with."""
        try:
            while not c.peer_done and len(c.pending) < _PENDING:
                got = c.conn.recv(_READ)
                if got is None:
                    break
                if got == b"":
                    c.peer_done = True
                else:
                    c.pending += got
            while c.pending and (taken := c.conn.send(bytes(c.pending[:_READ]))):
                del c.pending[:taken]
            if c.peer_done and not c.pending:
                c.conn.close()
                return False
        except TCPError:
            return False  # reset or timed out: nothing more to echo
        return True


def _has_family(stack: Stack, wildcard: str) -> bool:
    family = 4 if "." in wildcard else 6
    return family in stack.ip_protocols
