"""What a connection may use of the TCP protocol it belongs to and of the listener it came from.

A TCB holds a ``TCPHost`` (the TCP protocol: the stack, the clock, the settings, the secrets, the
counters and the bounds over all connections) and, until the application accepts it, a
``ListenerSlot`` (the listening socket's queues). Both speak of connections by their ``Key``,
so this module, the TCB and the connection import nothing above them in this package: the
protocol and the listener, which create connections, are the only modules that know them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from stack_under_test.clock import Clock
    from stack_under_test.drops import Drop
    from stack_under_test.stack.stack import Stack
    from stack_under_test.transport.tcp.acceptability import ChallengeACKLimiter
    from stack_under_test.transport.tcp.config import TCPConfig
    from stack_under_test.transport.tcp.isn import SequenceSecrets

Key = tuple[bytes, int, bytes, int]  # (local address, local port, remote address, remote port)


class Keyed(Protocol):
    """A connection, as the protocol's table of connections knows it."""

    @property
    def key(self) -> Key: ...


class TCPHost(Protocol):
    """The TCP protocol of the stack, as its connections use it."""

    @property
    def stack(self) -> Stack: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def config(self) -> TCPConfig: ...

    @property
    def secrets(self) -> SequenceSecrets:
        """The keys of the RFC 6528 ISN function and of the timestamp offsets."""
        ...

    @property
    def challenge_acks(self) -> ChallengeACKLimiter:
        """RFC 5961 7: the rate limit shared by every connection of the stack."""
        ...

    def count_event(self, name: str) -> None: ...

    def count_tx_drop(self, reason: Drop) -> None: ...

    def remove(self, conn: Keyed) -> None:
        """The connection was deleted (RFC 9293: "delete the TCB")."""
        ...

    def enter_time_wait(self) -> bool:
        """A connection enters TIME-WAIT; False when the bound on TIME-WAIT connections is reached
        (then it is deleted at once)."""
        ...

    def leave_time_wait(self) -> None: ...


class ListenerSlot(Protocol):
    """The listening socket a passively opened connection waits in until it is accepted."""

    def has_room(self) -> bool:
        """The accept queue has room for one more completed connection."""
        ...

    def established(self, key: Key) -> None:
        """The handshake of the half-open connection ``key`` completed: it waits for accept()."""
        ...

    def forget(self, key: Key) -> None:
        """The queued connection ``key`` died (reset, timed out) before the application took it."""
        ...
